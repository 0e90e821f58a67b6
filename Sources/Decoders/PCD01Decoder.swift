import Foundation
import HL7v2
import VitalSigns

/// IHE PCD-01 ORU^R01 → observations. A pure function of the message, the device profiles and
/// the facility's time zone: no I/O, no clock.
public struct PCD01Decoder: Sendable {
    public var profiles: DeviceProfileCatalog
    /// The zone of timestamps that carry no `+/-ZZZZ` offset.
    public var facilityZone: TimeZone
    /// MSH-11 values whose messages are stored: production only, unless a test system says
    /// otherwise. An empty MSH-11 counts as production.
    public var acceptedProcessingIDs: Set<String> = ["P"]

    public init(profiles: DeviceProfileCatalog, facilityZone: TimeZone) {
        self.profiles = profiles
        self.facilityZone = facilityZone
    }

    /// The header alone, for acknowledging a message that fails to decode.
    public static func header(of message: HL7Message) -> MessageHeader {
        message.withBorrowedView { header(of: $0.segment(at: 0)) }
    }

    private static func header(of msh: HL7BorrowedSegment) -> MessageHeader {
        MessageHeader(
            sendingApplication: msh[3].textAsSent,
            sendingFacility: msh[4].textAsSent,
            // As sent, like MSH-3/4/7: `value` would end at a component separator and unescape,
            // and two control ids that differ only there would be one message to the key.
            controlID: msh[10].textAsSent,
            messageTime: msh[7].textAsSent,
            messageType: msh[9].component(1).value,
            triggerEvent: msh[9].component(2).value,
            applicationName: msh[3].component(1).value
        )
    }

    public func decode(_ message: HL7Message) throws(PCD01DecodeError) -> DecodedMessage {
        // Read through pointers: HL7Field access would retain and release the message per field.
        try message.withBorrowedView { (message) throws(PCD01DecodeError) in try decode(message) }
    }

    private func decode(_ message: HL7BorrowedMessage) throws(PCD01DecodeError) -> DecodedMessage {
        let msh = message.segment(at: 0)
        let header = Self.header(of: msh)
        guard header.messageType == "ORU", header.triggerEvent == "R01" else {
            throw .unsupportedMessage(type: header.messageType, trigger: header.triggerEvent)
        }
        // An empty MSH-11 counts as production (P); P itself is read without building a String.
        let processingField = msh[11].component(1)
        let processingID = processingField.isEmpty || processingField.equals("P") ? "P" : processingField.value
        guard acceptedProcessingIDs.contains(processingID) else { throw .unsupportedProcessingID(processingID) }
        guard !header.controlID.isEmpty else {
            throw .requiredFieldMissing(segment: "MSH", sequence: 1, field: 10, what: "message control id")
        }
        // MSH-7's offset is the sender's zone: the other times it sends without one are in it.
        let (messageTime, mshOffset) = try timestampAndOffset(msh[7].component(1), unzoned: .facilityZone, segment: "MSH", sequence: 1, field: 7)
        let sender = messageTime.flatMap { time in mshOffset.map { HL7Timestamp.SenderClock(offset: $0, time: time) } }
        return try profiles.withProfile(forSendingApplication: header.applicationName) { (profile) throws(PCD01DecodeError) in
            try decodeRows(message, header: header, messageTime: messageTime, sender: sender, profile: profile)
        }
    }

    /// PID, PV1, OBR and OBX segments in order, with the header read.
    private func decodeRows(
        _ message: HL7BorrowedMessage, header: MessageHeader, messageTime: Timestamp?, sender: HL7Timestamp.SenderClock?, profile: borrowing DeviceProfile
    ) throws(PCD01DecodeError) -> DecodedMessage {
        var context = Context(header: header, messageTime: messageTime, sender: sender, application: message.segment(at: 0)[3])
        var observations: [Observation] = []
        observations.reserveCapacity(message.segmentCount)
        var skipped: [SkippedObservation] = []
        var conditions: [DeviceCondition] = []
        var obxSequence = 0
        var obrSequence = 0
        for index in 0..<message.segmentCount {
            let segment = message.segment(at: index)
            if segment.hasID("OBX") {
                obxSequence += 1
                try readRow(segment, sequence: obxSequence, profile: profile, context: &context,
                            into: &observations, skipped: &skipped, conditions: &conditions)
            } else if segment.hasID("PID") {
                // A new patient's group: nothing read for the one before carries over to its rows.
                context.startPatient(Self.patient(from: segment[3]))
            } else if segment.hasID("PV1") {
                context.row.location = Self.location(from: segment[3])
            } else if segment.hasID("MSH"), index > 0 {
                throw .moreThanOneMessage(segmentIndex: index)
            } else if segment.hasID("OBR") {
                obrSequence += 1
                context.orderTime = try timestamp(segment[7].component(1), unzoned: context.unzonedTimes(of: segment[7], facilityZone: facilityZone), segment: "OBR", sequence: obrSequence, field: 7)
            }
        }
        return DecodedMessage(header: header, observations: observations, skipped: skipped, conditions: conditions, profileID: profile.id)
    }

