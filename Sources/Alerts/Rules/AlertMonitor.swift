import Foundation
import Logging
import Storage
import Synchronization
import VitalSigns

/// Runs the critical-value rules over everything the pipeline carries and hands their decisions
/// to the hub. It is the pipeline's alert stage: one thread calls it, in ring order, so the
/// evaluator's state needs no lock.
///
/// Clinicians' per-patient settings are re-read from the database every `settingsRefresh` by a
/// `PatientSettingsReader`, and applied on the stage's next clock tick, so a change from the CLI
/// takes effect within that time and the stage itself never waits for the database.
public final class AlertMonitor: @unchecked Sendable {
    // Confined to the alert stage's thread.
    private var evaluator: AlertEvaluator
    private var settings = PatientSettingsStore.Snapshot()
    private let reader: PatientSettingsReader?
    private let hub: AlertHub
    private let profiles: DeviceProfileCatalog
    private let logger: Logger
    /// Keys of alerts clinicians resolved, from the hub's thread, forgotten by the rules at the
    /// stage's next entry.
    private let resolvedByClinicians = Mutex<[(key: AlertKey, observedAt: Timestamp)]>([])
    /// Keeps the devices the silence rule watches across restarts; nil without a database.
    private let watchRecorder: WatchedDeviceRecorder?
    /// The watched devices as last handed to `watchRecorder`, and when (on the ticks' clock).
    private var recordedWatches: [ExactText: WatchedDevice] = [:]
    private var watchesRecordedAt: Timestamp?

    /// How often the watched devices are written: a device that stops within this time of an
    /// engine's crash is watched from its previous write.
    static let watchRecordInterval: Duration = .seconds(10)
    /// Devices not heard for longer are not watched again after a restart.
    static let watchRestoreAge: Duration = .seconds(7 * 86_400)

    /// `url` nil: no per-patient settings and no devices watched across restarts (tests, tools).
    /// With a URL the settings are read once here, before the first observation, and so are the
    /// devices the previous run watched.
    public init(
        hub: AlertHub, profiles: DeviceProfileCatalog, rules: AlertRuleSet = .standard, settingsURL url: String?,
        settingsRefresh: Duration = .seconds(10), logger: Logger
    ) {
        evaluator = AlertEvaluator(rules: rules)
        self.hub = hub
        self.profiles = profiles
        self.logger = logger
        reader = url.map { PatientSettingsReader(url: $0, every: settingsRefresh, logger: logger) }
        var news2Patients: [PatientIdentifier] = []
        for alert in hub.openAlerts(in: AlertScope(facility: hub.facility)) {
            guard let key = Self.ruleKey(of: alert) else {
                logger.warning("an alert open since before the start cannot be cleared by the rules", metadata: ["alert_id": "\(alert.id)"])
                continue
            }
            if key.rule == .news2, case .patient(let patient) = key.subject { news2Patients.append(patient) }
            // At the rules' severity, not the escalation timer's: a real worsening of an alert the
            // timer escalated must still be announced. Alerts stored without it (earlier builds)
            // resume low when the timer escalated them: a repeated announcement beats a missed one.
            let ruleSeverity = alert.ruleSeverity ?? (alert.escalationCount > 0 ? .warning : alert.severity)
            evaluator.resume(key, severity: ruleSeverity >= .critical ? .critical : .warning)
        }
        if let url, !news2Patients.isEmpty {
            do {
                let readings = try StoredReadings(url: url).latest(of: news2Patients, kinds: AlertEvaluator.news2Inputs, within: rules.news2.maxReadingAge)
                for reading in readings { evaluator.restoreNEWS2Reading(reading.observation, heardAt: reading.receivedAt) }
            } catch {
                logger.warning("the NEWS2 inputs measured before the start could not be read; open NEWS2 alerts are scored on new readings only",
                               metadata: ["error": "\(error.redactedDescription)"])
            }
        }
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        if let url {
            do {
                let watched = try WatchedDeviceRecorder.load(url: url, facility: hub.facility, heardWithin: Self.watchRestoreAge)
                for device in watched { evaluator.restoreWatch(device, from: start) }
                if !watched.isEmpty { logger.info("devices watched for silence since before the start", metadata: ["devices": "\(watched.count)"]) }
            } catch {
                logger.warning("the devices watched before the start could not be read; only devices heard from again are watched for silence",
                               metadata: ["error": "\(error.redactedDescription)"])
            }
        }
        watchRecorder = url.map { WatchedDeviceRecorder(url: $0, facility: hub.facility, logger: logger) }
        // The stage's clock starts now: devices heard before the ticker's first tick are heard
        // at this time, not at their own clocks' (one behind would be found silent at once).
        let started = evaluator.tick(now: start)
        if !started.isEmpty { hub.submit(started.map(AlertTrigger.init)) }
        hub.onCommitted { [weak self] events in
            let resolved = events.compactMap { event in
                event.type == .resolved && event.alert.resolvedBy != Alert.resolvedBySystem
                    ? Self.ruleKey(of: event.alert).map { (key: $0, observedAt: event.alert.observedAt) } : nil
            }
            if !resolved.isEmpty { self?.resolvedByClinicians.withLock { $0 += resolved } }
        }
        applyLatestSettings()
    }

