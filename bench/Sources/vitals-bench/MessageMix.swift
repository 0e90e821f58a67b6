import DeviceSimulator
import HL7v2
import VitalSigns

/// The PCD-01 messages the parse benchmark times: mostly simulated bedside monitors (about
/// 1.2 KB, 12 numeric OBX each), plus Philips IntelliVue-style exports (MDIL codes, local time,
/// MDIL units) and IHE PCD-01 example-style messages (containment rows, PID repetitions with
/// subcomponents, °F and kPa units to convert, a vendor-specific code).
enum MessageMix {
    static let baseTime = Timestamp(microsecondsSinceEpoch: 1_795_000_000_000_000)

    /// Monitors' reports, with the vendor messages spread through them rather than at the end.
    static func build(monitors: Int = 16, reportsPerMonitor: Int = 4, philips: Int = 6, iheExamples: Int = 6)
        -> (all: [[UInt8]], simulated: [[UInt8]], philips: [[UInt8]], iheExamples: [[UInt8]]) {
        var simulated: [[UInt8]] = []
        for index in 0..<monitors {
            var monitor = SimulatedMonitor(index: index)
            for report in 0..<reportsPerMonitor {
                let time = Timestamp(microsecondsSinceEpoch: baseTime.microsecondsSinceEpoch + Int64(report * 1_000_000 + index * 1_000))
                simulated.append(monitor.nextReport(at: time, criticalKind: report == 3 ? .spo2 : nil).bytes)
            }
        }
        let philipsMessages = (0..<philips).map { philipsExport(index: $0) }
        let iheMessages = (0..<iheExamples).map { iheExample(index: $0) }
        var all = simulated
        for (offset, message) in (philipsMessages + iheMessages).enumerated() {
            all.insert(message, at: min(all.count, (offset + 1) * all.count / (philips + iheExamples + 1)))
        }
        return (all, simulated, philipsMessages, iheMessages)
    }

    // MARK: Philips IntelliVue-style export

    static let philipsChannels: [(code: String, label: String, unit: String, value: Double, decimals: Int)] = [
        ("0002-4182", "HR", "0004-0AA0", 78, 0),
        ("0002-481A", "PR", "0004-0AA0", 77, 0),
        ("0002-4BB8", "SpO2", "0004-0220", 97, 0),
        ("0002-500A", "RR", "0004-0AA0", 16, 0),
        ("0002-4A05", "NBPs", "0004-0F20", 121, 0),
        ("0002-4A06", "NBPd", "0004-0F20", 79, 0),
        ("0002-4A07", "NBPm", "0004-0F20", 93, 0),
        ("0002-4B5C", "Temp", "0004-17A0", 36.9, 1),
        ("0002-509C", "etCO2", "0004-0F20", 38, 0),
    ]

    static func philipsExport(index: Int) -> [UInt8] {
        // Local time without an offset, as the Information Center sends it.
        let time = String(SimulatedMonitor.hl7Time(offset(baseTime, seconds: index)).dropLast(5))
        let device = "00091FFFFE\(String(100_000 + index))"
        var segments: [HL7SegmentValue] = [
            HL7SegmentValue(id: "MSH", fields: [
                "|", "^~\\&", "PHILIPS", "WARD7", "HIS", "HOSP", HL7FieldValue(time), "",
                HL7FieldValue(components: ["ORU", "R01", "ORU_R01"]), HL7FieldValue("PH-\(index)"), "P", "2.5",
            ]),
            HL7SegmentValue(id: "PID", fields: ["", "", HL7FieldValue(components: ["P-\(4200 + index)", "", "", "KTH", "MR"])]),
            HL7SegmentValue(id: "PV1", fields: ["", "I", HL7FieldValue(components: ["CCU", "\(index + 1)", "B"])]),
            HL7SegmentValue(id: "OBR", fields: ["1", "", HL7FieldValue("PH-\(index)"), HL7FieldValue(components: ["VITALS", "Vital signs"]),
                                                "", "", HL7FieldValue(time)]),
        ]
        for (offset, channel) in philipsChannels.enumerated() {
            let value = channel.value + Double(index % 3)
            segments.append(HL7SegmentValue(id: "OBX", fields: [
                HL7FieldValue("\(offset + 1)"), "NM", HL7FieldValue(components: [channel.code, channel.label, "MDIL"]), "0",
                HL7FieldValue(channel.decimals == 0 ? String(Int(value)) : String(value)),
                HL7FieldValue(components: [channel.unit, "", "MDIL"]), "", "", "", "", "F", "", "", HL7FieldValue(time), "", "", "",
                HL7FieldValue(device),
            ]))
        }
        return HL7Encoder().encode(segments)
    }

    // MARK: IHE PCD-01 example style

