/// The latest NEWS2 inputs of one subject, each with its times so stale ones are left out.
///
/// A reading ages on the ticks' clock, from when it was heard, since a subject's readings come
/// from devices whose clocks differ: aged on its own clock, every reading of a monitor set an
/// hour behind (a wrong time zone) was stale on arrival, and the patient was never scored.
struct NEWS2Readings: Sendable {
    struct Reading<Value: Sendable>: Sendable {
        var value: Value
        /// On the clock of the device, or of the clinician's assessment.
        var time: Timestamp
        /// On the ticks' clock: what its age counts from.
        var heardAt: Timestamp
        /// The device that measured it; nil for an assessment.
        var deviceID: String?
    }

    var respirationRate: Reading<Double>?
    var spo2: Reading<Double>?
    var systolic: Reading<Double>?
    var pulse: Reading<Double>?
    var temperature: Reading<Double>?
    var consciousness: Reading<Consciousness>?
    var supplementalOxygen: Reading<Bool>?

    /// The population of the latest observation: NEWS2 scores adults only.
    var population: Population?
    /// Where the latest reading came from, for the alert.
    var deviceID: String?
    var location: String?

    /// The NEWS2 parameter a vital kind feeds; pulse and systolic take either source.
    static func parameter(for kind: VitalKind) -> WritableKeyPath<NEWS2Readings, Reading<Double>?>? {
        switch kind {
        case .respirationRate: \.respirationRate
        case .spo2: \.spo2
        case .nibpSystolic, .arterialSystolic: \.systolic
        case .heartRate, .pulseRate: \.pulse
        case .temperature: \.temperature
        default: nil
        }
    }

    /// Keeps the newer of two readings of one parameter: of one source's, by its clock (a resent
    /// older reading does not replace a newer one); of two devices', whose clocks may differ, the
    /// one heard last.
    static func newer<Value>(_ current: Reading<Value>?, _ candidate: Reading<Value>) -> Reading<Value> {
        guard let current else { return candidate }
        let isNewer = current.deviceID == candidate.deviceID ? candidate.time >= current.time : candidate.heardAt >= current.heardAt
        return isNewer ? candidate : current
    }

    mutating func record(_ kind: VitalKind, value: Double, at time: Timestamp, heardAt: Timestamp, from deviceID: String) {
        guard let parameter = Self.parameter(for: kind) else { return }
        self[keyPath: parameter] = Self.newer(self[keyPath: parameter], Reading(value: value, time: time, heardAt: heardAt, deviceID: deviceID))
    }

    /// An assessment's time is on this engine's clock (the clinician's entry).
    mutating func record(_ assessment: ClinicalAssessment) {
        if let level = assessment.consciousness {
            consciousness = Self.newer(consciousness, Reading(value: level, time: assessment.time, heardAt: assessment.time))
        }
        if let oxygen = assessment.supplementalOxygen {
            supplementalOxygen = Self.newer(supplementalOxygen, Reading(value: oxygen, time: assessment.time, heardAt: assessment.time))
        }
    }

    /// Takes in `other`'s readings (the same patient's, measured while their device named no
    /// one), keeping the newer of each parameter.
    mutating func merge(_ other: NEWS2Readings) {
        func take<Value>(_ parameter: WritableKeyPath<NEWS2Readings, Reading<Value>?>) {
            if let reading = other[keyPath: parameter] { self[keyPath: parameter] = Self.newer(self[keyPath: parameter], reading) }
        }
        take(\.respirationRate)
        take(\.spo2)
        take(\.systolic)
        take(\.pulse)
        take(\.temperature)
        take(\.consciousness)
        take(\.supplementalOxygen)
        population = population ?? other.population
        deviceID = deviceID ?? other.deviceID
        location = location ?? other.location
    }

    var isEmpty: Bool {
        respirationRate == nil && spo2 == nil && systolic == nil && pulse == nil && temperature == nil
            && consciousness == nil && supplementalOxygen == nil
    }

    /// Forgets readings too old to use at `now`; true when any was forgotten.
    mutating func dropStale(at now: Timestamp, rule: NEWS2Rule) -> Bool {
        let before = count
        func fresh<Value>(_ reading: Reading<Value>?, _ age: Duration) -> Reading<Value>? {
            reading.flatMap { now.duration(since: $0.heardAt) <= age ? $0 : nil }
        }
        respirationRate = fresh(respirationRate, rule.maxReadingAge)
        spo2 = fresh(spo2, rule.maxReadingAge)
        systolic = fresh(systolic, rule.maxReadingAge)
        pulse = fresh(pulse, rule.maxReadingAge)
        temperature = fresh(temperature, rule.maxReadingAge)
        consciousness = fresh(consciousness, rule.maxAssessmentAge)
        supplementalOxygen = fresh(supplementalOxygen, rule.maxAssessmentAge)
        return count != before
    }

    private var count: Int {
        [respirationRate != nil, spo2 != nil, systolic != nil, pulse != nil, temperature != nil,
         consciousness != nil, supplementalOxygen != nil].filter { $0 }.count
    }

    /// The score from the readings fresh at `now`.
    func score(at now: Timestamp, rule: NEWS2Rule, scale: SpO2Scale) -> NEWS2Score {
        var readings = self
        _ = readings.dropStale(at: now, rule: rule)
        let oxygen = readings.supplementalOxygen?.value
        return NEWS2Score(
            respirationRate: readings.respirationRate.map { NEWS2.respirationRateScore($0.value) },
            spo2: readings.spo2.map { NEWS2.spo2Score($0.value, scale: scale, onOxygen: oxygen) },
            airOrOxygen: oxygen.map(NEWS2.airOrOxygenScore(onOxygen:)),
            systolic: readings.systolic.map { NEWS2.systolicScore($0.value) },
            pulse: readings.pulse.map { NEWS2.pulseScore($0.value) },
            consciousness: readings.consciousness.map { NEWS2.consciousnessScore($0.value) },
            temperature: readings.temperature.map { NEWS2.temperatureScore($0.value) }
        )
    }
}
