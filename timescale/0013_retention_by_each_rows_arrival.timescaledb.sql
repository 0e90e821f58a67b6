-- Retention counts from when each row arrived. TimescaleDB's policy (0010) dropped a chunk 7 years
-- after the chunk was created, with rows that joined it later: a monitor whose clock was reset to
-- a day that already had a chunk lost those rows years early. The daemon now runs retention in
-- both modes (vitals_drop_expired_partitions, hourly, with its --retention).
--
-- A chunk is looked at once it was created two days before the cutoff: by then the rows of its
-- day have all arrived, so a chunk is read once (its newest received_at) and dropped, a day or two
-- after the term, rather than read every hour while its day's rows still arrive. One that still
-- holds rows that arrived after the cutoff (a reset clock's) keeps them and loses the others,
-- decompressed as needed. The reads and deletes come first and the drops last, so that no read
-- runs while a drop's lock is held; a chunk that fails is logged and left for the next run.
SELECT remove_retention_policy('vital_signs', if_exists => true);

CREATE OR REPLACE FUNCTION vitals_drop_expired_partitions(retention interval DEFAULT interval '7 years')
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    cutoff      timestamptz := now() - retention;
    chunk       regclass;
    newest      timestamptz;
    expired     regclass[] := '{}';
    dropped     integer := 0;
BEGIN
    PERFORM set_config('lock_timeout', '1s', true);
    -- A delete from a compressed chunk decompresses what it touches; the default limit (100,000
    -- rows a transaction) would refuse any real chunk.
    PERFORM set_config('timescaledb.max_tuples_decompressed_per_dml_transaction', '0', true);
    FOR chunk IN SELECT show_chunks('vital_signs', created_before => cutoff - interval '2 days') LOOP
        BEGIN
            EXECUTE format('SELECT max(received_at) FROM %s', chunk) INTO newest;
            IF newest IS NULL OR newest < cutoff THEN
                expired := expired || chunk;
            ELSE
                EXECUTE format('DELETE FROM %s WHERE received_at < $1', chunk) USING cutoff;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'retention: chunk % left for the next run: %', chunk, SQLERRM;
        END;
    END LOOP;
    FOREACH chunk IN ARRAY expired LOOP
        BEGIN
            EXECUTE format('DROP TABLE %s', chunk);
            dropped := dropped + 1;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'retention: chunk % left for the next run: %', chunk, SQLERRM;
        END;
    END LOOP;
    RETURN dropped;
END;
$$;
