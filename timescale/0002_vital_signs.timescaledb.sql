-- vital_signs as a TimescaleDB hypertable: 1-day chunks, native compression after 7 days,
-- 7-year retention, and a one-minute continuous aggregate. Same table name and columns as the
-- native variant, so every query works on both.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE vital_signs (
    observation_time timestamptz      NOT NULL,
    patient_id       bigint           NULL,      -- patients.id; NULL when the feed names no patient
    device_id        integer          NOT NULL,  -- devices.id
    location         text             NULL,      -- PV1-3 point of care, e.g. ICU^1^A
    vital_kind       smallint         NOT NULL,  -- VitalKind raw value
    code             text             NOT NULL,  -- code as sent, e.g. 150456
    code_system      text             NOT NULL,  -- e.g. MDC, LN
    value            double precision NOT NULL,  -- in the kind's canonical unit
    unit             text             NOT NULL,  -- UCUM
    hierarchy        text             NULL,      -- OBX-4 containment, e.g. 1.2.1.3
    status           "char"           NOT NULL,  -- OBX-11: F, P, C, R
    is_critical      boolean          NOT NULL,
    received_at      timestamptz      NOT NULL DEFAULT now()
);

-- No default (observation_time DESC) index: only the three indexes below are kept.
SELECT create_hypertable('vital_signs', 'observation_time',
                         chunk_time_interval => interval '1 day',
                         create_default_indexes => false);

CREATE INDEX vital_signs_patient_time_idx ON vital_signs (patient_id, observation_time DESC);
CREATE INDEX vital_signs_device_time_idx ON vital_signs (device_id, observation_time DESC);
CREATE INDEX vital_signs_critical_patient_time_idx ON vital_signs (patient_id, observation_time DESC) WHERE is_critical;

-- Compression: a device's rows of a chunk compress together, newest first.
ALTER TABLE vital_signs SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_id',
    timescaledb.compress_orderby = 'observation_time DESC'
);
SELECT add_compression_policy('vital_signs', interval '7 days');

-- Retention: raw observations are kept 7 years (see README.md), then whole chunks are dropped.
SELECT add_retention_policy('vital_signs', interval '7 years');

-- One-minute rollup. Real-time: rows not yet materialised are aggregated on read.
CREATE MATERIALIZED VIEW vital_signs_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(interval '1 minute', observation_time) AS bucket,
       patient_id,
       device_id,
       vital_kind,
       avg(value)  AS avg_value,
       min(value)  AS min_value,
       max(value)  AS max_value,
       count(*)    AS sample_count
FROM vital_signs
GROUP BY 1, 2, 3, 4
WITH NO DATA;

SELECT add_continuous_aggregate_policy('vital_signs_1m',
                                       start_offset => interval '1 day',
                                       end_offset => interval '1 minute',
                                       schedule_interval => interval '1 minute');

-- The maintenance functions of native mode exist here too, so the daemon calls the same thing in
-- both modes; chunks and retention are TimescaleDB's job, so they do nothing.
CREATE FUNCTION vitals_ensure_partitions(days_ahead integer DEFAULT 14, days_back integer DEFAULT 7)
RETURNS integer
LANGUAGE sql
AS $$ SELECT 0 $$;

CREATE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE sql
AS $$ SELECT 0 $$;
