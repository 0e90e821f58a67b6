-- Partition maintenance locks the parent table alone (0005 locked it with every partition: one
-- lock per day kept, some 2,500 after seven years, against a lock table sized for far fewer).
-- Writers route rows through the parent, so its lock alone keeps them out while the default's
-- rows for a new day are moved. The default partition gets an index on observation_time, which
-- the check for such rows and retention's delete there use. Creating or attaching a partition
-- still reads the default partition whole (PostgreSQL checks that none of its rows belongs to the
-- new range), under the lock: rows from devices with wrong clocks, kept there for years, make
-- that read longer.

CREATE OR REPLACE FUNCTION vitals_ensure_partitions(days_ahead integer DEFAULT 14, days_back integer DEFAULT 7)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    today          date := (now() AT TIME ZONE 'UTC')::date;
    day            date;
    lower_bound    text;
    upper_bound    text;
    partition_name text;
    created        integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vitals_ensure_partitions'));
    PERFORM set_config('lock_timeout', '1s', true);
    FOR day IN SELECT d::date FROM generate_series(today - days_back, today + days_ahead, interval '1 day') AS d LOOP
        partition_name := 'vital_signs_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(quote_ident(partition_name)) IS NOT NULL;
        lower_bound := to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00';
        upper_bound := to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
        BEGIN
            LOCK TABLE ONLY vital_signs IN ACCESS EXCLUSIVE MODE;
            LOCK TABLE vital_signs_default IN EXCLUSIVE MODE;
            IF EXISTS (SELECT 1 FROM vital_signs_default
                       WHERE observation_time >= lower_bound::timestamptz AND observation_time < upper_bound::timestamptz) THEN
                EXECUTE format('CREATE TABLE %I (LIKE vital_signs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
                EXECUTE format('WITH moved AS (DELETE FROM vital_signs_default WHERE observation_time >= %L::timestamptz '
                               'AND observation_time < %L::timestamptz RETURNING *) INSERT INTO %I SELECT * FROM moved',
                               lower_bound, upper_bound, partition_name);
                EXECUTE format('ALTER TABLE vital_signs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               partition_name, lower_bound, upper_bound);
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF vital_signs FOR VALUES FROM (%L) TO (%L)',
                               partition_name, lower_bound, upper_bound);
            END IF;
            created := created + 1;
        EXCEPTION
            WHEN lock_not_available THEN
                NULL;  -- busy: the next run creates it
            WHEN invalid_object_definition THEN
                NULL;  -- overlaps a partition with other bounds: the default keeps that day's rows
        END;
    END LOOP;
    RETURN created;
END;
$$;

CREATE INDEX IF NOT EXISTS vital_signs_default_time_idx ON vital_signs_default (observation_time);
