-- Retention counts from when each row arrived. A day's partition was dropped once its day was
-- past the cutoff, with rows that joined it later: a monitor whose clock was reset to a day that
-- still had its partition lost those rows years early.
--
-- A day's partition is looked at once its day ended two days before the cutoff: by then its rows
-- have all arrived, so it is read once (its newest received_at) and dropped, a day or two after
-- the term. One that still holds rows that arrived after the cutoff (a reset clock's) keeps them
-- and loses the others. The reads and deletes come first and the drops last: a drop locks
-- vital_signs until the end, and no read may run while writers wait for it. A partition that
-- fails (busy past the 1 s lock timeout, say) is logged and left for the next run. The default
-- partition's rows already went by their arrival.
CREATE OR REPLACE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff  timestamptz := now() - retention;
    part    record;
    newest  timestamptz;
    expired text[] := '{}';
    name    text;
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
        IF (to_date(substr(part.relname, 14), 'YYYYMMDD') + 3)::timestamp AT TIME ZONE 'UTC' <= cutoff THEN
            BEGIN
                EXECUTE format('SELECT max(received_at) FROM %I', part.relname) INTO newest;
                IF newest IS NULL OR newest < cutoff THEN
                    expired := expired || part.relname::text;
                ELSE
                    EXECUTE format('DELETE FROM %I WHERE received_at < $1', part.relname) USING cutoff;
                END IF;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'retention: partition % left for the next run: %', part.relname, SQLERRM;
            END;
        END IF;
    END LOOP;
    FOREACH name IN ARRAY expired LOOP
        BEGIN
            EXECUTE format('DROP TABLE %I', name);
            dropped := dropped + 1;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'retention: partition % left for the next run: %', name, SQLERRM;
        END;
    END LOOP;
    DELETE FROM vital_signs_default WHERE observation_time < cutoff AND received_at < cutoff;
    RETURN dropped;
END;
$$;
