-- Retention counts from when rows arrived, as native mode's does (received_at), not from the
-- times they carry: a monitor whose clock was reset (to 2000, say) sends rows that were dropped
-- with their chunk at the next run of the policy, the day they were acknowledged. A chunk is now
-- dropped 7 years after it was created.
SELECT remove_retention_policy('vital_signs', if_exists => true);
SELECT add_retention_policy('vital_signs', drop_created_before => interval '7 years');
