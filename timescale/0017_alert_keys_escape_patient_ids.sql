-- An open alert's key names the patient as `p:<authority>:<id>`; the id's `\` and `:` are now
-- escaped (`\\`, `\c`), so that authority `KTH:MRN` with id `1` and authority `KTH` with id
-- `MRN:1` no longer share a key (one patient's open alert took the other's raise). Open alerts
-- of ids that hold either get the key the engine now gives them; every other key is unchanged.
-- In two steps, through a prefix no key has: the unique index of open keys is checked row by
-- row, and one row's new key may be another's old one until that one is rewritten too.
UPDATE critical_events
SET alert_key = 'migrating-0017:p:' || coalesce(patient_authority, '') || ':'
        || replace(replace(patient_identifier, '\', '\\'), ':', '\c')
        || substring(alert_key FROM '\|[^|]*\|[^|]*$')
WHERE state <> 'resolved'
  AND alert_key LIKE 'p:%'
  AND patient_identifier IS NOT NULL
  AND (strpos(patient_identifier, ':') > 0 OR strpos(patient_identifier, '\') > 0);
UPDATE critical_events
SET alert_key = substring(alert_key FROM length('migrating-0017:') + 1)
WHERE alert_key LIKE 'migrating-0017:%';
