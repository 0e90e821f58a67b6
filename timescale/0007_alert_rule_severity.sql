-- The severity the rules last asked for (the raise, or a worsening), apart from the escalation
-- timer's: after a restart the rules resume each open alert at it, so a real worsening of an
-- alert the timer had escalated is still announced. NULL for alerts stored by earlier builds.
ALTER TABLE critical_events
    ADD COLUMN rule_severity text CHECK (rule_severity IN ('warning', 'urgent', 'critical', 'emergency'));