    // MARK: Context carried from segment to segment

    private struct Context {
        var header: MessageHeader
        var messageTime: Timestamp?
        /// MSH-7's UTC offset and time, when it has an offset: how times sent without one are read.
        let sender: HL7Timestamp.SenderClock?
        /// What `sender` says, worked out when a time without an offset first needs it.
        var unzonedRead: HL7Timestamp.UnzonedTimes?

        /// How `field` is read if it has no offset of its own (one that has needs nothing).
        mutating func unzonedTimes(of field: HL7BorrowedText, facilityZone: TimeZone) -> HL7Timestamp.UnzonedTimes {
            guard !HL7Timestamp.hasOffset(field.bytes) else { return .facilityZone }
            if let known = unzonedRead { return known }
            let read = sender?.unzonedTimes(facilityZone: facilityZone) ?? .facilityZone
            unzonedRead = read
            return read
        }
        /// MSH-3, for `reportingDevice`; points into the message, valid while it is borrowed.
        let application: HL7BorrowedText
        /// MSH-3's universal id (HD.2, the gateway's EUI-64 in PCD-01), else its namespace: the
        /// device of rows that name none in OBX-18. Read when a row first needs it.
        var reportingDevice: String {
            mutating get {
                if let known = reportingDeviceRead { return known }
                let universalID = application.component(2)
                let device = universalID.isEmpty ? header.applicationName : universalID.value
                reportingDeviceRead = device
                return device
            }
        }
        var reportingDeviceRead: String?
        var orderTime: Timestamp?
        /// The row being built: PID and PV1 set its patient and location, each OBX the rest, and
        /// the row is appended as a copy, so what rows share is never built twice.
        var row = Observation(
            time: Timestamp(microsecondsSinceEpoch: 0), patient: nil, deviceID: "", kind: .unknown,
            code: ObservationCode(code: "", system: ""), value: 0, unit: .unitless
        )
        /// Device ids seen per MDS (first part of OBX-4), inherited by the metric rows below them.
        var deviceByMDS = DevicesByMDS()
        var lastDevice: String?
        /// The MDS of the previous row and its device, so each row need not look its MDS up;
        /// nil when `deviceByMDS` changed since.
        var deviceMDS: UnsafeBufferPointer<UInt8>?
        var mdsDevice: String?
        /// The previous row's OBX-18 and the MDS it was recorded for, and its OBX-14 as sent and
        /// what it gave: rows of one report repeat them, so each is read once per MDS or message
        /// rather than once per row. Point into the message, valid while it is borrowed.
        var lastEquipmentBytes = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        var lastEquipmentMDS = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        var lastTimeBytes = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        var lastTime: Timestamp?

        /// A PID begins the next patient's results (PATIENT_RESULT group): their location, order
        /// time and devices are their own, read from the segments that follow.
        mutating func startPatient(_ patient: PatientIdentifier?) {
            row.patient = patient
            row.location = nil
            orderTime = nil
            deviceByMDS = DevicesByMDS()
            lastDevice = nil
            deviceMDS = nil
            mdsDevice = nil
            lastEquipmentBytes = UnsafeBufferPointer(start: nil, count: 0)
        }
    }

    /// A message names one MDS or a few, so a short list beats hashing; past `listLimit` of them
    /// (an unusual or hostile message, up to the frame limit) a dictionary keeps each row's lookup
    /// constant rather than a scan of the list.
    struct DevicesByMDS {
        static let listLimit = 8
        private var list: [(mds: String, device: String)] = []
        private var table: [String: String]?

        func device(for mds: String) -> String? {
            if let table { return table[mds] }
            return list.first(where: { $0.mds == mds })?.device
        }

        mutating func record(_ device: String, for mds: String) {
            if table != nil {
                table?[mds] = device
            } else if let known = list.firstIndex(where: { $0.mds == mds }) {
                list[known].device = device
            } else {
                list.append((mds, device))
                if list.count > Self.listLimit {
                    table = Dictionary(uniqueKeysWithValues: list.map { ($0.mds, $0.device) })
                    list = []
                }
            }
        }
    }

