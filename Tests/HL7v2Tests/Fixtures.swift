import HL7v2

/// Joins segments with a terminator (CR by default, as HL7 requires), ending the last one too.
func hl7(_ segments: [String], terminator: String = "\r") -> [UInt8] {
    Array(segments.map { $0 + terminator }.joined().utf8)
}

func parse(_ segments: [String], terminator: String = "\r") throws(HL7ParseError) -> HL7Message {
    try HL7Message(parsing: hl7(segments, terminator: terminator))
}

/// The parse error for `bytes`, or nil when they parse.
func parseError(_ bytes: [UInt8], defaultCharset: HL7Charset = .utf8) -> HL7ParseError? {
    do {
        _ = try HL7Message(parsing: bytes, defaultCharset: defaultCharset)
        return nil
    } catch {
        return error
    }
}

/// Byte offset of the first occurrence of `needle` in the message text.
func offset(of needle: String, in segments: [String], terminator: String = "\r") -> Int? {
    let haystack = hl7(segments, terminator: terminator)
    let pattern = Array(needle.utf8)
    guard haystack.count >= pattern.count else { return nil }
    return (0...(haystack.count - pattern.count)).first { Array(haystack[$0..<($0 + pattern.count)]) == pattern }
}

enum Fixtures {
    /// The ADT^A01 example of HL7 v2.x chapter 2 (control message structure), with its trailing delimiters.
    static let adtA01 = [
        #"MSH|^~\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB, INC.|GOOD HEALTH HOSPITAL|198808181126|SECURITY|ADT^A01^ADT_A01|MSG00001|P|2.8||"#,
        #"EVN|A01|200708181123||"#,
        #"PID|1||PATID1234^^^GOOD HEALTH HOSPITAL^MR^GOOD HEALTH HOSPITAL~123456789^^^USSSA^SS||EVERYMAN^ADAM^A^III||19610615|M||C|2222 HOME STREET^^GREENSBORO^NC^27401-1020|GL|(555) 555-2004|(555)555-2004||S||PATID12345001^2^M10^ADT1^AN^A|444333333|987654^NC|"#,
        #"NK1|1|NUCLEAR^NELDA^W|SPO^SPOUSE||||NK^NEXT OF KIN"#,
        #"PV1|1|I|2000^2012^01||||004777^ATTEND^AARON^A|||SUR||||ADM|A0|"#,
    ]

    /// The ORU^R01 glucose example of HL7 v2.x chapter 7 (observation reporting).
    static let oruR01Lab = [
        #"MSH|^~\&|GHH LAB|ELAB-3|GHH OE|BLDG4|200202150930||ORU^R01|CNTRL-3456|P|2.4"#,
        #"PID|||555-44-4444||EVERYWOMAN^EVE^E^^^^L|JONES|19620320|F|||153 FERNWOOD DR.^^STATESVILLE^OH^35292||(206)3345232|(206)752-121||||AC555444444||67-A4335^OH^20030520"#,
        #"OBR|1|845439^GHH OE|1045813^GHH LAB|15545^GLUCOSE|||200202150730|||||||||555-55-5555^PRIMARY^PATRICIA P^^^^MD^^|||||||||F||||||444-44-4444^HIPPOCRATES^HOWARD H^^^^MD"#,
        #"OBX|1|SN|1554-5^GLUCOSE^POST 12H CFST:MCNC:PT:SER/PLAS:QN||^182|mg/dl|70_105|H|||F"#,
    ]

    /// An IHE PCD-01 (DEC profile) device observation report from a non-invasive blood pressure
    /// monitor, shaped like the examples of PCD TF-2: MDC codes in OBX-3 and OBX-6, the MDS/VMD/
    /// channel containment tree in OBX-4, the device's EUI-64 in OBX-18.
    static let pcd01BloodPressure = [
        #"MSH|^~\&|AcmeInc^ACDE48234567ABCD^EUI-64||||20090713090030+0000||ORU^R01^ORU_R01|MSGID1234|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"#,
        #"PID|||789567^^^Imaginary Hospital^PI||Doe^John^Joseph^^^^L^A|||M"#,
        #"PV1||I|ICU^2^23"#,
        #"OBR|1|AB12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|CD12345^AcmeAHDInc^ACDE48234567ABCD^EUI-64|528391^MDC_DEV_SPEC_PROFILE_BPM^MDC|||20090813095715+0000"#,
        #"OBX|1||528391^MDC_DEV_SPEC_PROFILE_BPM^MDC|1.0.0.0|||||||X|||||||ACDE48234567ABCD^^ACDE48234567ABCD^EUI-64"#,
        #"OBX|2|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|120|266016^MDC_DIM_MMHG^MDC|||||R|||20090813095715+0000"#,
        #"OBX|3|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.1.1.2|80|266016^MDC_DIM_MMHG^MDC|||||R|||20090813095715+0000"#,
        #"OBX|4|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.1.1.3|93|266016^MDC_DIM_MMHG^MDC|||||R|||20090813095715+0000"#,
        #"OBX|5|NM|149546^MDC_PULS_RATE_NON_INV^MDC|1.1.1.4|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||20090813095715+0000"#,
    ]

    /// A bedside monitor's periodic PCD-01 report as this engine receives it: SpO2, heart rate,
    /// respiration and temperature, with the observation time in OBX-14 and the device in OBX-18.
    static let pcd01Monitor = [
        #"MSH|^~\&|NILECARE_MON^0123456789ABCDEF^EUI-64|ICU_WARD_3|NILECARE_VITALS|NILECARE|20261129101500+0200||ORU^R01^ORU_R01|MON-000042|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"#,
        #"PID|||12345^^^HOSP^MR||Okello^Amina^^^^^L|||F"#,
        #"PV1||I|ICU^3^12"#,
        #"OBR|1|MON-000042^NILECARE_MON^0123456789ABCDEF^EUI-64|MON-000042^NILECARE_MON^0123456789ABCDEF^EUI-64|182777000^monitoring of patient^SCT|||20261129101500+0200"#,
        #"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||0123456789ABCDEF^^0123456789ABCDEF^EUI-64"#,
        #"OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.3|98|262688^MDC_DIM_PERCENT^MDC|||||R|||20261129101500+0200||||0123456789ABCDEF^^0123456789ABCDEF^EUI-64"#,
        #"OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||20261129101500+0200||||0123456789ABCDEF^^0123456789ABCDEF^EUI-64"#,
        #"OBX|4|NM|151562^MDC_RESP_RATE^MDC|1.3.1.1|16|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R|||20261129101500+0200||||0123456789ABCDEF^^0123456789ABCDEF^EUI-64"#,
        #"OBX|5|NM|150344^MDC_TEMP^MDC|1.4.1.1|36.8|268192^MDC_DIM_DEGC^MDC|||||R|||20261129101500+0200||||0123456789ABCDEF^^0123456789ABCDEF^EUI-64"#,
    ]
}

/// Encodes each character as the byte of the same value (characters up to U+00FF only): how a
/// sender writes 8859/1, or any byte sequence for error tests.
func latin1(_ segments: [String], terminator: String = "\r") -> [UInt8] {
    segments.map { $0 + terminator }.joined().unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
}
