import Foundation
import Storage
import TestSupport
import Testing

@Suite("Kernel writeback beside a local database")
struct KernelWritebackTests {
    @Test("the threshold is the bytes setting when set, else the ratio of available memory; above 16 MiB commits can stall")
    func threshold() {
        let byRatio = KernelWriteback(backgroundBytes: 0, backgroundRatio: 10, availableMemoryBytes: 24 << 30)
        #expect(byRatio.backgroundThreshold == (24 << 30) / 100 * 10)
        #expect(byRatio.letsCommitsStall)
        #expect(byRatio.advice.contains("vm.dirty_background_ratio 10 % of 24 GiB available"))
        #expect(byRatio.advice.contains("set vm.dirty_background_bytes = 16777216"))

        let bySize = KernelWriteback(backgroundBytes: 64 << 20, backgroundRatio: 0, availableMemoryBytes: 24 << 30)
        #expect(bySize.backgroundThreshold == 64 << 20)
        #expect(bySize.letsCommitsStall)
        #expect(bySize.advice.contains("only beyond 64 MiB (vm.dirty_background_bytes)"))

        let tuned = KernelWriteback(backgroundBytes: 16 << 20, backgroundRatio: 0, availableMemoryBytes: 24 << 30)
        #expect(!tuned.letsCommitsStall)
        let smallMachine = KernelWriteback(backgroundBytes: 0, backgroundRatio: 10, availableMemoryBytes: 128 << 20)
        #expect(!smallMachine.letsCommitsStall)
    }

    @Test("the settings are read from a /proc-like folder; a missing or unreadable value gives nil")
    func reading() throws {
        let proc = try TestPostgres.makeTemporaryFolder()
        try FileManager.default.createDirectory(atPath: proc + "/sys/vm", withIntermediateDirectories: true)
        try "0\n".write(toFile: proc + "/sys/vm/dirty_background_bytes", atomically: true, encoding: .utf8)
        try "10\n".write(toFile: proc + "/sys/vm/dirty_background_ratio", atomically: true, encoding: .utf8)
        #expect(KernelWriteback.current(procFolder: proc) == nil, "no meminfo")
        try "MemTotal:       24567890 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"
            .write(toFile: proc + "/meminfo", atomically: true, encoding: .utf8)
        #expect(KernelWriteback.current(procFolder: proc)
            == KernelWriteback(backgroundBytes: 0, backgroundRatio: 10, availableMemoryBytes: 20_000_000 * 1024))
        try "lots\n".write(toFile: proc + "/sys/vm/dirty_background_ratio", atomically: true, encoding: .utf8)
        #expect(KernelWriteback.current(procFolder: proc) == nil)

        // This machine's own settings read the same way.
        let here = try #require(KernelWriteback.current())
        let ratio = try String(contentsOfFile: "/proc/sys/vm/dirty_background_ratio", encoding: .utf8)
        #expect(here.backgroundRatio == UInt64(ratio.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(here.availableMemoryBytes > 0)
    }

    @Test("a server reached over loopback TCP or a unix socket is on this host; a closed connection says no")
    func serverOnThisHost() throws {
        let overTCP = try PostgresConnection(url: try TestPostgres.database())
        #expect(overTCP.serverIsOnThisHost)
        overTCP.close()
        #expect(!overTCP.serverIsOnThisHost)
        let cluster = try TestPostgres.shared()
        let overSocket = try PostgresConnection(url: try #require(cluster.unixSocketURL()))
        defer { overSocket.close() }
        #expect(overSocket.serverIsOnThisHost)
    }
}
