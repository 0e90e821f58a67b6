import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The browser driver against a real Chromium loading pages over a real TCP socket.
@Suite("Headless Chromium driver", .serialized)
struct HeadlessChromiumTests {
    static let pages: [String: (contentType: String, body: String)] = [
        "/": ("text/html; charset=utf-8", """
            <!doctype html>
            <html><head><title>Driver test</title><link rel="stylesheet" href="/page.css"></head>
            <body>
              <h1 id="greeting">Hello</h1>
              <button id="go" type="button">Go</button>
              <button id="off" type="button" disabled>Off</button>
              <script src="/page.js"></script>
            </body></html>
            """),
        "/page.css": ("text/css", "body { margin: 0; background: #0b6e4f; color: #fff; font: 32px sans-serif; }"),
        "/page.js": ("text/javascript", """
            document.getElementById('go').addEventListener('click', () => {
              document.body.dataset.clicks = String(Number(document.body.dataset.clicks || 0) + 1);
              setTimeout(() => { document.getElementById('greeting').textContent = 'Clicked'; }, 200);
            });
            """),
        "/data.json": ("application/json", #"{"beds": ["ICU^1^A", "ICU^1^B"], "open": 2}"#),
    ]

    static let artifacts = RepositoryPaths.root + "/.build/artifacts/browser"

    /// A fresh browser showing `/` of a fresh server, for `body`; both stopped afterwards.
    private func withTestPage(_ body: (HeadlessChromium) async throws -> Void) async throws {
        let server = try await StaticPages(Self.pages)
        let browser: HeadlessChromium
        do { browser = try await HeadlessChromium.launch() } catch { await server.stop(); throw error }
        defer { browser.close() }
        do {
            try await browser.open(server.url + "/")
            try await body(browser)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test("loads a page over HTTP and evaluates JavaScript, awaiting promises")
    func evaluates() async throws {
        try await withTestPage { (browser) async throws in
            #expect(try await browser.evaluate("document.title") == "Driver test")
            #expect(try await browser.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(11, 110, 79)")
            #expect(try await browser.evaluate("6 * 7") == 42)
            #expect(try await browser.evaluate("({a: 1.5, b: [true, null, 'x']})") == ["a": 1.5, "b": [true, nil, "x"]])
            #expect(try await browser.evaluate("undefined") == nil)
            #expect(try await browser.evaluate("new Promise(done => setTimeout(() => done('later'), 50))") == "later")
            #expect(try await browser.evaluate("fetch('/data.json').then(r => r.json())") == ["beds": ["ICU^1^A", "ICU^1^B"], "open": 2])
        }
    }

    @Test("click runs the page's handler; waitFor sees a change that comes later")
    func clicks() async throws {
        try await withTestPage { (browser) async throws in
            #expect(try await browser.evaluate("document.body.dataset.clicks") == nil)

            try await browser.click("#go")
            #expect(try await browser.evaluate("document.body.dataset.clicks") == "1")
            try await browser.waitFor("document.getElementById('greeting').textContent === 'Clicked'", timeout: .seconds(10))
            try await browser.click("button#go")
            #expect(try await browser.evaluate("document.body.dataset.clicks") == "2")
            try await browser.waitFor("Promise.resolve(document.body.dataset.clicks === '2')")
        }
    }

    @Test("a screenshot is a PNG of the viewport, saved as a build artifact")
    func screenshot() async throws {
        try await withTestPage { (browser) async throws in
            try await browser.setViewport(width: 640, height: 480)

            let path = Self.artifacts + "/driver-640x480.png"
            try? FileManager.default.removeItem(atPath: path)
            let png = try await browser.screenshot(to: path)

            #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            // IHDR, the first chunk: width and height, big-endian, at bytes 16 and 20.
            #expect(String(decoding: png[12..<16], as: UTF8.self) == "IHDR")
            let bigEndian = { (offset: Int) in png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
            #expect(bigEndian(16) == 640)
            #expect(bigEndian(20) == 480)
            #expect(FileManager.default.contents(atPath: path) == png)
        }
    }

    @Test("errors name the command and carry the page's or Chromium's message")
    func errors() async throws {
        try await withTestPage { (browser) async throws in
            let thrown = await #expect(throws: BrowserError.self) { try await browser.evaluate("throw new Error('boom from the page')") }
            #expect(thrown?.description.contains("boom from the page") == true)
            #expect(thrown?.description.contains("throw new Error") == true)

            let missing = await #expect(throws: BrowserError.self) { try await browser.click("#missing") }
            #expect(missing?.description.contains("#missing") == true)
            #expect(missing?.detail == "no element matches")

            let disabled = await #expect(throws: BrowserError.self) { try await browser.click("#off") }
            #expect(disabled?.detail == "the element is disabled")

            let never = await #expect(throws: (any Error).self) {
                try await browser.waitFor("document.title === 'never'", timeout: .milliseconds(300))
            }
            #expect("\(never.map { "\($0)" } ?? "")".contains("document.title === 'never'"))

            let refused = await #expect(throws: BrowserError.self) { try await browser.open("http://127.0.0.1:\(freeTCPPort())/") }
            #expect(refused?.detail.contains("ERR_CONNECTION_REFUSED") == true)

            // The browser still works after all of that.
            #expect(try await browser.evaluate("1 + 1") == 2)
        }
    }

    @Test("a missing executable is a clear error")
    func missingExecutable() async throws {
        let error = await #expect(throws: BrowserError.self) {
            try await HeadlessChromium.launch(executable: "/nonexistent/chromium")
        }
        #expect(error?.description.contains("/nonexistent/chromium") == true)
    }

    @Test("close kills the browser, removes its profile folder, and later commands fail clearly")
    func close() async throws {
        let browser = try await HeadlessChromium.launch()
        #expect(try await browser.evaluate("navigator.userAgent").string?.contains("Chrome") == true)
        #expect(FileManager.default.fileExists(atPath: browser.profileFolder))

        browser.close()
        browser.close()  // idempotent

        #expect(kill(browser.processID, 0) == -1 && errno == ESRCH)
        #expect(!FileManager.default.fileExists(atPath: browser.profileFolder))
        let error = await #expect(throws: BrowserError.self) { try await browser.evaluate("1") }
        #expect(error?.detail.contains("closed") == true)
    }
}
