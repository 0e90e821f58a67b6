import Decoders
import VitalSigns

extension DeviceCondition {
    /// What the rules make of a device's own status report; nil for a vendor-specific alarm,
    /// which the source counts and logs but which no technical-alarm rule covers.
    init?(_ report: DeviceStatusReport, patient: PatientIdentifier?, location: String?) {
        let status: Status
        switch report.condition {
        case .sensorOff: status = .sensorOff
        case .noSignal: status = .noSignal
        case .noValue: status = .noValue
        case .deviceAlarm: return nil
        }
        self.init(time: report.time, deviceID: report.deviceID, patient: patient, location: location, status: status)
    }
}
