-- Retention is a procedure that commits after each day's partition (0013's function held every
-- lock it took until its end), and what it reads it locks first:
--   - a partition is locked in SHARE mode before its newest arrival is read: from then on no row
--     joins it until it is dropped or trimmed. A row a reset clock sent into it between the read
--     and the drop went with it, after it had been acknowledged;
--   - each drop's lock on vital_signs ends with its own transaction, so no later read runs while
--     writers wait, and a shortened retention's thousands of drops need no lock table to match;
--   - the default partition goes first, by arrival alone (an index on received_at serves it): a
--     row a clock set ahead put there was never past the cutoff by its time, and was kept for ever.
-- A writer routing a row into a partition locked so holds vital_signs and waits for the
-- partition, and the drop then waits for vital_signs: PostgreSQL ends that deadlock by rolling
-- one of the two back, and the writer commits again (the row then goes to the default partition),
-- or the partition is left for the next run.
-- Creating a day's partition no longer fails the whole maintenance run on an error other than a
-- busy table (a full disk, a permission): that day is raised as a WARNING, which the daemon logs,
-- and left for the next run.
DROP FUNCTION IF EXISTS vitals_drop_expired_partitions(interval);

CREATE INDEX IF NOT EXISTS vital_signs_default_received_idx ON vital_signs_default (received_at);

CREATE OR REPLACE PROCEDURE vitals_expire_observations(retention interval DEFAULT interval '7 years', INOUT dropped integer DEFAULT 0)
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff timestamptz := now() - retention;
    part   record;
    newest timestamptz;
BEGIN
    dropped := 0;
    BEGIN
        PERFORM set_config('lock_timeout', '1s', true);
        DELETE FROM vital_signs_default WHERE received_at < cutoff;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'retention: the default partition is left for the next run: %', SQLERRM;
    END;
    COMMIT;
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'vital_signs'::regclass
          AND c.relname ~ '^vital_signs_p[0-9]{8}$'
          AND (to_date(substr(c.relname, 14), 'YYYYMMDD') + 3)::timestamp AT TIME ZONE 'UTC' <= cutoff
        ORDER BY c.relname
    LOOP
        BEGIN
            PERFORM set_config('lock_timeout', '1s', true);
            PERFORM pg_advisory_xact_lock(hashtext('vitals_ensure_partitions'));
            EXECUTE format('LOCK TABLE %I IN SHARE MODE', part.relname);
            EXECUTE format('SELECT max(received_at) FROM %I', part.relname) INTO newest;
            IF newest IS NULL OR newest < cutoff THEN
                EXECUTE format('DROP TABLE %I', part.relname);
                dropped := dropped + 1;
            ELSE
                EXECUTE format('DELETE FROM %I WHERE received_at < $1', part.relname) USING cutoff;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'retention: partition % left for the next run: %', part.relname, SQLERRM;
        END;
        COMMIT;
    END LOOP;
END;
$$;

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
            WHEN OTHERS THEN
                RAISE WARNING 'partition % not created, left for the next run: %', partition_name, SQLERRM;
        END;
    END LOOP;
    RETURN created;
END;
$$;
