import ArgumentParser
import Foundation
import HL7v2
import Ingest
import Storage

/// How the daemon ingests: where it listens, how it decodes, how it batches.
struct IngestOptions: ParsableArguments {
    @Option(help: "Address the MLLP listener binds to.")
    var mllpHost: String = "127.0.0.1"

    @Option(help: "MLLP port (2575 is HL7's registered port; 0 picks a free one).")
    var mllpPort: Int = 2575

    @Option(help: "Largest accepted MLLP frame, in bytes.")
    var maxFrameBytes: Int = 1 << 20

    @Option(help: "Close an MLLP connection silent for this many seconds (and answered as long ago); it closes within twice that.")
    var idleTimeoutSeconds: Int = 300

    @Option(help: "Most MLLP connections open at once; one more is closed as soon as it is accepted (logged once per episode, counted in mllp_connection_errors_total{reason=\"too_many_connections\"}).")
    var maxConnections: Int = MLLPServer.Configuration().maximumConnections

    @Option(help: "Most MLLP connections open at once from one address, so that a gateway leaking connections cannot take every place (counted as reason \"too_many_connections_from_peer\").")
    var maxConnectionsPerPeer: Int = MLLPServer.Configuration().maximumConnectionsPerPeer

    @Option(help: "Folder of device profiles (*.yaml).")
    var profiles: String = RepositoryPaths.locate("device-profiles")

    @Option(help: "Time zone of HL7 timestamps that carry no offset (IANA name).")
    var facilityTimeZone: String = "Africa/Khartoum"

    @Option(name: .customLong("accept-processing-id"), help: "Also store messages of this MSH-11 processing id (repeatable), beside production P, on a test system. Others, such as T (training) and D (debugging), are answered AR 202 and not stored.")
    var acceptedProcessingIDs: [String] = []

    /// Production always, and what a test system adds.
    var processingIDs: Set<String> { Set(["P"] + acceptedProcessingIDs) }

    @Option(help: "Character set of HL7 messages whose MSH-18 is empty: UNICODE UTF-8, 8859/1 (older devices' Latin-1) or ASCII.")
    var hl7DefaultCharset: String = HL7Charset.utf8.hl7Name

    /// The charset `hl7DefaultCharset` names; checked in `validate()`.
    var defaultCharset: HL7Charset { HL7Charset(hl7Name: hl7DefaultCharset) ?? .utf8 }

    @Option(help: "Most observation rows in one database commit.")
    var maxBatchRows: Int = ObservationWriter.Configuration().maxBatchRows

    @Option(help: "Database connections committing observations in parallel (one makes larger commits with less database CPU per row; two overlap one commit's flush with the next one's load).")
    var writerConnections: Int = ObservationWriter.Configuration().connections

    func validate() throws {
        guard TimeZone(identifier: facilityTimeZone) != nil else {
            throw ValidationError("unknown time zone '\(facilityTimeZone)' (use an IANA name such as Africa/Khartoum)")
        }
        guard maxFrameBytes >= 1024 else { throw ValidationError("--max-frame-bytes must be at least 1024") }
        guard HL7Charset(hl7Name: hl7DefaultCharset) != nil else {
            throw ValidationError("--hl7-default-charset '\(hl7DefaultCharset)' is not one this engine reads: UNICODE UTF-8, 8859/1 or ASCII")
        }
        guard idleTimeoutSeconds > 0 else { throw ValidationError("--idle-timeout-seconds must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard maxConnectionsPerPeer > 0 else { throw ValidationError("--max-connections-per-peer must be positive") }
        guard acceptedProcessingIDs.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--accept-processing-id must name a processing id such as P")
        }
        guard maxBatchRows > 0 else { throw ValidationError("--max-batch-rows must be positive") }
        guard (1...16).contains(writerConnections) else { throw ValidationError("--writer-connections must be between 1 and 16") }
    }
}
