@testable import Alerts
import Testing
import VitalSigns

/// The lifecycle's decisions on their own: pure transitions, with the clock passed in.
@Suite struct AlertLifecycleTests {
    let t0 = Timestamp(microsecondsSinceEpoch: 1_790_000_000_000_000)

    func at(_ seconds: Int64) -> Timestamp { Timestamp(microsecondsSinceEpoch: t0.microsecondsSinceEpoch + seconds * 1_000_000) }

    /// An alert committed at `t0` (id 1) at `severity`, with a 600 s time to acknowledge.
    func lifecycle(severity: AlertSeverity = .warning, state: AlertState = .open, escalations: Int = 0) -> AlertLifecycle {
        let raise = trigger(.raise(severity), escalateAfter: .seconds(600))
        let alert = Alert(
            id: 1, key: raise.key, state: state, severity: severity, rule: raise.rule, vital: raise.vital, value: 93, unit: "%",
            patient: raise.patient, device: raise.device, location: raise.location, facility: "KTH", raisedAt: t0, observedAt: t0,
            acknowledgedBy: state == .acknowledged ? "nurse.a" : nil, escalationCount: escalations, escalatedAt: t0, escalateAfter: .seconds(600)
        )
        return AlertLifecycle(facility: "KTH", unresolved: [alert])
    }

    @Test("a condition that worsens gets the worse rule's full time to acknowledge, counted from the worsening")
    func worseningRestartsTheEscalationClock() throws {
        var lifecycle = lifecycle()
        // Five minutes into the warning, the value turns critical, with two minutes to acknowledge.
        let change = lifecycle.handle(trigger(.raise(.critical), value: 88, escalateAfter: .seconds(120)), at: at(300))
        let worse = try #require(change)
        #expect(worse.event == .escalated && worse.alert.severity == .critical)
        #expect(lifecycle.escalate(at: at(300)).isEmpty)
        #expect(lifecycle.escalate(at: at(419)).isEmpty)
        #expect(lifecycle.escalate(at: at(420)).map(\.alert.severity) == [.emergency])
    }

    @Test("a real worsening of an alert the timer escalated is announced: value updated, acknowledgement undone")
    func aWorseningAfterTimerEscalationsIsNotSwallowed() throws {
        // A warning the timer took to critical (two steps), then acknowledged.
        var lifecycle = lifecycle(severity: .critical, state: .acknowledged, escalations: 2)
        let change = lifecycle.handle(trigger(.raise(.critical), value: 80, escalateAfter: .seconds(120)), at: at(900))
        let worse = try #require(change)
        #expect(worse.alert.severity == .critical)
        #expect(worse.alert.value == 80)
        #expect(worse.alert.state == .open && worse.alert.acknowledgedBy == nil)
        // An alert that only the rules raised ignores a raise that is not more severe.
        var plain = self.lifecycle(severity: .critical)
        let ignored = plain.handle(trigger(.raise(.critical), value: 80), at: at(900))
        #expect(ignored == nil)
    }

    @Test("a worsening measured in another bed moves the alert there: the ward that sees it is the patient's now")
    func aWorseningFollowsThePatientsBed() throws {
        var lifecycle = lifecycle()
        let change = lifecycle.handle(trigger(.raise(.critical), value: 85, location: "WARD-B^2^A"), at: at(60))
        let worse = try #require(change)
        #expect(worse.alert.location == "WARD-B^2^A")
        #expect(worse.alert.ward == "WARD-B")
    }
}
