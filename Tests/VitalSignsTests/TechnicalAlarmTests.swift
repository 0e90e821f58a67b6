import Testing
import VitalSigns

@Suite struct TechnicalAlarmTests {
    let silenceKey = AlertKey(subject: .device("DEV-1"), kind: nil, rule: .deviceSilent)

    @Test func aDeviceSilentLongerThanItsIntervalAllowsRaisesOnTick() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.heartRate, 80, at: 0), profile: profile)
        // One-second sampling: ten missed samples, but never less than 30 s.
        #expect(evaluator.tick(now: at(30)).isEmpty)
        let raised = evaluator.tick(now: at(30.5))
        #expect(raised.map(\.summary) == ["raise warning - @30.5"])
        #expect(raised.first?.key == silenceKey && raised.first?.patient == patient && raised.first?.location == "ICU^1^A")
        #expect(evaluator.tick(now: at(90)).isEmpty)
        #expect(evaluator.openAlerts[silenceKey] == .warning)
        let cleared = evaluator.observe(reading(.heartRate, 80, at: 91), profile: profile).filter { $0.rule == .deviceSilent }
        #expect(cleared.map(\.summary) == ["clear warning - @91.0"])
        #expect(evaluator.openAlerts[silenceKey] == nil)
    }

    @Test("a device watched before a restart is found silent its allowed silence after the start; one silent before stays so without a new alarm")
    func restoredWatchesCountFromTheStart() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.heartRate, 80, at: 0), profile: profile)
        _ = evaluator.observe(reading(.heartRate, 80, at: 0, device: "DEV-2"), profile: profile)
        #expect(evaluator.tick(now: at(30.5)).count == 2)
        _ = evaluator.observe(reading(.heartRate, 80, at: 31), profile: profile)  // DEV-1 back; DEV-2 stays silent
        let watched = evaluator.watchedDevices.sorted { $0.deviceID < $1.deviceID }
        #expect(watched.map(\.isSilent) == [false, true])
        #expect(watched.first?.allowedSilence == .seconds(30) && watched.first?.patient == patient)

        // The next run, started at 100 s; DEV-2's open silence alarm is resumed first, as the hub reloads it.
        var restarted = AlertEvaluator()
        restarted.resume(AlertKey(subject: .device("DEV-2"), kind: nil, rule: .deviceSilent), severity: .warning)
        for device in watched { restarted.restoreWatch(device, from: at(100)) }
        // The resumed device keeps when it was last heard, to be written back as it was.
        #expect(restarted.watchedDevices.first { $0.deviceID == "DEV-2" }?.lastHeard == watched[1].lastHeard)
        #expect(restarted.tick(now: at(100)).isEmpty)
        #expect(restarted.tick(now: at(130)).isEmpty)
        let raised = restarted.tick(now: at(130.5))
        #expect(raised.map(\.summary) == ["raise warning - @130.5"])
        #expect(raised.first?.key == silenceKey && raised.first?.patient == patient && raised.first?.location == "ICU^1^A")
    }

    @Test("a silence alarm a clinician resolved stays resolved while the device is silent, unlike a vital's alert")
    func aResolvedSilenceAlarmIsNotRaisedAgainAtTheNextTick() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.heartRate, 80, at: 0), profile: profile)
        #expect(evaluator.tick(now: at(30.5)).map(\.summary) == ["raise warning - @30.5"])
        evaluator.forget(silenceKey)
        #expect(evaluator.tick(now: at(31.5)).isEmpty)
        #expect(evaluator.tick(now: at(120)).isEmpty)
        // A vital's tracker is forgotten: the same critical value raises it again.
        let critical = evaluator.observe(reading(.heartRate, 20, at: 121), profile: profile).filter { $0.rule != .deviceSilent }
        #expect(critical.count == 1)
        if let key = critical.first?.key {
            evaluator.forget(key)
            #expect(evaluator.observe(reading(.heartRate, 20, at: 122), profile: profile).filter { $0.rule != .deviceSilent }.count == 1)
        }
    }

    @Test func theAllowedSilenceFollowsTheProfilesInterval() {
        let slow = DeviceProfile(id: "slow", samplingInterval: .seconds(5))
        let unknown = DeviceProfile(id: "no-interval")
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.heartRate, 80, at: 0), profile: slow)
        _ = evaluator.observe(reading(.heartRate, 80, at: 0, device: "DEV-2"), profile: unknown)
        #expect(evaluator.tick(now: at(50)).isEmpty)
        #expect(evaluator.tick(now: at(51)).map(\.key) == [silenceKey])
        #expect(evaluator.tick(now: at(100_000)).isEmpty)
    }

    @Test func aSensorOffReportRaisesAfterItsDebounceAndAValueClearsIt() {
        var evaluator = AlertEvaluator()
        let off = DeviceCondition(time: at(0), deviceID: "DEV-1", patient: patient, kind: .spo2, status: .sensorOff)
        #expect(evaluator.report(off).isEmpty)
        #expect(evaluator.tick(now: at(5)).isEmpty)
        let raised = evaluator.tick(now: at(10))
        #expect(raised.map(\.summary) == ["raise warning - @10.0"])
        #expect(raised.first?.key == AlertKey(subject: .device("DEV-1"), kind: .spo2, rule: "device.sensor_off"))
        #expect(raised.first?.patient == patient)
        var repeated = off
        repeated.time = at(12)
        #expect(evaluator.report(repeated).isEmpty)
        // A heart-rate value says nothing about the SpO2 probe; an SpO2 value does.
        #expect(evaluator.observe(reading(.heartRate, 80, at: 13), profile: profile).filter { $0.rule == "device.sensor_off" }.isEmpty)
        let cleared = evaluator.observe(reading(.spo2, 97, at: 14), profile: profile).filter { $0.rule == "device.sensor_off" }
        #expect(cleared.map(\.summary) == ["clear warning - @14.0"])
        #expect(evaluator.openAlerts.isEmpty)
    }

    @Test func aNewStatusReplacesTheOldOneAndNormalClearsAll() {
        var immediate = AlertRuleSet.standard
        immediate.deviceConditions.trigger.raiseAfter = .immediate
        var evaluator = AlertEvaluator(rules: immediate)
        func report(_ status: DeviceCondition.Status, _ seconds: Double, kind: VitalKind? = .spo2) -> [String] {
            evaluator.report(DeviceCondition(time: at(seconds), deviceID: "DEV-1", kind: kind, status: status))
                .map { "\($0.action == .clear ? "clear" : "raise") \($0.rule)" }
        }
        #expect(report(.noSignal, 0) == ["raise device.no_signal"])
        #expect(report(.sensorOff, 1) == ["clear device.no_signal", "raise device.sensor_off"])
        #expect(report(.noValue, 2, kind: .heartRate) == ["raise device.no_value"])
        #expect(evaluator.openAlerts.count == 2)
        // "normal" for the whole device clears every channel.
        #expect(report(.normal, 3, kind: nil).sorted() == ["clear device.no_value", "clear device.sensor_off"])
        #expect(evaluator.openAlerts.isEmpty)
    }

    @Test("a pulse oximeter that reports interference and a probe off in every frame, and goes on sending values, raises both after the debounce; values alone then clear them")
    func statesReportedWithValuesRaise() {
        var evaluator = AlertEvaluator()
        var signals: [AlertSignal] = []
        for second in 0...12 {
            // One frame's states, reported together as the alert stage does an entry's.
            signals += evaluator.report([DeviceCondition.Status.noSignal, .sensorOff].map {
                DeviceCondition(time: at(Double(second)), deviceID: "DEV-1", patient: patient, status: $0)
            })
            signals += evaluator.observe(reading(.spo2, 97, at: Double(second)), profile: profile)
            signals += evaluator.observe(reading(.heartRate, 72, at: Double(second)), profile: profile)
        }
        let raised = signals.filter { $0.action == .raise && $0.rule != .deviceSilent }
        #expect(raised.map(\.summary).sorted() == ["raise warning - @10.0", "raise warning - @10.0"])
        #expect(Set(raised.map(\.rule)) == ["device.no_signal", "device.sensor_off"])
        // The device stops reporting them: its next value clears both.
        let cleared = evaluator.observe(reading(.spo2, 97, at: 13), profile: profile).filter { $0.action == .clear }
        #expect(Set(cleared.map(\.rule)) == ["device.no_signal", "device.sensor_off"])
    }

    @Test func aRowTheDeviceCouldNotObtainIsANoValueCondition() {
        var immediate = AlertRuleSet.standard
        immediate.deviceConditions.trigger.raiseAfter = .immediate
        var evaluator = AlertEvaluator(rules: immediate)
        let signals = evaluator.observe(reading(.spo2, 0, at: 0, status: .cannotObtain), profile: profile)
        #expect(signals.map(\.rule) == ["device.no_value"])
        #expect(signals.first?.kind == .spo2)
        // A deleted row and an unknown kind raise nothing.
        #expect(evaluator.observe(reading(.spo2, 0, at: 1, status: .deleted), profile: profile).isEmpty)
        #expect(evaluator.observe(reading(.unknown, 0, at: 1, status: .cannotObtain), profile: profile).isEmpty)
    }
}

