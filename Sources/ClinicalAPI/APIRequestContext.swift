import Hummingbird
import NIOCore

/// Hummingbird's basic request context, with the request's connection: a stream whose client
/// stopped reading is closed through it, since a write to it would wait for ever.
struct APIRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
