-- Engines of several facilities may share one database: an alert key (patient or device | vital |
-- rule) is unique among a facility's unresolved alerts, not across facilities (a patient with an
-- alert still open at one facility would otherwise get none at another). Reading a facility's
-- outbox and stream uses the second index.
DROP INDEX critical_events_one_unresolved_idx;
CREATE UNIQUE INDEX critical_events_one_unresolved_idx ON critical_events (facility, alert_key) WHERE state <> 'resolved';
DROP INDEX alert_events_undelivered_idx;
CREATE INDEX alert_events_undelivered_idx ON alert_events (facility, id) WHERE delivered_at IS NULL;
