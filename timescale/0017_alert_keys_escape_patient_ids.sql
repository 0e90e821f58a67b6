-- An open alert's key names the patient as `p:<authority>:<id>`; the id's `\` and `:` are now
-- escaped (`\\`, `\c`), so that authority `KTH:MRN` with id `1` and authority `KTH` with id
-- `MRN:1` no longer share a key (one patient's open alert took the other's raise). Open alerts
-- of ids that hold either get the key the engine now gives them; every other key is unchanged.
UPDATE critical_events
SET alert_key = 'p:' || coalesce(patient_authority, '') || ':'
        || replace(replace(patient_identifier, '\', '\\'), ':', '\c')
        || substring(alert_key FROM '\|[^|]*\|[^|]*$')
WHERE state <> 'resolved'
  AND alert_key LIKE 'p:%'
  AND patient_identifier IS NOT NULL
  AND (strpos(patient_identifier, ':') > 0 OR strpos(patient_identifier, '\') > 0);
