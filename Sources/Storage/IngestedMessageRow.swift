/// The binary COPY layout of an `ingested_messages` row: the key a retransmission is recognised by.
enum IngestedMessageRow {
    static let copyStatement =
        "COPY ingested_messages (sending_application, sending_facility, control_id, message_time, observation_count) FROM STDIN (FORMAT binary)"

    static func append(_ key: MessageKey, observationCount: Int, to copy: inout BinaryCopyWriter) {
        copy.beginRow(fieldCount: 5)
        copy.append(key.sendingApplication)
        copy.append(key.sendingFacility)
        copy.append(key.controlID)
        copy.append(key.messageTime)
        copy.append(Int32(clamping: observationCount))
    }
}
