-- Partition maintenance that never holds up ingest (replaces 0002's two functions).
--
-- * Creating or dropping a partition locks vital_signs exclusively. Each one now waits at most
--   1 s for that lock, in a subtransaction of its own: while a long report or pg_dump reads the
--   table, the partition is left for the next run instead of queueing every writer's COPY
--   behind the maintenance (partitions are made 14 days ahead; rows always have the default).
-- * The table, then its default partition, are locked before the default's rows for a new day
--   are looked for and moved, so rows arriving meanwhile cannot make the ATTACH fail (and the
--   whole run with it); in that order, the order a writer routing a row there takes them.
-- * A day whose partition would overlap an existing one (bounds an earlier version wrote in the
--   session's zone) is left out, rather than failing every run: its rows stay in the default.
-- * Bounds are written as UTC text, not through the session's DateStyle and TimeZone (with
--   DateStyle SQL a bound read back in another zone, or not at all).
-- * Retention deletes a default-partition row only when it also arrived before the cutoff: a
--   device whose clock says 1970 still has its rows kept as long as any other.

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
            LOCK TABLE vital_signs IN ACCESS EXCLUSIVE MODE;
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

CREATE OR REPLACE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff  timestamptz := now() - retention;
    part    record;
    dropped integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vitals_ensure_partitions'));
    PERFORM set_config('lock_timeout', '1s', true);
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'vital_signs'::regclass
          AND c.relname ~ '^vital_signs_p[0-9]{8}$'
    LOOP
        IF (to_date(substr(part.relname, 14), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff THEN
            BEGIN
                EXECUTE format('DROP TABLE %I', part.relname);
                dropped := dropped + 1;
            EXCEPTION WHEN lock_not_available THEN
                NULL;  -- busy: the next run drops it
            END;
        END IF;
    END LOOP;
    DELETE FROM vital_signs_default WHERE observation_time < cutoff AND received_at < cutoff;
    RETURN dropped;
END;
$$;
