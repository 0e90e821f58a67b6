/// Technical alarms: about the device, not the patient, so keyed by the device.
extension AlertEvaluator {
    /// Evaluates states the devices reported. A reported status raises (after the rule's
    /// debounce); every other status of the same channel, or of the whole device when the
    /// report names no channel, counts towards clearing, unless the device reported it at the
    /// same moment: one frame can carry several (a probe off and interference), and they are
    /// its state together.
    public mutating func report(_ conditions: [DeviceCondition]) -> [AlertSignal] {
        for condition in conditions {
            guard let active = condition.status.rule else { continue }
            let key = AlertKey(subject: .device(condition.deviceID), kind: condition.kind, rule: active)
            conditionReportedAt[key] = max(condition.time, conditionReportedAt[key] ?? condition.time)
        }
        return conditions.flatMap { evaluateReport($0) }
    }

    /// One report, alone at its moment.
    public mutating func report(_ condition: DeviceCondition) -> [AlertSignal] {
        report([condition])
    }

    private mutating func evaluateReport(_ condition: DeviceCondition) -> [AlertSignal] {
        let context = AlertContext(patient: condition.patient, deviceID: condition.deviceID, location: condition.location, value: nil)
        var signals = heard(condition.deviceID, at: condition.time, context: context, samplingInterval: nil)
        let rule = rules.deviceConditions
        let channels: [VitalKind?] = condition.kind.map { [$0] } ?? [nil] + VitalKind.allCases
        var keys = Set(trackedConditionKeys(device: condition.deviceID, channels: channels))
        if let active = condition.status.rule {
            keys.insert(AlertKey(subject: .device(condition.deviceID), kind: condition.kind, rule: active))
        }
        for key in keys.sorted(by: { $0.sortKey < $1.sortKey }) {
            let isActive = key.rule == condition.status.rule && key.kind == condition.kind
            if !isActive, reportedSince(key, condition.time) { continue }
            signals += evaluate(
                key, at: condition.time, level: isActive ? rule.severity : .normal, clearing: !isActive,
                timing: conditionTiming, context: context, escalationAfter: { _ in rule.trigger.escalationAfter }
            )
        }
        return signals
    }

    /// A value of `kind` shows that channel, and the device, measure again: unless it came with
    /// the report (a pulse oximeter reports interference and goes on sending values; the value
    /// would otherwise restart the report's debounce at every frame, and it would never raise).
    mutating func clearConditions(device: String, kind: VitalKind, at time: Timestamp, context: AlertContext) -> [AlertSignal] {
        let rule = rules.deviceConditions
        var context = context
        context.value = nil
        return trackedConditionKeys(device: device, channels: [nil, kind]).filter { !reportedSince($0, time) }.flatMap { key in
            evaluate(
                key, at: time, level: .normal, clearing: true, timing: conditionTiming,
                context: context, escalationAfter: { _ in rule.trigger.escalationAfter }
            )
        }
    }

    /// Completes duration debounces of reported states: a device reports "sensor off" once
    /// and it holds until it says otherwise.
    mutating func elapseConditions(to now: Timestamp) -> [AlertSignal] {
        let rule = rules.deviceConditions
        var signals: [AlertSignal] = []
        for (key, entry) in alerts where Self.conditionRules.contains(key.rule) {
            var entry = entry
            guard let transition = entry.elapse(to: now, timing: conditionTiming) else { continue }
            entry.lastSignalAt = now
            alerts[key] = entry.isIdle ? nil : entry
            signals.append(AlertSignal(transition, key: key, context: entry.context, time: now) { _ in rule.trigger.escalationAfter })
        }
        return signals
    }

    /// Notes that a device was heard from and clears its silence alarm. The allowed silence
    /// comes from the profile's sampling interval; a device whose interval is unknown is not watched.
    /// Heard at the latest tick (before the first one, at the reading's own time).
    mutating func heard(_ deviceID: String, at time: Timestamp, context: AlertContext, samplingInterval: Duration?) -> [AlertSignal] {
        let heardAt = clock ?? time
        var device = devices[ExactText(deviceID)] ?? DeviceActivity(lastHeard: heardAt)
        if heardAt > device.lastHeard { device.lastHeard = heardAt }
        if let samplingInterval { device.allowedSilence = rules.silence.allowedSilence(samplingInterval: samplingInterval) }
        device.patient = context.patient ?? device.patient
        device.location = context.location ?? device.location
        let wasSilent = device.isSilent
        device.isSilent = false
        devices[ExactText(deviceID)] = device
        guard wasSilent else { return [] }
        return [silenceSignal(.clear, deviceID: deviceID, device: device, at: time)]
    }

    mutating func silenceAlarms(at now: Timestamp) -> [AlertSignal] {
        var signals: [AlertSignal] = []
        for (deviceID, device) in devices where !device.isSilent {
            // Heard before any tick from a device whose clock is ahead, or the clock stepped back.
            if device.lastHeard > now { devices[deviceID]?.lastHeard = now }
            guard let allowed = device.allowedSilence, now.duration(since: device.lastHeard) > allowed else { continue }
            devices[deviceID]?.isSilent = true
            signals.append(silenceSignal(.raise, deviceID: deviceID.text, device: device, at: now))
        }
        return signals
    }

