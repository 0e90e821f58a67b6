import Foundation
import Testing
import VitalSigns

@Suite struct ThresholdBandTests {
    let heartRate = ThresholdBand(criticalLow: 40, warningLow: 50, warningHigh: 110, criticalHigh: 130)

    @Test func classifiesBothSidesOfEveryBound() {
        let expected: [(Double, Severity)] = [
            (39.9, .critical), (40, .warning), (49.9, .warning), (50, .normal),
            (110, .normal), (110.1, .warning), (130, .warning), (130.1, .critical),
        ]
        for (value, severity) in expected {
            #expect(heartRate.classify(value) == severity, "heart rate \(value)")
        }
        #expect(heartRate.isCritical(130.1) && !heartRate.isCritical(130))
    }

    @Test func boundsAreOptional() {
        let spo2 = ThresholdBand(criticalLow: 90, warningLow: 94)
        #expect([89.9, 90, 93.9, 94, 100].map(spo2.classify) == [.critical, .warning, .warning, .normal, .normal])
        let warningOnly = ThresholdBand(warningHigh: 38)
        #expect([-50, 38, 38.1, 99].map(warningOnly.classify) == [.normal, .normal, .warning, .warning])
    }

    @Test func clearingNeedsTheMarginInsideTheNormalRange() {
        #expect(!heartRate.isInside(54.9, byMargin: 5))
        #expect(heartRate.isInside(55, byMargin: 5))
        #expect(heartRate.isInside(105, byMargin: 5))
        #expect(!heartRate.isInside(105.1, byMargin: 5))
        // A range of 2 allows a margin of at most 0.5, so the middle still clears.
        let narrow = ThresholdBand(warningLow: 10, warningHigh: 12)
        #expect(!narrow.isInside(10.4, byMargin: 5))
        #expect(narrow.isInside(11, byMargin: 5))
        #expect(!narrow.isInside(11.6, byMargin: 5))
        // Without warning bounds the critical ones delimit the normal range.
        #expect(!ThresholdBand(criticalLow: 90).isInside(91, byMargin: 2))
        #expect(ThresholdBand(criticalLow: 90).isInside(92, byMargin: 2))
    }

    @Test func problemsNameTheKeysOutOfOrder() {
        #expect(heartRate.problems.isEmpty)
        #expect(ThresholdBand(criticalLow: 50, warningLow: 40).problems == ["critical_low (50.0) must be below warning_low (40.0)"])
        #expect(ThresholdBand(warningLow: 50, criticalHigh: 50).problems == ["warning_low (50.0) must be below critical_high (50.0)"])
        #expect(ThresholdBand(criticalLow: 40, warningHigh: 130, criticalHigh: 120).problems == ["warning_high (130.0) must be below critical_high (120.0)"])
        #expect(ThresholdBand().problems == ["needs at least one of critical_low, warning_low, warning_high, critical_high"])
        #expect(ThresholdBand(criticalHigh: .infinity).problems == ["critical_high must be a finite number"])
    }

    @Test func theProfileClassifiesPerPopulation() {
        #expect(profile.classify(.heartRate, value: 95) == .normal)
        #expect(profile.classify(.heartRate, value: 95, population: .adult) == .normal)
        #expect(profile.classify(.heartRate, value: 95, population: .neonatal) == .warning)
        #expect(profile.classify(.heartRate, value: 85, population: .neonatal) == .critical)
        #expect(profile.classify(.heartRate, value: 135) == .critical)
        #expect(profile.isCritical(.heartRate, value: 135) && !profile.isCritical(.heartRate, value: 120))
        // No band for the kind or the population: normal.
        #expect(profile.classify(.temperature, value: 45) == .normal)
        #expect(profile.classify(.heartRate, value: 300, population: .paediatric) == .normal)
        #expect(profile.classify(.unknown, value: 1) == .normal)
    }

    @Test func patientSettingsRoundTripByKindName() throws {
        let settings = PatientAlertSettings(population: .paediatric, thresholds: [.heartRate: heartRate], spo2Scale: .scale2)
        let json = try JSONEncoder().encode(settings)
        #expect(String(decoding: json, as: UTF8.self).contains("\"heart_rate\""))
        #expect(try JSONDecoder().decode(PatientAlertSettings.self, from: json) == settings)
        let bad = Data(#"{"thresholds": {"heart_rte": {"critical_low": 40}}}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PatientAlertSettings.self, from: bad) }
    }

    @Test func patientSettingsWithBadBandsAreRefusedWithTheirKeys() {
        let settings = PatientAlertSettings(thresholds: [
            .heartRate: ThresholdBand(criticalLow: 60, warningLow: 50),
            .spo2: ThresholdBand(criticalLow: 88),
            .temperature: ThresholdBand(),
        ])
        let error = #expect(throws: PatientAlertSettingsError.self) { try settings.validate() }
        #expect(error?.problems.map(\.key) == ["thresholds.heart_rate", "thresholds.temperature"])
        #expect(error?.description.contains("thresholds.heart_rate: critical_low (60.0) must be below warning_low (50.0)") == true)
        var evaluator = AlertEvaluator()
        #expect(throws: PatientAlertSettingsError.self) { try evaluator.setSettings(settings, for: patient) }
        #expect(evaluator.settings(for: patient) == nil)
    }
}
