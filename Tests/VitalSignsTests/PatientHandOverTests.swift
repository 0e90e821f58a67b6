import Testing
import VitalSigns

/// A device's values that named no patient, then do (a monitor started before admission, a
/// gateway that sends the PID late): the alerts raised meanwhile become the patient's.
@Suite struct PatientHandOverTests {
    let deviceKey = AlertKey(subject: .device("DEV-1"), kind: .spo2, rule: .threshold)
    let patientKey = AlertKey(subject: .patient(patient), kind: .spo2, rule: .threshold)

    @Test("an alert open on the device moves to the patient at once, and the patient's values clear it")
    func anOpenAlertMovesToThePatient() throws {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(margin: 1, clear: .samples(2))))
        let raised = evaluator.feed([reading(.spo2, 85, at: 0, patient: nil), reading(.spo2, 86, at: 1, patient: nil)])
        #expect(raised.map(\.key) == [deviceKey])

        let handed = evaluator.feed([reading(.spo2, 86, at: 2)])
        #expect(handed.map(\.key) == [deviceKey, patientKey])
        #expect(handed.map(\.summary) == ["clear critical 86.0 @2.0", "raise critical 86.0 @2.0"])
        #expect(handed.last?.patient == patient)
        #expect(handed.last?.escalationAfter == .seconds(120))
        #expect(evaluator.openAlerts == [patientKey: .critical])

        // The patient's own values clear it after the rule's debounce, as any alert of theirs.
        let cleared = evaluator.feed([reading(.spo2, 97, at: 3), reading(.spo2, 97, at: 4)])
        #expect(cleared.map(\.summary) == ["clear critical 97.0 @4.0"])
        #expect(cleared.map(\.key) == [patientKey])
        #expect(evaluator.openAlerts.isEmpty)
    }

    @Test("a device that names its patient in some messages only is judged as that patient's throughout: no alert flips between the keys, and its values clear the patient's")
    func aDeviceThatNamesItsPatientNowAndThen() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(margin: 1, clear: .samples(2))))
        var signals: [AlertSignal] = []
        for second in 0..<6 {
            let now = Double(second)
            _ = evaluator.tick(now: at(now))
            // SpO2 without the PID, heart rate with it; SpO2 recovers from the fourth second.
            signals += evaluator.feed([reading(.spo2, second < 4 ? 84 : 97, at: now, patient: nil), reading(.heartRate, 80, at: now + 0.5)])
        }
        #expect(signals.map { "\($0.key.subject == .device("DEV-1") ? "device" : "patient") \($0.summary)" } == [
            "device raise critical 84.0 @0.0", "device clear critical 84.0 @0.5", "patient raise critical 84.0 @0.5", "patient clear critical 97.0 @5.0",
        ])
        #expect(evaluator.openAlerts.isEmpty)

        // Ten minutes after it last named the patient, its values are no one's again.
        _ = evaluator.tick(now: at(700))
        #expect(evaluator.feed([reading(.spo2, 84, at: 700, patient: nil)]).map(\.key) == [deviceKey])
    }

    @Test("a device's alert worse than the patient's own escalates it; one no worse is only resolved")
    func thePatientsOwnAlertStandsForBoth() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        _ = evaluator.feed([reading(.spo2, 92, at: 0, device: "DEV-2"), reading(.spo2, 85, at: 1, patient: nil)])
        #expect(evaluator.openAlerts == [deviceKey: .critical, patientKey: .warning])
        let handed = evaluator.feed([reading(.heartRate, 80, at: 2)])
        #expect(handed.map(\.key) == [deviceKey, patientKey])
        #expect(handed.map(\.action) == [.clear, .escalate(from: .warning)])
        #expect(evaluator.openAlerts == [patientKey: .critical])

        var milder = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        _ = milder.feed([reading(.spo2, 85, at: 0, device: "DEV-2"), reading(.spo2, 92, at: 1, patient: nil)])
        let resolved = milder.feed([reading(.heartRate, 80, at: 2)])
        #expect(resolved.map(\.key) == [deviceKey])
        #expect(resolved.map(\.action) == [.clear])
        #expect(milder.openAlerts == [patientKey: .critical])
    }

    @Test("a condition still pending on the device starts again under the patient; one that holds raises there")
    func aPendingConditionStartsAgain() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .samples(3), critical: .samples(3))))
        #expect(evaluator.feed([reading(.spo2, 85, at: 0, patient: nil), reading(.spo2, 85, at: 1, patient: nil)]).isEmpty)
        #expect(evaluator.feed([reading(.spo2, 85, at: 2), reading(.spo2, 85, at: 3)]).isEmpty)
        let raised = evaluator.feed([reading(.spo2, 85, at: 4)])
        #expect(raised.map(\.key) == [patientKey])
        #expect(evaluator.openAlerts == [patientKey: .critical])
    }

    @Test("an alert the device's values no longer fed (left open before a restart) is resolved, not given to the patient its values now name")
    func aStaleDeviceAlertIsNotThePatients() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .samples(2))))
        evaluator.resume(deviceKey, severity: .critical)
        let handed = evaluator.feed([reading(.spo2, 97, at: 0)])
        #expect(handed.map(\.key) == [deviceKey])
        #expect(handed.map(\.action) == [.clear])
        #expect(evaluator.openAlerts.isEmpty)
    }

    @Test("a device's alert resumed at start leaves its silence watch as the previous run left it")
    func resumingADeviceAlertKeepsItsWatch() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        evaluator.resume(deviceKey, severity: .critical)
        // Silent before the restart, its alarm resolved by a clinician: no new alarm at the first tick.
        evaluator.restoreWatch(WatchedDevice(deviceID: "DEV-1", lastHeard: at(0), allowedSilence: .seconds(30), patient: nil,
                                             location: nil, isSilent: true), from: at(100))
        #expect(evaluator.tick(now: at(101)).filter { $0.rule == .deviceSilent }.isEmpty)
        #expect(evaluator.watchedDevices.map(\.isSilent) == [true])
    }

    @Test("the device's NEWS2 readings join the patient's: the handed alert is scored on them")
    func news2ReadingsJoinThePatients() {
        var rules = AlertRuleSet.standard
        rules.news2.urgent.raiseAfter = .immediate
        rules.news2.clearAfter = .immediate
        var evaluator = AlertEvaluator(rules: rules)
        // Respiration 26 scores 3: an urgent NEWS2 alert on the device.
        let raised = evaluator.feed([reading(.respirationRate, 26, at: 0, patient: nil)], rule: .news2)
        #expect(raised.map(\.key) == [AlertKey(subject: .device("DEV-1"), kind: nil, rule: .news2)])
        let handed = evaluator.feed([reading(.heartRate, 75, at: 1)], rule: .news2)
        #expect(handed.map(\.action) == [.clear, .raise])
        #expect(evaluator.news2Score(for: .patient(patient), at: at(1))?.respirationRate == 3)
        #expect(evaluator.openAlerts[AlertKey(subject: .patient(patient), kind: nil, rule: .news2)] == .warning)
    }

    @Test("technical alarms stay the device's")
    func technicalAlarmsStay() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        var rules = evaluator.rules
        rules.deviceConditions.trigger.raiseAfter = .immediate
        evaluator.rules = rules
        let condition = DeviceCondition(time: at(0), deviceID: "DEV-1", patient: nil, location: "ICU^1^A", kind: .spo2, status: .sensorOff)
        #expect(evaluator.report(condition).count == 1)
        _ = evaluator.feed([reading(.heartRate, 80, at: 1, patient: nil), reading(.heartRate, 80, at: 2)])
        #expect(evaluator.openAlerts.keys.map(\.subject) == [.device("DEV-1")])
    }
}