    // MARK: OBX

    /// One OBX row: its observation appended to `observations`, or the reason it carries none to
    /// `skipped` (and, for a value the device could not obtain, a condition to `conditions`), or
    /// nothing for a containment row.
    private func readRow(
        _ obx: HL7BorrowedSegment, sequence: Int, profile: DeviceProfile, context: inout Context,
        into observations: inout [Observation], skipped: inout [SkippedObservation], conditions: inout [DeviceCondition]
    ) throws(PCD01DecodeError) {
        let hierarchyBytes = obx[4].bytes
        let mdsBytes = hierarchyBytes.firstIndex(of: UInt8(ascii: ".")).map { UnsafeBufferPointer(rebasing: hierarchyBytes[..<$0]) } ?? hierarchyBytes
        let equipment = obx[18]
        if !equipment.isEmpty, !Self.same(equipment.bytes, context.lastEquipmentBytes) || !Self.same(mdsBytes, context.lastEquipmentMDS) {
            let id = equipment.component(1).isEmpty ? equipment.component(3).value : equipment.component(1).value
            context.lastEquipmentBytes = equipment.bytes
            context.lastEquipmentMDS = mdsBytes
            if !id.isEmpty {
                context.deviceByMDS.record(id, for: String(decoding: mdsBytes, as: UTF8.self))
                context.lastDevice = id
                context.deviceMDS = nil
            }
        }
        let valueType = obx[2].bytes
        let rawValue = obx[5]
        // MDS, VMD and channel rows describe containment and carry no value.
        if valueType.isEmpty && rawValue.isEmpty { return }

        func skip(_ field: Int, _ reason: String) {
            skipped.append(SkippedObservation(segmentSequence: sequence, field: field, reason: reason))
        }
        let statusBytes = obx[11].bytes
        let status: ObservationStatus
        if statusBytes.isEmpty {
            status = .final
        } else if statusBytes.count == 1, let parsed = ObservationStatus(rawValue: statusBytes[statusBytes.startIndex]) {
            status = parsed
        } else {
            return skip(11, "unknown result status '\(obx[11].value.prefix(8))'")
        }
        guard status.carriesValue else {
            if status == .cannotObtain, let condition = noValueCondition(obx, mdsBytes: mdsBytes, profile: profile, context: &context) {
                conditions.append(condition)
            }
            return skip(11, "result status \(status.code): no value to store")
        }

        let number: Double
        if obx[2].equals("NM") {
            guard let value = DecimalText.parse(rawValue.bytes) else {
                return skip(5, "NM value '\(rawValue.value.prefix(20))' is not a number")
            }
            number = value
        } else if obx[2].equals("SN") {
            let comparator = rawValue.component(1).value
            guard comparator.isEmpty || comparator == "=" else {
                return skip(5, "SN value with comparator '\(comparator)' is a bound, not a measurement")
            }
            guard rawValue.component(3).isEmpty, let value = DecimalText.parse(rawValue.component(2).bytes) else {
                return skip(5, "SN value is not a single number")
            }
            number = value
        } else {
            return skip(2, "value type '\(obx[2].value.prefix(4))' is not numeric")
        }

        let (code, resolution) = Self.resolveCode(obx[3].codedElement, profile: profile)
        guard !code.code.isEmpty || !code.text.isEmpty else {
            throw .requiredFieldMissing(segment: "OBX", sequence: sequence, field: 3, what: "observation identifier")
        }
        var kind = resolution.kind

        let unitField = obx[6]
        let sentUnit: UCUMUnit?
        if let dimension = Self.decimal(unitField.component(1).bytes), let unit = profile.unit(mdcCode: dimension) {
            sentUnit = unit
        } else {
            sentUnit = Self.otherUnit(unitField, profile: profile, default: resolution.defaultUnit)
        }
        var unit = sentUnit ?? kind.canonicalUnit
        var value = number
        if kind != .unknown, unit != kind.canonicalUnit {
            if let converted = UnitConversion.toCanonical(number, from: unit, of: kind) {
                value = converted
                unit = kind.canonicalUnit
            } else {
                // Keep the value as sent rather than lose it; it is no longer a known vital.
                kind = .unknown
            }
        }

        // A value near Double's limit can overflow in the conversion.
        guard value.isFinite else { return skip(5, "value out of range after conversion to \(unit.ucum)") }
        guard kind == .unknown || kind.plausibleBounds.contains(value) else {
            return skip(5, "\(value) \(unit.ucum) is not a plausible \(kind.name) (a device's no-value marker?)")
        }

        let time: Timestamp
        do {
            time = try rowTime(obx[14], sequence: sequence, context: &context)
        } catch {
            // One row's unreadable time costs that row, not the message's other rows.
            guard case let .invalidValue(_, _, _, value, reason) = error else { throw error }
            return skip(14, "OBX-14 '\(value.prefix(26))' is not a usable time (\(reason))")
        }
        let device = try rowDevice(mdsBytes: mdsBytes, sequence: sequence, context: &context)
        context.row.time = time
        context.row.deviceID = device
        context.row.kind = kind
        context.row.code = code
        context.row.value = value
        context.row.unit = unit
        context.row.hierarchy = hierarchyBytes.isEmpty ? nil : obx[4].value
        context.row.status = status
        observations.append(context.row)
    }

