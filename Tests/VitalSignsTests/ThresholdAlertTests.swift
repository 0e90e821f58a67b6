import Testing
import VitalSigns

@Suite struct ThresholdAlertTests {
    @Test func warningRaisesAfterNSamplesAndOnlyOnce() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .samples(3))))
        let signals = evaluator.feed((0..<50).map { reading(.heartRate, 115, at: Double($0)) })
        #expect(signals.map(\.summary) == ["raise warning 115.0 @2.0"])
        #expect(signals.first?.kind == .heartRate && signals.first?.patient == patient)
        #expect(signals.first?.deviceID == "DEV-1" && signals.first?.location == "ICU^1^A")
        #expect(signals.first?.escalationAfter == .seconds(600))
        #expect(evaluator.openAlerts == [AlertKey(subject: .patient(patient), kind: .heartRate, rule: .threshold): .warning])
    }

    @Test func aNormalSampleRestartsTheCount() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .samples(3))))
        let signals = evaluator.feed([115, 115, 100, 115, 115, 115].enumerated().map { reading(.heartRate, $1, at: Double($0)) })
        #expect(signals.map(\.summary) == ["raise warning 115.0 @5.0"])
    }

    @Test func warningRaisesAfterTSeconds() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .after(.seconds(10)))))
        #expect(evaluator.feed([0, 5, 9.9].map { reading(.heartRate, 112, at: $0) }).isEmpty)
        #expect(evaluator.feed([reading(.heartRate, 112, at: 10)]).map(\.summary) == ["raise warning 112.0 @10.0"])
        // With sparse samples, the second one after T raises.
        var sparse = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .after(.seconds(10)))))
        #expect(sparse.feed([reading(.heartRate, 45, at: 0), reading(.heartRate, 45, at: 30)]).map(\.summary) == ["raise warning 45.0 @30.0"])
    }

    @Test func theCriticalBandRaisesOnTheFirstSample() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .after(.seconds(30)))))
        let signals = evaluator.feed([reading(.heartRate, 135, at: 0)])
        #expect(signals.map(\.summary) == ["raise critical 135.0 @0.0"])
        #expect(signals.first?.escalationAfter == .seconds(120))
    }

    @Test func clearsOnlyInsideTheBandByTheMargin() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(margin: 5, clear: .samples(2))))
        let values: [Double] = [115, 108, 108, 106, 104, 107, 104, 103, 104]
        let signals = evaluator.feed(values.enumerated().map { reading(.heartRate, $1, at: Double($0)) })
        // 108 and 106 are inside the band but not by 5; 104 then 107 restarts; 104, 103 clear.
        #expect(signals.map(\.summary) == ["raise warning 115.0 @0.0", "clear warning 103.0 @7.0"])
        #expect(evaluator.openAlerts.isEmpty)
    }

    @Test func clearsAfterTSecondsInside() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .after(.seconds(10)))))
        let signals = evaluator.feed([(0, 115), (1, 100), (5, 100), (10.9, 100), (11, 100)].map { reading(.heartRate, $1, at: $0) })
        #expect(signals.map(\.summary) == ["raise warning 115.0 @0.0", "clear warning 100.0 @11.0"])
    }

    @Test func aWarningThatTurnsCriticalEscalatesTheOpenAlert() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        let values: [Double] = [115, 135, 120, 140, 100]
        let signals = evaluator.feed(values.enumerated().map { reading(.heartRate, $1, at: Double($0)) })
        // Back in the warning band it stays critical; one alert from raise to clear.
        #expect(signals.map(\.summary) == ["raise warning 115.0 @0.0", "escalate from warning critical 135.0 @1.0", "clear critical 100.0 @4.0"])
        #expect(signals[1].escalationAfter == .seconds(120))
    }

    @Test func oneAlertPerKeyAcrossManySamples() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        let samples = (0..<1000).map { reading(.heartRate, $0 % 2 == 0 ? 115 : 125, at: Double($0) / 4) }
        #expect(evaluator.feed(samples).count == 1)
        // Other vitals, patients and devices without a patient have keys of their own.
        let others = [
            reading(.spo2, 85, at: 300),
            reading(.heartRate, 135, at: 300, patient: otherPatient),
            reading(.heartRate, 135, at: 300, patient: nil, device: "DEV-7"),
            reading(.heartRate, 135, at: 300, patient: nil, device: "DEV-8"),
        ]
        #expect(evaluator.feed(others).count == 4)
        #expect(evaluator.openAlerts.count == 5)
        #expect(evaluator.openAlerts[AlertKey(subject: .device("DEV-7"), kind: .heartRate, rule: .threshold)] == .critical)
        // The same patient on a second monitor shares the patient's alert.
        #expect(evaluator.feed([reading(.heartRate, 118, at: 301, device: "DEV-2")]).isEmpty)
    }

    @Test func lateSamplesDoNotCount() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .samples(3))))
        let signals = evaluator.feed([10, 11, 5, 12].map { reading(.heartRate, 115, at: $0) })
        #expect(signals.map(\.summary) == ["raise warning 115.0 @12.0"])
    }

    @Test func patientOverridesReplaceTheProfileBand() throws {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        try evaluator.setSettings(
            PatientAlertSettings(thresholds: [.heartRate: ThresholdBand(criticalLow: 30, warningHigh: 150, criticalHigh: 170)]),
            for: patient
        )
        #expect(evaluator.feed([reading(.heartRate, 140, at: 0), reading(.heartRate, 35, at: 1)]).isEmpty)
        #expect(evaluator.feed([reading(.heartRate, 155, at: 2)]).map(\.summary) == ["raise warning 155.0 @2.0"])
        #expect(evaluator.feed([reading(.heartRate, 140, at: 0, patient: otherPatient)]).map(\.summary) == ["raise critical 140.0 @0.0"])
        evaluator.removeSettings(for: patient)
        #expect(evaluator.feed([reading(.heartRate, 135, at: 3)]).map(\.summary) == ["escalate from warning critical 135.0 @3.0"])
    }

    @Test func thePopulationChoosesTheBands() throws {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        // 95/min is normal for an adult (the profile's default) and low for a newborn.
        #expect(evaluator.feed([reading(.heartRate, 95, at: 0)]).isEmpty)
        #expect(evaluator.feed([reading(.heartRate, 95, at: 1)], population: .neonatal).map(\.summary) == ["raise warning 95.0 @1.0"])
        try evaluator.setSettings(PatientAlertSettings(population: .neonatal), for: otherPatient)
        #expect(evaluator.feed([reading(.heartRate, 85, at: 0, patient: otherPatient)]).map(\.summary) == ["raise critical 85.0 @0.0"])
        // An explicit population wins over the patient's.
        var explicit = AlertEvaluator(rules: rules(threshold: thresholdRule()))
        try explicit.setSettings(PatientAlertSettings(population: .neonatal), for: otherPatient)
        #expect(explicit.feed([reading(.heartRate, 85, at: 0, patient: otherPatient)], population: .adult).isEmpty)
    }

    @Test func theStandardRulesDebounceWarningsButNotCriticals() {
        var evaluator = AlertEvaluator()
        let dips = (0..<14).map { reading(.spo2, 92, at: Double($0)) }
        #expect(evaluator.feed(dips).isEmpty)
        #expect(evaluator.feed([reading(.spo2, 92, at: 15)]).map(\.summary) == ["raise warning 92.0 @15.0"])
        #expect(evaluator.feed([reading(.spo2, 85, at: 16)]).map(\.summary) == ["escalate from warning critical 85.0 @16.0"])
        #expect(evaluator.feed([reading(.spo2, 95, at: 17), reading(.spo2, 97, at: 18)]).isEmpty)
        #expect(evaluator.feed([reading(.spo2, 96, at: 28)]).map(\.summary) == ["clear critical 96.0 @28.0"])
    }
}
