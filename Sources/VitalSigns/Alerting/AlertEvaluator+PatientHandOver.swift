/// Alerts on a device's values while they named no patient (a monitor started before admission,
/// a message without a PID) are keyed by the device. Once its values name a patient, they are
/// judged under the patient's keys, and the device's alerts would stay open for ever, fed by
/// nothing. They go to the patient instead.
///
/// A device that names its patient in some messages and not in others (a gateway that adds the
/// PID to one path only) must not flip between the two keys: its values that name no patient
/// are judged as the patient's it last named, for `assumedPatientSpan` after it named them.
extension AlertEvaluator {
    /// How long after a device last named its patient its values that name none are taken as
    /// that patient's.
    static let assumedPatientSpan = Duration.seconds(600)

    /// `observation` with the patient its device named within `assumedPatientSpan` when it names
    /// none; noted whether it named one, and on the first that does after one that did not, the
    /// device's alerts handed over (`handOverPatientlessAlerts`).
    mutating func followPatient(of observation: Observation) -> (Observation, [AlertSignal]) {
        let deviceID = ExactText(observation.deviceID)
        let now = clock ?? observation.time
        guard let patient = observation.patient else {
            if let named = devices[deviceID]?.namedPatient, now.duration(since: named.at) <= Self.assumedPatientSpan {
                var assumed = observation
                assumed.patient = named.patient
                return (assumed, [])
            }
            devicesWithPatientlessAlerts.insert(deviceID)
            return (observation, [])
        }
        devices[deviceID, default: DeviceActivity(lastHeard: now)].namedPatient = (patient, now)
        guard devicesWithPatientlessAlerts.remove(deviceID) != nil else { return (observation, []) }
        return (observation, handOverPatientlessAlerts(of: observation, to: patient))
    }

    /// Each alert of the device's values is resolved on the device. One fed within
    /// `assumedPatientSpan` before `observation` is raised on `patient`
    /// at its severity, so no moment passes without it, or escalates the patient's own alert of
    /// that key when that is open and milder; the patient's values then escalate or clear it as
    /// they would an alert resumed after a restart. An older one (left open before a restart,
    /// its device since moved to a new patient) is not the new patient's. A condition still
    /// pending starts again under the patient's key; the device's NEWS2 readings join the
    /// patient's. Technical alarms stay the device's.
    private mutating func handOverPatientlessAlerts(of observation: Observation, to patient: PatientIdentifier) -> [AlertSignal] {
        let device = AlertSubject.device(observation.deviceID)
        let time = observation.time
        let keys = alerts.keys.filter { $0.subject == device && !Self.conditionRules.contains($0.rule) && $0.rule != .deviceSilent }
        var signals: [AlertSignal] = []
        for key in keys.sorted(by: { $0.sortKey < $1.sortKey }) {
            guard let entry = alerts.removeValue(forKey: key), let severity = entry.open else { continue }
            let escalationAfter = escalationAfter(key, severity)
            signals.append(AlertSignal(
                action: .clear, key: key, severity: severity, value: entry.context.value, patient: nil, deviceID: observation.deviceID,
                location: entry.context.location, time: time, escalationAfter: escalationAfter
            ))
            // NEWS2 is fed at the ticks' time; the rules of one vital at the device's.
            let now = key.rule == .news2 ? clock ?? time : time
            let fed = entry.latestInputs.map(\.time).max()
            guard let fed, now.duration(since: fed) <= Self.assumedPatientSpan else { continue }
            let patientKey = AlertKey(subject: .patient(patient), kind: key.kind, rule: key.rule)
            let patientsOwn = alerts[patientKey]?.open
            if let patientsOwn, patientsOwn >= severity { continue }
            let handed = AlertContext(patient: patient, deviceID: observation.deviceID, location: observation.location ?? entry.context.location, value: entry.context.value)
            var tracked = TrackedAlert(resumingOpen: severity, context: handed)
            tracked.lastSignalAt = time
            alerts[patientKey] = tracked
            signals.append(AlertSignal(
                action: patientsOwn.map { .escalate(from: $0) } ?? .raise, key: patientKey, severity: severity, value: handed.value,
                patient: patient, deviceID: observation.deviceID, location: handed.location, time: time, escalationAfter: escalationAfter
            ))
        }
        if let readings = news2Readings.removeValue(forKey: device) {
            news2Readings[.patient(patient), default: NEWS2Readings()].merge(readings)
        }
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