    static func iheExample(index: Int) -> [UInt8] {
        let time = SimulatedMonitor.hl7Time(offset(baseTime, seconds: index))
        let device = "ACDE48234567AB\(String(10 + index))"
        let sender = HL7FieldValue(components: ["AcmeInc", device, "EUI-64"])
        let order = HL7FieldValue(components: ["AB\(12_345 + index)", "AcmeInc", device, "EUI-64"])
        var segments: [HL7SegmentValue] = [
            HL7SegmentValue(id: "MSH", fields: [
                "|", "^~\\&", sender, "", "", "", HL7FieldValue(time), "",
                HL7FieldValue(components: ["ORU", "R01", "ORU_R01"]), HL7FieldValue("MSGID\(1234 + index)"), "P", "2.6", "", "",
                "NE", "AL", "", "UNICODE UTF-8", "", "",
                HL7FieldValue(components: ["IHE_PCD_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.1.1", "ISO"]),
            ]),
            HL7SegmentValue(id: "PID", fields: [
                "", "",
                HL7FieldValue(repetitions: [
                    [["\(789_567 + index)"], [], [], ["Imaginary Hospital", "1.2.3.4", "ISO"], ["PI"]],
                    [["\(222 + index)"], [], [], ["Other"], ["MR"]],
                ]),
                "",
                HL7FieldValue(components: ["Doe", "John", "Joseph", "", "", "", "L"]),
            ]),
            HL7SegmentValue(id: "PV1", fields: ["", "I", HL7FieldValue(components: ["3 West ICU", "3002", "\(index + 1)"])]),
            HL7SegmentValue(id: "OBR", fields: [
                "1", order, order, HL7FieldValue(components: ["182777000", "monitoring of patient", "SNOMED-CT"]), "", "", HL7FieldValue(time),
            ]),
            obx(1, "", ("69965", "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS"), "1.0.0.0", "", nil, status: "X", device: device),
            obx(2, "", ("69854", "MDC_DEV_PULS_OXIM_VMD"), "1.1.0.0", "", nil, status: "X"),
            obx(3, "", ("69855", "MDC_DEV_PULS_OXIM_CHAN"), "1.1.1.0", "", nil, status: "X"),
            obx(4, "NM", ("150456", "MDC_PULS_OXIM_SAT_O2"), "1.1.1.1", "\(96 + index % 3)", ("262688", "MDC_DIM_PERCENT", "MDC"),
                range: "90-100", time: time),
            obx(5, "NM", ("149530", "MDC_PULS_OXIM_PULS_RATE"), "1.1.1.2", "\(72 + index)", ("264864", "MDC_DIM_BEAT_PER_MIN", "MDC")),
            obx(6, "NM", ("150021", "MDC_PRESS_BLD_NONINV_SYS"), "1.2.1.1", "120", ("266016", "MDC_DIM_MMHG", "MDC")),
            obx(7, "NM", ("150022", "MDC_PRESS_BLD_NONINV_DIA"), "1.2.1.2", "80", ("266016", "MDC_DIM_MMHG", "MDC")),
            obx(8, "NM", ("150023", "MDC_PRESS_BLD_NONINV_MEAN"), "1.2.1.3", "93", ("266016", "MDC_DIM_MMHG", "MDC")),
            obx(9, "NM", ("150364", "MDC_TEMP_BODY"), "1.3.1.1", "98.6", ("[degF]", "[degF]", "UCUM")),
            obx(10, "NM", ("151708", "MDC_AWAY_CO2_ET"), "1.4.1.1", "5.2", ("kPa", "kPa", "UCUM")),
            obx(11, "NM", ("188736", "MDC_VENDOR_SPECIFIC"), "1.4.1.2", "17", ("262688", "MDC_DIM_PERCENT", "MDC")),
        ]
        segments.append(HL7SegmentValue(id: "NTE", fields: ["1", "", "Example message in the style of the IHE PCD technical framework"]))
        return HL7Encoder().encode(segments)
    }

    private static func obx(
        _ set: Int, _ type: String, _ code: (String, String), _ hierarchy: String, _ value: String,
        _ unit: (String, String, String)?, range: String = "", status: String = "R", time: String = "", device: String = ""
    ) -> HL7SegmentValue {
        HL7SegmentValue(id: "OBX", fields: [
            HL7FieldValue("\(set)"), HL7FieldValue(type), HL7FieldValue(components: [code.0, code.1, "MDC"]), HL7FieldValue(hierarchy),
            HL7FieldValue(value), unit.map { HL7FieldValue(components: [$0.0, $0.1, $0.2]) } ?? "", HL7FieldValue(range),
            "", "", "", HL7FieldValue(status), "", "", HL7FieldValue(time), "", "", "",
            device.isEmpty ? "" : HL7FieldValue(components: [device, "", device, "EUI-64"]),
        ])
    }

    private static func offset(_ time: Timestamp, seconds: Int) -> Timestamp {
        Timestamp(microsecondsSinceEpoch: time.microsecondsSinceEpoch + Int64(seconds) * 1_000_000)
    }
}
