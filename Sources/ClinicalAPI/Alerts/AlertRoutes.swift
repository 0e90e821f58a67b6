import Alerts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The nurses' station API over the alert hub (docs/api/alerts.md).
struct AlertRoutes: Sendable {
    let hub: AlertHub
    let tokens: APITokens
    let keepAliveInterval: Duration
    let writeTimeout: Duration
    let logger: Logger

    func register(on router: Router<APIRequestContext>) {
        router.get("alerts") { request, _ in
            await asCaller(request) { caller in
                let alerts = hub.openAlerts(in: caller.scope)
                audit(caller, "list", ["alerts": "\(alerts.count)"])
                return jsonResponse(.ok, Alert.json(alerts, permissions: caller.permissions.names))
            }
        }
        router.post("alerts/:id/ack") { request, context in
            await act("acknowledge", needing: .acknowledge, request, context) { (id, caller) async throws(AlertActionError) -> Alert in
                try await hub.acknowledge(id: id, by: caller.user, in: caller.scope)
            }
        }
        router.post("alerts/:id/resolve") { request, context in
            await act("resolve", needing: .resolve, request, context) { (id, caller) async throws(AlertActionError) -> Alert in
                try await hub.resolve(id: id, by: caller.user, in: caller.scope)
            }
        }
        // A browser's EventSource cannot send headers: the stream alone takes its token from
        // the query, where the other routes would put it into proxies' access logs.
        router.get("alerts/stream") { request, context in
            await asCaller(request, acceptingQueryToken: true) { caller in await stream(request, caller, connection: context.channel) }
        }
    }

    private func act(
        _ name: String, needing permission: AlertPermissions, _ request: Request, _ context: APIRequestContext,
        _ action: (Int64, Caller) async throws(AlertActionError) -> Alert
    ) async -> Response {
        await asCaller(request) { caller in
            guard caller.permissions.contains(permission) else {
                refused(request, "token may not \(name)", user: caller.user)
                return errorResponse(.forbidden, "this token may not \(name) alerts")
            }
            return await act(name, context, caller, action)
        }
    }

    private func act(
        _ name: String, _ context: APIRequestContext, _ caller: Caller,
        _ action: (Int64, Caller) async throws(AlertActionError) -> Alert
    ) async -> Response {
        guard let id = context.parameters.get("id", as: Int64.self) else {
            return errorResponse(.badRequest, "alert id must be an integer")
        }
        // Stored alerts are numbered from 1; 0 is what a raise not yet committed holds.
        guard id > 0 else { return errorResponse(.notFound, AlertActionError.notFound(id: id).description) }
        do {
            let alert = try await action(id, caller)
            audit(caller, name, ["alert": "\(id)"])
            return jsonResponse(.ok, alert.json)
        } catch {
            switch error {
            case .notFound: return errorResponse(.notFound, error.description)
            case .alreadyResolved: return errorResponse(.conflict, error.description)
            case .storageUnavailable, .shutDown, .tooFarBehind, .unknownEventID, .noAnswer, .tooManyStreams: return unavailable(error)
            }
        }
    }

    /// The database's own words (its host, port, libpq's message) go to the log, not to the client.
    private func unavailable(_ error: AlertActionError) -> Response {
        logger.warning("alert request not served", metadata: ["error": "\(error)"])
        let message = error == .shutDown ? error.description : "alerts are not available right now; try again shortly"
        return errorResponse(.serviceUnavailable, message)
    }

    private static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!

