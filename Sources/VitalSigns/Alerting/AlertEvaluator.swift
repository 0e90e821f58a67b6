/// Turns observations, device conditions, bedside assessments and the passing of time into
/// alert signals: raise, escalate, clear. Pure and deterministic: time comes only from the
/// inputs' timestamps and the `now` given to `tick(now:)`. The rules judge values on the
/// devices' clocks; whether a device is silent is judged on the ticks' clock alone, so that a
/// device whose clock runs behind does not look silent between ticks, nor one stamped in the
/// future never silent.
///
/// One alert is open at most per `AlertKey`. Threshold alerts of one vital share a key, so a
/// warning that enters the critical band escalates the open alert instead of opening another,
/// and an open alert never steps down until it clears. Behind a key, each device measuring the
/// patient has streaks of its own (`TrackedAlert`). A value type: its owner serialises
/// access (one evaluator per pipeline consumer).
public struct AlertEvaluator: Sendable {
    public var rules: AlertRuleSet
    var patientSettings: [PatientIdentifier: PatientAlertSettings] = [:]
    var alerts: [AlertKey: TrackedAlert] = [:]
    var windows: [WindowKey: SampleWindow] = [:]
    /// By device id as its bytes (`ExactText`), as everything that stores it compares it.
    var devices: [ExactText: DeviceActivity] = [:]
    var news2Readings: [AlertSubject: NEWS2Readings] = [:]
    /// The latest tick's `now`: when a device is heard from, on the clock silence is judged by.
    var clock: Timestamp?
    /// For keys whose alert cleared and whose trackers were dropped: each source's latest input
    /// then. An input from that source no newer (within `AlertTracker.episodeSpan`) belongs to
    /// the episode that ended (a message resent after a lost ACK, a late backlog) and raises
    /// nothing. Per source, since devices' clocks differ. Kept for `settledMemory` of the
    /// ticks' time.
    var settledThrough: [SettledSource: Timestamp] = [:]
    static let settledMemory = Duration.seconds(24 * 3600)

    /// When a device last reported each condition key's state: a value or another status at
    /// that same moment does not clear it. Kept for `settledMemory` of the ticks' time.
    var conditionReportedAt: [AlertKey: Timestamp] = [:]

    /// Devices whose values named no patient since they last named one: alerts of theirs may be
    /// open under the device's key (`followPatient`).
    var devicesWithPatientlessAlerts: Set<ExactText> = []

    struct SettledSource: Hashable, Sendable {
        var key: AlertKey
        var source: ExactText
    }

    public init(rules: AlertRuleSet = .standard) {
        self.rules = rules
    }

    // MARK: Patient settings

    /// Sets a patient's overrides after checking them; bad bands are refused, naming the key.
    public mutating func setSettings(_ settings: PatientAlertSettings, for patient: PatientIdentifier) throws(PatientAlertSettingsError) {
        try settings.validate()
        patientSettings[patient] = settings
    }

    public mutating func removeSettings(for patient: PatientIdentifier) {
        patientSettings[patient] = nil
    }

    public func settings(for patient: PatientIdentifier) -> PatientAlertSettings? {
        patientSettings[patient]
    }

    // MARK: State

    /// Every open alert and its severity.
    public var openAlerts: [AlertKey: Severity] {
        var open = alerts.compactMapValues(\.open)
        for (deviceID, device) in devices where device.isSilent {
            open[Self.silenceKey(deviceID.text)] = rules.silence.severity
        }
        return open
    }

    /// The subject's NEWS2 score from the readings fresh at `now`; nil with none.
    public func news2Score(for subject: AlertSubject, at now: Timestamp) -> NEWS2Score? {
        guard let readings = news2Readings[subject], isAdult(subject) else { return nil }
        return readings.score(at: now, rule: rules.news2, scale: spo2Scale(for: subject))
    }

    // MARK: Inputs

