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

    @Test("where the patient's own alert is open already, the device's is only resolved")
    func thePatientsOwnAlertStandsForBoth() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        _ = evaluator.feed([reading(.spo2, 92, at: 0, device: "DEV-2"), reading(.spo2, 85, at: 1, patient: nil)])
        #expect(evaluator.openAlerts == [deviceKey: .critical, patientKey: .warning])
        let handed = evaluator.feed([reading(.spo2, 93, at: 2)])
        #expect(handed.map(\.key) == [deviceKey])
        #expect(handed.map(\.action) == [.clear])
        #expect(evaluator.openAlerts == [patientKey: .warning])
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

    @Test("an alert a previous run left open on the device moves to the patient its first values name")
    func aResumedDeviceAlertMoves() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .samples(2))))
        evaluator.resume(deviceKey, severity: .warning)
        let handed = evaluator.feed([reading(.spo2, 92, at: 0)])
        #expect(handed.map(\.key) == [deviceKey, patientKey])
        #expect(handed.map(\.action) == [.clear, .raise])
        #expect(evaluator.openAlerts == [patientKey: .warning])
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
