import Foundation
import Logging
import Storage
import VitalSigns

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One port's spool on disk, so that readings the database has not stored yet outlive the engine:
/// a crash, or a stop during a database outage, would otherwise lose what was read (a serial
/// device never sends a reading twice).
///
/// Every batch with observations is appended as one JSON line, and flushed to the disk, before it
/// is submitted; the file is emptied whenever nothing of the port is waiting or in flight. At the
/// next start what the file holds is submitted again: batches stored before the crash are
/// recognised by their key (made when they were read) and stored once. JSON lines because a
/// torn last line (the crash came mid-write) is told from a whole one, and an operator can read
/// the file. Not thread-safe: `SerialSpool` calls it under its lock.
final class SerialJournal {
    let path: String
    /// -1 once closed.
    private var descriptor: Int32
    private let logger: Logger

    private struct Record: Codable {
        var sendingApplication: String
        var sendingFacility: String
        var controlID: String
        var observations: [Observation]
    }

    /// Opens (creating it and its folder if needed) the journal of the port at `portPath`.
    init(directory: String, portPath: String, logger: Logger) throws(SerialConfigurationError) {
        // Percent-encoded: one file per port path, never two paths on one file.
        let name = (portPath.addingPercentEncoding(withAllowedCharacters: Self.plainNameCharacters) ?? portPath) + ".journal"
        path = (directory as NSString).appendingPathComponent(name)
        self.logger = logger
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SerialConfigurationError("serial journal folder \(directory) cannot be created: \(error.localizedDescription)")
        }
        descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SerialConfigurationError("serial journal \(path) cannot be opened: \(String(cString: strerror(errno)))")
        }
        // Another engine configured with the same port would store this one's batches and empty
        // its journal under it.
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another process has it open (an engine reading the same port)" : String(cString: strerror(errno))
            close(descriptor)
            throw SerialConfigurationError("serial journal \(path) cannot be locked: \(reason)")
        }
        endTornLine()
    }

    /// A line torn by a crash mid-write is ended, so that the next one appended does not join it
    /// (and is not lost with it).
    private func endTornLine() {
        var last: UInt8 = 0
        let size = lseek(descriptor, 0, SEEK_END)
        guard size > 0, pread(descriptor, &last, 1, size - 1) == 1, last != UInt8(ascii: "\n") else { return }
        var newline = UInt8(ascii: "\n")
        _ = write(descriptor, &newline, 1)
    }

    deinit { release() }

    /// Releases the file (and its lock) for the next engine; idempotent.
    func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    private static let plainNameCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

    /// The batches an earlier run left unstored, in the order they were read; marked seen by the
    /// rules (they are not judged again, long after they were read). Lines that do not read back
    /// (a torn last line, a damaged file) are logged and counted in `unreadable`, and the file
    /// as it was is copied beside it (`.damaged-<time>`) for whoever looks into it.
    func recover() -> (batches: [SerialSpool.Batch], unreadable: Int) {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return ([], 0) }
        let decoder = JSONDecoder()
        var batches: [SerialSpool.Batch] = []
        var unreadable = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let record = try? decoder.decode(Record.self, from: line) else {
                unreadable += 1
                continue
            }
            let key = MessageKey(sendingApplication: record.sendingApplication, sendingFacility: record.sendingFacility, controlID: record.controlID)
            batches.append(SerialSpool.Batch(key: key, observations: record.observations, conditions: [], evaluated: true))
        }
        if unreadable > 0 {
            let copy = path + ".damaged-\(Int(Date().timeIntervalSince1970))"
            try? FileManager.default.copyItem(atPath: path, toPath: copy)
            logger.error("serial journal lines could not be read back; their readings are not stored", metadata: [
                "journal": "\(path)", "unreadable_lines": "\(unreadable)", "copy": "\(copy)",
            ])
        }
        return (batches, unreadable)
    }

    /// Appends `batch` and flushes it to the disk. False (logged) when it could not be written:
    /// the batch still goes to the database from memory.
    @discardableResult
    func append(_ batch: SerialSpool.Batch) -> Bool {
        guard let key = batch.key, !batch.observations.isEmpty else { return true }
        let record = Record(sendingApplication: key.sendingApplication, sendingFacility: key.sendingFacility, controlID: key.controlID,
                            observations: batch.observations)
        guard var line = try? JSONEncoder().encode(record) else {
            logger.error("a serial batch cannot be journaled (a value JSON cannot hold); it is kept in memory only", metadata: ["journal": "\(path)"])
            return false
        }
        line.append(UInt8(ascii: "\n"))
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count, fdatasync(descriptor) == 0 else {
            let reason = written < 0 ? String(cString: strerror(errno)) : "short write (\(written) of \(line.count) bytes)"
            // A partial line is torn: the next start skips it (and counts it).
            logger.error("serial journal write failed; the batch is kept in memory only", metadata: ["journal": "\(path)", "reason": "\(reason)"])
            return false
        }
        return true
    }

    /// Empties the journal: everything in it is stored (or given up for its data).
    func clear() {
        if ftruncate(descriptor, 0) != 0 {
            logger.warning("serial journal could not be emptied; a restart stores its batches again, once each", metadata: [
                "journal": "\(path)", "reason": "\(String(cString: strerror(errno)))",
            ])
        }
    }
}