@Suite("Device silence is judged on the ticks' clock")
struct SilenceClockTests {
    @Test("a device whose clock runs 45 s behind the ticks is not silent while it sends")
    func aClockBehindIsNotSilence() {
        var evaluator = AlertEvaluator()
        var signals: [AlertSignal] = []
        for second in 0..<120 {
            signals += evaluator.tick(now: at(Double(second)))
            signals += evaluator.observe(reading(.heartRate, 80, at: Double(second) - 45), profile: profile)
        }
        #expect(signals.filter { $0.rule == .deviceSilent }.count == 0)
    }

    @Test("a device whose readings are stamped a day ahead is still found silent when it stops")
    func aClockAheadStillFallsSilent() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.heartRate, 80, at: 86_400), profile: profile)
        for second in 1...10 { _ = evaluator.tick(now: at(Double(second))) }
        _ = evaluator.observe(reading(.heartRate, 80, at: 86_410), profile: profile)
        #expect(evaluator.tick(now: at(40)).isEmpty)
        #expect(evaluator.tick(now: at(41)).map(\.rule) == [.deviceSilent])
    }
}

@Suite("A clinician's resolve reaching the rules late")
struct LateForgetTests {
    let key = AlertKey(subject: .patient(patient), kind: .spo2, rule: .threshold)

