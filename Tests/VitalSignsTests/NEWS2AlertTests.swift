import Testing
import VitalSigns

@Suite struct NEWS2AlertTests {
    let news2Key = AlertKey(subject: .patient(patient), kind: nil, rule: .news2)

    /// A set of adult vitals that scores 0 on every parameter.
    func calm(at seconds: Double, patient: PatientIdentifier = patient) -> [Observation] {
        [
            reading(.respirationRate, 14, at: seconds, patient: patient), reading(.spo2, 97, at: seconds, patient: patient),
            reading(.nibpSystolic, 120, at: seconds, patient: patient), reading(.heartRate, 75, at: seconds, patient: patient),
            reading(.temperature, 37, at: seconds, patient: patient),
        ]
    }

    func immediateRules(maxReadingAge: Duration = .seconds(3600)) -> AlertRuleSet {
        var rules = AlertRuleSet.standard
        rules.news2 = NEWS2Rule(
            urgent: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(900)),
            emergency: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(300)),
            clearAfter: .immediate, maxReadingAge: maxReadingAge, maxAssessmentAge: .seconds(4 * 3600)
        )
        return rules
    }

    @Test func anAggregateOfFiveRaisesAnUrgentAlertAfterItsDebounce() throws {
        var evaluator = AlertEvaluator()
        #expect(evaluator.feed(calm(at: 0), rule: .news2).isEmpty)
        // Pulse 115 (2), temperature 38.5 (1), respiration 22 (2): 5.
        let worse = [reading(.heartRate, 115, at: 1), reading(.temperature, 38.5, at: 1), reading(.respirationRate, 22, at: 1)]
        #expect(evaluator.feed(worse, rule: .news2).isEmpty)
        #expect(evaluator.feed([reading(.heartRate, 115, at: 30)], rule: .news2).isEmpty)
        let raised = evaluator.feed([reading(.heartRate, 115, at: 61)], rule: .news2)
        #expect(raised.map(\.summary) == ["raise warning 5.0 @61.0"])
        let score = try #require(raised.first?.news2)
        #expect(score.pulse == 2 && score.temperature == 1 && score.respirationRate == 2 && score.response == .medium)
        #expect(raised.first?.key == news2Key && raised.first?.escalationAfter == .seconds(900))
    }

    @Test func sevenOrMoreIsAnEmergencyAtOnceAndEscalatesAnUrgentAlert() {
        var evaluator = AlertEvaluator()
        _ = evaluator.feed(calm(at: 0), rule: .news2)
        // Respiration 26 (3) alone: a single 3, urgent after a minute.
        _ = evaluator.feed([reading(.respirationRate, 26, at: 1)], rule: .news2)
        #expect(evaluator.feed([reading(.respirationRate, 26, at: 61)], rule: .news2).map(\.summary) == ["raise warning 3.0 @61.0"])
        // SpO2 91 (3) and pulse 135 (3): 9, an emergency.
        let emergency = evaluator.feed([reading(.spo2, 91, at: 62), reading(.heartRate, 135, at: 62)], rule: .news2)
        #expect(emergency.map(\.summary) == ["escalate from warning critical 9.0 @62.0"])
        #expect(emergency.first?.escalationAfter == .seconds(300))
        #expect(evaluator.openAlerts[news2Key] == .critical)
    }

    @Test func aSingleParameterScoringThreeRaises() {
        var evaluator = AlertEvaluator(rules: immediateRules())
        _ = evaluator.feed(calm(at: 0), rule: .news2)
        let signals = evaluator.record(ClinicalAssessment(time: at(1), patient: patient, consciousness: .voice))
        #expect(signals.map(\.summary) == ["raise warning 3.0 @1.0"])
        #expect(signals.first?.news2?.response == .lowMedium && signals.first?.news2?.consciousness == 3)
        #expect(signals.first?.deviceID == "DEV-1")
        let cleared = evaluator.record(ClinicalAssessment(time: at(2), patient: patient, consciousness: .alert))
        #expect(cleared.map(\.summary) == ["clear warning 0.0 @2.0"])
    }

    @Test func fourWithoutAThreeRaisesNothing() {
        var evaluator = AlertEvaluator(rules: immediateRules())
        _ = evaluator.feed(calm(at: 0), rule: .news2)
        // Pulse 115 (2), systolic 105 (1), temperature 38.5 (1): 4.
        let signals = evaluator.feed([reading(.heartRate, 115, at: 1), reading(.nibpSystolic, 105, at: 1), reading(.temperature, 38.5, at: 1)], rule: .news2)
        #expect(signals.isEmpty)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(1))?.total == 4)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(1))?.isComplete == false)
    }

    @Test func readingsOlderThanTheMaximumAgeAreNotScored() {
        var evaluator = AlertEvaluator(rules: immediateRules(maxReadingAge: .seconds(300)))
        #expect(evaluator.feed([reading(.respirationRate, 26, at: 0)], rule: .news2).map(\.summary) == ["raise warning 3.0 @0.0"])
        #expect(evaluator.tick(now: at(300)).filter { $0.rule == .news2 }.isEmpty)
        #expect(evaluator.tick(now: at(301)).filter { $0.rule == .news2 }.map(\.summary) == ["clear warning 0.0 @301.0"])
        #expect(evaluator.news2Score(for: .patient(patient), at: at(301)) == nil)
        // A stale reading is not scored when a fresh one arrives either (each heard at its time).
        _ = evaluator.tick(now: at(400))
        _ = evaluator.feed([reading(.respirationRate, 26, at: 400)], rule: .news2)
        _ = evaluator.tick(now: at(800))
        _ = evaluator.feed([reading(.heartRate, 75, at: 800)], rule: .news2)
        let score = evaluator.news2Score(for: .patient(patient), at: at(800))
        #expect(score?.respirationRate == nil && score?.pulse == 0)
    }

    @Test("a monitor whose clock runs two hours behind is scored: its readings age on the ticks' clock, from when they were heard")
    func aMonitorWhoseClockIsBehindIsScored() {
        var evaluator = AlertEvaluator(rules: immediateRules())
        _ = evaluator.tick(now: at(7200))
        // Stamped two hours before the ticks: respiration 26 (3) with the rest calm.
        let raised = evaluator.feed(calm(at: 0) + [reading(.respirationRate, 26, at: 0.5)], rule: .news2)
        #expect(raised.map(\.summary) == ["raise warning 3.0 @7200.0"])
        #expect(evaluator.tick(now: at(7201)).filter { $0.rule == .news2 }.isEmpty)
        let score = evaluator.news2Score(for: .patient(patient), at: at(7201))
        #expect(score?.respirationRate == 3 && score?.spo2 == 0 && score?.systolic == 0 && score?.pulse == 0 && score?.temperature == 0)
        // Of two devices' pulses, the one heard last counts, though the other's clock says later.
        _ = evaluator.tick(now: at(7260))
        _ = evaluator.feed([reading(.heartRate, 115, at: 7260, device: "DEV-2"), reading(.heartRate, 75, at: 61)], rule: .news2)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(7260))?.pulse == 0)
        // A device whose clock runs an hour ahead is heard at the ticks' time too: a reading heard
        // after it counts, and it ages as the others.
        _ = evaluator.tick(now: at(7300))
        _ = evaluator.feed([reading(.heartRate, 135, at: 7300 + 3600, device: "DEV-3")], rule: .news2)
        _ = evaluator.tick(now: at(7310))
        _ = evaluator.feed([reading(.heartRate, 75, at: 7310, device: "DEV-2")], rule: .news2)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(7310))?.pulse == 0)
        // An hour after they were heard, they are stale.
        #expect(evaluator.tick(now: at(7200 + 3601)).filter { $0.rule == .news2 }.map(\.summary) == ["clear warning 0.0 @10801.0"])
    }

    @Test func anAlertWhoseReadingsAllAgedClearsAfterItsDebounce() {
        var rules = immediateRules(maxReadingAge: .seconds(300))
        rules.news2.clearAfter = .after(.seconds(60))
        var evaluator = AlertEvaluator(rules: rules)
        #expect(evaluator.feed([reading(.respirationRate, 26, at: 0)], rule: .news2).count == 1)
        func news2(_ seconds: Double) -> [String] { evaluator.tick(now: at(seconds)).filter { $0.rule == .news2 }.map(\.summary) }
        #expect(news2(301).isEmpty)
        #expect(news2(330).isEmpty)
        #expect(news2(361) == ["clear warning 0.0 @361.0"])
        #expect(evaluator.openAlerts[news2Key] == nil)
    }

    @Test func scale2AndSupplementalOxygenFollowThePatient() throws {
        var evaluator = AlertEvaluator(rules: immediateRules())
        try evaluator.setSettings(PatientAlertSettings(spo2Scale: .scale2), for: patient)
        _ = evaluator.feed(calm(at: 0) + calm(at: 0, patient: otherPatient), rule: .news2)
        _ = evaluator.record(ClinicalAssessment(time: at(1), patient: otherPatient, supplementalOxygen: true))
        let signals = evaluator.record(ClinicalAssessment(time: at(1), patient: patient, supplementalOxygen: true))
        // Scale 2 on oxygen: SpO2 97 scores 3, oxygen 2.
        #expect(signals.map(\.summary) == ["raise warning 5.0 @1.0"])
        #expect(signals.first?.news2?.spo2 == 3 && signals.first?.news2?.airOrOxygen == 2)
        // Scale 1: SpO2 97 scores 0.
        #expect(evaluator.news2Score(for: .patient(otherPatient), at: at(1))?.total == 2)
        #expect(evaluator.openAlerts[AlertKey(subject: .patient(otherPatient), kind: nil, rule: .news2)] == nil)
    }

    @Test func pulseAndSystolicTakeTheLatestOfEitherSource() {
        var evaluator = AlertEvaluator(rules: immediateRules())
        _ = evaluator.feed([reading(.heartRate, 135, at: 0), reading(.pulseRate, 80, at: 1)], rule: .news2)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(1))?.pulse == 0)
        _ = evaluator.feed([reading(.nibpSystolic, 120, at: 2), reading(.arterialSystolic, 85, at: 3)], rule: .news2)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(3))?.systolic == 3)
    }

    @Test func childrenAndNewbornsAreNotScored() {
        var evaluator = AlertEvaluator(rules: immediateRules())
        #expect(evaluator.feed([reading(.respirationRate, 70, at: 0)], rule: .news2, population: .neonatal).isEmpty)
        #expect(evaluator.feed([reading(.respirationRate, 45, at: 0, patient: otherPatient)], rule: .news2, population: .paediatric).isEmpty)
        #expect(evaluator.news2Score(for: .patient(patient), at: at(0)) == nil)
        // Nor is a bedside assessment of a child.
        #expect(evaluator.record(ClinicalAssessment(time: at(1), patient: otherPatient, consciousness: .pain)).isEmpty)
        #expect(evaluator.news2Score(for: .patient(otherPatient), at: at(1)) == nil)
    }
}
