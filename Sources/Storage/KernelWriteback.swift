import Foundation

/// When Linux starts writing dirty page cache to disk, as it bears on a PostgreSQL server on this
/// host.
///
/// PostgreSQL grows its tables and indexes by writing empty pages through the page cache, and
/// nothing asks the kernel to write them soon. With the kernel's defaults (background writeback
/// only beyond 10 % of available memory, otherwise whatever is 30 s old, looked for every 5 s)
/// they go to disk in bursts, and a commit's WAL flush queued behind a burst waits for it, and so
/// does every commit behind that one: under ingest load the latest critical alert of a run was
/// 165–480 ms late, against 45–72 ms with writeback from 16 MiB (docs/operations/database-host.md).
public struct KernelWriteback: Sendable, Equatable {
    /// `vm.dirty_background_bytes`; 0 when the ratio applies instead.
    public var backgroundBytes: UInt64
    /// `vm.dirty_background_ratio`, percent of available memory.
    public var backgroundRatio: UInt64
    /// `MemAvailable`: about what the kernel counts the ratio against.
    public var availableMemoryBytes: UInt64

    public init(backgroundBytes: UInt64, backgroundRatio: UInt64, availableMemoryBytes: UInt64) {
        self.backgroundBytes = backgroundBytes
        self.backgroundRatio = backgroundRatio
        self.availableMemoryBytes = availableMemoryBytes
    }

    /// Dirty bytes beyond which the kernel writes back in the background.
    public var backgroundThreshold: UInt64 {
        backgroundBytes > 0 ? backgroundBytes : availableMemoryBytes / 100 * backgroundRatio
    }

    /// The threshold measured free of bursts (at 64 MB a 190 ms one was still seen).
    public static let recommendedBackgroundBytes: UInt64 = 16 << 20

    /// Whether commits on a database here can stall behind writeback bursts.
    public var letsCommitsStall: Bool { backgroundThreshold > Self.recommendedBackgroundBytes }

    /// What to tell an operator when `letsCommitsStall`.
    public var advice: String {
        let source = backgroundBytes > 0
            ? "vm.dirty_background_bytes"
            : "vm.dirty_background_ratio \(backgroundRatio) % of \(Self.size(availableMemoryBytes)) available"
        return "the kernel writes dirty pages back only beyond \(Self.size(backgroundThreshold)) (\(source)): "
            + "a database on this host can hold every commit, and so ACKs and critical alerts, for hundreds of milliseconds "
            + "while a burst goes to disk; set vm.dirty_background_bytes = \(Self.recommendedBackgroundBytes) "
            + "(docs/operations/database-host.md)"
    }

    /// The running kernel's settings, or nil where they cannot be read (not Linux, no `/proc`).
    public static func current(procFolder: String = "/proc") -> KernelWriteback? {
        func number(_ path: String) -> UInt64? {
            guard let text = try? String(contentsOfFile: procFolder + "/sys/vm/" + path, encoding: .utf8) else { return nil }
            return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let bytes = number("dirty_background_bytes"), let ratio = number("dirty_background_ratio"),
              let meminfo = try? String(contentsOfFile: procFolder + "/meminfo", encoding: .utf8),
              let available = memoryLine("MemAvailable:", in: meminfo)
        else { return nil }
        return KernelWriteback(backgroundBytes: bytes, backgroundRatio: ratio, availableMemoryBytes: available)
    }

    /// A `/proc/meminfo` line such as `MemAvailable:   23456789 kB`, in bytes.
    private static func memoryLine(_ name: String, in meminfo: String) -> UInt64? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix(name) {
            let fields = line.dropFirst(name.count).split(separator: " ")
            guard let value = fields.first.flatMap({ UInt64($0) }) else { return nil }
            return fields.count > 1 && fields[1] == "kB" ? value * 1024 : value
        }
        return nil
    }

    private static func size(_ bytes: UInt64) -> String {
        bytes >= 10 << 30 ? "\(bytes >> 30) GiB" : "\(bytes >> 20) MiB"
    }
}
