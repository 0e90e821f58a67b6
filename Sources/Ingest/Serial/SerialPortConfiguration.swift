import Decoders
import Synchronization
import VitalSigns

/// One configured serial port: where it is, what speaks on it and whose bed it serves.
public struct SerialPortConfiguration: Sendable {
    /// `/dev/ttyUSB0`, `/dev/serial/by-id/...` or any symlink; resolved at each open.
    public var path: String
    public var profile: DeviceProfile
    /// The bed the port is wired to (PV1-3 text, `ICU^1^A`): the observations' location.
    public var bed: String?
    /// The device's identifier; the port path when not given.
    public var deviceID: String?

    public init(path: String, profile: DeviceProfile, bed: String? = nil, deviceID: String? = nil) {
        self.path = path
        self.profile = profile
        self.bed = bed
        self.deviceID = deviceID
    }

    /// The device as presence and frames without an identity of their own know it.
    public var device: String { deviceID ?? path }
}

/// What one port has done since the source started; for tests, tools and the log.
public struct SerialPortStatistics: Sendable, Equatable {
    public var isOpen = false
    public var opens = 0
    /// Opens after the first (the port came back after an outage).
    public var reopens = 0
    public var openFailures = 0
    public var bytesRead = 0
    public var framesDecoded = 0
    public var framesRejected: [String: Int] = [:]
    public var observations = 0
    public var observationsUnassociated = 0
    public var observationsStored = 0
    /// Batches handed to the sink (a retry of the same batch is not counted again).
    public var batchesSubmitted = 0
    /// Batches read and waiting in the port's spool for a slot (see `SerialSource.Options`).
    public var batchesWaiting = 0
    public var batchesFailed = 0
    /// Observations given up: the spool's oldest beyond its bound, or waiting when the source
    /// stopped without a journal (with one they are stored at the next start).
    public var observationsDropped = 0
    /// Observations an earlier run left in the port's journal, submitted again at this start.
    public var observationsFromJournal = 0
    /// Journal lines that did not read back at this start (a torn last line, a damaged file).
    public var journalLinesUnreadable = 0
    public var statusReports: [DeviceStatusReport.Condition: Int] = [:]
    /// What the device reported about itself in its last frames (empty: all well).
    public var currentConditions: Set<DeviceStatusReport.Condition> = []

    public init() {}

    public var totalRejected: Int { framesRejected.values.reduce(0, +) }
}

/// Statistics shared between a port's thread and readers of the statistics.
final class SerialPortCounters: Sendable {
    private let state = Mutex(SerialPortStatistics())

    var snapshot: SerialPortStatistics { state.withLock { $0 } }

    @discardableResult
    func update<T>(_ body: (inout SerialPortStatistics) -> T) -> T {
        state.withLock { body(&$0) }
    }
}