    /// Evaluates one observation against the bands of `population` (else the patient's, else
    /// the profile's default), the rate-of-change rules and, for adults, NEWS2. A row the device
    /// could not obtain (OBX-11 `X`) is reported as a `noValue` condition.
    public mutating func observe(_ observation: Observation, profile: DeviceProfile, population: Population? = nil) -> [AlertSignal] {
        guard observation.kind != .unknown else { return [] }
        guard observation.status.carriesValue, observation.value.isFinite else {
            guard observation.status == .cannotObtain else { return [] }
            return report(DeviceCondition(
                time: observation.time, deviceID: observation.deviceID, patient: observation.patient,
                location: observation.location, kind: observation.kind, status: .noValue
            ))
        }
        let (observation, handedOver) = followPatient(of: observation)
        let subject = AlertSubject(patient: observation.patient, deviceID: observation.deviceID)
        let settings = observation.patient.flatMap { patientSettings[$0] }
        let population = population ?? settings?.population ?? profile.defaultPopulation
        let context = AlertContext(observation)

        var signals = heard(observation.deviceID, at: observation.time, context: context, samplingInterval: profile.samplingInterval)
        signals += handedOver
        signals += clearConditions(device: observation.deviceID, kind: observation.kind, at: observation.time, context: context)

        let band = settings?.thresholds[observation.kind] ?? profile.bands.band(observation.kind, population: population)
        let rule = rules.threshold(for: observation.kind)
        signals += evaluate(
            AlertKey(subject: subject, kind: observation.kind, rule: .threshold), from: ExactText(observation.deviceID), at: observation.time,
            level: band?.classify(observation.value) ?? .normal,
            clearing: band?.isInside(observation.value, byMargin: rule.clearMargin) ?? true,
            timing: .init(warning: rule.warning.raiseAfter, critical: rule.critical.raiseAfter, clear: rule.clearAfter),
            context: context, escalationAfter: { rule.trigger($0).escalationAfter }
        )
        signals += rateOfChange(observation, subject: subject, context: context)

        if NEWS2Readings.parameter(for: observation.kind) != nil {
            news2Readings[subject, default: NEWS2Readings()].population = population
            let heardAt = clock ?? observation.time
            if population == .adult {
                news2Readings[subject]?.record(observation.kind, value: observation.value, at: observation.time, heardAt: heardAt, from: observation.deviceID)
            }
            news2Readings[subject]?.deviceID = observation.deviceID
            news2Readings[subject]?.location = observation.location
            signals += evaluateNEWS2(subject, at: heardAt)
        }
        return signals
    }

    /// An alert a previous run left open (the hub reloads those at start), tracked as open at
    /// `severity` so that the values that follow escalate or clear it as if this run had raised
    /// it: a fresh evaluator clears only what it raised itself. A device's silence alarm stays
    /// until the device is heard from.
    public mutating func resume(_ key: AlertKey, severity: Severity) {
        if key.rule == .deviceSilent, case .device(let deviceID) = key.subject {
            var device = devices[ExactText(deviceID)] ?? DeviceActivity(lastHeard: Timestamp(microsecondsSinceEpoch: 0))
            device.isSilent = true
            devices[ExactText(deviceID)] = device
            return
        }
        guard alerts[key] == nil else { return }
        alerts[key] = TrackedAlert(resumingOpen: severity, context: AlertContext(subject: key.subject, deviceID: nil, location: nil, value: nil))
        if case .device(let deviceID) = key.subject, !Self.conditionRules.contains(key.rule) {
            devicesWithPatientlessAlerts.insert(ExactText(deviceID))
        }
    }

    /// Stops tracking `key`: a clinician resolved its alert. A condition that persists raises a
    /// new alert once it has lasted its debounce again (a tracker still open would only ever
    /// escalate or clear an alert that no longer exists). A silent device's alarm is the
    /// exception: resolving it means the silence is known (a monitor unplugged at discharge),
    /// and it is raised again only after the device was heard from and fell silent once more.
    ///
    /// `resolvedAlertObservedAt` is the resolved alert's latest signal: a tracker that signalled
    /// after it (it raised a new alert, or worsened, while the resolve was on its way) stands for
    /// a newer alert and is kept.
    public mutating func forget(_ key: AlertKey, resolvedAlertObservedAt: Timestamp? = nil) {
        guard key.rule != .deviceSilent else { return }
        if let resolvedAlertObservedAt, let signalled = alerts[key]?.lastSignalAt, signalled > resolvedAlertObservedAt { return }
        alerts[key] = nil
    }

    /// Records a bedside assessment (consciousness, supplemental oxygen) for NEWS2.
    public mutating func record(_ assessment: ClinicalAssessment) -> [AlertSignal] {
        let subject = AlertSubject.patient(assessment.patient)
        news2Readings[subject, default: NEWS2Readings()].record(assessment)
        return evaluateNEWS2(subject, at: assessment.time)
    }

    /// The vital kinds NEWS2 scores.
    public static let news2Inputs = VitalKind.allCases.filter { NEWS2Readings.parameter(for: $0) != nil }

