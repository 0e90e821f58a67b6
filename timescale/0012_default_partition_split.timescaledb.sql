-- TimescaleDB keeps rows of any time in chunks of their own: no default partition to split.
SELECT 1;