    /// OBX-14, else OBR-7, else MSH-7.
    private func rowTime(_ timeField: HL7BorrowedText, sequence: Int, context: inout Context) throws(PCD01DecodeError) -> Timestamp {
        // The whole field is compared, so that a row repeating its predecessor's is not scanned.
        if !Self.same(timeField.bytes, context.lastTimeBytes) {
            context.lastTime = try timestamp(timeField.component(1), unzoned: context.unzonedTimes(of: timeField, facilityZone: facilityZone), segment: "OBX", sequence: sequence, field: 14)
            context.lastTimeBytes = timeField.bytes
        }
        guard let time = context.lastTime ?? context.orderTime ?? context.messageTime else {
            throw .requiredFieldMissing(segment: "OBX", sequence: sequence, field: 14, what: "observation time (also absent from OBR-7 and MSH-7)")
        }
        return time
    }

    /// The device of the row's MDS, else the last one named, else MSH-3's (`reportingDevice`).
    private func rowDevice(mdsBytes: UnsafeBufferPointer<UInt8>, sequence: Int, context: inout Context) throws(PCD01DecodeError) -> String {
        // Rows of one MDS follow each other: ask the table only when the MDS changes.
        if context.deviceMDS.map({ !Self.same($0, mdsBytes) }) ?? true {
            context.deviceMDS = mdsBytes
            context.mdsDevice = context.deviceByMDS.device(for: String(decoding: mdsBytes, as: UTF8.self))
        }
        let device = context.mdsDevice ?? context.lastDevice ?? context.reportingDevice
        guard !device.isEmpty else {
            throw .requiredFieldMissing(segment: "OBX", sequence: sequence, field: 18, what: "equipment instance identifier (and MSH-3 is empty)")
        }
        return device
    }

    /// An OBX-11 `X` row (the device could not obtain the value) as the device condition the alert
    /// rules raise a technical alarm from; nil when its code names no known vital or its time or
    /// device cannot be read (the row is skipped either way, and a broken field of a row without a
    /// value does not refuse the message).
    @inline(never)
    private func noValueCondition(
        _ obx: HL7BorrowedSegment, mdsBytes: UnsafeBufferPointer<UInt8>, profile: DeviceProfile, context: inout Context
    ) -> DeviceCondition? {
        let kind = Self.resolveCode(obx[3].codedElement, profile: profile).1.kind
        guard kind != .unknown, let time = try? rowTime(obx[14], sequence: 0, context: &context),
              let device = try? rowDevice(mdsBytes: mdsBytes, sequence: 0, context: &context)
        else { return nil }
        return DeviceCondition(time: time, deviceID: device, patient: context.row.patient, location: context.row.location, kind: kind, status: .noValue)
    }

    // MARK: Codes and units

    /// OBX-3: the common PCD-01 row, a numeric MDC code the tables know, with no Strings to hash
    /// or build; anything else through `resolveOtherCode`.
    private static func resolveCode(_ identifier: HL7BorrowedText.CodedElement, profile: DeviceProfile) -> (ObservationCode, CodeResolution) {
        if let mdc = decimal(identifier.identifier.bytes), identifier.codingSystem.equals("MDC"), let known = profile.known(mdcCode: mdc) {
            return (ObservationCode(code: known.code, text: "", system: mdcSystem), known.resolution)
        }
        return resolveOtherCode(identifier, profile: profile)
    }

    // Out of line: written inside `readRow`, the benchmark's mix measured 9 % slower although its
    // numeric MDC rows never take them. In two steps: the bytes looked up in the profile's tables,
    // and only when they are not there (escapes, a system spelled otherwise, an unknown code) the
    // Strings.

