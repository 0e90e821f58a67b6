import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
import UnixSignals
@testable import nilecare_vitals

/// Runs `group` and waits up to 30 s for it to end; when it does not, fails the wait and ends it
/// through a graceful shutdown, so that a group a bug keeps running does not hang the test run.
private func runUntilEnded(_ group: ServiceGroup, _ what: String) async throws -> Result<Void, any Error> {
    let run = Task { try await group.run() }
    let ended = Ended()
    Task { _ = await run.result; ended.flag.withLock { $0 = true } }
    do {
        try await waitUntil(timeout: .seconds(30), what) { ended.flag.withLock { $0 } }
    } catch {
        await group.triggerGracefulShutdown()
        throw error
    }
    return await run.result
}

private final class Ended: Sendable {
    let flag = Mutex(false)
}

/// When one service of the daemon's group fails (its API port taken, say), ServiceGroup cancels
/// the others: each loop must end then, so that the daemon drains and reports the failure.
@Suite struct ServiceLoopTests {
    struct PortTaken: Error, Equatable {}

    /// Fails at once: whether the maintenance loop is in its first round or has not begun, it
    /// is cancelled, and a loop blind to that spins.
    struct FailingService: Service {
        func run() async throws {
            throw PortTaken()
        }
    }

    @Test("a failing service ends the group: the maintenance loop stops on cancellation, not only on a graceful shutdown")
    func aFailingServiceEndsTheGroup() async throws {
        let logger = Logger(label: "service-loop-test")
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: MaintenanceService(databaseURL: try TestPostgres.database(), interval: .seconds(3600), logger: logger)),
                .init(service: FailingService()),
            ],
            logger: logger
        ))
        // A loop that ignored the cancellation would keep the group running: the wait fails, and
        // a graceful shutdown, which such a loop does see, ends it.
        let result = try await runUntilEnded(group, "the group ends after a service failed")
        #expect(throws: PortTaken.self) { try result.get() }
    }
}

/// The demo traps its stop signals before it starts anything: start-up takes seconds, and a
/// signal's default action there left the private PostgreSQL and mosquitto running.
@Suite struct StopSignalTests {
    struct WaitsForShutdown: Service {
        func run() async throws { try await gracefulShutdown() }
    }

    @Test("a signal during start-up is remembered: start-up stops at its next step, and the services shut down as they start")
    func aSignalDuringStartupIsRemembered() async throws {
        // Only SIGHUP: the test process must still stop on Ctrl-C and on CI's SIGTERM.
        let stop = await StopSignals.trap([.sighup])
        #expect(throws: Never.self) { try stop.checkStartup() }
        // SIGHUP's default action would end this test process: trapped, it is only remembered.
        kill(getpid(), SIGHUP)
        try await waitUntil(timeout: .seconds(10), "the signal noticed") {
            do { try stop.checkStartup(); return false } catch { return error is StopSignals.Interrupted }
        }
        let logger = Logger(label: "stop-signal-test")
        let group = ServiceGroup(configuration: .init(services: [.init(service: WaitsForShutdown())], logger: logger))
        await stop.shutDown(group)
        try await runUntilEnded(group, "the group shut down by the earlier signal").get()
    }
}
