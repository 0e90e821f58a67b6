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

    @Test("an alert raised in the batch being decided has no id yet: an action on id 0 does not find it")
    func anUncommittedRaiseCannotBeActedOn() throws {
        var lifecycle = AlertLifecycle(facility: "KTH", unresolved: [])
        let raised = try #require(lifecycle.handle(trigger(.raise(.critical), device: "NEW-1"), at: at(0)).only)
        #expect(raised.event == .raised && raised.alert.id == 0)
        #expect(lifecycle.alert(id: 0) == nil)
    }

    @Test("a condition that worsens gets the worse rule's full time to acknowledge, counted from the worsening")
    func worseningRestartsTheEscalationClock() throws {
        var lifecycle = lifecycle()
        // Five minutes into the warning, the value turns critical, with two minutes to acknowledge.
        let changes = lifecycle.handle(trigger(.raise(.critical), value: 88, escalateAfter: .seconds(120)), at: at(300))
        let worse = try #require(changes.only)
        #expect(worse.event == .escalated && worse.alert.severity == .critical)
        #expect(lifecycle.escalate(at: at(300)).isEmpty)
        #expect(lifecycle.escalate(at: at(419)).isEmpty)
        #expect(lifecycle.escalate(at: at(420)).map(\.alert.severity) == [.emergency])
    }

    @Test("a real worsening of an alert the timer escalated is announced: value updated, acknowledgement undone")
    func aWorseningAfterTimerEscalationsIsNotSwallowed() throws {
        // A warning the timer took to critical (two steps), then acknowledged.
        var lifecycle = lifecycle(severity: .critical, state: .acknowledged, escalations: 2)
        let changes = lifecycle.handle(trigger(.raise(.critical), value: 80, escalateAfter: .seconds(120)), at: at(900))
        let worse = try #require(changes.only)
        #expect(worse.alert.severity == .critical)
        #expect(worse.alert.value == 80)
        #expect(worse.alert.state == .open && worse.alert.acknowledgedBy == nil)
        // An alert that only the rules raised ignores a raise that is not more severe.
        var plain = self.lifecycle(severity: .critical)
        #expect(plain.handle(trigger(.raise(.critical), value: 80), at: at(900)).isEmpty)
    }

    @Test("a worsening measured in another ward ends the alert in the old ward and raises it in the new one")
    func aWorseningInAnotherWardMovesTheAlert() throws {
        var lifecycle = lifecycle()
        let changes = lifecycle.handle(trigger(.raise(.critical), value: 85, location: "WARD-B^2^A"), at: at(60))
        #expect(changes.map(\.event) == [.resolved, .raised])
        #expect(changes.map { $0.alert.ward } == ["ICU", "WARD-B"])
        #expect(changes.last?.alert.severity == .critical && changes.last?.alert.state == .open)
        // Another bed of the same ward is no move: the alert is updated in place.
        var sameWard = self.lifecycle()
        let update = sameWard.handle(trigger(.raise(.critical), value: 85, location: "ICU^7^B"), at: at(60))
        #expect(update.map(\.event) == [.escalated])
        #expect(update.first?.alert.location == "ICU^7^B")
    }
}

extension Array {
    /// The one element of a one-element array, else nil.
    var only: Element? { count == 1 ? first : nil }
}
