import VitalSigns

/// The binary COPY layout of a `vital_signs` row, in one place for the writer and for anything
/// that must load rows exactly as the writer does (the benchmark's raw-COPY limit).
public enum VitalSignsRow {
    public static let columns =
        "observation_time, patient_id, device_id, location, vital_kind, code, code_system, value, unit, hierarchy, status, is_critical"

    public static let copyStatement = "COPY vital_signs (\(columns)) FROM STDIN (FORMAT binary)"

    /// One row; `patientID` and `deviceID` are the surrogate keys of `patients` and `devices`.
    public static func append(_ observation: borrowing Observation, patientID: Int64?, deviceID: Int32, to copy: inout BinaryCopyWriter) {
        copy.beginRow(fieldCount: 12)
        copy.append(timestamp: observation.time)
        copy.append(patientID)
        copy.append(deviceID)
        copy.append(observation.location)
        copy.append(observation.kind.rawValue)
        copy.append(observation.code.code)
        copy.append(observation.code.system)
        copy.append(observation.value)
        copy.append(observation.unit.ucum)
        copy.append(observation.hierarchy)
        copy.append(char: observation.status.rawValue)
        copy.append(observation.isCritical)
    }
}
