/// A key's alert and the trackers behind it, one per source. Each device that measures a
/// patient's vital keeps its own streaks, so that a bedside monitor and a transport monitor (or
/// two SpO2 probes) on one patient do not reset each other's debounces. The alert is open while
/// any source's tracker is, at the highest severity any of them reached (it never steps down),
/// and clears when none is open.
struct TrackedAlert: Sendable {
    /// The source of inputs with no device to tell apart (NEWS2, a device's own alarms), and of
    /// an alert resumed after a restart.
    static let anySource = ""

    /// A source's tracker, and when its latest input arrived on the ticks' clock.
    struct Source: Sendable {
        var tracker = AlertTracker()
        var heardAt: Timestamp?
    }

    private(set) var sources: [String: Source] = [:]
    /// The alert's severity as announced; nil while none is open.
    private(set) var open: Severity?
    /// Who and where the latest input was about: what the next signal says.
    var context: AlertContext
    /// When the alert last changed: a forget for an alert older than that is stale.
    var lastSignalAt: Timestamp?

    init(context: AlertContext) {
        self.context = context
    }

    /// An alert a previous run left open, held under `anySource`.
    init(resumingOpen severity: Severity, context: AlertContext) {
        self.context = context
        var resumed = Source()
        resumed.tracker.holdOpen(severity)
        sources[Self.anySource] = resumed
        open = severity
    }

    /// Nothing open and nothing pending: the entry can be dropped.
    var isIdle: Bool { open == nil && sources.values.allSatisfy(\.tracker.isIdle) }

    /// One input from `source`, heard at `heardAt` on the ticks' clock, and the alert's
    /// transition if it changed. Another source that is `gone` (a device that fell silent, or
    /// that has sent nothing for this key for a while: moved to another patient, or its probe
    /// moved) is dropped, and what it held open is handed to this one: its last values no longer
    /// hold the alert open, nor hide a new episode, and this source's values clear it after the
    /// usual debounce. An alert resumed after a restart is no one device's: every source's
    /// inputs escalate or clear it, as they did before the restart, until it clears.
    mutating func evaluate(
        from source: String, at time: Timestamp, heardAt: Timestamp, level: Severity, clearing: Bool, timing: AlertTracker.Timing,
        isGone: (_ source: String, _ heardAt: Timestamp?) -> Bool
    ) -> AlertTracker.Transition? {
        if sources.count > 1 || sources[source] == nil {
            for (other, state) in sources where other != source && other != Self.anySource && isGone(other, state.heardAt) {
                sources[other] = nil
                if let held = state.tracker.open { sources[source, default: Source()].tracker.holdOpen(held) }
            }
        }
        sources[source, default: Source()].heardAt = heardAt
        _ = sources[source, default: Source()].tracker.evaluate(at: time, level: level, clearing: clearing, timing: timing)
        if source != Self.anySource, var resumed = sources[Self.anySource] {
            _ = resumed.tracker.evaluate(at: time, level: level, clearing: clearing, timing: timing)
            sources[Self.anySource] = resumed.tracker.open == nil ? nil : resumed
        }
        return settle()
    }

    /// Lets time pass for every source (timed debounces of states a device reported once).
    mutating func elapse(to now: Timestamp, timing: AlertTracker.Timing) -> AlertTracker.Transition? {
        for source in Array(sources.keys) { _ = sources[source]?.tracker.elapse(to: now, timing: timing) }
        return settle()
    }

    /// The alert's transition to its trackers' state: raised when one opens, escalated when one
    /// opens higher than the alert, cleared when none is open.
    private mutating func settle() -> AlertTracker.Transition? {
        var highest: Severity?
        for source in sources.values { if let open = source.tracker.open, highest.map({ open > $0 }) ?? true { highest = open } }
        switch (open, highest) {
        case (nil, let severity?):
            open = severity
            return .raised(severity)
        case (let current?, let severity?) where severity > current:
            open = severity
            return .escalated(from: current, to: severity)
        case (let current?, nil):
            open = nil
            return .cleared(current)
        default:
            return nil
        }
    }
}
