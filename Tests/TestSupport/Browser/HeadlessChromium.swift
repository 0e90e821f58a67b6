import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A real headless Chromium driven over the DevTools protocol, for testing web pages end to end.
///
///     let browser = try await HeadlessChromium.launch()
///     defer { browser.close() }
///     try await browser.open("http://127.0.0.1:\(port)/")
///     try await browser.waitFor("document.querySelectorAll('[data-alert-id]').length === 2")
///     try await browser.click("[data-action=ack]")
///
/// One browser, one page (tab). The browser runs in a process group of its own and a temporary
/// profile folder; `close()` kills the group and removes the folder (so does `deinit`, as a
/// safety net when a test throws before closing).
public final class HeadlessChromium: Sendable {
    public let processID: pid_t
    public let profileFolder: String
    private let devTools: DevToolsPipe
    private let sessionID: String
    private let closed = Atomic<Bool>(false)
    private let stderrPath: String

    /// How long one DevTools command may take (screenshots of a busy page, a slow machine).
    public static let commandTimeout: Duration = .seconds(30)

    /// Names looked up in `PATH` when `CHROMIUM` does not name the executable.
    public static let executableNames = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]

    /// Starts Chromium (headless, no sandbox: tests run as root in CI) with a window of the given
    /// size and an empty page. `executable` overrides the lookup.
    public static func launch(
        width: Int = 1280, height: Int = 800,
        executable: String? = nil,
        extraArguments: [String] = []
    ) async throws -> HeadlessChromium {
        let binary = try executable ?? findExecutable()
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BrowserError("launch", "\(binary) is not an executable file", stderrTail: "")
        }
        let profile = try makeProfileFolder()
        let stderrPath = profile + "/chromium.stderr"
        let arguments = [
            binary,
            "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--user-data-dir=\(profile)/profile",
            "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-extensions", "--mute-audio",
            "--window-size=\(width),\(height)",
        ] + extraArguments + ["about:blank"]

        let spawned: (pid: pid_t, toChild: Int32, fromChild: Int32)
        do {
            // Its singleton socket and lock go under the profile folder too, so that killing it
            // leaves nothing behind in the system's temporary folder.
            spawned = try spawnWithPipe(arguments, stderrPath: stderrPath, temporaryFolder: profile)
        } catch {
            try? FileManager.default.removeItem(atPath: profile)
            throw error
        }
        let tail: @Sendable () -> String = { Self.tail(of: stderrPath) }
        let pipe = DevToolsPipe(toBrowser: spawned.toChild, fromBrowser: spawned.fromChild, diagnostics: tail)
        do {
            // A fresh tab of our own, attached in flat mode: commands carry its session id.
            let target = try await pipe.call("Target.createTarget", ["url": "about:blank"], timeout: commandTimeout)
            guard let targetID = target["targetId"]?.string else {
                throw BrowserError("Target.createTarget", "no targetId in \(target)", stderrTail: tail())
            }
            let attached = try await pipe.call("Target.attachToTarget", ["targetId": .string(targetID), "flatten": true], timeout: commandTimeout)
            guard let sessionID = attached["sessionId"]?.string else {
                throw BrowserError("Target.attachToTarget", "no sessionId in \(attached)", stderrTail: tail())
            }
            return HeadlessChromium(processID: spawned.pid, profileFolder: profile, devTools: pipe, sessionID: sessionID, stderrPath: stderrPath)
        } catch {
            terminate(processGroup: spawned.pid, pipe: pipe, profile: profile)
            throw error
        }
    }

    private init(processID: pid_t, profileFolder: String, devTools: DevToolsPipe, sessionID: String, stderrPath: String) {
        self.processID = processID
        self.profileFolder = profileFolder
        self.devTools = devTools
        self.sessionID = sessionID
        self.stderrPath = stderrPath
    }

    deinit { close() }

    // MARK: - Driving the page

    /// Navigates and waits until the document has loaded (`readyState` complete). Fails with
    /// Chromium's network error (e.g. `net::ERR_CONNECTION_REFUSED`) when the page cannot load.
    public func open(_ url: String, timeout: Duration = .seconds(15)) async throws {
        let result = try await command("Page.navigate", ["url": .string(url)])
        if let problem = result["errorText"]?.string, !problem.isEmpty {
            throw BrowserError("open \(url)", problem, stderrTail: stderrTail())
        }
        try await waitFor("document.readyState === 'complete'", timeout: timeout)
    }

    /// Evaluates a JavaScript expression in the page (promises are awaited, so `fetch(…).then(…)`
    /// works; it runs as a user gesture, so it may start audio) and returns its value as JSON.
    /// A thrown exception becomes a `BrowserError` with the exception's message.
    @discardableResult
    public func evaluate(_ expression: String) async throws -> JSONValue {
        let result = try await command("Runtime.evaluate", [
            "expression": .string(expression), "returnByValue": true, "awaitPromise": true, "userGesture": true,
        ])
        if let exception = result["exceptionDetails"] {
            let message = exception["exception"]?["description"]?.string ?? exception["text"]?.string ?? exception.description
            throw BrowserError("evaluate `\(Self.shortened(expression))`", message, stderrTail: "")
        }
        return result["result"]?["value"] ?? .null
    }

    /// Polls a JavaScript condition (an expression, or a promise of one) until it is truthy;
    /// fails after `timeout` with the condition and the last exception it threw, if any.
    public func waitFor(_ condition: String, timeout: Duration = .seconds(10), pollEvery interval: Duration = .milliseconds(50)) async throws {
        try await waitUntil(timeout: timeout, pollEvery: interval, "page condition `\(Self.shortened(condition))`") {
            try await evaluate("(async () => Boolean(await (\(condition))))()") == .bool(true)
        }
    }

    /// Clicks the first element matching a CSS selector (its `click()`: the page sees a click
    /// event as from a user). Fails when nothing matches or the element is disabled.
    public func click(_ selector: String) async throws {
        let literal = JSONValue.string(selector).description
        let outcome = try await evaluate("""
            (() => {
              const element = document.querySelector(\(literal));
              if (!element) return 'no element matches';
              if (element.disabled) return 'the element is disabled';
              element.click();
              return 'clicked';
            })()
            """)
        guard outcome == "clicked" else {
            throw BrowserError("click \(selector)", outcome.string ?? outcome.description, stderrTail: "")
        }
    }

    /// Emulates a viewport (a phone: 390×844, `mobile: true`) for the responsive layout.
    public func setViewport(width: Int, height: Int, mobile: Bool = false) async throws {
        try await command("Emulation.setDeviceMetricsOverride", [
            "width": .number(Double(width)), "height": .number(Double(height)),
            "deviceScaleFactor": 1, "mobile": .bool(mobile),
        ])
    }

    /// Captures the viewport as PNG, writes it to `path` (creating folders) and returns it.
    @discardableResult
    public func screenshot(to path: String) async throws -> Data {
        let result = try await command("Page.captureScreenshot", ["format": "png"])
        guard let encoded = result["data"]?.string, let png = Data(base64Encoded: encoded) else {
            throw BrowserError("Page.captureScreenshot", "no base64 image data in the response", stderrTail: stderrTail())
        }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try png.write(to: URL(fileURLWithPath: path))
        } catch {
            throw BrowserError("screenshot", "could not write \(path): \(error)", stderrTail: "")
        }
        return png
    }

    /// Kills the browser (its whole process group) and removes the profile folder. Idempotent.
    public func close() {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        Self.terminate(processGroup: processID, pipe: devTools, profile: profileFolder)
    }

    /// The browser's last stderr lines (crash reasons, failed loads).
    public func stderrTail() -> String { Self.tail(of: stderrPath) }

    // MARK: - Internals

    @discardableResult
    private func command(_ method: String, _ params: JSONValue) async throws -> JSONValue {
        guard !closed.load(ordering: .acquiring) else {
            throw BrowserError(method, "the browser has been closed", stderrTail: "")
        }
        return try await devTools.call(method, params, sessionID: sessionID, timeout: Self.commandTimeout)
    }

    private static func terminate(processGroup pid: pid_t, pipe: DevToolsPipe, profile: String) {
        // No graceful Browser.close: the profile is thrown away, and SIGKILL cannot hang.
        _ = kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pipe.shutDown(reason: "the browser was closed")
        try? FileManager.default.removeItem(atPath: profile)
    }

    static func findExecutable() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["CHROMIUM"], !path.isEmpty { return path }
        let folders = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for name in executableNames {
            for folder in folders where FileManager.default.isExecutableFile(atPath: folder + "/" + name) {
                return folder + "/" + name
            }
        }
        throw BrowserError(
            "launch", "no Chromium found: looked for \(executableNames.joined(separator: ", ")) in PATH (\(folders.joined(separator: ":"))); "
                + "install it (Debian: apt-get install -y chromium) or set CHROMIUM to the executable's path",
            stderrTail: "")
    }

    private static func makeProfileFolder() throws -> String {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        let folder = base + "nilecare-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw BrowserError("launch", "could not create the profile folder \(folder): \(error)", stderrTail: "")
        }
        return folder
    }

    /// The last lines of the browser's stderr file.
    static func tail(of path: String, lines: Int = 15) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }

    static func shortened(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return line.count > 120 ? String(line.prefix(117)) + "…" : line
    }
}
