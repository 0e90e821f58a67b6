import ArgumentParser
import Foundation
import Ingest
import Logging
import MQTT
import Storage
import VitalSigns

/// The MQTT source's options; the source runs when `--mqtt-url` is given.
struct MQTTOptions: ParsableArguments {
    @Option(help: "Broker URL, mqtt://[user@]host[:port] or mqtts:// for TLS (the password comes from $NILECARE_MQTT_PASSWORD or --mqtt-password-file).")
    var mqttURL: String?

    @Option(help: ArgumentHelp("Topic filter and the device profile of its messages; repeat for several.", valueName: "TOPIC=PROFILE"))
    var mqttSubscribe: [String] = []

    @Option(help: "Client id: fixed, so the broker keeps our session (and the messages sent while we are down); set it where the host name changes at each deployment (containers).")
    var mqttClientID: String = "nilecare-vitals-\(ProcessInfo.processInfo.hostName)"

    @Option(help: "MQTT protocol version: 3.1.1 or 5.")
    var mqttProtocol: String = "3.1.1"

    @Option(help: "Topic devices announce online/offline on (empty: none).")
    var mqttStatusTopic: String = "devices/+/status"

    @Option(help: "PEM file of the certificate authorities for mqtts:// (default: the system's).")
    var mqttCAFile: String?

    @Option(help: "PEM client certificate for mqtts://.")
    var mqttCertFile: String?

    @Option(help: "PEM key of the client certificate.")
    var mqttKeyFile: String?

    @Option(help: "File holding the broker password (instead of $NILECARE_MQTT_PASSWORD).")
    var mqttPasswordFile: String?

    static let defaultSubscription = "devices/+/vitals=generic-mqtt-gateway"

    func validate() throws {
        guard let mqttURL else {
            if !mqttSubscribe.isEmpty { throw ValidationError("--mqtt-subscribe needs --mqtt-url") }
            return
        }
        let broker: MQTTBrokerURL
        do { broker = try MQTTBrokerURL(parsing: mqttURL) } catch { throw ValidationError("\(error)") }
        // Certificates given for a plain mqtt:// URL would be ignored: the password and the
        // patients' readings would go in clear.
        let tlsFiles = [("--mqtt-ca-file", mqttCAFile), ("--mqtt-cert-file", mqttCertFile), ("--mqtt-key-file", mqttKeyFile)].filter { $0.1 != nil }
        if !broker.usesTLS, let (option, _) = tlsFiles.first {
            throw ValidationError("\(option) is for TLS: use an mqtts:// broker URL")
        }
        guard MQTTConnectionOptions.ProtocolVersion(rawValue: mqttProtocol) != nil else {
            throw ValidationError("--mqtt-protocol must be 3.1.1 or 5, not '\(mqttProtocol)'")
        }
        for entry in mqttSubscribe where !entry.contains("=") {
            throw ValidationError("--mqtt-subscribe '\(entry)': expected TOPIC=PROFILE, e.g. \(Self.defaultSubscription)")
        }
    }

    /// The source's configuration, with each subscription's profile looked up by id.
    func configuration(profiles: [DeviceProfile]) throws -> MQTTSource.Configuration? {
        guard let mqttURL else { return nil }
        var connection = MQTTConnectionOptions(broker: try MQTTBrokerURL(parsing: mqttURL), clientID: mqttClientID)
        connection.protocolVersion = MQTTConnectionOptions.ProtocolVersion(rawValue: mqttProtocol) ?? .v311
        connection.tls = .init(caFile: mqttCAFile, certificateFile: mqttCertFile, keyFile: mqttKeyFile)
        connection.password = try password()
        let byID = Dictionary(profiles.map { ($0.id, $0) }) { first, _ in first }
        let subscriptions = try (mqttSubscribe.isEmpty ? [Self.defaultSubscription] : mqttSubscribe).map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let profile = byID[parts[1]] else {
                throw ValidationError("--mqtt-subscribe '\(entry)': no device profile '\(parts.last ?? "")' (known: \(byID.keys.sorted().joined(separator: ", ")))")
            }
            do { return try MQTTSubscription(filter: MQTTTopicFilter(parts[0]), profile: profile) } catch { throw ValidationError("\(error)") }
        }
        var configuration = MQTTSource.Configuration(connection: connection, subscriptions: subscriptions)
        configuration.statusFilter = mqttStatusTopic.isEmpty ? nil : try MQTTTopicFilter(mqttStatusTopic)
        return configuration
    }

    private func password() throws -> String? {
        if let mqttPasswordFile {
            guard let text = try? String(contentsOfFile: mqttPasswordFile, encoding: .utf8) else {
                throw ValidationError("cannot read the MQTT password file \(mqttPasswordFile)")
            }
            return text.trimmingCharacters(in: .newlines)
        }
        return ProcessInfo.processInfo.environment["NILECARE_MQTT_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// The running MQTT source and the recorders it writes through.
struct MQTTIngest {
    let source: MQTTSource
    let rejected: RejectedFrameRecorder
    let presence: DevicePresenceRecorder
    let associations: PatientAssociationCache

    static func start(_ configuration: MQTTSource.Configuration, databaseURL: String, sink: any ObservationSink, logger: Logger) throws -> MQTTIngest {
        let rejected = RejectedFrameRecorder(url: databaseURL, logger: logger)
        let presence = DevicePresenceRecorder(url: databaseURL, logger: logger)
        let associations = PatientAssociationCache(url: databaseURL, logger: logger)
        let source = MQTTSource(
            configuration: configuration, sink: sink,
            rejections: RejectionReporter(recorder: rejected, logger: logger), presence: presence, associations: associations, logger: logger
        )
        try source.start()
        return MQTTIngest(source: source, rejected: rejected, presence: presence, associations: associations)
    }

    /// Stops reading first; the recorders then write what they hold.
    func stop() {
        source.stop()
        associations.stop()
        rejected.shutdown()
        presence.shutdown()
    }
}
