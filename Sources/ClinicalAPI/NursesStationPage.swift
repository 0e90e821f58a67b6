import Foundation
import Hummingbird
import NIOCore

/// The nurses' station page and its two assets, served from the target's resources.
struct NursesStationPage: Sendable {
    private struct Asset: Sendable {
        var contentType: String
        var bytes: ByteBuffer
    }

    private let assets: [String: Asset]

    /// Fails when an asset is missing from the build (a packaging error, not a runtime one).
    init() throws {
        var assets: [String: Asset] = [:]
        for (name, type) in [("index.html", "text/html; charset=utf-8"), ("nurses-station.css", "text/css; charset=utf-8"),
                             ("nurses-station.js", "text/javascript; charset=utf-8")] {
            let stem = (name as NSString).deletingPathExtension
            let ext = (name as NSString).pathExtension
            guard let url = Bundle.module.url(forResource: stem, withExtension: ext, subdirectory: "Resources")
                ?? Bundle.module.url(forResource: stem, withExtension: ext),
                let data = try? Data(contentsOf: url) else {
                throw NursesStationPageError(asset: name)
            }
            assets[name] = Asset(contentType: type, bytes: ByteBuffer(bytes: data))
        }
        self.assets = assets
    }

    func register(on router: Router<APIRequestContext>) {
        router.get("/") { _, _ in response("index.html") }
        router.get("nurses-station.css") { _, _ in response("nurses-station.css") }
        router.get("nurses-station.js") { _, _ in response("nurses-station.js") }
    }

    private func response(_ name: String) -> Response {
        guard let asset = assets[name] else { return errorResponse(.notFound, "no such page") }
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[.cacheControl] = "no-cache"
        // The page loads nothing but its own files and is never framed by another site's page.
        headers[.contentSecurityPolicy] = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: asset.bytes))
    }
}

struct NursesStationPageError: Error, CustomStringConvertible {
    var asset: String
    var description: String { "the nurses' station asset \(asset) is missing from the build's resources" }
}