    /// OBX-3 when it is not a numeric MDC code: a vendor, LOINC or textual code.
    @inline(never)
    private static func resolveOtherCode(_ identifier: HL7BorrowedText.CodedElement, profile: DeviceProfile) -> (ObservationCode, CodeResolution) {
        if let system = identifier.codingSystem.plainASCII, let number = identifier.identifier.plainASCII,
           let known = profile.known(system: system, code: number), known.resolution.kind != .unknown {
            return (ObservationCode(code: known.code, text: "", system: known.system), known.resolution)
        }
        var code = ObservationCode(code: identifier.identifier.value, text: "", system: identifier.codingSystem.value)
        var resolution = profile.resolve(code)
        if resolution.kind == .unknown || code.code.isEmpty {
            // The text (often a long `MDC_...` id) is read only when the code alone says nothing.
            code.text = identifier.text.value
            resolution = profile.resolve(code)
        }
        return (code, resolution)
    }

    /// OBX-6 when it is not a numeric MDC dimension: UCUM, a vendor code or alias, or text in
    /// CE.2; `default` (the code's) only when OBX-6 names no unit at all. A unit sent that no
    /// table knows is kept as sent, so the row is stored as it came rather than in the vital's
    /// own unit (`^°X` read as Cel would store 98.6 °F as a fever of 98.6 °C).
    @inline(never)
    private static func otherUnit(_ field: HL7BorrowedText, profile: DeviceProfile, default defaultUnit: UCUMUnit?) -> UCUMUnit? {
        if let bytes = field.component(1).plainASCII, let unit = profile.unit(forCodeBytes: bytes) { return unit }
        let unitCode = field.component(1).value
        let unitText = field.component(2).value
        if let unit = profile.unit(forCode: unitCode) ?? (unitText.isEmpty ? nil : profile.unit(forCode: unitText)) { return unit }
        if unitCode.isEmpty && unitText.isEmpty { return defaultUnit }
        return UCUMUnit(ucum: unitCode.isEmpty ? unitText : unitCode)
    }

    // MARK: Fields

    private static let mdcSystem = "MDC"

    /// A code made only of ASCII digits (at most 9), as an integer; nil for anything else.
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        // No leading zero: `0150456` is another code than `150456`, for the String path to judge.
        guard !bytes.isEmpty, bytes.count <= 9, bytes.count == 1 || bytes[0] != UInt8(ascii: "0") else { return nil }
        var value = 0
        for byte in bytes {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Whether two byte ranges hold the same bytes.
    private static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    /// The first component of a TS/DTM field (HL7 2.5 and earlier may add a precision component).
    private func timestamp(
        _ field: HL7BorrowedText, unzoned: HL7Timestamp.UnzonedTimes, segment: String, sequence: Int, field number: Int
    ) throws(PCD01DecodeError) -> Timestamp? {
        try timestampAndOffset(field, unzoned: unzoned, segment: segment, sequence: sequence, field: number).time
    }

    /// The time and the offset it was sent with (nil without one).
    private func timestampAndOffset(
        _ field: HL7BorrowedText, unzoned: HL7Timestamp.UnzonedTimes, segment: String, sequence: Int, field number: Int
    ) throws(PCD01DecodeError) -> (time: Timestamp?, offset: Int?) {
        guard !field.isEmpty else { return (nil, nil) }
        do {
            let (time, offset) = try HL7Timestamp.parse(field.bytes, facilityZone: facilityZone, unzoned: unzoned)
            return (time, offset)
        } catch {
            let reason = error == .outOfRange ? "date or time out of range" : "not an HL7 timestamp YYYYMMDDHHMMSS[.S to .SSSSSS][+/-ZZZZ]"
            throw .invalidValue(segment: segment, sequence: sequence, field: number, value: field.value, reason: reason)
        }
    }

    /// PID-3: the first identifier with its assigning authority (CX.4, namespace or universal id).
    static func patient(from field: HL7BorrowedText) -> PatientIdentifier? {
        let first = field.repetition(0)
        let id = first.component(1).value
        guard !id.isEmpty else { return nil }
        let authority = first.component(4)
        let namespace = authority.subcomponent(1).value
        return PatientIdentifier(id: id, assigningAuthority: namespace.isEmpty ? authority.subcomponent(2).value : namespace)
    }

    /// PV1-3 (PL): point of care, room and bed, as `ICU^12^B`.
    static func location(from field: HL7BorrowedText) -> String? {
        var location = field.component(1).value
        let room = field.component(2), bed = field.component(3)
        if !room.isEmpty || !bed.isEmpty { location += "^" + room.value }
        if !bed.isEmpty { location += "^" + bed.value }
        return location.isEmpty ? nil : location
    }
}
