-- Retention counts from when each row arrived. TimescaleDB's policy (0010) dropped a chunk 7 years
-- after the chunk was created, with rows that joined it later: a monitor whose clock was reset to
-- a day that already had a chunk lost those rows years early. The daemon now runs retention in
-- both modes (vitals_drop_expired_partitions, hourly, with its --retention): a chunk created
-- before the cutoff is dropped when its newest row arrived before it too; otherwise only its rows
-- that arrived before the cutoff are deleted.
SELECT remove_retention_policy('vital_signs', if_exists => true);

CREATE OR REPLACE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff  timestamptz := now() - retention;
    chunk   regclass;
    newest  timestamptz;
    dropped integer := 0;
BEGIN
    PERFORM set_config('lock_timeout', '1s', true);
    -- A chunk created after the cutoff holds no row that arrived before it.
    FOR chunk IN SELECT show_chunks('vital_signs', created_before => cutoff) LOOP
        BEGIN
            EXECUTE format('SELECT max(received_at) FROM %s', chunk) INTO newest;
            IF newest IS NULL OR newest < cutoff THEN
                EXECUTE format('DROP TABLE %s', chunk);
                dropped := dropped + 1;
            ELSE
                EXECUTE format('DELETE FROM %s WHERE received_at < $1', chunk) USING cutoff;
            END IF;
        EXCEPTION WHEN lock_not_available THEN
            NULL;  -- busy: the next run takes it
        END;
    END LOOP;
    RETURN dropped;
END;
$$;
