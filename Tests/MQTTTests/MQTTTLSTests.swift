import DeviceSimulator
import Foundation
import MQTT
import TestSupport
import Testing

/// mqtts:// with a private certificate authority, a server certificate and client certificates
/// the broker requires: the source connects and ingests with its certificate, and without one it
/// is refused and says why in its health.
@Suite(.timeLimit(.minutes(2))) struct MQTTTLSTests {
    @Test func clientCertificateConnectionsIngestAndOthersAreRefused() async throws {
        let folder = NSTemporaryDirectory() + "nilecare-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try makeCertificates(in: folder)
        let broker = try TestMosquitto(listenerSettings: [
            "cafile \(folder)/ca.crt", "certfile \(folder)/server.crt", "keyfile \(folder)/server.key", "require_certificate true",
        ])
        try await broker.start()
        defer { broker.stop() }
        let database = try TestPostgres.migratedDatabase()
        let secure = try MQTTBrokerURL(parsing: "mqtts://localhost:\(broker.port)")
        let clientTLS = MQTTConnectionOptions.TLS(caFile: "\(folder)/ca.crt", certificateFile: "\(folder)/client.crt", keyFile: "\(folder)/client.key")

        let daemon = try MQTTTestDaemon(broker: broker, databaseURL: database) { options in
            options.broker = secure
            options.tls = clientTLS
        }
        defer { daemon.stop() }
        try await waitUntil(timeout: .seconds(30), "source connected over TLS") { daemon.source.health.state == .connected }

        var publisherOptions = MQTTConnectionOptions(broker: secure, clientID: "tls-gateway")
        publisherOptions.tls = clientTLS
        let publisher = try MQTTPublisher(options: publisherOptions)
        defer { publisher.stop() }
        for index in 0..<10 {
            try publisher.publish(topic: "devices/TLS1/vitals", payload: MQTTGatewaySimulator.payload(device: "TLS1", id: "tls-\(index)", sequence: index))
        }
        #expect(publisher.flush())
        try await waitUntil(timeout: .seconds(30), pollEvery: .milliseconds(100), "messages stored") {
            try count(database, "SELECT count(*) FROM ingested_messages") == 10
        }

        // Without a client certificate the broker ends the handshake; the source keeps retrying.
        let refused = try MQTTTestDaemon(broker: broker, databaseURL: database, clientID: "no-certificate") { options in
            options.broker = secure
            options.tls = .init(caFile: "\(folder)/ca.crt")
        }
        defer { refused.stop() }
        try await waitUntil(timeout: .seconds(30), "refusal reported") {
            refused.source.health.state == .reconnecting && refused.source.statistics.current.reconnects >= 2
        }
        #expect(refused.source.health.lastError?.isEmpty == false)

        // Without a CA file the system's authorities are trusted (the documented default), and
        // none of them signed this broker's certificate: refused, although the client's is good.
        let untrusted = try MQTTTestDaemon(broker: broker, databaseURL: database, clientID: "system-cas") { options in
            options.broker = secure
            options.tls = .init(certificateFile: "\(folder)/client.crt", keyFile: "\(folder)/client.key")
        }
        defer { untrusted.stop() }
        try await waitUntil(timeout: .seconds(30), "the broker's certificate refused") {
            untrusted.source.health.state == .reconnecting && untrusted.source.statistics.current.reconnects >= 2
        }
        #expect(try count(database, "SELECT count(*) FROM ingested_messages") == 10)
    }

    @Test func unreadableCertificateFilesAreAConfigurationError() throws {
        var options = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: "mqtts://localhost:8883"), clientID: "x")
        options.tls = .init(caFile: "/nonexistent/ca.crt")
        #expect {
            try MosquittoClient(options: options)
        } throws: { error in
            (error as? MQTTError)?.message.contains("cannot read '/nonexistent/ca.crt'") == true
        }
        options.tls = .init(certificateFile: "/etc/hostname")
        #expect(throws: MQTTError.self) { try MosquittoClient(options: options) }
    }

    /// A certificate authority, a server certificate for localhost / 127.0.0.1 and a client certificate.
    private func makeCertificates(in folder: String) throws {
        let extensions = folder + "/server.ext"
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: extensions, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=NileCare test CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=nilecare-test"],
            ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "2"],
        ]
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: folder)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw TestSupportError("openssl \(arguments.prefix(2).joined(separator: " ")) failed") }
        }
        // mosquitto runs as root here but reads the key as its configured user; keep it readable.
        for file in ["server.key", "client.key"] { chmod(folder + "/" + file, 0o644) }
    }
}
