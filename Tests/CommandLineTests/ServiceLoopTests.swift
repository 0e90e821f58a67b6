import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport
import UnixSignals
@testable import nilecare_vitals

/// When one service of the daemon's group fails (its API port taken, say), ServiceGroup cancels
/// the others: each loop must end then, so that the daemon drains and reports the failure.
@Suite struct ServiceLoopTests {
    struct PortTaken: Error, Equatable {}

    final class Ended: Sendable {
        let flag = Mutex(false)
    }

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
        let run = Task { try await group.run() }
        // A loop that ignored the cancellation would keep the group running: say so, then end
        // it through a graceful shutdown, which such a loop does see.
        let ended = Ended()
        Task { _ = await run.result; ended.flag.withLock { $0 = true } }
        do {
            try await waitUntil(timeout: .seconds(30), "the group ends after a service failed") { ended.flag.withLock { $0 } }
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await #expect(throws: PortTaken.self) { try await run.value }
    }
}

/// The demo traps its stop signals before it starts anything: start-up takes seconds, and a
/// signal's default action there left the private PostgreSQL and mosquitto running.
@Suite struct StopSignalTests {
    struct WaitsForShutdown: Service {
        func run() async throws { try await gracefulShutdown() }
    }

    final class Ended: Sendable {
        let flag = Mutex(false)
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
        let ended = Ended()
        let run = Task {
            try await group.run()
            ended.flag.withLock { $0 = true }
        }
        do {
            try await waitUntil(timeout: .seconds(30), "the group shut down by the earlier signal") { ended.flag.withLock { $0 } }
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        try await run.value
    }
}