    /// A NEWS2 input measured before a restart, heard (stored) at `heardAt` on this engine's
    /// clock: recorded, not evaluated. The intermittent ones (blood pressure, temperature) may be
    /// up to an hour old; without them the first scores after a restart would be partial and
    /// clear an open NEWS2 alert.
    public mutating func restoreNEWS2Reading(_ observation: Observation, heardAt: Timestamp) {
        guard let patient = observation.patient, NEWS2Readings.parameter(for: observation.kind) != nil else { return }
        var readings = news2Readings[.patient(patient)] ?? NEWS2Readings()
        readings.record(observation.kind, value: observation.value, at: observation.time, heardAt: heardAt, from: observation.deviceID)
        readings.deviceID = readings.deviceID ?? observation.deviceID
        readings.location = readings.location ?? observation.location
        news2Readings[.patient(patient)] = readings
    }

    /// Lets time pass: raises silence alarms, completes timed debounces of device conditions
    /// and re-scores NEWS2 as readings age. Signals come in a stable order.
    public mutating func tick(now: Timestamp) -> [AlertSignal] {
        clock = now
        var signals = silenceAlarms(at: now)
        signals += elapseConditions(to: now)
        // Subjects with readings that may age, and with a NEWS2 alert open or pending (whose
        // readings may all have aged already). Each subject is evaluated on its own, so any order
        // will do; the signals are sorted once at the end. (Sorting the subjects by their
        // description cost 60–100 ms a tick for 250 patients: the alert stage's every critical
        // value waited behind it.)
        let tracked = alerts.keys.filter { $0.rule == .news2 }.map(\.subject)
        for subject in Set(news2Readings.keys).union(tracked) {
            let dropped = news2Readings[subject]?.dropStale(at: now, rule: rules.news2) ?? false
            if news2Readings[subject]?.isEmpty == true { news2Readings[subject] = nil }
            if dropped || alerts[Self.news2Key(subject)] != nil {
                signals += evaluateNEWS2(subject, at: now)
            }
        }
        settledThrough = settledThrough.filter { now.duration(since: $0.value) <= Self.settledMemory }
        conditionReportedAt = conditionReportedAt.filter { now.duration(since: $0.value) <= Self.settledMemory }
        // A window goes when its device has not been heard for as long, on the ticks' clock: its
        // samples are on the device's, which may run hours behind (a window judged by the ticks
        // would be emptied at every tick, and no trend ever seen).
        let longestWindow = rules.rateOfChange.map(\.window).max() ?? .zero
        windows = windows.filter { key, _ in devices[key.deviceID].map { now.duration(since: $0.lastHeard) <= longestWindow } ?? false }
        return signals.sorted { ($0.key.sortKey, $0.time) < ($1.key.sortKey, $1.time) }
    }

    // MARK: Rules

    private mutating func rateOfChange(_ observation: Observation, subject: AlertSubject, context: AlertContext) -> [AlertSignal] {
        let applicable = rules.rateOfChange.filter { $0.kind == observation.kind }
        guard let longest = applicable.map(\.window).max() else { return [] }
        let windowKey = WindowKey(subject: subject, deviceID: ExactText(observation.deviceID), kind: observation.kind)
        guard windows[windowKey, default: SampleWindow()].append(observation.value, at: observation.time, keeping: longest),
              let window = windows[windowKey]
        else { return [] }
        var signals: [AlertSignal] = []
        for rule in applicable {
            let moved = window.change(rule.direction, within: rule.window)
            signals += evaluate(
                AlertKey(subject: subject, kind: rule.kind, rule: rule.id), from: ExactText(observation.deviceID), at: observation.time,
                level: moved >= rule.change ? rule.severity : .normal, clearing: moved < rule.clearBelow,
                timing: .init(raise: rule.trigger.raiseAfter, clear: rule.clearAfter),
                context: context, escalationAfter: { _ in rule.trigger.escalationAfter }
            )
        }
        return signals
    }

    private mutating func evaluateNEWS2(_ subject: AlertSubject, at time: Timestamp) -> [AlertSignal] {
        let readings = news2Readings[subject] ?? NEWS2Readings()
        // NEWS2 is validated for adults only: for others it scores nothing (and clears).
        let score = isAdult(subject) ? readings.score(at: time, rule: rules.news2, scale: spo2Scale(for: subject)) : NEWS2Score()
        let rule = rules.news2
        var context = AlertContext(subject: subject, deviceID: readings.deviceID, location: readings.location, value: Double(score.total))
        context.news2 = score
        return evaluate(
            Self.news2Key(subject), at: time, level: score.severity, clearing: score.severity == .normal,
            timing: .init(warning: rule.urgent.raiseAfter, critical: rule.emergency.raiseAfter, clear: rule.clearAfter),
            context: context, escalationAfter: { rule.trigger($0).escalationAfter }
        )
    }

