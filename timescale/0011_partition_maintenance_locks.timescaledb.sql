-- Partition maintenance is TimescaleDB's own in this mode: nothing to do.
SELECT 1;