    /// The rules' key of a stored alert, when its fields give back exactly its stored key.
    static func ruleKey(of alert: Alert) -> AlertKey? {
        let kind = VitalKind(name: alert.vital)
        // A rule about one vital is stored as `rule.vital` (`threshold.spo2`).
        let suffix = kind.map { "." + $0.name } ?? ""
        let rule = RuleID(rawValue: alert.rule.hasSuffix(suffix) ? String(alert.rule.dropLast(suffix.count)) : alert.rule)
        // A device's technical alarms are keyed by the device even when it has a patient.
        let subjects = [AlertSubject(patient: alert.patient, deviceID: alert.device), .device(alert.device)]
        return subjects.lazy.map { AlertKey(subject: $0, kind: kind, rule: rule) }.first { AlertTrigger.key($0) == alert.key }
    }

    deinit { stop() }

    /// Stops reading patient settings (the rules keep the last ones) and writes the watched
    /// devices a last time. Idempotent; call it from the stage's thread, or once it has stopped.
    public func stop() {
        reader?.stop()
        recordWatches()
        watchRecorder?.shutdown()
    }

    /// One pipeline entry: its observations, the device's reported conditions, or a clock tick.
    /// `whenStored` is told once the alert changes they led to are stored (`AlertHub.submit`),
    /// at once when they led to none and none of their devices' changes is still on its way.
    public func consume(
        observations: [Observation], profileID: String?, conditions: [DeviceCondition], tick: Timestamp?,
        whenStored: (@Sendable (Bool) -> Void)? = nil
    ) {
        for resolved in resolvedByClinicians.withLock({ keys in defer { keys.removeAll() }; return keys }) {
            evaluator.forget(resolved.key, resolvedAlertObservedAt: resolved.observedAt)
        }
        var signals: [AlertSignal] = []
        if let tick {
            applyLatestSettings()
            signals += evaluator.tick(now: tick)
            // A clock stepped back counts as due too: the interval would otherwise not pass for as long.
            if watchesRecordedAt.map({ tick.duration(since: $0) >= Self.watchRecordInterval || tick < $0 }) ?? true {
                recordWatches()
                watchesRecordedAt = tick
            }
        }
        // Conditions first: a value sent with a report of the device's state does not clear it.
        signals += evaluator.report(conditions)
        if !observations.isEmpty {
            let profile = profiles.profile(id: profileID)
            for observation in observations where observation.status.carriesValue {
                signals += evaluator.observe(observation, profile: profile)
            }
        }
        hub.submit(signals.map(AlertTrigger.init), from: Self.devices(observations, conditions), whenStored: whenStored)
    }

    /// The devices an entry's values came from, each once (an entry usually has one).
    private static func devices(_ observations: [Observation], _ conditions: [DeviceCondition]) -> [String] {
        var devices: [String] = []
        for device in observations.lazy.map(\.deviceID) + conditions.lazy.map(\.deviceID)
        where !devices.contains(where: { ExactText($0) == ExactText(device) }) {
            devices.append(device)
        }
        return devices
    }

    /// Hands the watched devices that changed since the last time to the recorder.
    private func recordWatches() {
        guard let watchRecorder else { return }
        for device in evaluator.watchedDevices where recordedWatches[ExactText(device.deviceID)] != device {
            if watchRecorder.record(device) { recordedWatches[ExactText(device.deviceID)] = device }
        }
    }

    private func applyLatestSettings() {
        guard let fresh = reader?.takeLatest(), fresh != settings else { return }
        for patient in settings.settings.keys where fresh.settings[patient] == nil {
            evaluator.removeSettings(for: patient)
        }
        for (patient, patientSettings) in fresh.settings where settings.settings[patient] != patientSettings {
            do {
                try evaluator.setSettings(patientSettings, for: patient)
            } catch {
                logger.warning("a patient's alert settings were refused", metadata: ["error": "\(error)"])
            }
        }
        var signals: [AlertSignal] = []
        for (patient, assessments) in fresh.assessments where settings.assessments[patient] != assessments {
            for assessment in assessments where !(settings.assessments[patient]?.contains(assessment) ?? false) {
                signals += evaluator.record(assessment)
            }
        }
        settings = fresh
        if !signals.isEmpty { hub.submit(signals.map(AlertTrigger.init)) }
    }
}
