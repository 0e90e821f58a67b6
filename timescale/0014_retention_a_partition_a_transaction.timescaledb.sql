-- Retention is a procedure that commits after each chunk (0013's function held every lock it
-- took until its end), and what it reads it locks first:
--   - a chunk is locked in SHARE mode before its newest arrival is read: from then on no row
--     joins it until it is dropped or trimmed. A row a reset clock sent into it between the read
--     and the drop went with it, after it had been acknowledged;
--   - each drop's locks end with its own transaction, so no later read runs while writers wait,
--     and a shortened retention's thousands of drops need no lock table to match.
DROP FUNCTION IF EXISTS vitals_drop_expired_partitions(interval);

CREATE OR REPLACE PROCEDURE vitals_expire_observations(retention interval DEFAULT interval '7 years', INOUT dropped integer DEFAULT 0)
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff timestamptz := now() - retention;
    chunk  regclass;
    newest timestamptz;
BEGIN
    dropped := 0;
    FOR chunk IN SELECT show_chunks('vital_signs', created_before => cutoff - interval '2 days') LOOP
        BEGIN
            PERFORM set_config('lock_timeout', '1s', true);
            -- A delete from a compressed chunk decompresses what it touches; the default limit
            -- (100,000 rows a transaction) would refuse any real chunk.
            PERFORM set_config('timescaledb.max_tuples_decompressed_per_dml_transaction', '0', true);
            EXECUTE format('LOCK TABLE %s IN SHARE MODE', chunk);
            EXECUTE format('SELECT max(received_at) FROM %s', chunk) INTO newest;
            IF newest IS NULL OR newest < cutoff THEN
                EXECUTE format('DROP TABLE %s', chunk);
                dropped := dropped + 1;
            ELSE
                EXECUTE format('DELETE FROM %s WHERE received_at < $1', chunk) USING cutoff;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'retention: chunk % left for the next run: %', chunk, SQLERRM;
        END;
        COMMIT;
    END LOOP;
END;
$$;
