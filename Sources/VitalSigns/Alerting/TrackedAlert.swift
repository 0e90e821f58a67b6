/// A key's alert and the trackers behind it, one per source. Each device that measures a
/// patient's vital keeps its own streaks, so that a bedside monitor and a transport monitor (or
/// two SpO2 probes) on one patient do not reset each other's debounces. The alert is open while
/// any source's tracker is, at the highest severity any of them reached (it never steps down),
/// and clears when none is open.
struct TrackedAlert: Sendable {
    /// The source of inputs with no device to tell apart (NEWS2, a device's own alarms), and of
    /// an alert resumed after a restart.
    static let anySource = ExactText("")

    /// By device id as its bytes, as everything that stores it compares it.
    private var trackers: [ExactText: AlertTracker] = [:]
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
        var resumed = AlertTracker()
        resumed.holdOpen(severity)
        trackers[Self.anySource] = resumed
        open = severity
    }

    /// Nothing open and nothing pending: the entry can be dropped.
    var isIdle: Bool { open == nil && trackers.values.allSatisfy(\.isIdle) }

    /// One input from `source`, and the alert's transition if it changed. Another source that is
    /// `gone` (a device that fell silent, or that now measures another patient) is dropped, and
    /// what it held open is handed to this one: its last values no longer hold the alert open,
    /// nor hide a new episode, and this source's values clear it after the usual debounce. A
    /// device merely between two readings (a cuff every 15 minutes) keeps what it holds. An
    /// alert resumed after a restart is no one device's: every source's inputs escalate or clear
    /// it, as they did before the restart, until it clears.
    mutating func evaluate(
        from source: ExactText, at time: Timestamp, level: Severity, clearing: Bool, timing: AlertTracker.Timing,
        isGone: (_ source: ExactText) -> Bool
    ) -> AlertTracker.Transition? {
        if trackers.count > 1 || trackers[source] == nil {
            for (other, tracker) in trackers where other != source && other != Self.anySource && isGone(other) {
                trackers[other] = nil
                if let held = tracker.open { trackers[source, default: AlertTracker()].holdOpen(held) }
            }
        }
        _ = trackers[source, default: AlertTracker()].evaluate(at: time, level: level, clearing: clearing, timing: timing)
        if source != Self.anySource, var resumed = trackers[Self.anySource] {
            _ = resumed.evaluate(at: time, level: level, clearing: clearing, timing: timing)
            trackers[Self.anySource] = resumed.open == nil ? nil : resumed
        }
        return settle()
    }

    /// Each source's latest input, when it had one.
    var latestInputs: [(source: ExactText, time: Timestamp)] {
        trackers.compactMap { source, tracker in tracker.latestInput.map { (source, $0) } }
    }

    /// Lets time pass for every source (timed debounces of states a device reported once).
    mutating func elapse(to now: Timestamp, timing: AlertTracker.Timing) -> AlertTracker.Transition? {
        for source in Array(trackers.keys) { _ = trackers[source]?.elapse(to: now, timing: timing) }
        return settle()
    }

    /// The alert's transition to its trackers' state: raised when one opens, escalated when one
    /// opens higher than the alert, cleared when none is open.
    private mutating func settle() -> AlertTracker.Transition? {
        var highest: Severity?
        for tracker in trackers.values { if let open = tracker.open, highest.map({ open > $0 }) ?? true { highest = open } }
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
