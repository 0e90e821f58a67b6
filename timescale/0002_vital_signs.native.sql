-- vital_signs on plain PostgreSQL: declarative range partitioning by observation_time, one
-- partition per UTC day, plus a DEFAULT partition so that no row is ever refused (a device
-- with a wrong clock still gets its data stored; vitals_ensure_partitions moves such rows out
-- of the default partition when their day's partition is created).

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
) PARTITION BY RANGE (observation_time);

CREATE TABLE vital_signs_default PARTITION OF vital_signs DEFAULT;

-- Exactly the indexes the queries need (each one costs ingest throughput).
CREATE INDEX vital_signs_patient_time_idx ON vital_signs (patient_id, observation_time DESC);
CREATE INDEX vital_signs_device_time_idx ON vital_signs (device_id, observation_time DESC);
CREATE INDEX vital_signs_critical_patient_time_idx ON vital_signs (patient_id, observation_time DESC) WHERE is_critical;

-- Creates the daily partitions from `days_back` days before today (UTC) to `days_ahead` days
-- after it that do not exist yet, and returns how many it created. Rows already sitting in the
-- default partition for such a day are moved into the new partition. Safe to call at any time
-- and from several processes; the daemon calls it periodically (e.g. hourly).
CREATE FUNCTION vitals_ensure_partitions(days_ahead integer DEFAULT 14, days_back integer DEFAULT 7)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    today          date := (now() AT TIME ZONE 'UTC')::date;
    day            date;
    lower_bound    timestamptz;
    upper_bound    timestamptz;
    partition_name text;
    created        integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vitals_ensure_partitions'));
    FOR day IN SELECT d::date FROM generate_series(today - days_back, today + days_ahead, interval '1 day') AS d LOOP
        partition_name := 'vital_signs_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(quote_ident(partition_name)) IS NOT NULL;
        lower_bound := day::timestamp AT TIME ZONE 'UTC';
        upper_bound := (day + 1)::timestamp AT TIME ZONE 'UTC';
        IF EXISTS (SELECT 1 FROM vital_signs_default
                   WHERE observation_time >= lower_bound AND observation_time < upper_bound) THEN
            EXECUTE format('CREATE TABLE %I (LIKE vital_signs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
            EXECUTE format('WITH moved AS (DELETE FROM vital_signs_default WHERE observation_time >= %L AND observation_time < %L RETURNING *) '
                           'INSERT INTO %I SELECT * FROM moved', lower_bound, upper_bound, partition_name);
            EXECUTE format('ALTER TABLE vital_signs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           partition_name, lower_bound, upper_bound);
        ELSE
            EXECUTE format('CREATE TABLE %I PARTITION OF vital_signs FOR VALUES FROM (%L) TO (%L)',
                           partition_name, lower_bound, upper_bound);
        END IF;
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$$;

-- Retention: drops the daily partitions that ended more than `retention` ago (and deletes such
-- rows from the default partition). Returns the number of partitions dropped. The daemon calls
-- it daily; TimescaleDB mode does the same through a retention policy.
CREATE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff  timestamptz := now() - retention;
    part    record;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vitals_ensure_partitions'));
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'vital_signs'::regclass
          AND c.relname ~ '^vital_signs_p[0-9]{8}$'
    LOOP
        IF (to_date(substr(part.relname, 14), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM vital_signs_default WHERE observation_time < cutoff;
    RETURN dropped;
END;
$$;

SELECT vitals_ensure_partitions(14, 7);

-- One-minute rollup with the same name and columns as TimescaleDB mode's continuous aggregate
-- (date_bin on the same origin as time_bucket), computed on read.
CREATE VIEW vital_signs_1m AS
SELECT date_bin(interval '1 minute', observation_time, timestamptz '2000-01-01 00:00:00+00') AS bucket,
       patient_id,
       device_id,
       vital_kind,
       avg(value)  AS avg_value,
       min(value)  AS min_value,
       max(value)  AS max_value,
       count(*)    AS sample_count
FROM vital_signs
GROUP BY 1, 2, 3, 4;