    private func stream(_ request: Request, _ caller: Caller, connection: any Channel) async -> Response {
        var lastEventID: Int64?
        let resumeFrom = request.headers[Self.lastEventIDHeader] ?? request.uri.queryParameters.get("lastEventId").map(String.init(_:))
        if let text = resumeFrom {
            guard let id = Int64(text.trimmingCharacters(in: .whitespaces)), id >= 0 else {
                return errorResponse(.badRequest, "Last-Event-ID must be a non-negative integer")
            }
            lastEventID = id
        }
        let subscription: AlertSubscription
        do {
            subscription = try await hub.subscribe(scope: caller.scope, after: lastEventID, user: caller.user)
            audit(caller, "stream", ["after_event": "\(lastEventID.map(String.init) ?? "-")"])
        } catch {
            // Browsers give up on a stream answered with an error; the page then reloads and reconnects.
            switch error {
            case .tooFarBehind, .unknownEventID: return errorResponse(.gone, error.description)
            case .tooManyStreams(_, let perUser):
                refused(request, perUser ? "stream limit of the user" : "stream limit of the engine", user: caller.user)
                return errorResponse(perUser ? .tooManyRequests : .serviceUnavailable, error.description)
            default: return unavailable(error)
            }
        }
        let lines = Self.lines(of: subscription, keepAliveEvery: keepAliveInterval)
        let writeTimeout = writeTimeout
        let logger = logger
        let user = caller.user
        // The body below may never run (the client gone before the response head is written);
        // then its release ends the subscription, whose tasks would otherwise hold its slot.
        let release = SubscriptionRelease(subscription)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { withExtendedLifetime(release) { subscription.cancel() } }
            try await writer.write(ByteBuffer(string: ServerSentEvents.retry(milliseconds: 2_000)))
            // A stopping daemon ends the stream rather than waiting on it; the screen reconnects
            // (to the next daemon) with its Last-Event-ID and misses nothing.
            try await withGracefulShutdownHandler {
                for await line in lines {
                    // A write the client takes none of for the timeout closes its connection,
                    // which ends the write; the client resumes by its Last-Event-ID.
                    let stalled = Task {
                        try await Task.sleep(for: writeTimeout)
                        logger.notice("closing an alert stream whose client reads nothing", metadata: ["user": "\(user)"])
                        connection.close(promise: nil)
                    }
                    defer { stalled.cancel() }
                    try await writer.write(ByteBuffer(string: line))
                }
            } onGracefulShutdown: {
                subscription.cancel()
            }
            try await writer.finish(nil)
        })
    }

    /// Lines written but not yet taken by a client's socket, before its stream is ended: one that
    /// stops reading must not hold the server's memory. It resumes by Last-Event-ID.
    static let unsentLineLimit = 1_000

    /// The subscription's events as SSE text, with a keep-alive comment in every quiet interval.
    private static func lines(of subscription: AlertSubscription, keepAliveEvery interval: Duration) -> AsyncStream<String> {
        AsyncStream(bufferingPolicy: .bufferingOldest(unsentLineLimit)) { continuation in
            @Sendable func send(_ line: String) -> Bool {
                if case .dropped = continuation.yield(line) {
                    continuation.finish()
                    return false
                }
                return true
            }
            let events = Task {
                for await event in subscription where !send(ServerSentEvents.event(event)) { break }
                continuation.finish()
            }
            let keepAlive = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if !send(ServerSentEvents.keepAlive) { return }
                }
            }
            continuation.onTermination = { _ in
                events.cancel()
                keepAlive.cancel()
                subscription.cancel()
            }
        }
    }

    /// Runs `body` for the request's caller, or answers 401 (logged, without the token).
    private func asCaller(
        _ request: Request, acceptingQueryToken: Bool = false, _ body: (Caller) async -> Response
    ) async -> Response {
        var token = acceptingQueryToken ? request.uri.queryParameters.get("access_token").map { String($0) } : nil
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { token = String(parts[1]) }
        }
        guard let token, !token.isEmpty else {
            refused(request, "no bearer token")
            return errorResponse(.unauthorized, acceptingQueryToken
                ? "a bearer token is required (Authorization: Bearer … or ?access_token=…)"
                : "a bearer token is required (Authorization: Bearer …)")
        }
        guard let caller = tokens.caller(forToken: token) else {
            refused(request, "unknown token")
            return errorResponse(.unauthorized, "unknown token")
        }
        return await body(caller)
    }

    /// Who did what through the API, for the facility's access audit: the token's user and the
    /// alert ids or counts, never a patient's identifier.
    private func audit(_ caller: Caller, _ action: String, _ details: Logger.Metadata) {
        logger.info("alert API request", metadata: details.merging(["user": "\(caller.user)", "action": "\(action)"]) { $1 })
    }

    private func refused(_ request: Request, _ reason: String, user: String? = nil) {
        var metadata: Logger.Metadata = ["path": "\(request.uri.path)", "reason": "\(reason)"]
        if let user { metadata["user"] = "\(user)" }
        logger.warning("alert API request refused", metadata: metadata)
    }
}

func jsonResponse(_ status: HTTPResponse.Status, _ json: String) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
}

func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
    jsonResponse(status, errorBody(message))
}

/// `{"error": message}`, escaped by the JSON encoder (control characters included).
func errorBody(_ message: String) -> String {
    let encoded = try? JSONEncoder().encode(["error": message])
    return encoded.map { String(decoding: $0, as: UTF8.self) } ?? #"{"error":"unexpected error"}"#
}

/// Ends a subscription when the last reference to it goes.
private final class SubscriptionRelease: Sendable {
    let subscription: AlertSubscription

    init(_ subscription: AlertSubscription) { self.subscription = subscription }

    deinit { subscription.cancel() }
}
