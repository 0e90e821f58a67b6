/// Alerts on a device's values while they named no patient (a monitor started before admission,
/// a message without a PID) are keyed by the device. Once its values name a patient, they are
/// judged under the patient's keys, and the device's alerts would stay open for ever, fed by
/// nothing. They go to the patient instead.
extension AlertEvaluator {
    /// Notes whether `observation` named its patient; on the first one that does after one that
    /// did not, hands the device's alerts over (`handOverPatientlessAlerts`).
    mutating func followPatient(of observation: Observation, context: AlertContext) -> [AlertSignal] {
        let deviceID = ExactText(observation.deviceID)
        guard let patient = observation.patient else {
            devices[deviceID]?.mayHoldPatientlessAlerts = true
            return []
        }
        guard devices[deviceID]?.mayHoldPatientlessAlerts == true else { return [] }
        devices[deviceID]?.mayHoldPatientlessAlerts = false
        return handOverPatientlessAlerts(of: observation.deviceID, to: patient, context: context, at: observation.time)
    }

    /// Each open alert of the device's values is resolved on the device and raised on `patient`
    /// at its severity, so no moment passes without it; the patient's values then escalate or
    /// clear it as they would an alert resumed after a restart. Where the patient's own alert of
    /// that key is open already, it stands for both. A condition still pending starts again
    /// under the patient's key. Technical alarms stay the device's.
    private mutating func handOverPatientlessAlerts(
        of deviceID: String, to patient: PatientIdentifier, context: AlertContext, at time: Timestamp
    ) -> [AlertSignal] {
        let device = AlertSubject.device(deviceID)
        let keys = alerts.keys.filter { $0.subject == device && !Self.conditionRules.contains($0.rule) && $0.rule != .deviceSilent }
        var signals: [AlertSignal] = []
        for key in keys.sorted(by: { $0.sortKey < $1.sortKey }) {
            guard let entry = alerts.removeValue(forKey: key), let severity = entry.open else { continue }
            let escalationAfter = escalationAfter(key, severity)
            signals.append(AlertSignal(
                action: .clear, key: key, severity: severity, value: entry.context.value, patient: nil, deviceID: deviceID,
                location: entry.context.location, time: time, escalationAfter: escalationAfter
            ))
            let patientKey = AlertKey(subject: .patient(patient), kind: key.kind, rule: key.rule)
            guard alerts[patientKey]?.open == nil else { continue }
            let handed = AlertContext(patient: patient, deviceID: deviceID, location: context.location ?? entry.context.location, value: entry.context.value)
            var tracked = TrackedAlert(resumingOpen: severity, context: handed)
            tracked.lastSignalAt = time
            alerts[patientKey] = tracked
            signals.append(AlertSignal(
                action: .raise, key: patientKey, severity: severity, value: handed.value, patient: patient, deviceID: deviceID,
                location: handed.location, time: time, escalationAfter: escalationAfter
            ))
        }
        // Readings and trends of the device's values are the patient's from now on.
        news2Readings[device] = nil
        windows = windows.filter { $0.key.subject != device }
        return signals
    }

    /// The time to acknowledge of `key`'s rule at `severity`.
    private func escalationAfter(_ key: AlertKey, _ severity: Severity) -> Duration {
        switch key.rule {
        case .threshold: rules.threshold(for: key.kind ?? .unknown).trigger(severity).escalationAfter
        case .news2: rules.news2.trigger(severity).escalationAfter
        default: rules.rateOfChange.first { $0.id == key.rule && $0.kind == key.kind }?.trigger.escalationAfter ?? .zero
        }
    }
}
