import Alerts
import ArgumentParser
import ClinicalAPI
import Foundation
import Kafka
import Logging

/// Where alerts go: the facility they belong to, the nurses' API, and Kafka.
struct AlertOptions: ParsableArguments {
    @Option(help: "The facility this engine serves; API tokens are scoped to it.")
    var facility: String = "NILECARE"

    @Option(help: "Address of the HTTP API (nurses' station page, /alerts).")
    var apiHost: String = "127.0.0.1"

    @Option(help: "Port of the HTTP API (0 picks a free one).")
    var apiPort: Int = 8080

    @Option(help: "File of API tokens, one `token user facility [ward] [can=view,acknowledge,resolve]` per line. Without it the API refuses every request.")
    var apiTokensFile: String?

    @Option(help: "Kafka bootstrap servers for critical events (e.g. broker1:9092,broker2:9092). Without it events wait in the outbox.")
    var kafkaBootstrapServers: String?

    @Option(help: "Kafka topic of alert events.")
    var kafkaTopic: String = "vitals.critical"

    @Option(help: "File of extra librdkafka properties, `name=value` per line (security.protocol, sasl.*, ssl.*); keeps secrets off the command line.")
    var kafkaPropertiesFile: String?

    func tokens(logger: Logger) throws -> APITokens {
        guard let apiTokensFile else {
            logger.warning("no --api-tokens-file: the alerts API answers 401 to every request")
            return APITokens([:])
        }
        let tokens: APITokens
        do {
            tokens = try APITokens(contentsOf: apiTokensFile)
        } catch {
            throw ValidationError("invalid API tokens file, not starting: \(error)")
        }
        let strangers = tokens.users(outside: facility)
        guard strangers.isEmpty else {
            throw ValidationError("""
                API tokens of \(strangers.joined(separator: ", ")) name another facility than \(facility) (--facility), \
                so their screens would show no alerts; not starting
                """)
        }
        return tokens
    }

    func kafkaProperties() throws -> [String: String] {
        guard let kafkaPropertiesFile else { return [:] }
        guard let text = try? String(contentsOfFile: kafkaPropertiesFile, encoding: .utf8) else {
            throw ValidationError("cannot read the Kafka properties file \(kafkaPropertiesFile)")
        }
        var properties: [String: String] = [:]
        // Any line ending: in Swift "\r\n" is one Character, which a split on "\n" never finds.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ValidationError("\(kafkaPropertiesFile):\(index + 1): expected name=value")
            }
            properties[String(trimmed[..<equals]).trimmingCharacters(in: .whitespaces)] =
                String(trimmed[trimmed.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        }
        return properties
    }
}
