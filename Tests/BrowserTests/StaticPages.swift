import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny HTTP server on a real TCP socket (127.0.0.1, a free port) that serves fixed pages:
/// test infrastructure for the browser driver, so pages load over HTTP as in production.
final class StaticPages: Sendable {
    let port: Int
    private let channel: any Channel

    /// `pages` maps a path (`/`, `/app.js`) to its content type and body.
    init(_ pages: [String: (contentType: String, body: String)]) async throws {
        let routes = pages.mapValues { StaticPage(contentType: $0.contentType, body: Array($0.body.utf8)) }
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(StaticPageHandler(routes: routes))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress?.port ?? 0
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func stop() async {
        try? await channel.close()
    }
}

private struct StaticPage: Sendable {
    var contentType: String
    var body: [UInt8]
}

private final class StaticPageHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: [String: StaticPage]
    private var request: HTTPRequestHead?

    init(routes: [String: StaticPage]) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            let path = String(head.uri.prefix { $0 != "?" })
            let page = routes[path] ?? StaticPage(contentType: "text/plain", body: Array("no page at \(path)\n".utf8))
            var headers = HTTPHeaders([("Content-Type", page.contentType), ("Content-Length", "\(page.body.count)"), ("Cache-Control", "no-store")])
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            let status: HTTPResponseStatus = routes[path] == nil ? .notFound : .ok
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: page.body)))), promise: nil)
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}
