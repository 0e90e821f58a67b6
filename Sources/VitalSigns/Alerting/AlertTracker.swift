/// The state of one alert key: the open severity (if any) and the streaks that raise,
/// escalate and clear it. Every rule kind drives one of these, so debouncing, escalation and
/// hysteresis behave the same everywhere.
///
/// An open alert never steps down: a critical alert whose value returns to the warning band
/// stays open as critical until the value is clear, so one alert tells the whole episode.
struct AlertTracker: Sendable {
    /// How long each severity must persist before it is raised, and clearing before it clears.
    struct Timing {
        var warning: Debounce
        var critical: Debounce
        var clear: Debounce

        init(warning: Debounce, critical: Debounce, clear: Debounce) {
            self.warning = warning
            self.critical = critical
            self.clear = clear
        }

        /// A rule with a single severity: one debounce raises it at whatever level it has.
        init(raise: Debounce, clear: Debounce) {
            self.init(warning: raise, critical: raise, clear: clear)
        }
    }

    enum Transition: Equatable {
        case raised(Severity)
        case escalated(from: Severity, to: Severity)
        case cleared(Severity)
    }

    private(set) var open: Severity?
    private var warningStreak = Streak()
    private var criticalStreak = Streak()
    private var clearStreak = Streak()
    private var lastTime: Timestamp?
    /// The time of the input that cleared the last alert: what is older, by up to
    /// `episodeSpan`, belongs to that episode (a resend after a lost ACK, a backlog), and does
    /// not raise it again.
    private var clearedThrough: Timestamp?

    /// How far before a clear an input still counts as that episode's. Older ones are a clock
    /// set back (a device's battery reset) or a backlog of another episode, and are judged as
    /// ever: a missed alarm costs more than a stale one.
    static let episodeSpan = Duration.seconds(3600)

    /// Whether an input at `time` belongs to the episode a clear at `cleared` ended.
    static func isFromClearedEpisode(_ time: Timestamp, clearedAt cleared: Timestamp) -> Bool {
        time <= cleared && cleared.duration(since: time) <= episodeSpan
    }

    /// The time of the latest input taken in order.
    var latestInput: Timestamp? { lastTime }

    /// Nothing open and nothing pending: the tracker can be dropped.
    var isIdle: Bool { open == nil && warningStreak.isEmpty && criticalStreak.isEmpty }

    init() {}

    /// Takes over an alert held open elsewhere (since before a restart, or by a device that fell
    /// silent): it stays open at that severity until this tracker's inputs escalate or clear it.
    mutating func holdOpen(_ severity: Severity) {
        if open.map({ severity > $0 }) ?? true { open = severity }
    }

    /// One evaluation: `level` is how far out the input is now; `clearing` whether it is far
    /// enough back to count towards clearing (inside the band by the margin, say). Inputs
    /// older than the last one do not count: a late sample must not reorder a streak.
    mutating func evaluate(at time: Timestamp, level: Severity, clearing: Bool, timing: Timing) -> Transition? {
        if let lastTime, time < lastTime { return lateCritical(at: time, level: level, timing: timing) }
        lastTime = time
        if level >= .warning { warningStreak.extend(at: time) } else { warningStreak.reset() }
        if level >= .critical { criticalStreak.extend(at: time) } else { criticalStreak.reset() }
        if open != nil && clearing && level == .normal { clearStreak.extend(at: time) } else { clearStreak.reset() }
        return decide(at: time, timing: timing)
    }

    /// A late input cannot join or break a streak, but a value that raises on its own (a
    /// critical band whose debounce is immediate) is not lost for coming late: a patient's
    /// second device, or a gateway's backlog, may deliver it after newer samples of another.
    /// One from before the last clear is from the episode that clear ended.
    private mutating func lateCritical(at time: Timestamp, level: Severity, timing: Timing) -> Transition? {
        guard level >= .critical, timing.critical == .immediate, open.map({ $0 < .critical }) ?? true,
              !(clearedThrough.map { Self.isFromClearedEpisode(time, clearedAt: $0) } ?? false)
        else { return nil }
        let previous = open
        open = .critical
        clearStreak.reset()
        return previous.map { .escalated(from: $0, to: .critical) } ?? .raised(.critical)
    }

    /// Lets time pass without a new input: for states a device reports once and that hold
    /// until it says otherwise, so a duration debounce can complete between reports.
    mutating func elapse(to now: Timestamp, timing: Timing) -> Transition? {
        guard let lastTime, now >= lastTime else { return nil }
        return decide(at: now, timing: timing)
    }

    private mutating func decide(at now: Timestamp, timing: Timing) -> Transition? {
        let due: Severity? =
            criticalStreak.satisfies(timing.critical, at: now) ? .critical
            : warningStreak.satisfies(timing.warning, at: now) ? .warning
            : nil
        guard let current = open else {
            guard let due else { return nil }
            open = due
            return .raised(due)
        }
        if let due, due > current {
            open = due
            clearStreak.reset()
            return .escalated(from: current, to: due)
        }
        if clearStreak.satisfies(timing.clear, at: now) {
            let last = lastTime
            self = AlertTracker()
            lastTime = last
            clearedThrough = last
            return .cleared(current)
        }
        return nil
    }
}
