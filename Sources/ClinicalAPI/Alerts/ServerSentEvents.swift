import Alerts

/// The `text/event-stream` wire format (WHATWG HTML, server-sent events).
enum ServerSentEvents {
    static func event(_ event: StoredAlertEvent) -> String {
        // The payload is single-line JSON, so one data line carries it.
        "id: \(event.id)\nevent: alert\ndata: \(event.payload)\n\n"
    }

    /// A comment line: keeps proxies and the browser from timing the stream out.
    static let keepAlive = ": keep-alive\n\n"

    /// Tells the browser how long to wait before reconnecting.
    static func retry(milliseconds: Int) -> String { "retry: \(milliseconds)\n\n" }
}
