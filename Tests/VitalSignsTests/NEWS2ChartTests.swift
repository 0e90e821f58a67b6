import Testing
import VitalSigns

/// Both sides of every boundary of NEWS2 chart 1 (Royal College of Physicians, National Early
/// Warning Score (NEWS) 2, 2017).
@Suite struct NEWS2ChartTests {
    @Test(arguments: zip([8.0, 9, 11, 12, 20, 21, 24, 25], [3, 1, 1, 0, 0, 2, 2, 3]))
    func respirationRate(_ value: Double, _ score: Int) {
        #expect(NEWS2.respirationRateScore(value) == score)
    }

    @Test(arguments: zip([91.0, 92, 93, 94, 95, 96], [3, 2, 2, 1, 1, 0]))
    func spo2Scale1(_ value: Double, _ score: Int) {
        #expect(NEWS2.spo2Score(value, scale: .scale1, onOxygen: false) == score)
        // Scale 1 scores saturation the same on air and on oxygen; oxygen scores separately.
        #expect(NEWS2.spo2Score(value, scale: .scale1, onOxygen: true) == score)
    }

    @Test(arguments: zip([83.0, 84, 85, 86, 87, 88, 92, 93, 94, 95, 96, 97], [3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0]))
    func spo2Scale2OnAir(_ value: Double, _ score: Int) {
        #expect(NEWS2.spo2Score(value, scale: .scale2, onOxygen: false) == score)
    }

    @Test(arguments: zip([83.0, 84, 85, 86, 87, 88, 92, 93, 94, 95, 96, 97, 100], [3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3]))
    func spo2Scale2OnOxygen(_ value: Double, _ score: Int) {
        #expect(NEWS2.spo2Score(value, scale: .scale2, onOxygen: true) == score)
    }

    @Test func scale2WithOxygenUnknownIsScoredAsAir() {
        #expect(NEWS2.spo2Score(97, scale: .scale2, onOxygen: nil) == 0)
        #expect(NEWS2.spo2Score(85, scale: .scale2, onOxygen: nil) == 2)
    }

    @Test func airOrOxygen() {
        #expect(NEWS2.airOrOxygenScore(onOxygen: true) == 2)
        #expect(NEWS2.airOrOxygenScore(onOxygen: false) == 0)
    }

    @Test(arguments: zip([90.0, 91, 100, 101, 110, 111, 219, 220], [3, 2, 2, 1, 1, 0, 0, 3]))
    func systolicPressure(_ value: Double, _ score: Int) {
        #expect(NEWS2.systolicScore(value) == score)
    }

    @Test(arguments: zip([40.0, 41, 50, 51, 90, 91, 110, 111, 130, 131], [3, 1, 1, 0, 0, 1, 1, 2, 2, 3]))
    func pulse(_ value: Double, _ score: Int) {
        #expect(NEWS2.pulseScore(value) == score)
    }

    @Test(arguments: zip(Consciousness.allCases, [0, 3, 3, 3, 3]))
    func consciousness(_ level: Consciousness, _ score: Int) {
        #expect(NEWS2.consciousnessScore(level) == score)
    }

    @Test(arguments: zip([35.0, 35.1, 36.0, 36.1, 38.0, 38.1, 39.0, 39.1], [3, 1, 1, 0, 0, 1, 1, 2]))
    func temperature(_ value: Double, _ score: Int) {
        #expect(NEWS2.temperatureScore(value) == score)
    }

    @Test func valuesAreRoundedToTheChartsResolution() {
        #expect(NEWS2.respirationRateScore(20.4) == 0)
        #expect(NEWS2.respirationRateScore(20.6) == 2)
        #expect(NEWS2.temperatureScore(38.04) == 0)
        #expect(NEWS2.temperatureScore(38.06) == 1)
        #expect(NEWS2.pulseScore(.infinity) == 3)
        #expect(NEWS2.systolicScore(-.infinity) == 3)
    }

    @Test func responseBands() {
        let four = NEWS2Score(respirationRate: 2, spo2: 2)
        #expect(four.total == 4 && four.response == .low && four.severity == .normal)
        let singleThree = NEWS2Score(respirationRate: 0, consciousness: 3)
        #expect(singleThree.hasSingleParameterThree && singleThree.response == .lowMedium && singleThree.severity == .warning)
        let five = NEWS2Score(spo2: 1, systolic: 2, pulse: 2)
        #expect(five.total == 5 && five.response == .medium && five.severity == .warning)
        let six = NEWS2Score(spo2: 2, airOrOxygen: 2, pulse: 2)
        #expect(six.total == 6 && six.response == .medium)
        let seven = NEWS2Score(respirationRate: 3, spo2: 2, temperature: 2)
        #expect(seven.total == 7 && seven.response == .high && seven.severity == .critical)
        #expect(!seven.isComplete)
        let complete = NEWS2Score(respirationRate: 0, spo2: 0, airOrOxygen: 0, systolic: 0, pulse: 0, consciousness: 0, temperature: 0)
        #expect(complete.isComplete && complete.total == 0 && complete.response == .low)
    }
}
