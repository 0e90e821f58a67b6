-- The population whose bands judge a patient's vitals, when it is not the device profile's
-- default: a neonate's heart rate of 85 is critical, an adult's is not. Set from the CLI
-- (`nilecare-vitals thresholds population`); NEWS2 scores adults only.
CREATE TABLE patient_populations (
    patient_identifier text        NOT NULL,
    patient_authority  text        NOT NULL DEFAULT '',
    population         text        NOT NULL CHECK (population IN ('adult', 'paediatric', 'neonatal')),
    set_by             text        NOT NULL,
    set_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patient_identifier, patient_authority)
);