    func clears(_ evaluator: inout AlertEvaluator, from start: Double) -> Int {
        var clears = 0
        for step in 0..<30 {
            clears += evaluator.observe(reading(.spo2, 97, at: start + Double(step) * 5), profile: profile)
                .filter { $0.key == key && $0.action == .clear }.count
        }
        return clears
    }

    @Test("a tracker that raised a new alert after the resolved one is kept, and clears that alert")
    func aNewerAlertsTrackerIsKept() {
        var evaluator = AlertEvaluator()
        #expect(evaluator.observe(reading(.spo2, 80, at: 0), profile: profile).contains { $0.key == key && $0.action == .raise })
        #expect(clears(&evaluator, from: 1) == 1)
        // Raised again while the clinician's resolve of the first alert was on its way.
        #expect(evaluator.observe(reading(.spo2, 80, at: 200), profile: profile).contains { $0.key == key && $0.action == .raise })
        evaluator.forget(key, resolvedAlertObservedAt: at(0))
        #expect(clears(&evaluator, from: 201) == 1)
    }

    @Test("the tracker of the resolved alert itself is forgotten: a persisting condition raises anew")
    func theResolvedAlertsTrackerIsForgotten() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.spo2, 80, at: 0), profile: profile)
        evaluator.forget(key, resolvedAlertObservedAt: at(0))
        #expect(evaluator.observe(reading(.spo2, 80, at: 1), profile: profile).contains { $0.key == key && $0.action == .raise })
    }
}

