-- Each bedside assessment keeps the time it was made: recording the SpO2 scale alone re-stamped
-- a consciousness level that had aged out of NEWS2, and it counted again as fresh.
ALTER TABLE patient_news2_context
    ADD COLUMN consciousness_at timestamptz NULL,
    ADD COLUMN on_oxygen_at     timestamptz NULL;
UPDATE patient_news2_context SET
    consciousness_at = CASE WHEN consciousness IS NOT NULL THEN updated_at END,
    on_oxygen_at     = CASE WHEN on_oxygen IS NOT NULL THEN updated_at END;
