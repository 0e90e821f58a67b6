/// Standard code tables: IEEE 11073-10101 (MDC) and LOINC codes for vital signs, and MDC / UCUM
/// unit codes. Device profiles add vendor codes and override these.
public enum CodeTables {
    /// IEEE 11073-10101 metric codes (partition 2, SCADA), as the decimal "context-free" code.
    public static let mdc: [String: VitalKind] = [
        "147842": .heartRate,          // MDC_ECG_HEART_RATE
        "149514": .pulseRate,          // MDC_PULS_RATE
        "149530": .pulseRate,          // MDC_PULS_OXIM_PULS_RATE
        "150456": .spo2,               // MDC_PULS_OXIM_SAT_O2
        "150448": .perfusionIndex,     // MDC_PULS_OXIM_PERF_REL
        "151562": .respirationRate,    // MDC_RESP_RATE
        "151578": .respirationRate,    // MDC_TTHOR_RESP_RATE (impedance)
        "151570": .respirationRate,    // MDC_AWAY_RESP_RATE (airway)
        "151594": .respirationRate,    // MDC_CO2_RESP_RATE (capnography)
        "150021": .nibpSystolic,       // MDC_PRESS_BLD_NONINV_SYS
        "150022": .nibpDiastolic,      // MDC_PRESS_BLD_NONINV_DIA
        "150023": .nibpMean,           // MDC_PRESS_BLD_NONINV_MEAN
        "150033": .arterialSystolic,   // MDC_PRESS_BLD_ART_SYS
        "150034": .arterialDiastolic,  // MDC_PRESS_BLD_ART_DIA
        "150035": .arterialMean,       // MDC_PRESS_BLD_ART_MEAN
        "150037": .arterialSystolic,   // MDC_PRESS_BLD_ART_ABP_SYS
        "150038": .arterialDiastolic,  // MDC_PRESS_BLD_ART_ABP_DIA
        "150039": .arterialMean,       // MDC_PRESS_BLD_ART_ABP_MEAN
        "150344": .temperature,        // MDC_TEMP
        "150364": .temperature,        // MDC_TEMP_BODY
        "151708": .etco2,              // MDC_AWAY_CO2_ET
    ]

    /// The reference ids (`MDC_...`) that often stand in OBX-3.2, for senders that put no number in OBX-3.1.
    public static let mdcReferenceIDs: [String: VitalKind] = [
        "MDC_ECG_HEART_RATE": .heartRate,
        "MDC_PULS_RATE": .pulseRate,
        "MDC_PULS_OXIM_PULS_RATE": .pulseRate,
        "MDC_PULS_OXIM_SAT_O2": .spo2,
        "MDC_PULS_OXIM_PERF_REL": .perfusionIndex,
        "MDC_RESP_RATE": .respirationRate,
        "MDC_TTHOR_RESP_RATE": .respirationRate,
        "MDC_AWAY_RESP_RATE": .respirationRate,
        "MDC_CO2_RESP_RATE": .respirationRate,
        "MDC_PRESS_BLD_NONINV_SYS": .nibpSystolic,
        "MDC_PRESS_BLD_NONINV_DIA": .nibpDiastolic,
        "MDC_PRESS_BLD_NONINV_MEAN": .nibpMean,
        "MDC_PRESS_BLD_ART_SYS": .arterialSystolic,
        "MDC_PRESS_BLD_ART_DIA": .arterialDiastolic,
        "MDC_PRESS_BLD_ART_MEAN": .arterialMean,
        "MDC_PRESS_BLD_ART_ABP_SYS": .arterialSystolic,
        "MDC_PRESS_BLD_ART_ABP_DIA": .arterialDiastolic,
        "MDC_PRESS_BLD_ART_ABP_MEAN": .arterialMean,
        "MDC_TEMP": .temperature,
        "MDC_TEMP_BODY": .temperature,
        "MDC_AWAY_CO2_ET": .etco2,
    ]

    /// LOINC codes of the FHIR vital-signs profile and their invasive-pressure siblings.
    public static let loinc: [String: VitalKind] = [
        "8867-4": .heartRate,
        "8889-8": .pulseRate,
        "59408-5": .spo2,
        "2708-6": .spo2,
        "9279-1": .respirationRate,
        "8480-6": .nibpSystolic,
        "8462-4": .nibpDiastolic,
        "8478-0": .nibpMean,
        "76215-3": .arterialSystolic,
        "76213-8": .arterialDiastolic,
        "76214-6": .arterialMean,
        "8310-5": .temperature,
        "19891-1": .etco2,
    ]

    /// Units as devices send them in OBX-6: MDC dimension codes (numeric and reference id),
    /// UCUM, and the common non-UCUM spellings.
    public static let units: [String: UCUMUnit] = [
        "262688": .percent, "MDC_DIM_PERCENT": .percent, "%": .percent,
        "264864": .beatsPerMinute, "MDC_DIM_BEAT_PER_MIN": .beatsPerMinute,
        "264928": .breathsPerMinute, "MDC_DIM_RESP_PER_MIN": .breathsPerMinute,
        "/min": .beatsPerMinute, "{beats}/min": .beatsPerMinute, "{beat}/min": .beatsPerMinute,
        "{breaths}/min": .breathsPerMinute, "{breath}/min": .breathsPerMinute, "bpm": .beatsPerMinute,
        "1/min": .beatsPerMinute, "beats/min": .beatsPerMinute,
        "rpm": .breathsPerMinute, "breaths/min": .breathsPerMinute, "br/min": .breathsPerMinute,
        "266016": .millimetreOfMercury, "MDC_DIM_MMHG": .millimetreOfMercury,
        "mm[Hg]": .millimetreOfMercury, "mmHg": .millimetreOfMercury, "mm Hg": .millimetreOfMercury,
        "265987": .kilopascal, "MDC_DIM_KILO_PASCAL": .kilopascal, "kPa": .kilopascal,
        "268192": .degreeCelsius, "MDC_DIM_DEGC": .degreeCelsius, "Cel": .degreeCelsius, "degC": .degreeCelsius, "°C": .degreeCelsius,
        "266560": .degreeFahrenheit, "MDC_DIM_FAHR": .degreeFahrenheit, "[degF]": .degreeFahrenheit, "degF": .degreeFahrenheit,
        "°F": .degreeFahrenheit,
        "262656": .unitless, "MDC_DIM_DIMLESS": .unitless, "1": .unitless,
    ]

    /// Philips MDIL codes are `PPPP-HHHH`: the MDC partition and the term code in hex
    /// (`0002-4182` is partition 2, code 0x4182 = MDC 147842, heart rate).
    public static func mdcCode(fromMDIL code: String) -> String? {
        let parts = code.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 4,
              let partition = Int(parts[0], radix: 10), let term = Int(parts[1], radix: 16)
        else { return nil }
        return String(partition << 16 + term)
    }
}
