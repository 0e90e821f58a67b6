import Testing
import VitalSigns

/// One patient measured by two devices at once (a bedside monitor and a transport monitor, or
/// two SpO2 probes): each device's values are judged as a series of their own, under one alert.
@Suite struct TwoDeviceAlertTests {
    /// Device A every second, B every three seconds offset by half a second, in time order.
    func interleaved(_ kind: VitalKind, a: Double, b: Double, seconds: Int) -> [Observation] {
        var rows: [Observation] = []
        for second in 0..<seconds {
            rows.append(reading(kind, a, at: Double(second), device: "DEV-A"))
            if second % 3 == 0 { rows.append(reading(kind, b, at: Double(second) + 0.5, device: "DEV-B")) }
        }
        return rows
    }

    @Test("a second device's normal values do not restart the first one's debounce")
    func aSecondDeviceDoesNotResetTheDebounce() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(warning: .after(.seconds(10)))))
        let signals = evaluator.feed(interleaved(.heartRate, a: 115, b: 80, seconds: 30))
        #expect(signals.map(\.summary) == ["raise warning 115.0 @10.0"])
        #expect(signals.first?.deviceID == "DEV-A")
        // One alert for the patient's heart rate, whichever device measured it.
        #expect(evaluator.openAlerts == [AlertKey(subject: .patient(patient), kind: .heartRate, rule: .threshold): .warning])
    }

    @Test("the alert clears when no device's values hold it open any more")
    func clearsWhenEveryDeviceIsBackToNormal() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .samples(2))))
        var rows = interleaved(.heartRate, a: 115, b: 120, seconds: 4)
        rows += [
            reading(.heartRate, 90, at: 5, device: "DEV-A"), reading(.heartRate, 90, at: 6, device: "DEV-A"),  // A clears, B still high
            reading(.heartRate, 90, at: 7, device: "DEV-B"), reading(.heartRate, 90, at: 8, device: "DEV-B"),
        ]
        #expect(evaluator.feed(rows).map(\.summary) == ["raise warning 115.0 @0.0", "clear warning 90.0 @8.0"])
    }

    @Test("a device that fell silent no longer holds the alert open: the other device's normal values clear it after the debounce")
    func aSilentDeviceHandsTheAlertOver() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .after(.seconds(10)))))
        var signals: [AlertSignal] = []
        for second in 0...60 {
            let now = Double(second)
            signals += evaluator.tick(now: at(now)).filter { $0.rule == .threshold }
            if second <= 5 { signals += evaluator.feed([reading(.heartRate, 115, at: now, device: "DEV-A")]) }
            signals += evaluator.feed([reading(.heartRate, 80, at: now + 0.5, device: "DEV-B")])
        }
        // A was last heard at 5 s and is silent after 30 s more (at the 36 s tick); from then B's
        // values count towards clearing, for the 10 s the rule asks.
        #expect(signals.map(\.summary) == ["raise warning 115.0 @0.0", "clear warning 80.0 @46.5"])
    }

    @Test("a device that moved to another patient no longer holds the first patient's alert, nor hides their next episode")
    func aDeviceThatMovedOnHandsTheAlertOver() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .after(.seconds(10)))))
        let other = PatientIdentifier(id: "P-2", assigningAuthority: "KTH")
        var signals: [AlertSignal] = []
        for second in 0...70 {
            let now = Double(second)
            // DEV-A measures this patient for 5 s, then another patient (it is still heard).
            let aPatient = second <= 5 ? patient : other
            signals += evaluator.feed([reading(.heartRate, second <= 5 ? 115 : 80, at: now, patient: aPatient, device: "DEV-A")])
                .filter { $0.patient == patient }
            signals += evaluator.feed([reading(.heartRate, second >= 60 ? 118 : 80, at: now + 0.5, device: "DEV-B")])
        }
        // DEV-A measures the other patient from 6 s: from DEV-B's next value (6.5 s) the alert is
        // DEV-B's to clear, 10 s later; DEV-B's own rise raises a new one.
        #expect(signals.map(\.summary) == ["raise warning 115.0 @0.0", "clear warning 80.0 @16.5", "raise warning 118.0 @60.5"])
    }

    @Test("a device between two readings of a vital keeps the alert its last reading holds: another device's normal reading does not clear it")
    func anIntermittentReadingIsNotHandedOver() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(clear: .samples(1))))
        var signals: [AlertSignal] = []
        // DEV-A is heard every 10 s (SpO2) and measures the heart rate every 15 minutes, high each
        // time, as a cuff measures blood pressure; DEV-B's heart rate every 5 minutes is normal.
        for step in 0...270 {
            let now = Double(step * 10)
            signals += evaluator.tick(now: at(now)).filter { $0.rule == .threshold }
            var rows = [reading(.spo2, 97, at: now, device: "DEV-A")]
            if step % 90 == 0 { rows.append(reading(.heartRate, 115, at: now, device: "DEV-A")) }
            if step % 30 == 0 { rows.append(reading(.heartRate, 80, at: now + 1, device: "DEV-B")) }
            signals += evaluator.feed(rows)
        }
        #expect(signals.map(\.summary) == ["raise warning 115.0 @0.0"])
    }

    @Test("two devices reading apart do not make a trend: each device's values are a series of their own")
    func twoDevicesAreNotATrend() {
        var evaluator = AlertEvaluator(rules: rules(threshold: thresholdRule(), rateOfChange: AlertRuleSet.standard.rateOfChange))
        var rows: [Observation] = []
        for second in 0..<120 {
            // The second probe reads 6 points lower, steadily; the first reports every 15 s.
            if second % 15 == 0 { rows.append(reading(.spo2, 97, at: Double(second), device: "DEV-A")) }
            rows.append(reading(.spo2, 91, at: Double(second) + 0.5, device: "DEV-B"))
        }
        #expect(evaluator.feed(rows, rule: "rate.spo2_fall").isEmpty)
        // A real fall on one device is still a trend.
        let falling = (0..<30).map { reading(.spo2, 97 - Double($0) / 2, at: 120 + Double($0), device: "DEV-A") }
        #expect(evaluator.feed(falling, rule: "rate.spo2_fall").first?.summary.hasPrefix("raise warning") == true)
    }
}
