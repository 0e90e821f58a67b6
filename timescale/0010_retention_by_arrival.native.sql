-- Native mode's retention already counts from when rows arrived (vitals_drop_expired_partitions
-- keeps a default-partition row until its received_at is past the cutoff): nothing to do.
SELECT 1;
