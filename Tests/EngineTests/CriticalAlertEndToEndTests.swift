import Alerts
import DeviceSimulator
import Foundation
import Kafka
import Storage
import Synchronization
import TestSupport
import Testing
import VitalSigns

@Suite(.timeLimit(.minutes(3)), .serialized) struct CriticalAlertEndToEndTests {
    @Test("a critical SpO2 sent over MLLP is flagged, stored, raised once, streamed to the nurses and forwarded to Kafka")
    func criticalValueEverywhere() async throws {
        let engine = try await AlertingEngine.start()
        let stream = try await SSETestClient.connect(port: engine.apiPort, path: "/alerts/stream?access_token=\(AlertingEngine.nurseToken)")
        defer { stream.close() }
        #expect(stream.status == 200)

        let monitor = try await engine.sendReports(monitor: 3, critical: .spo2, reports: 6, startingAt: AlertingEngine.now())
        try await waitUntil(timeout: .seconds(30), "alert raised on the stream") { !stream.events.isEmpty }
        let event = try #require(try JSONSerialization.jsonObject(with: Data(stream.events[0].data.utf8)) as? [String: Any])
        let alert = try #require(event["alert"] as? [String: Any])
        #expect(event["type"] as? String == "raised")
        #expect(alert["vital"] as? String == "spo2")
        #expect(alert["severity"] as? String == "critical")
        #expect(alert["device"] as? String == monitor.deviceID)
        #expect((alert["patient"] as? [String: Any])?["id"] as? String == monitor.patient.id)

        let records = try await engine.kafka.readBack(1)
        #expect(records[0].keyText == monitor.deviceID)
        #expect(records[0].partition == KafkaPartitioner.partition(forKey: monitor.deviceID, partitionCount: engine.kafka.partitions))
        #expect((try JSONSerialization.jsonObject(with: Data(records[0].value)) as? [String: Any])?["eventId"] as? Int == Int(stream.events[0].id ?? ""))

        // Six critical samples, one alert; every sample stored and flagged.
        #expect(try engine.query("SELECT count(*) FROM critical_events").first?.first == "1")
        #expect(try engine.query("SELECT count(*) FROM vital_signs WHERE vital_kind = 3 AND is_critical").first?.first == "6")
        try await waitUntil(timeout: .seconds(20), "Kafka delivery recorded") {
            try engine.query("SELECT kafka_state FROM critical_events").first?.first == "delivered"
        }
        await engine.stop()
    }

    /// The hub's insert into `critical_events` waits behind a lock the test holds; the
    /// observations' commit does not. Reports with a critical SpO2 are sent one at a time until
    /// one is not answered because the hub waits to store the alert it raised.
    @Test("a message whose value raises an alert is acknowledged only once the alert is stored, so that a crash between the two commits cannot lose the alert")
    func theAcknowledgementWaitsForTheAlert() async throws {
        let engine = try await AlertingEngine.start()
        let locker = try PostgresConnection(url: engine.databaseURL)
        defer { locker.close() }
        try locker.execute("BEGIN; LOCK TABLE critical_events IN SHARE MODE")
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.mllpPort)
        var monitor = SimulatedMonitor(index: 7)
        let start = AlertingEngine.now()
        var held: (report: Int, bytes: [UInt8], answer: Task<[UInt8], any Error>, answered: Answered)?
        for report in 0..<6 {
            let time = Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + Int64(report) * 1_000_000)
            let bytes = monitor.nextReport(at: time, criticalKind: .spo2).bytes
            let answered = Answered()
            let answer = Task {
                defer { answered.mark() }
                return try await client.send(bytes)
            }
            try await waitUntil(timeout: .seconds(30), "report \(report) answered, or the hub waiting to store an alert") {
                try answered.isMarked
                    || locker.lockWaiters(on: "critical_events") > 0
            }
            if !answered.isMarked {
                held = (report, bytes, answer, answered)
                break
            }
            #expect(String(decoding: try await answer.value, as: UTF8.self).contains("MSA|AA|"))
        }
        let (report, bytes, answer, answered) = try #require(held, "every report was acknowledged while no alert could be stored")
        try await waitUntil(timeout: .seconds(30), "the held report's observations committed") {
            try engine.query("SELECT count(*) FROM vital_signs WHERE vital_kind = 3").first?.first == "\(report + 1)"
        }
        // A message sent after that commit, raising nothing, is answered after its own commit:
        // by then an answer given for the commit alone would have come too.
        try await engine.sendReports(monitor: 8, critical: nil, reports: 1, startingAt: start)
        #expect(!answered.isMarked, "acknowledged before its alert was stored")
        // The monitor resends the held report on a new connection, as after its ACK timeout: the
        // rules hold the alert open already, so the resend changes nothing, and waits all the same.
        let resender = try await MLLPClient.connect(host: "127.0.0.1", port: engine.mllpPort)
        let resent = Answered()
        let resendAnswer = Task {
            defer { resent.mark() }
            return try await resender.send(bytes)
        }
        try await engine.sendReports(monitor: 9, critical: nil, reports: 1, startingAt: start)
        #expect(!resent.isMarked, "the resend was acknowledged before the alert was stored")
        #expect(try engine.query("SELECT count(*) FROM critical_events").first?.first == "0")

        try locker.execute("COMMIT")
        #expect(String(decoding: try await answer.value, as: UTF8.self).contains("MSA|AA|"))
        #expect(String(decoding: try await resendAnswer.value, as: UTF8.self).contains("MSA|AA|"))
        await resender.close()
        #expect(try engine.query("SELECT count(*) FROM critical_events WHERE state = 'open'").first?.first == "1")
        await client.close()
        await engine.stop()
    }

    /// Set once an answer has come (or the wait for it failed).
    private final class Answered: Sendable {
        private let flag = Mutex(false)
        func mark() { flag.withLock { $0 = true } }
        var isMarked: Bool { flag.withLock { $0 } }
    }

    @Test("a value the monitor could not obtain (OBX-11 X), sent over MLLP for longer than the debounce, raises the no-value technical alarm")
    func noValueRaisesATechnicalAlarm() async throws {
        let engine = try await AlertingEngine.start()
        let client = try await MLLPClient.connect(host: "127.0.0.1", port: engine.mllpPort)
        let start = AlertingEngine.now()
        for (number, offset) in [(1, Int64(0)), (2, Int64(11))] {
            let time = SimulatedMonitor.hl7Time(Timestamp(microsecondsSinceEpoch: start.microsecondsSinceEpoch + offset * 1_000_000))
            let message = [
                "MSH|^~\\&|MON|ICU|||\(time)||ORU^R01|NV-\(number)|P|2.6",
                "PID|||NV-PATIENT^^^KTH^MR",
                "PV1||I|ICU1^1^A",
                "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1||262688^MDC_DIM_PERCENT^MDC|||||X|||\(time)||||DEV-NV",
            ].joined(separator: "\r")
            let ack = String(decoding: try await client.send(Array(message.utf8)), as: UTF8.self)
            #expect(ack.contains("MSA|AA|NV-\(number)"))
        }
        await client.close()
        let scope = AlertScope(facility: AlertingEngine.facility)
        try await waitUntil(timeout: .seconds(30), "the technical alarm") {
            engine.hub.openAlerts(in: scope).contains { $0.rule == "device.no_value.spo2" && $0.device == "DEV-NV" }
        }
        #expect(try engine.query("SELECT count(*) FROM vital_signs").first?.first == "0")
        await engine.stop()
    }

    @Test("on a screen whose token may only view, the nurses' page shows the alert without an Acknowledge button")
    func viewOnlyPage() async throws {
        let engine = try await AlertingEngine.start()
        let browser = try await HeadlessChromium.launch(width: 1280, height: 800)
        defer { browser.close() }
        do {
            try await browser.open("http://127.0.0.1:\(engine.apiPort)/?access_token=\(AlertingEngine.corridorToken)")
            try await browser.waitFor("document.body.dataset.loaded === 'true' && document.querySelector('[data-connection=live]') !== null")
            _ = try await engine.sendReports(monitor: 6, critical: .spo2, reports: 6, startingAt: AlertingEngine.now())
            try await browser.waitFor("document.querySelector('[data-alert-id][data-severity=critical][data-state=open]') !== null", timeout: .seconds(30))
            #expect(try await browser.evaluate("document.querySelectorAll('[data-action=ack]').length") == 0)
            try await browser.screenshot(to: RepositoryPaths.root + "/.build/artifacts/nurses-station/view-only.png")
        } catch {
            await engine.stop()
            throw error
        }
        await engine.stop()
    }

    @Test("the nurses' page shows a critical value sent over MLLP, acknowledging it there records the nurse in the database, and a worse condition reopens it there, even when the acknowledgement's answer arrives after the reopening")
    func nursesPage() async throws {
        let engine = try await AlertingEngine.start()
        let browser = try await HeadlessChromium.launch(width: 1280, height: 800)
        defer { browser.close() }
        let artifacts = RepositoryPaths.root + "/.build/artifacts/nurses-station"
        do {
            try await browser.open("http://127.0.0.1:\(engine.apiPort)/?access_token=\(AlertingEngine.nurseToken)")
            try await browser.waitFor("document.body.dataset.loaded === 'true' && document.querySelector('[data-connection=live]') !== null")
            #expect(try await browser.evaluate("document.querySelectorAll('[data-alert-id]').length") == 0)
            // The answers to acknowledgements are held until the test lets them go, so that they
            // reach the page after the stream's newer events, as a slow network can deliver them.
            _ = try await browser.evaluate(Self.holdAcknowledgementAnswers)

            let monitor = try await engine.sendReports(monitor: 5, critical: .spo2, reports: 6, startingAt: AlertingEngine.now())
            try await browser.waitFor("document.querySelector('[data-alert-id][data-severity=critical][data-state=open]') !== null", timeout: .seconds(30))
            let text = try await browser.evaluate("document.querySelector('[data-alert-id]').textContent")
            #expect(text.string?.contains(monitor.patient.id) == true)
            try await browser.screenshot(to: artifacts + "/critical-alert.png")

            // Acknowledged on the page by the stream's event; the answer to the click is held.
            try await browser.click("[data-alert-id] [data-action=ack]")
            try await browser.waitFor("document.querySelector('[data-alert-id][data-state=acknowledged]') !== null", timeout: .seconds(15))
            try await waitUntil(timeout: .seconds(15), "acknowledgement stored") {
                try engine.query("SELECT state, acknowledged_by FROM critical_events") == [["acknowledged", "nurse.amina"]]
            }
            try await browser.screenshot(to: artifacts + "/acknowledged.png")

            // The condition worsens: the alert is open again, on the page too, with its button back,
            // and the acknowledgement's answer arriving now does not hide it again.
            let acknowledged = try #require(engine.hub.openAlerts(in: AlertScope(facility: engine.hub.facility)).first)
            engine.hub.submit([AlertTrigger(
                action: .raise(.emergency), key: acknowledged.key, rule: acknowledged.rule, vital: acknowledged.vital, value: 70,
                unit: acknowledged.unit, patient: acknowledged.patient, device: acknowledged.device, location: acknowledged.location,
                observedAt: AlertingEngine.now(), escalateAfter: .seconds(60)
            )])
            try await browser.waitFor("document.querySelector('[data-alert-id][data-severity=emergency][data-state=open]') !== null", timeout: .seconds(15))
            _ = try await browser.evaluate("window.releaseAcknowledgementAnswers()")
            try await browser.waitFor("window.acknowledgementAnswersRead === 1", timeout: .seconds(15))
            #expect(try await browser.evaluate("document.querySelector('[data-alert-id][data-severity=emergency][data-state=open] [data-action=ack]:not([disabled])') !== null") == true)
            try await browser.screenshot(to: artifacts + "/reopened.png")

            // Another alert, acknowledged here (answer held), reopened, and acknowledged by a second
            // nurse before the first one's answer arrives: the older answer changes nothing.
            let scope = AlertScope(facility: engine.hub.facility)
            func raiseHeartRate(_ severity: AlertSeverity, value: Double) {
                engine.hub.submit([AlertTrigger(
                    action: .raise(severity), key: "DEV-Y|heart_rate|threshold.heart_rate", rule: "threshold.heart_rate", vital: "heart_rate",
                    value: value, unit: "/min", patient: acknowledged.patient, device: "DEV-Y", location: acknowledged.location,
                    observedAt: AlertingEngine.now(), escalateAfter: .seconds(60)
                )])
            }
            raiseHeartRate(.warning, value: 125)
            try await waitUntil(timeout: .seconds(15), "the second alert") { engine.hub.openAlerts(in: scope).contains { $0.device == "DEV-Y" } }
            let second = try #require(engine.hub.openAlerts(in: scope).first { $0.device == "DEV-Y" })
            let row = "[data-alert-id='\(second.id)']"
            try await browser.waitFor("document.querySelector(\"\(row)[data-state=open]\") !== null", timeout: .seconds(15))
            try await browser.click("\(row) [data-action=ack]")
            try await browser.waitFor("document.querySelector(\"\(row)[data-state=acknowledged]\") !== null", timeout: .seconds(15))
            raiseHeartRate(.urgent, value: 140)
            try await browser.waitFor("document.querySelector(\"\(row)[data-severity=urgent][data-state=open]\") !== null", timeout: .seconds(15))
            _ = try await engine.hub.acknowledge(id: second.id, by: "nurse.hala", in: scope)
            try await browser.waitFor("document.querySelector(\"\(row)[data-state=acknowledged] .acked-by\")?.textContent === 'nurse.hala'", timeout: .seconds(15))
            _ = try await browser.evaluate("window.releaseAcknowledgementAnswers()")
            try await browser.waitFor("window.acknowledgementAnswersRead === 2", timeout: .seconds(15))
            #expect(try await browser.evaluate("document.querySelector(\"\(row)[data-severity=urgent][data-state=acknowledged] .acked-by\")?.textContent") == "nurse.hala")

            // The first alert acknowledged again, and resolved by a clinician before that answer
            // arrives: the row goes, and the late answer does not bring it back.
            let first = "[data-alert-id='\(acknowledged.id)']"
            try await browser.click("\(first) [data-action=ack]")
            try await waitUntil(timeout: .seconds(15), "the acknowledgement stored") {
                try engine.query("SELECT state FROM critical_events WHERE id = \(acknowledged.id)") == [["acknowledged"]]
            }
            _ = try await engine.hub.resolve(id: acknowledged.id, by: "dr.osman", in: scope)
            try await browser.waitFor("document.querySelector(\"\(first)\") === null", timeout: .seconds(15))
            _ = try await browser.evaluate("window.releaseAcknowledgementAnswers()")
            try await browser.waitFor("window.acknowledgementAnswersRead === 3", timeout: .seconds(15))
            #expect(try await browser.evaluate("document.querySelectorAll('[data-alert-id]').length") == 1)
        } catch {
            _ = try? await browser.screenshot(to: artifacts + "/failure.png")
            await engine.stop()
            throw error
        }
        await engine.stop()
    }

    /// Wraps the page's `fetch`: the answer to a POST (an acknowledgement) is held until
    /// `releaseAcknowledgementAnswers()`, and `acknowledgementAnswersRead` counts the answers the
    /// page has read. The page merges an answer in the microtask after its body is read, so it has
    /// been merged by the time a later evaluation sees the count.
    private static let holdAcknowledgementAnswers = """
        (() => {
          const realFetch = window.fetch.bind(window);
          let held = [];
          window.acknowledgementAnswersRead = 0;
          window.releaseAcknowledgementAnswers = () => { const now = held; held = []; now.forEach((release) => release()); };
          window.fetch = (path, init) => {
            const answer = realFetch(path, init);
            if (!init || init.method !== 'POST') return answer;
            return new Promise((resolve) => held.push(() => resolve(answer.then((response) => {
              const read = response.json.bind(response);
              response.json = () => read().then((body) => { window.acknowledgementAnswersRead += 1; return body; });
              return response;
            }))));
          };
          return true;
        })()
        """
}
