-- Retention counts from when each row arrived. A day's partition was dropped once its day was
-- past the cutoff, with rows that joined it later: a monitor whose clock was reset to a day that
-- still had its partition lost those rows years early. A day past the cutoff is now dropped when
-- its newest row arrived before the cutoff too; otherwise only its rows that arrived before the
-- cutoff are deleted (the default partition's rows already went by their arrival).
CREATE OR REPLACE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff  timestamptz := now() - retention;
    part    record;
    newest  timestamptz;
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
                EXECUTE format('SELECT max(received_at) FROM %I', part.relname) INTO newest;
                IF newest IS NULL OR newest < cutoff THEN
                    EXECUTE format('DROP TABLE %I', part.relname);
                    dropped := dropped + 1;
                ELSE
                    EXECUTE format('DELETE FROM %I WHERE received_at < $1', part.relname) USING cutoff;
                END IF;
            EXCEPTION WHEN lock_not_available THEN
                NULL;  -- busy: the next run drops it
            END;
        END IF;
    END LOOP;
    DELETE FROM vital_signs_default WHERE observation_time < cutoff AND received_at < cutoff;
    RETURN dropped;
END;
$$;
