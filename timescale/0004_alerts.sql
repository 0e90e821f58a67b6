-- Critical-value alerts: one row per alert with its lifecycle, and the log of alert events that
-- feeds the nurses' live stream (resumed by event id) and the Kafka outbox.

-- An alert from raise to resolution. alert_key (patient or device | vital | rule) allows one
-- unresolved alert per key. Kafka delivery state: last_event_id is the newest event of the alert,
-- kafka_delivered_event_id the newest one Kafka has confirmed.
CREATE TABLE critical_events (
    id                       bigserial        PRIMARY KEY,
    alert_key                text             NOT NULL,
    facility                 text             NOT NULL,
    patient_identifier       text             NULL,
    patient_authority        text             NULL,
    device_identifier        text             NOT NULL,
    location                 text             NULL,     -- bed, e.g. ICU^1^A
    ward                     text             NULL,     -- first component of location
    vital                    text             NOT NULL, -- vital kind name, news2, device
    value                    double precision NULL,     -- canonical unit
    unit                     text             NULL,
    rule                     text             NOT NULL,
    severity                 text             NOT NULL CHECK (severity IN ('warning', 'urgent', 'critical', 'emergency')),
    state                    text             NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    observed_at              timestamptz      NOT NULL, -- the triggering observation's time
    raised_at                timestamptz      NOT NULL DEFAULT now(),
    acknowledged_at          timestamptz      NULL,
    acknowledged_by          text             NULL,
    resolved_at              timestamptz      NULL,
    resolved_by              text             NULL,
    escalation_count         integer          NOT NULL DEFAULT 0,
    escalated_at             timestamptz      NULL,
    escalate_after_ms        bigint           NULL,     -- the rule's escalation time; NULL: never
    last_event_id            bigint           NOT NULL DEFAULT 0,
    kafka_delivered_event_id bigint           NOT NULL DEFAULT 0,
    kafka_state              text             GENERATED ALWAYS AS
        (CASE WHEN kafka_delivered_event_id >= last_event_id THEN 'delivered' ELSE 'pending' END) STORED
);
CREATE UNIQUE INDEX critical_events_one_unresolved_idx ON critical_events (alert_key) WHERE state <> 'resolved';
CREATE INDEX critical_events_patient_idx ON critical_events (patient_identifier, raised_at DESC);

-- Every state change of an alert as it was announced: payload is the event's JSON exactly as the
-- stream and Kafka carry it (docs/schemas/alert-event.v1.json). delivered_at is set when Kafka
-- confirmed the record; undelivered events are sent again, in id order, after an outage.
CREATE TABLE alert_events (
    id           bigint      PRIMARY KEY,
    alert_id     bigint      NOT NULL REFERENCES critical_events (id),
    type         text        NOT NULL CHECK (type IN ('raised', 'escalated', 'acknowledged', 'resolved')),
    occurred_at  timestamptz NOT NULL,
    facility     text        NOT NULL,
    ward         text        NULL,
    kafka_key    text        NOT NULL,
    payload      text        NOT NULL,
    delivered_at timestamptz NULL
);
CREATE SEQUENCE alert_events_id_seq OWNED BY alert_events.id;
CREATE INDEX alert_events_undelivered_idx ON alert_events (id) WHERE delivered_at IS NULL;

-- A clinician's thresholds for one patient and vital, replacing the device profile's bands for
-- that patient (set from the CLI: `nilecare-vitals thresholds set`).
CREATE TABLE patient_threshold_overrides (
    patient_identifier text             NOT NULL,
    patient_authority  text             NOT NULL DEFAULT '',
    vital              text             NOT NULL,
    critical_low       double precision NULL,
    warning_low        double precision NULL,
    warning_high       double precision NULL,
    critical_high      double precision NULL,
    set_by             text             NOT NULL,
    set_at             timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_identifier, patient_authority, vital)
);

-- What NEWS2 needs beyond the monitors: SpO2 scale 2 for hypercapnic respiratory failure, and
-- consciousness and supplemental oxygen when a clinician records them.
CREATE TABLE patient_news2_context (
    patient_identifier   text        NOT NULL,
    patient_authority    text        NOT NULL DEFAULT '',
    hypercapnic          boolean     NOT NULL DEFAULT false,
    on_oxygen            boolean     NULL,
    consciousness        text        NULL CHECK (consciousness IN ('alert', 'new_confusion', 'voice', 'pain', 'unresponsive')),
    updated_by           text        NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_identifier, patient_authority)
);
