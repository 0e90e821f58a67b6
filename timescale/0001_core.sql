-- Core tables shared by both storage modes: the surrogate-key dimensions and the dedup table.

-- Patients as the HL7 feed identifies them (PID-3: identifier + assigning authority).
-- vital_signs refers to them by this 8-byte id instead of repeating the identifier text.
CREATE TABLE patients (
    id                  bigserial   PRIMARY KEY,
    identifier          text        NOT NULL,
    assigning_authority text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (identifier, assigning_authority)
);

-- Devices by EUI-64 / equipment identifier; vital_signs refers to them by this 4-byte id.
CREATE TABLE devices (
    id         serial      PRIMARY KEY,
    identifier text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per HL7 message whose observations were committed, keyed as MSH-3 / MSH-4 / MSH-10.
-- The writer inserts the keys of a batch with ON CONFLICT DO NOTHING in the same transaction as
-- the observations, so a retransmitted or replayed message stores nothing twice.
CREATE TABLE ingested_messages (
    sending_application text        NOT NULL,
    sending_facility    text        NOT NULL,
    control_id          text        NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    observation_count   integer     NOT NULL,
    PRIMARY KEY (sending_application, sending_facility, control_id)
);
-- Rows arrive in time order, so a BRIN index makes pruning by age cheap at almost no write cost.
CREATE INDEX ingested_messages_received_at_brin ON ingested_messages USING brin (received_at);

-- Forget message keys older than `keep` (retransmissions arrive within minutes or hours; keep a
-- generous margin). Returns the number of keys removed. The daemon calls it daily.
CREATE FUNCTION vitals_prune_ingested_messages(keep interval DEFAULT interval '90 days')
RETURNS bigint
LANGUAGE sql
AS $$
    WITH removed AS (
        DELETE FROM ingested_messages WHERE received_at < now() - keep RETURNING 1
    )
    SELECT count(*) FROM removed;
$$;