    /// The population last seen in the subject's observations, else the patient's, else adult.
    private func isAdult(_ subject: AlertSubject) -> Bool {
        var population = news2Readings[subject]?.population
        if population == nil, case .patient(let patient) = subject { population = patientSettings[patient]?.population }
        return (population ?? .adult) == .adult
    }

    private func spo2Scale(for subject: AlertSubject) -> SpO2Scale {
        guard case .patient(let patient) = subject else { return .scale1 }
        return patientSettings[patient]?.spo2Scale ?? .scale1
    }

    static func news2Key(_ subject: AlertSubject) -> AlertKey {
        AlertKey(subject: subject, kind: nil, rule: .news2)
    }

    // MARK: Tracking

    /// Feeds one evaluation to the key's tracker for `source` (the device that measured it) and
    /// turns the alert's transition into a signal. Keys with nothing open or pending are not kept.
    mutating func evaluate(
        _ key: AlertKey, from source: ExactText = TrackedAlert.anySource, at time: Timestamp, level: Severity, clearing: Bool,
        timing: AlertTracker.Timing, context: AlertContext, escalationAfter: (Severity) -> Duration
    ) -> [AlertSignal] {
        if alerts[key] == nil, let settled = settledThrough[SettledSource(key: key, source: source)],
           AlertTracker.isFromClearedEpisode(time, clearedAt: settled) {
            return []
        }
        // Taken out while it changes, so that its trackers are changed in place, not copied.
        guard var entry = alerts.removeValue(forKey: key) ?? (level == .normal ? nil : TrackedAlert(context: context)) else { return [] }
        let devices = devices
        let transition = entry.evaluate(
            from: source, at: time, level: level, clearing: clearing, timing: timing,
            isGone: { source in
                guard let device = devices[source] else { return false }
                return device.isSilent || device.patient.map { $0 != context.patient } ?? false
            }
        )
        entry.context = context
        if transition != nil { entry.lastSignalAt = time }
        alerts[key] = entry.isIdle ? nil : entry
        if entry.isIdle, case .cleared = transition {
            for (settled, latest) in entry.latestInputs {
                let id = SettledSource(key: key, source: settled)
                settledThrough[id] = max(latest, settledThrough[id] ?? latest)
            }
        }
        return transition.map { [AlertSignal($0, key: key, context: context, time: time, escalationAfter: escalationAfter)] } ?? []
    }
}

/// Who and where an alert is about, and the value behind it.
struct AlertContext: Sendable {
    var patient: PatientIdentifier?
    var deviceID: String?
    var location: String?
    var value: Double?
    var news2: NEWS2Score?

    init(patient: PatientIdentifier?, deviceID: String?, location: String?, value: Double?) {
        self.patient = patient
        self.deviceID = deviceID
        self.location = location
        self.value = value
    }

    init(_ observation: Observation) {
        self.init(patient: observation.patient, deviceID: observation.deviceID, location: observation.location, value: observation.value)
    }

    init(subject: AlertSubject, deviceID: String?, location: String?, value: Double?) {
        guard case .patient(let patient) = subject else {
            self.init(patient: nil, deviceID: deviceID, location: location, value: value)
            return
        }
        self.init(patient: patient, deviceID: deviceID, location: location, value: value)
    }
}

/// A trend is one device's: two devices' values side by side are not a change.
struct WindowKey: Hashable, Sendable {
    var subject: AlertSubject
    var deviceID: ExactText
    var kind: VitalKind
}

extension AlertSignal {
    init(_ transition: AlertTracker.Transition, key: AlertKey, context: AlertContext, time: Timestamp, escalationAfter: (Severity) -> Duration) {
        let (action, severity): (Action, Severity) = switch transition {
        case .raised(let severity): (.raise, severity)
        case .escalated(let from, let to): (.escalate(from: from), to)
        case .cleared(let severity): (.clear, severity)
        }
        self.init(
            action: action, key: key, severity: severity, value: context.value, patient: context.patient,
            deviceID: context.deviceID, location: context.location, time: time,
            escalationAfter: escalationAfter(severity), news2: context.news2
        )
    }
}
