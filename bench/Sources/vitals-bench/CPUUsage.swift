import Foundation

/// Where CPU time went during a phase: this process's threads (grouped by name), the embedded
/// PostgreSQL's processes (grouped by role), and the whole machine. Linux /proc only; elsewhere
/// the report is empty.
struct CPUSnapshot {
    /// Clock ticks per thread id / process id, with the group each belongs to.
    var threads: [Int: (group: String, ticks: Int)] = [:]
    var postgres: [Int: (group: String, ticks: Int)] = [:]
    /// All ticks of the machine, and its idle ones (/proc/stat).
    var machineTotal = 0
    var machineIdle = 0

    /// `children`: processes of ours to count with this process (psql), by pid and name.
    static func take(postmasterPID: Int32?, children: [Int32: String] = [:]) -> CPUSnapshot {
        var snapshot = CPUSnapshot()
        #if os(Linux)
        for tid in threadIDs() {
            guard let stat = readStat("/proc/self/task/\(tid)/stat") else { continue }
            snapshot.threads[tid] = (threadGroup(stat.comm), stat.ticks)
        }
        for (pid, name) in children {
            if let stat = readStat("/proc/\(pid)/stat") { snapshot.threads[-Int(pid)] = (name, stat.ticks) }
        }
        if let postmasterPID {
            for pid in numericEntries("/proc") {
                guard let stat = readStat("/proc/\(pid)/stat"), pid == postmasterPID || stat.ppid == postmasterPID else { continue }
                snapshot.postgres[pid] = (pid == postmasterPID ? "postmaster" : postgresGroup(pid: pid), stat.ticks)
            }
        }
        if let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first {
            let values = line.split(separator: " ").dropFirst().compactMap { Int($0) }
            snapshot.machineTotal = values.prefix(8).reduce(0, +)  // user … steal, not guest (already in user)
            snapshot.machineIdle = values.count > 4 ? values[3] + values[4] : 0
        }
        #endif
        return snapshot
    }

    /// Keeps the highest count seen per thread or process, so that one which exits before the
    /// last snapshot (psql's backend) still counts; machine totals come from `later`.
    mutating func absorb(_ later: CPUSnapshot) {
        threads.merge(later.threads) { $0.ticks >= $1.ticks ? $0 : $1 }
        postgres.merge(later.postgres) { $0.ticks >= $1.ticks ? $0 : $1 }
        machineTotal = later.machineTotal
        machineIdle = later.machineIdle
    }

    /// Core-seconds PostgreSQL's processes used between `start` and `self`.
    func postgresSeconds(since start: CPUSnapshot) -> Double {
        let ticks = postgres.reduce(0) { $0 + $1.value.ticks - (start.postgres[$1.key]?.ticks ?? 0) }
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// One line per side: core-seconds used between `start` and `self`, largest groups first.
    func report(since start: CPUSnapshot, wall: Double) -> [String] {
        guard machineTotal > 0 else { return [] }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        func grouped(_ now: [Int: (group: String, ticks: Int)], _ before: [Int: (group: String, ticks: Int)]) -> (Double, String) {
            var byGroup: [String: Int] = [:]
            for (id, entry) in now { byGroup[entry.group, default: 0] += entry.ticks - (before[id]?.ticks ?? 0) }
            let total = Double(byGroup.values.reduce(0, +)) / hz
            let parts = byGroup.filter { $0.value > 0 }.sorted { $0.value > $1.value }
                .map { "\($0.key) \(format(Double($0.value) / hz, decimals: 1))" }
            return (total, parts.joined(separator: ", "))
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let (ours, ourParts) = grouped(threads, start.threads)
        let (server, serverParts) = grouped(postgres, start.postgres)
        let machineBusy = Double((machineTotal - start.machineTotal) - (machineIdle - start.machineIdle)) / hz
        let others = max(0, machineBusy - ours - server)
        var warning: [String] = []
        if others > 0.1 * wall * Double(cores) {
            warning = ["  WARNING: other processes used \(percent(others / (wall * Double(cores)))) of the machine during this phase: the figures above are depressed by it"]
        }
        return [
            "CPU over \(format(wall, decimals: 1)) s wall (\(cores) cores = \(format(wall * Double(cores), decimals: 1)) core-s available), in core-seconds:",
            "  vitals-bench process (and psql) \(format(ours, decimals: 1)) [\(ourParts)]",
            "  postgres \(format(server, decimals: 1)) [\(serverParts)]",
            "  whole machine busy \(format(machineBusy, decimals: 1)) (other processes \(format(others, decimals: 1)))",
        ] + warning
    }

    // MARK: /proc

    /// This process's threads now.
    static func threadIDs() -> Set<Int> {
        Set(numericEntries("/proc/self/task"))
    }

    private static func numericEntries(_ folder: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { Int($0) }
    }

    /// comm, ppid and utime + stime of a /proc/…/stat file.
    private static func readStat(_ path: String) -> (comm: String, ppid: Int, ticks: Int)? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        // After ")": state(3) ppid(4) … utime(14) stime(15).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let ppid = Int(fields[1]), let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (comm, ppid, user + system)
    }

    /// By the names the threads carry: NIO's event loops (the engine's on NIO's shared group, the
    /// senders' on a group of their own), the engine's `nc-…` threads, and the rest.
    private static func threadGroup(_ comm: String) -> String {
        if comm.hasPrefix("NIO-SGLTN") { return "engine event loops" }
        if comm.hasPrefix("NIO-") { return "senders' event loop" }
        if comm.hasPrefix("nc-writer-") { return "writer connections" }
        if ["nc-flagger", "nc-alerts", "nc-writer"].contains(comm) { return "pipeline stages" }
        if comm.hasPrefix("nc-") { return "other engine threads" }
        return "Swift tasks and main"
    }

    /// "backend <database>" for a client connection, else the process title (walwriter, …).
    private static func postgresGroup(pid: Int) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              let title = String(data: data, encoding: .utf8)?.replacingOccurrences(of: "\0", with: " ").trimmingCharacters(in: .whitespaces)
        else { return "postgres" }
        guard title.hasPrefix("postgres: ") else { return "backend (starting)" }
        let words = title.dropFirst("postgres: ".count).split(separator: " ")
        if words.count >= 3, words[2].contains("(") || words[2] == "[local]" { return "backend \(words[1])" }
        return words.prefix(3).joined(separator: " ")
    }
}
