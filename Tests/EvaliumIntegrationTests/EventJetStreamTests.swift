@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// The scale-out mode against a real `nats-server -js` (started per test), read back with Python's
/// `nats-py` as another service would read it. One at a time: a relay publishes every tenant's outbox, so two
/// servers relaying to two NATS servers would share the rows between them.
@Suite(
    "Events on NATS JetStream: exactly-once on the stream across relay crashes and server restarts, dead letters, consumed events",
    .timeLimit(.minutes(3)), .serialized,
    .enabled(if: NATSTestServer.isAvailable && ProcessInfo.processInfo.environment["EVALIUM_TEST_PYTHON"] != nil))
struct EventJetStreamTests {
    /// Every relay publishes every tenant of its database: these servers share one with nobody else.
    static let database = Task { try await TestEnvironment.isolatedDatabase("evalium_test_jetstream") }

    /// Every message `nats-py` reads from the stream under `subject`.
    static func stream(_ nats: NATSTestServer, subject: String = ">", stream: String = "ASSESSMENT") async throws -> [JSONValue] {
        let python = try #require(ProcessInfo.processInfo.environment["EVALIUM_TEST_PYTHON"])
        let run = try await ChildProcess.run(
            [python, "scripts/lib/nats_stream.py", "read", "--url", nats.url, "--stream", stream, "--subject", subject], timeout: .seconds(60))
        #expect(run.status == 0, "\(run.output)")
        return try run.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try WireJSON.makeDecoder().decode(JSONValue.self, from: Data($0.utf8))
        }
    }

    /// A NATS server for the body, stopped (and its store removed) afterwards whatever happens.
    static func withNATS(_ body: (NATSTestServer) async throws -> Void) async throws {
        let nats = try await NATSTestServer.start()
        do {
            try await body(nats)
        } catch {
            await nats.stop()
            throw error
        }
        await nats.stop()
    }

    static func relayed(_ tenant: TenantID) async throws -> Bool {
        try await TestEnvironment.sql(
            "SELECT count(*)::text FROM outbox WHERE tenant_id = '\(tenant)' AND relayed_at IS NULL", as: try await Self.database.value.superuser) == [["0"]]
    }

    static func onNATS(_ nats: NATSTestServer, _ more: @escaping (inout AppConfiguration) -> Void = { _ in }) -> (inout AppConfiguration) -> Void {
        { configuration in
                        configuration.events.natsURL = nats.url
            more(&configuration)
        }
    }

    @Test("a finalised quiz puts exactly one attempt_result.scored on the stream though the relay crashed between the ack and the marking; nats-py reads a valid payload")
    func exactlyOnceAcrossARelayCrash() async throws {
        // The relay crashes once, on the batch that carries this test's attempt_result.scored.
        let crashTenant = Mutex<TenantID?>(nil)
        let crashedOn = Mutex<[String]>([])
        try await Self.withNATS { nats in try await TestEnvironment.withServer(on: try await Self.database.value, configure: Self.onNATS(nats) { configuration in
            configuration.events.afterRelayPublish = { messages in
                guard let tenant = crashTenant.withLock({ $0 }), crashedOn.withLock({ $0.isEmpty }) else { return }
                let scored = messages.filter { $0.subject == "assessment.attempt_result.scored.v1" && $0.envelope.contains(tenant.rawValue) }
                guard !scored.isEmpty else { return }
                crashedOn.withLock { $0 = scored.map(\.partitionKey) }
                throw EventListenerError("the relay crashed after publishing \(messages.count) messages")
            }
        }) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            crashTenant.withLock { $0 = tenant.tenantId }
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let (_, attempt) = try await EventTesting.finalisedQuiz(client, quiz, as: tenant.admin)
            try await EventTesting.until("the outbox is relayed") { try await Self.relayed(tenant.tenantId) }
            #expect(crashedOn.withLock { $0 } == [attempt], "the relay crashed after JetStream acknowledged this attempt's result")

            let scored = try await Self.stream(nats, subject: "assessment.attempt_result.scored.v1")
                .filter { $0["envelope"]?["payload"]?["attemptId"]?.stringValue == attempt }
            #expect(scored.count == 1, "\(scored)")
            #expect(scored.first?["msgId"] == scored.first?["envelope"]?["eventId"], "the outbox id is the Nats-Msg-Id")
            let everything = try await Self.stream(nats).filter { $0["envelope"]?["tenantId"]?.stringValue == tenant.tenantId.rawValue }
            let outbox = try await EventTesting.outbox(tenant.tenantId, database: server.database)
            func byId(_ envelopes: [JSONValue]) -> [String: JSONValue] {
                Dictionary(envelopes.map { ($0["eventId"]?.stringValue ?? "", $0) }, uniquingKeysWith: { first, _ in first })
            }
            #expect(everything.count == outbox.count && byId(everything.compactMap { $0["envelope"] }) == byId(outbox), "every event once, as the outbox holds it")
            let attemptOrder = everything.compactMap { $0["envelope"] }.filter { $0["partitionKey"]?.stringValue == attempt }
            #expect(attemptOrder == outbox.filter { $0["partitionKey"]?.stringValue == attempt }, "one attempt's events in the order written")
            let output = try await EventTesting.validate(everything.compactMap { $0["envelope"] })
            #expect(output.contains("\(outbox.count) events valid"), "\(output)")
        } }
    }

    @Test("the relay survives the NATS server restarting mid-stream and catches up without loss or duplicates")
    func survivesAServerRestart() async throws {
        try await Self.withNATS { nats in try await TestEnvironment.withServer(on: try await Self.database.value, configure: Self.onNATS(nats)) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            for _ in 0..<2 { _ = try await EventTesting.finalisedQuiz(client, quiz, as: tenant.admin) }
            try await nats.restart {
                for _ in 0..<2 { _ = try await EventTesting.finalisedQuiz(client, quiz, as: tenant.admin) }
            }
            for _ in 0..<2 { _ = try await EventTesting.finalisedQuiz(client, quiz, as: tenant.admin) }
            try await EventTesting.until("the outbox is relayed after the restart", timeout: .seconds(40)) { try await Self.relayed(tenant.tenantId) }
            let outbox = try await EventTesting.outbox(tenant.tenantId, database: server.database)
            let stored = try await Self.stream(nats).filter { $0["envelope"]?["tenantId"]?.stringValue == tenant.tenantId.rawValue }
            let ids = stored.compactMap { $0["envelope"]?["eventId"]?.stringValue }
            #expect(ids.count == Set(ids).count, "no duplicates")
            #expect(Set(ids) == Set(outbox.compactMap { $0["eventId"]?.stringValue }), "no loss")
        } }
    }

    @Test("a listener that keeps failing puts the event on ASSESSMENT.dlq; received messages are kept once, and unreadable ones go to the dead-letter subject")
    func deadLetterSubjectAndConsumedEvents() async throws {
        // Archived quiz banks only: every test server dispatches every tenant's events, and these are rare.
        let listener = RecordingListener("always-broken", subjects: ["assessment.quiz_bank.archived.v1"]) { _ in true }
        try await Self.withNATS { nats in try await TestEnvironment.withServer(on: try await Self.database.value, configure: Self.onNATS(nats) { $0.events.extraListeners = [listener] }) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            listener.listen(to: tenant.tenantId)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            #expect(try await client.send(.patch, "/v1/evaluations/\(quiz)", json: #"{"status":"archived"}"#, as: tenant.admin).status == .ok)
            let bank = AssessmentEvents.quizBankId(quiz)
            var letters: [JSONValue] = []
            try await EventTesting.until("the dead letter is on ASSESSMENT.dlq") {
                letters = try await Self.stream(nats, subject: "ASSESSMENT.dlq")
                return letters.contains { $0["envelope"]?["payload"]?["quizBankId"]?.stringValue == bank }
            }
            let letter = try #require(letters.first { $0["envelope"]?["payload"]?["quizBankId"]?.stringValue == bank })
            #expect(letter["headers"]?["Evalium-Consumer"]?.stringValue == listener.name && letter["headers"]?["Evalium-Attempts"] == "6", "\(letter)")

            let publisher = NATSClient(url: nats.url, name: "authoring-service", logger: TestEnvironment.logger)
            try await publisher.connect()
            let jetStream = JetStream(client: publisher)
            let eventId = EventID.generate().rawValue
            let envelope = EventEnvelope(
                eventId: eventId, subject: "authoring.block.added.v1", tenantId: tenant.tenantId, partitionKey: "block-1", occurredAt: ServerClock.now(),
                payload: ["block": ["blockId": "block-1", "kind": "quiz", "blockRef": ["quizBankId": .string(AssessmentEvents.quizBankId(quiz))]]])
            for copy in 0..<2 {
                // The second copy has another Nats-Msg-Id, so JetStream keeps both; the inbox keeps one.
                _ = try await jetStream.publish("authoring.block.added.v1", messageId: "\(eventId)-\(copy)", payload: try envelope.wireBytes())
            }
            _ = try await jetStream.publish("tenant.offboarded.v1", messageId: "garbage-1", payload: Array("not an event".utf8))
            await publisher.close()
            try await EventTesting.until("the block is linked") {
                try await server.database.transaction(.tenantWide(tenant.tenantId)) { try await $0.blockLinks(of: quiz) } == ["block-1"]
            }
            let kept = try await TestEnvironment.sql("SELECT count(*)::text FROM inbound_events WHERE event_id = '\(eventId)'", as: try await Self.database.value.superuser)
            #expect(kept == [["1"]])
            try await EventTesting.until("the unreadable message is on the dead-letter subject") {
                try await Self.stream(nats, subject: "ASSESSMENT.dlq").contains { $0["headers"]?["Evalium-Original-Subject"] == "tenant.offboarded.v1" }
            }
        } }
    }
}
