-- The default partition is split in two, so that creating a day's partition no longer reads every
-- row a wrong clock ever put there. PostgreSQL checks, under the lock on vital_signs, that no row
-- of the default partition belongs to the new day; it skips a part of the default whose CHECK
-- constraint rules that out. Clocks that are wrong are mostly reset to the past (1970, a firmware
-- date), and daily partitions are only ever made from 7 days before today onwards, so:
--   vital_signs_default_past   rows before the first day maintenance makes (a CHECK says so,
--                              and is never read when a partition is created);
--   vital_signs_default_rest   the rest (a clock set ahead, a day retention dropped): read.
-- Rows of the old default partition move into the new one (the migration holds the table
-- exclusively while they do).

LOCK TABLE vital_signs IN ACCESS EXCLUSIVE MODE;
ALTER TABLE vital_signs DETACH PARTITION vital_signs_default;
ALTER TABLE vital_signs_default RENAME TO vital_signs_default_before_0012;

DO $$
DECLARE
    -- The first day vitals_ensure_partitions makes with its default days_back, from now on.
    past_bound text := to_char((now() AT TIME ZONE 'UTC')::date - 7, 'YYYY-MM-DD') || ' 00:00:00+00';
BEGIN
    CREATE TABLE vital_signs_default PARTITION OF vital_signs DEFAULT PARTITION BY RANGE (observation_time);
    EXECUTE format('CREATE TABLE vital_signs_default_past PARTITION OF vital_signs_default '
                   'FOR VALUES FROM (MINVALUE) TO (%L)', past_bound);
    EXECUTE format('ALTER TABLE vital_signs_default_past ADD CONSTRAINT vital_signs_default_past_bound '
                   'CHECK (observation_time < %L::timestamptz)', past_bound);
    CREATE TABLE vital_signs_default_rest PARTITION OF vital_signs_default DEFAULT;
END;
$$;

INSERT INTO vital_signs_default SELECT * FROM vital_signs_default_before_0012;
DROP TABLE vital_signs_default_before_0012;
CREATE INDEX vital_signs_default_time_idx ON vital_signs_default (observation_time);
