import Decoders
import DeviceProfiles
import Foundation
import Ingest
import Logging
import MetricsTestKit
import Storage
import TestSupport
import Testing
import VitalSigns

@Suite struct RejectionReporterTests {
    @Test("a rejected frame's warning names the port, device and reason; the decoder's quote of the frame (a patient's name) is at debug only")
    func theWarningCarriesNoPartOfTheFrame() throws {
        let profile = try DeviceProfileLoader.loadFile(repositoryRoot.appendingPathComponent("device-profiles/masimo-radical7.yaml").path)
        // A Radical-7 left in HL7 mode sends HL7 lines; the ASCII decoder quotes what it got.
        let line = Array("PID|1||MRN-4471^^^KTH||DOE^JOHN".utf8)
        let error = #expect(throws: FrameDecodeError.self) {
            _ = try MasimoASCIIDecoder(profile: profile).decode(line, context: FrameContext(deviceID: "masimo-1", receivedAt: Timestamp(secondsSinceEpoch: 0)))
        }
        let detail = try #require(error?.detail)
        #expect(detail.contains("DOE^JOHN"), "the detail quotes the frame, which is why it must stay out of warnings: \(detail)")

        let logs = LogRecorder()
        let reporter = RejectionReporter(recorder: nil, logger: Logger(label: "test.rejections") { _ in logs.handler() })
        reporter.reject(RejectedFrame(source: "serial", origin: "/dev/ttyUSB0", device: "masimo-1", reason: error?.reason ?? "", detail: detail, raw: line))
        let warnings = logs.all.filter { $0.level >= .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["origin"] == "/dev/ttyUSB0" && warnings.first?.metadata["reason"] == "missing_timestamp")
        for entry in warnings {
            let text = entry.message + entry.metadata.values.joined(separator: " ")
            #expect(!text.contains("DOE") && !text.contains("MRN-4471"), "\(entry)")
        }
        #expect(logs.all.contains { $0.level == .debug && $0.metadata["detail"] == detail })
    }

    @Test("rejected frames are counted per device for the first names only: names made up without end cannot grow the metrics without end")
    func deviceSeriesAreBounded() throws {
        let metrics = TestMetrics()
        let reporter = RejectionReporter(recorder: nil, logger: Logger(label: "test.rejections") { _ in SwiftLogNoOpLogHandler() },
                                         metricsFactory: metrics)
        let limit = RejectionReporter.countedDevicesLimit
        func reject(_ device: String?) {
            reporter.reject(RejectedFrame(source: "mqtt", origin: "vitals/\(device ?? "")", device: device, reason: "invalid_json", detail: "", raw: []))
        }
        for number in 0..<(limit + 50) { reject("made-up-\(number)") }
        reject("made-up-0")
        reject(nil)

        let series = metrics.counters.filter { $0.label == "mqtt_frames_rejected_total" }
        #expect(series.count == limit + 2, "one per counted device, one for the others, one for frames without a device")
        let counted = { (device: String) in try metrics.expectCounter("mqtt_frames_rejected_total", [("device", device), ("reason", "invalid_json")]).totalValue }
        #expect(try counted("made-up-0") == 2, "a counted device keeps its own series")
        #expect(try counted("made-up-\(limit - 1)") == 1)
        #expect(try counted("other") == 50)
        #expect(try counted("unknown") == 1)
    }
}