@Suite("Samples that arrive late")
struct LateSampleTests {
    @Test("a critical value measured by a patient's second device, delivered after the first device's newer normal one, still raises")
    func aLateCriticalValueRaises() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.spo2, 96, at: 10), profile: profile)
        var late = reading(.spo2, 82, at: 9.5)
        late.deviceID = "OXIMETER-2"
        let signals = evaluator.observe(late, profile: profile).filter { $0.rule == .threshold }
        #expect(signals.map(\.summary) == ["raise critical 82.0 @9.5"])
    }

    @Test("a critical value resent after its alert cleared (a message resent after a lost ACK) raises nothing; a new one does")
    func aResentCriticalValueAfterTheClearRaisesNothing() {
        var evaluator = AlertEvaluator()
        let raised = evaluator.observe(reading(.spo2, 82, at: 0), profile: profile).filter { $0.rule == .threshold }
        #expect(raised.map(\.summary) == ["raise critical 82.0 @0.0"])
        let cleared = evaluator.feed((1...40).map { reading(.spo2, 98, at: Double($0)) }).filter { $0.rule == .threshold }
        #expect(cleared.map(\.summary) == ["clear critical 98.0 @11.0"])
        #expect(evaluator.openAlerts.isEmpty)
        // The first message again, and a late reading from before the clear (at 11 s, ten
        // seconds inside the band): the episode the clear ended.
        #expect(evaluator.observe(reading(.spo2, 82, at: 0), profile: profile).filter { $0.rule == .threshold }.isEmpty)
        #expect(evaluator.observe(reading(.spo2, 83, at: 5), profile: profile).filter { $0.rule == .threshold }.isEmpty)
        #expect(evaluator.openAlerts.isEmpty)
        // A new desaturation after the clear raises as ever, from the same device and from
        // another whose clock runs behind.
        #expect(evaluator.observe(reading(.spo2, 81, at: 41), profile: profile).filter { $0.rule == .threshold }.map(\.summary) == ["raise critical 81.0 @41.0"])
        var other = AlertEvaluator()
        _ = other.observe(reading(.spo2, 82, at: 0), profile: profile)
        _ = other.feed((1...40).map { reading(.spo2, 98, at: Double($0)) })
        var behind = reading(.spo2, 80, at: 30)
        behind.deviceID = "OXIMETER-2"
        #expect(other.observe(behind, profile: profile).filter { $0.rule == .threshold }.map(\.summary) == ["raise critical 80.0 @30.0"])
        // The same device with its clock set back two hours (a battery reset): its new
        // desaturation is not taken for the old episode's.
        var reset = AlertEvaluator()
        _ = reset.observe(reading(.spo2, 82, at: 7_200), profile: profile)
        _ = reset.feed((1...40).map { reading(.spo2, 98, at: 7_200 + Double($0)) })
        #expect(reset.openAlerts.isEmpty)
        #expect(reset.observe(reading(.spo2, 81, at: 60), profile: profile).filter { $0.rule == .threshold }.map(\.summary) == ["raise critical 81.0 @60.0"])
    }

    @Test("a late value that is not critical changes nothing")
    func aLateWarningIsIgnored() {
        var evaluator = AlertEvaluator()
        _ = evaluator.observe(reading(.spo2, 96, at: 10), profile: profile)
        #expect(evaluator.observe(reading(.spo2, 91, at: 9.5), profile: profile).filter { $0.rule == .threshold }.isEmpty)
    }
}
