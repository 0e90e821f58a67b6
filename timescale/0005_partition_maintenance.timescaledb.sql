-- The one-minute rollup also takes in rows that arrive late: a gateway replaying its backlog, a
-- monitor whose clock was set back. The refresh window was the last day; rows older than that
-- when they arrived stayed out of vital_signs_1m for good, while native mode's view (computed on
-- read) has them. TimescaleDB refreshes only the ranges that changed, so a wider window costs
-- nothing while no late rows come. (Partition maintenance itself is TimescaleDB's job here.)
SELECT remove_continuous_aggregate_policy('vital_signs_1m');
SELECT add_continuous_aggregate_policy('vital_signs_1m',
                                       start_offset => interval '30 days',
                                       end_offset => interval '1 minute',
                                       schedule_interval => interval '1 minute');