    private func silenceSignal(_ action: AlertSignal.Action, deviceID: String, device: DeviceActivity, at time: Timestamp) -> AlertSignal {
        AlertSignal(
            action: action, key: Self.silenceKey(deviceID), severity: rules.silence.severity, value: nil,
            patient: device.patient, deviceID: deviceID, location: device.location, time: time,
            escalationAfter: rules.silence.escalationAfter
        )
    }

    /// The devices the silence rule watches, to be kept across a restart: without them a device
    /// that stops before a restart, or during one, would never be found silent.
    public var watchedDevices: [WatchedDevice] {
        devices.compactMap { deviceID, device in
            device.allowedSilence.map {
                WatchedDevice(deviceID: deviceID.text, lastHeard: device.lastHeard, allowedSilence: $0, patient: device.patient,
                              location: device.location, isSilent: device.isSilent,
                              patientNamedAt: device.namedPatient.flatMap { $0.patient == device.patient ? $0.at : nil })
            }
        }
    }

    /// Watches a device the previous run watched. Its silence counts from `start`, not from when
    /// it was last heard: senders resend what they could not deliver during the downtime, and
    /// every device would otherwise be found silent at the first tick after a long restart. One
    /// silent before stays silent, without a new alarm (its open alarm the hub reloads; one a
    /// clinician resolved stays resolved). A device heard already in this run keeps what it has,
    /// and takes from the watch only what it lacks (its allowed silence, patient, location, and
    /// when its values last named that patient: `followPatient` goes on from there).
    public mutating func restoreWatch(_ watched: WatchedDevice, from start: Timestamp) {
        let deviceID = ExactText(watched.deviceID)
        var device = devices[deviceID] ?? DeviceActivity(lastHeard: max(watched.lastHeard, start))
        // A device whose open silence alarm was resumed has no time of its own yet.
        device.lastHeard = max(device.lastHeard, watched.lastHeard)
        device.allowedSilence = device.allowedSilence ?? watched.allowedSilence
        device.patient = device.patient ?? watched.patient
        device.location = device.location ?? watched.location
        if device.namedPatient == nil, let patient = watched.patient, let at = watched.patientNamedAt { device.namedPatient = (patient, at) }
        if devices[deviceID] == nil { device.isSilent = watched.isSilent }
        devices[deviceID] = device
    }

    /// Whether the device reported `key`'s state at `time` or later.
    private func reportedSince(_ key: AlertKey, _ time: Timestamp) -> Bool {
        conditionReportedAt[key].map { $0 >= time } ?? false
    }

    static func silenceKey(_ deviceID: String) -> AlertKey {
        AlertKey(subject: .device(deviceID), kind: nil, rule: .deviceSilent)
    }

    static let conditionRules = Set(DeviceCondition.Status.allCases.compactMap(\.rule))

    private var conditionTiming: AlertTracker.Timing {
        .init(raise: rules.deviceConditions.trigger.raiseAfter, clear: rules.deviceConditions.clearAfter)
    }

    /// The condition keys of a device's channels that have a tracker, looked up one by one
    /// (this runs for every observation).
    private func trackedConditionKeys(device: String, channels: [VitalKind?]) -> [AlertKey] {
        var keys: [AlertKey] = []
        for channel in channels {
            for status in DeviceCondition.Status.allCases {
                guard let rule = status.rule else { continue }
                let key = AlertKey(subject: .device(device), kind: channel, rule: rule)
                if alerts[key] != nil { keys.append(key) }
            }
        }
        return keys
    }
}

/// When a device was last heard from and how long it may be silent.
struct DeviceActivity: Sendable {
    var lastHeard: Timestamp
    var allowedSilence: Duration?
    var patient: PatientIdentifier?
    var location: String?
    var isSilent = false
    /// The patient its values last named, and when (on the ticks' clock): its values that name
    /// none for a while after are that patient's (`followPatient`).
    var namedPatient: (patient: PatientIdentifier, at: Timestamp)?

    init(lastHeard: Timestamp) { self.lastHeard = lastHeard }
}

/// A device the silence rule watches: when it was last heard (on the ticks' clock), how long it
/// may be silent, whose and where it was, and whether it is silent now.
public struct WatchedDevice: Sendable, Hashable {
    public var deviceID: String
    public var lastHeard: Timestamp
    public var allowedSilence: Duration
    public var patient: PatientIdentifier?
    public var location: String?
    public var isSilent: Bool
    /// When the device's values last named `patient` (on the ticks' clock); nil when they did
    /// not name them (the patient came from its conditions).
    public var patientNamedAt: Timestamp?

    public init(
        deviceID: String, lastHeard: Timestamp, allowedSilence: Duration, patient: PatientIdentifier?, location: String?, isSilent: Bool,
        patientNamedAt: Timestamp? = nil
    ) {
        self.deviceID = deviceID
        self.lastHeard = lastHeard
        self.allowedSilence = allowedSilence
        self.patient = patient
        self.location = location
        self.isSilent = isSilent
        self.patientNamedAt = patientNamedAt
    }
}
