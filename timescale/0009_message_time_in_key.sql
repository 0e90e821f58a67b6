-- A message's key gains MSH-7, the time it was created: senders reuse control ids (a gateway
-- that counts MSH-10 from 1 again after a reboot), and a new message under an old id must be
-- stored, not acknowledged and dropped as a retransmission. A retransmission repeats MSH-7.
-- Keys stored before have an empty time: their retransmissions, if any still come, are stored
-- once more. MQTT and serial keys keep an empty time (their ids are unique on their own).
ALTER TABLE ingested_messages ADD COLUMN message_time text NOT NULL DEFAULT '';
ALTER TABLE ingested_messages DROP CONSTRAINT ingested_messages_pkey;
ALTER TABLE ingested_messages ADD PRIMARY KEY (sending_application, sending_facility, control_id, message_time);
