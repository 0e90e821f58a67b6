-- What the MQTT and serial sources need beside vital_signs: who a bed or device belongs to, what
-- each device last said about itself, and the frames that could not be decoded.

-- Serial devices (and some gateways) do not know their patient. A bed or a device is associated
-- with a patient for a time interval; an observation takes the patient whose association covers
-- its time, the device's own association first, then its bed's. valid_to NULL means "until
-- further notice"; setting a new association for a subject closes the previous one.
CREATE TABLE patient_associations (
    id          bigserial   PRIMARY KEY,
    subject     text        NOT NULL CHECK (subject IN ('bed', 'device')),
    subject_id  text        NOT NULL,   -- bed as PV1-3 text (ICU^1^A) or device identifier
    patient_id  bigint      NOT NULL REFERENCES patients (id),
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz NULL,
    set_by      text        NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX patient_associations_subject_idx ON patient_associations (subject, subject_id, valid_from DESC);

-- Presence as devices announce it (MQTT status topic, last will) or as sources observe it
-- (serial port open/closed). One row per device, updated in place; history is in the logs.
CREATE TABLE device_presence (
    device_identifier text        PRIMARY KEY,
    status            text        NOT NULL CHECK (status IN ('online', 'offline')),
    source            text        NOT NULL,   -- mqtt topic or serial port
    changed_at        timestamptz NOT NULL DEFAULT now()
);

-- Frames a source received and could not decode, kept whole for the integration engineer.
CREATE TABLE rejected_frames (
    id          bigserial   PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,   -- mqtt, serial
    origin      text        NOT NULL,   -- topic or port path
    device      text        NULL,       -- device identifier, when known
    reason      text        NOT NULL,   -- short machine-readable reason, e.g. bad_checksum
    detail      text        NOT NULL,   -- the decoder's error message
    raw         bytea       NOT NULL
);
CREATE INDEX rejected_frames_received_at_brin ON rejected_frames USING brin (received_at);
