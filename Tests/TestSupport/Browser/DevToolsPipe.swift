import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The Chrome DevTools Protocol over `--remote-debugging-pipe`: JSON messages, each ended by a
/// NUL byte, written to the browser's fd 3 and read from its fd 4. A dedicated thread reads
/// (blocking `read`) and hands each response to the call waiting for its id; events are ignored.
final class DevToolsPipe: Sendable {
    private let toBrowser: Int32
    private let fromBrowser: Int32
    /// Context for errors: the browser's stderr tail.
    private let diagnostics: @Sendable () -> String

    private struct State {
        var nextID = 1
        var pending: [Int: CheckedContinuation<JSONValue, any Error>] = [:]
        var expired: Set<Int> = []
        var closedReason: String?
    }
    private let state = Mutex(State())
    /// Serialises writes; false once `toBrowser` is closed.
    private let writable = Mutex(true)

    /// Takes ownership of both descriptors.
    init(toBrowser: Int32, fromBrowser: Int32, diagnostics: @escaping @Sendable () -> String) {
        self.toBrowser = toBrowser
        self.fromBrowser = fromBrowser
        self.diagnostics = diagnostics
        let reader = Thread { [self] in self.readLoop() }
        reader.name = "chromium-devtools-reader"
        reader.start()
    }

    /// Sends one command and waits for its response's `result`.
    func call(_ method: String, _ params: JSONValue = [:], sessionID: String? = nil, timeout: Duration) async throws -> JSONValue {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        var message: [String: JSONValue] = ["id": .number(Double(id)), "method": .string(method), "params": params]
        if let sessionID { message["sessionId"] = .string(sessionID) }
        let data = try JSONEncoder().encode(JSONValue.object(message)) + [0]

        let timer = Task { [self] in
            try await Task.sleep(for: timeout)
            self.finish(id, with: .failure(self.error(method, "no response within \(timeout)")))
        }
        defer { timer.cancel() }

        let response = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
            let refusal: String? = state.withLock { state in
                if let reason = state.closedReason { return reason }
                if state.expired.remove(id) != nil { return "no response within \(timeout)" }
                state.pending[id] = continuation
                return nil
            }
            if let refusal {
                continuation.resume(throwing: error(method, refusal))
                return
            }
            do {
                try writeAll(data)
            } catch {
                finish(id, with: .failure(self.error(method, "could not send: \(error)")))
            }
        }
        if let failure = response["error"] {
            let text = failure["message"]?.string ?? failure.description
            let detail = failure["data"]?.string.map { " (\($0))" } ?? ""
            throw error(method, "Chromium answered: \(text)\(detail)")
        }
        return response["result"] ?? .null
    }

    /// Fails every waiting call and refuses new ones; closes our descriptors.
    func shutDown(reason: String) {
        let waiting = state.withLock { state -> [CheckedContinuation<JSONValue, any Error>] in
            if state.closedReason == nil { state.closedReason = reason }
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for continuation in waiting { continuation.resume(throwing: BrowserError("DevTools pipe", reason, stderrTail: diagnostics())) }
        writable.withLock { open in
            if open { _ = close(toBrowser) }
            open = false
        }
        // The reader closes `fromBrowser` when it sees end of file (the browser is gone by then).
    }

    // MARK: - Internals

    private func error(_ method: String, _ detail: String) -> BrowserError {
        BrowserError(method, detail, stderrTail: diagnostics())
    }

    private func finish(_ id: Int, with result: Result<JSONValue, any Error>) {
        let continuation = state.withLock { state in
            let waiting = state.pending.removeValue(forKey: id)
            if waiting == nil { state.expired.insert(id) }
            return waiting
        }
        continuation?.resume(with: result)
    }

    private func writeAll(_ data: Data) throws {
        try writable.withLock { open in
            guard open else { throw BrowserError("write to fd 3", "the pipe is closed", stderrTail: "") }
            try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < buffer.count {
                    let written = write(toBrowser, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw BrowserError("write to fd 3", String(cString: strerror(errno)), stderrTail: "")
                    }
                    offset += written
                }
            }
        }
    }

    private func readLoop() {
        var pending = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var reason = "Chromium closed the DevTools pipe (it exited or crashed)"
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fromBrowser, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                reason = "reading the DevTools pipe failed: \(String(cString: strerror(errno)))"
                break
            }
            if count == 0 { break }
            pending.append(contentsOf: chunk[0..<count])
            while let end = pending.firstIndex(of: 0) {
                let message = pending[pending.startIndex..<end]
                pending = Data(pending[(end + 1)...])
                dispatch(message)
            }
        }
        _ = close(fromBrowser)
        shutDown(reason: reason)
    }

    private func dispatch(_ message: Data) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: message) else { return }
        guard let id = value["id"]?.int else { return }  // an event: not used
        finish(id, with: .success(value))
    }
}

/// A failure talking to Chromium: what was attempted, what went wrong, and the browser's last
/// stderr lines.
public struct BrowserError: Error, CustomStringConvertible, Sendable {
    public var what: String
    public var detail: String
    public var stderrTail: String

    public init(_ what: String, _ detail: String, stderrTail: String) {
        self.what = what
        self.detail = detail
        self.stderrTail = stderrTail
    }

    public var description: String {
        var text = "Chromium: \(what): \(detail)"
        if !stderrTail.isEmpty { text += "\n--- chromium stderr (last lines) ---\n\(stderrTail)" }
        return text
    }
}
