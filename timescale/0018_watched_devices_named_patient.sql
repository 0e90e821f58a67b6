-- When each watched device's values last named its patient (on the engine's clock; NULL when
-- they did not name the patient in patient_identifier). After a restart, the device's values
-- that name no patient are that patient's for as long as before it (a gateway that adds the PID
-- to some messages only): without it, the first of them raised alerts on the device that
-- repeated the patient's open ones.
ALTER TABLE watched_devices ADD COLUMN patient_named_at timestamptz NULL;
