extension AlertRuleSet {
    /// The built-in rules. Each default's reason is on its line.
    public static let standard = AlertRuleSet(
        thresholds: [
            // Motion and probe shifts fake desaturations for seconds; a 15 s delay removes most nuisance SpO2 alarms (Welch, Biomed Instrum Technol 2011).
            .spo2: .continuous(warningAfter: .seconds(15), clearMargin: 2),
            // ECG and plethysmograph artefacts are brief; 10 s confirms a real rate change.
            .heartRate: .continuous(warningAfter: .seconds(10), clearMargin: 5),
            .pulseRate: .continuous(warningAfter: .seconds(10), clearMargin: 5),
            // Impedance respiration miscounts while the patient talks or moves.
            .respirationRate: .continuous(warningAfter: .seconds(15), clearMargin: 2),
            // A cuff reading is one deliberate measurement minutes from the next: it counts at once.
            .nibpSystolic: .intermittent(clearMargin: 5),
            .nibpDiastolic: .intermittent(clearMargin: 5),
            .nibpMean: .intermittent(clearMargin: 5),
            // Line flushes and blood sampling distort arterial pressure for seconds.
            .arterialSystolic: .continuous(warningAfter: .seconds(10), clearMargin: 5),
            .arterialDiastolic: .continuous(warningAfter: .seconds(10), clearMargin: 5),
            .arterialMean: .continuous(warningAfter: .seconds(10), clearMargin: 5),
            // Temperature moves slowly; a minute rules out a probe being repositioned.
            .temperature: .continuous(warningAfter: .seconds(60), clearMargin: 0.2),
            // A missed breath or a brief disconnection dips etCO2 for a few breaths.
            .etco2: .continuous(warningAfter: .seconds(15), clearMargin: 2),
        ],
        // Kinds without clinical defaults (perfusion index) behave like a continuous vital.
        defaultThreshold: .continuous(warningAfter: .seconds(10), clearMargin: 0),
        rateOfChange: [
            RateOfChangeRule(
                // A 5-point fall within a minute signals deterioration before the bands are crossed.
                id: "rate.spo2_fall", kind: .spo2, direction: .falling, change: 5, window: .seconds(60),
                // Clears once the trend is flat again (under 2 points a minute) for 30 s.
                clearBelow: 2, severity: .warning,
                // A fall lasting 10 s is no artefact dip; unanswered for 5 minutes it escalates.
                trigger: Trigger(raiseAfter: .after(.seconds(10)), escalationAfter: .seconds(300)),
                clearAfter: .after(.seconds(30))
            ),
        ],
        news2: NEWS2Rule(
            // A score hovering at 5 from a pulse of 90/91 must hold a minute; RCP asks for a response within the hour.
            urgent: Trigger(raiseAfter: .after(.seconds(60)), escalationAfter: .seconds(900)),
            // 7+ calls for an emergency response: raise at once, escalate after 5 minutes.
            emergency: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(300)),
            // Scores hover around a trigger; five calm minutes before the alert clears.
            clearAfter: .after(.seconds(300)),
            // RCP: hourly observations at least once a score reaches 5; older readings no longer describe the patient.
            maxReadingAge: .seconds(3600),
            // RCP: 4-hourly observations at least for scores 1–4; an older ACVPU or oxygen entry is stale.
            maxAssessmentAge: .seconds(4 * 3600)
        ),
        // Ten missed samples and at least 30 s: rides out a network blip or an MLLP reconnect without hiding a dead monitor.
        silence: SilenceRule(missedIntervals: 10, minimumSilence: .seconds(30), severity: .warning, escalationAfter: .seconds(300)),
        deviceConditions: DeviceConditionRule(
            severity: .warning,
            // Probes slip when patients move and are mostly back within seconds.
            trigger: Trigger(raiseAfter: .after(.seconds(10)), escalationAfter: .seconds(300)),
            // A value or a 'normal' report proves the sensor is back.
            clearAfter: .immediate
        )
    )
}

extension ThresholdRule {
    /// A continuously sampled vital: the critical band raises on the first sample, the warning
    /// band after `warningAfter`; clearing needs 10 s back inside by the margin so a value
    /// hovering at a bound does not flap. Unanswered critical alerts escalate after 2 minutes,
    /// warnings after 10: a critical value can kill within minutes.
    public static func continuous(warningAfter: Duration, clearMargin: Double) -> ThresholdRule {
        ThresholdRule(
            warning: Trigger(raiseAfter: .after(warningAfter), escalationAfter: .seconds(600)),
            critical: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(120)),
            clearMargin: clearMargin,
            clearAfter: .after(.seconds(10))
        )
    }

    /// An intermittent measurement (a cuff reading): every reading counts at once, raising and clearing.
    public static func intermittent(clearMargin: Double) -> ThresholdRule {
        ThresholdRule(
            warning: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(600)),
            critical: Trigger(raiseAfter: .immediate, escalationAfter: .seconds(120)),
            clearMargin: clearMargin,
            clearAfter: .immediate
        )
    }
}
