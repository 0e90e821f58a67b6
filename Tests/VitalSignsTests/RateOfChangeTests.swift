import Testing
import VitalSigns

@Suite struct RateOfChangeTests {
    let spo2Fall = RateOfChangeRule(
        id: "rate.spo2_fall", kind: .spo2, direction: .falling, change: 5, window: .seconds(60), clearBelow: 2,
        severity: .warning, trigger: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(300)), clearAfter: .samples(2)
    )

    @Test func aFallWithinTheWindowRaisesAndClearsOnceFlat() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(), rateOfChange: [spo2Fall]))
        let series: [(Double, Double)] = [
            (0, 99), (10, 98), (20, 96), (30, 94.5), // 4.5 below the highest: not yet
            (40, 94), // 5 within 60 s
            (50, 94), // still open: no second alert
            (61, 94), // 99 left the window; 98 at 10 s makes 4: not flat yet
            (71, 94), // 96 at 20 s makes 2: not below 2
            (81, 94), (91, 94), // flat for two samples
        ]
        let signals = evaluator.feed(series.map { reading(.spo2, $1, at: $0) }, rule: "rate.spo2_fall")
        #expect(signals.map(\.summary) == ["raise warning 94.0 @40.0", "clear warning 94.0 @91.0"])
        #expect(signals.first?.kind == .spo2 && signals.first?.escalationAfter == .seconds(300))
    }

    @Test("a fall measured by a device whose clock runs two hours behind still raises: ticks between its samples keep its window")
    func aDeviceClockBehindTheTicksKeepsItsWindow() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(), rateOfChange: [spo2Fall]))
        let behind = 2.0 * 3600
        var signals: [AlertSignal] = []
        for (seconds, value) in [(0.0, 99.0), (10, 98), (20, 96), (30, 94.5), (40, 94)] {
            _ = evaluator.tick(now: at(behind + seconds))
            signals += evaluator.observe(reading(.spo2, value, at: seconds), profile: profile).filter { $0.rule == "rate.spo2_fall" }
        }
        #expect(signals.map(\.summary) == ["raise warning 94.0 @40.0"])
    }

    @Test func aSlowFallDoesNotRaise() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(), rateOfChange: [spo2Fall]))
        let series = (0...6).map { reading(.spo2, 99 - Double($0), at: Double($0) * 61) }
        #expect(evaluator.feed(series, rule: "rate.spo2_fall").isEmpty)
    }

    @Test func aRiseRuleWatchesTheLowestValue() {
        let rise = RateOfChangeRule(
            id: "rate.hr_rise", kind: .heartRate, direction: .rising, change: 30, window: .seconds(60), clearBelow: 10,
            severity: .critical, trigger: Trigger(raiseAfter: .samples(2), escalationAfter: .seconds(120)), clearAfter: .immediate
        )
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(), rateOfChange: [spo2Fall, rise]))
        let series: [(Double, Double)] = [(0, 70), (20, 95), (30, 101), (40, 102), (100, 100), (110, 101)]
        let signals = evaluator.feed(series.map { reading(.heartRate, $1, at: $0) }, rule: "rate.hr_rise")
        // 101 at 30 s is 31 above 70 (one sample), 102 the second; at 100 s only 102 and 100
        // are in the window: no rise left.
        #expect(signals.map(\.summary) == ["raise critical 102.0 @40.0", "clear critical 100.0 @100.0"])
    }
}
