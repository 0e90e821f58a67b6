import Decoders
import Dispatch
import Logging
import ServiceLifecycle
import Storage
import VitalSigns

/// What every port reader of a source shares.
struct SerialSourceContext: Sendable {
    let sink: any ObservationSink
    let associations: PatientAssociationCache?
    let rejections: RejectionReporter
    let presence: DevicePresenceRecorder?
    let options: SerialSource.Options
    let logger: Logger
}

/// The serial source: configured RS-232 ports (USB adapters, `/dev/serial/by-id/...` links),
/// each read by a `SerialPortReader` on a dedicated thread.
///
/// A thread per port rather than one poll loop: a port is a blocking file descriptor whose
/// open, termios calls and reads can each stall (a USB adapter being unplugged, a driver
/// waiting on modem lines); with its own thread a stalled port cannot delay the others, a port's
/// backoff is a plain sleep, and VMIN/VTIME keep their termios meaning. A ward has tens of
/// ports, not thousands, and an idle thread in poll costs a stack and four wake-ups a second
/// (measured: `vitals-bench serial`).
///
/// Observations get their patient from `associations` (the device's association, else the
/// bed's); without one they are stored without a patient and counted
/// (`serial_observations_unassociated_total`). Bad frames go to `rejections` (source `serial`,
/// origin the port path). Port open/closed is reported to `presence`.
public final class SerialSource: Sendable {
    public struct Options: Sendable {
        /// First wait before reopening a port that failed or went away; doubles up to the maximum.
        public var reopenDelay: Duration = .milliseconds(250)
        public var maxReopenDelay: Duration = .seconds(10)
        /// How long a port must stay open to count as working: one lost sooner (a device resetting
        /// in a loop) is reopened with the growing delay, one lost later after the first delay.
        public var workingOpenDuration: Duration = .seconds(10)
        /// Batches of one port submitted and not yet durable; later ones wait in its spool.
        public var maxBatchesInFlight = 4
        /// Observations of one port that may wait in its spool while the database is slow or away
        /// (at three a second, nearly two hours); beyond it the oldest are dropped and counted
        /// (`serial_observations_dropped_total`).
        public var maxWaitingObservations = 20_000
        /// How often a reader waiting for bytes checks whether it should stop.
        public var pollInterval: Duration = .milliseconds(250)
        /// Where each port keeps its spool on disk (`SerialJournal`), so that readings not yet
        /// stored outlive a crash or a stop during a database outage; nil keeps them in memory only.
        public var journalDirectory: String?

        public init() {}
    }

    private let readers: [SerialPortReader]
    private let associations: PatientAssociationCache?
    private let logger: Logger

    /// Fails when a port's profile is not a serial protocol or a path is configured twice.
    public init(
        ports: [SerialPortConfiguration], sink: any ObservationSink, associations: PatientAssociationCache?,
        rejections: RejectionReporter, presence: DevicePresenceRecorder?, options: Options = Options(), logger: Logger
    ) throws(SerialConfigurationError) {
        var seen = Set<String>()
        let context = SerialSourceContext(sink: sink, associations: associations, rejections: rejections, presence: presence, options: options, logger: logger)
        self.associations = associations
        readers = try ports.map { port throws(SerialConfigurationError) -> SerialPortReader in
            // Two paths can name one device (`/dev/ttyUSB0` and its `/dev/serial/by-id/` link).
            guard seen.insert(SerialTTY.devicePath(port.path)).inserted else {
                throw SerialConfigurationError("serial port \(port.path) is configured twice (or under another path)")
            }
            guard port.profile.protocolFamily.isSerial, let decoder = SerialProtocol.decoder(for: port.profile) else {
                throw SerialConfigurationError("serial port \(port.path): profile \(port.profile.id) speaks \(port.profile.protocolFamily.rawValue), not a serial protocol")
            }
            let journal = try options.journalDirectory.map { directory throws(SerialConfigurationError) in
                try SerialJournal(directory: directory, portPath: port.path, logger: logger)
            }
            return SerialPortReader(configuration: port, decoder: decoder, context: context, journal: journal)
        }
        self.logger = logger
    }

    /// Starts a reader thread per port, once the patient associations are loaded (frames read
    /// before would be stored without their patient); ports that cannot be opened keep being retried.
    public func start() {
        if let associations, !associations.waitForFirstLoad(timeout: .seconds(10)) {
            logger.warning("patient associations not loaded within 10 s; serial observations have no patient until they are")
        }
        for reader in readers { reader.start() }
        logger.info("serial source started", metadata: ["ports": "\(readers.count)"])
    }

    /// Stops every reader and waits for their threads (and batches in flight, up to 6 s in all).
    public func stop() {
        for reader in readers { reader.requestStop() }
        let deadline = DispatchTime.now() + 6
        for reader in readers { reader.waitUntilStopped(deadline: deadline) }
    }

    /// A port's statistics, by its configured path.
    public func statistics(port path: String) -> SerialPortStatistics? {
        readers.first { $0.configuration.path == path }?.statistics
    }

    public var ports: [SerialPortConfiguration] { readers.map(\.configuration) }
}

extension SerialSource: Service {
    /// Runs the ports until graceful shutdown.
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        stop()
    }
}

public struct SerialConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
