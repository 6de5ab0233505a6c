@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Synchronization
import Testing

/// A listener the tests control: it hears `subjects` of one tenant (every server of the test run dispatches
/// every tenant's events), remembers what it heard in order, and fails an event while `failing` says so.
final class RecordingListener: EventListener {
    let name: String
    let subjects: [String]
    let tenant = Mutex<TenantID?>(nil)
    let heard = Mutex<[EventEnvelope]>([])
    let failing: Mutex<@Sendable (EventEnvelope) -> Bool>
    let attempts = Mutex<[String: Int]>([:])

    init(_ name: String, subjects: [String] = [""], failing: @escaping @Sendable (EventEnvelope) -> Bool = { _ in false }) {
        self.name = "\(name)-\(ULID().text)"
        self.subjects = subjects
        self.failing = Mutex(failing)
    }

    func handle(_ event: EventEnvelope, in transaction: Transaction) async throws {
        guard tenant.withLock({ $0 }) == event.tenantId else { return }
        attempts.withLock { $0[event.eventId, default: 0] += 1 }
        if failing.withLock({ $0 })(event) { throw EventListenerError("\(name) is broken") }
        heard.withLock { $0.append(event) }
    }

    func listen(to tenant: TenantID) { self.tenant.withLock { $0 = tenant } }
    var heardIds: [String] { heard.withLock { $0.map(\.eventId) } }
}

enum EventTesting {
    /// A server with these listeners besides the built-in ones.
    static func listening(_ listeners: [any EventListener]) -> (inout AppConfiguration) -> Void {
        { $0.events.extraListeners = listeners }
    }

    /// The tenant's published events as they went on the wire, oldest first.
    static func outbox(_ tenant: TenantID, database: Database) async throws -> [JSONValue] {
        try await database.transaction(.tenantWide(tenant)) { try await $0.outboxEnvelopes(limit: 10_000) }.map {
            try WireJSON.makeDecoder().decode(JSONValue.self, from: Data($0.envelope.utf8))
        }
    }

    /// Validates JSON-lines envelopes with `scripts/lib/validate_events.py` (Python `jsonschema`) against
    /// the schema files; answers what it printed.
    static func validate(_ envelopes: [JSONValue]) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(ULID().text).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let lines = try envelopes.map { String(decoding: try CanonicalJSON.bytes($0), as: UTF8.self) }.joined(separator: "\n")
        try Data((lines + "\n").utf8).write(to: file)
        let python = try #require(ProcessInfo.processInfo.environment["EVALIUM_TEST_PYTHON"])
        let run = try await ChildProcess.run([python, "scripts/lib/validate_events.py", "schemas/events", file.path], timeout: .seconds(60))
        #expect(run.status == 0, "\(run.output)")
        return run.output
    }

    static func until(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// A finalised one-question quiz; answers (submission id, attempt id).
    static func finalisedQuiz(_ client: some TestClientProtocol, _ quiz: EvaluationID, as person: SignedIn, answer: String = "a") async throws -> (String, String) {
        let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: person)
        _ = try await Delivery.answer(client, started.sessionId, try #require(started.items.first), #"{"answer":{"optionIds":["\#(answer)"]}}"#, as: person)
        let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: person)
        #expect(submitted.status == .created || submitted.status == .ok, "\(submitted.text)")
        return (try #require(try submitted.json()["id"]?.stringValue), started.sessionId)
    }
}

@Suite(
    "Events: the transactional outbox, the seed's contracts, in-process delivery with inbox, retries, dead letters and replay",
    .timeLimit(.minutes(3)))
struct EventTests {
    static let published: Set<String> = [
        "assessment.quiz_bank.created.v1", "assessment.quiz_bank.updated.v1", "assessment.quiz_bank.published.v1",
        "assessment.quiz_bank.archived.v1", "assessment.attempt_result.scored.v1", "assessment.attempt.pending_human_review.v1",
        "assessment.attempt.superseded.v1", "assessment.submission.finalised.v1", "assessment.finding.detected.v1",
        "assessment.finding.withdrawn.v1", "assessment.submission.review_status_changed.v1", "assessment.submission.amended.v1",
        "assessment.submission.voided.v1",
    ]

    /// Every dispatcher visits every tenant of its database: these servers share one with nobody else.
    static let database = Task { try await TestEnvironment.isolatedDatabase("evalium_test_events") }

    @Test(
        "every flow publishes its events, each payload valid against its schema file, with no answers, comments or reasons in them",
        .enabled(if: ProcessInfo.processInfo.environment["EVALIUM_TEST_PYTHON"] != nil))
    func everyPayloadFitsItsSchema() async throws {
        try await TestEnvironment.withServer(on: try await Self.database.value) { client, server in
            let tenant = try await ReportingTests.history(client, server)
            let reviewer = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let essay = #"{"kind":"short_text","content":{"prompt":"Describe the PASS technique","points":4,"text":{"grading":"person"}}}"#
            let graded = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [essay], extra: #","grading":{"passThreshold":0.5}"#, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: graded, as: tenant.admin)
            let item = try #require(started.items.first)
            _ = try await Delivery.answer(client, started.sessionId, item, #"{"answer":{"text":"Pull, aim, squeeze, sweep"}}"#, as: tenant.admin)
            let pending = try #require(try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin).json()["id"]?.stringValue)
            #expect(try await client.send(.post, "/v1/submissions/\(pending)/grades", json: #"{"itemId":"\#(item)","points":3}"#, as: reviewer).status == .ok)
            let inspection = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [DeliveryTests.majorFinding], as: tenant.admin)
            let observed = try await Delivery.selfAssignedSession(client, evaluation: inspection, as: tenant.admin)
            _ = try await Delivery.answer(
                client, observed.sessionId, observed.items[0], #"{"answer":{"optionIds":["fail"]},"comment":"Seal broken"}"#, as: tenant.admin)
            let finding = try #require(try await client.send(.post, "/v1/sessions/\(observed.sessionId)/submit", as: tenant.admin).json()["id"]?.stringValue)
            let withdrawal = #"{"reason":"The seal was intact","changes":[{"itemId":"\#(observed.items[0])","answer":{"optionIds":["pass"]}}]}"#
            #expect(try await CorrectionTests.amend(client, finding, withdrawal, as: tenant.admin).status == .created)
            #expect(try await client.send(.post, "/v1/evaluations/\(graded)/versions", json: "{}", as: tenant.admin).status == .created)
            #expect(try await client.send(.patch, "/v1/evaluations/\(graded)", json: #"{"status":"archived"}"#, as: tenant.admin).status == .ok)

            let envelopes = try await EventTesting.outbox(tenant.tenantId, database: server.database)
            let subjects = Set(envelopes.compactMap { $0["subject"]?.stringValue })
            #expect(subjects == Self.published, "missing: \(Self.published.subtracting(subjects)), unexpected: \(subjects.subtracting(Self.published))")
            let output = try await EventTesting.validate(envelopes)
            #expect(output.contains("\(envelopes.count) events valid"), "\(output)")

            let wire = envelopes.map { String(describing: $0) }.joined()
            for secret in ["Pull, aim", "Seal broken", "Gauge in the red", "wrong site", "misread", "Photo of the gauge", "seal was intact"] {
                #expect(!wire.contains(secret), "an event carries text a person wrote: \(secret)")
            }
            let scoredOnce = envelopes.filter {
                $0["subject"] == "assessment.attempt_result.scored.v1" && $0["payload"]?["attemptId"]?.stringValue == started.sessionId
            }
            #expect(scoredOnce.map { $0["payload"]?["state"] } == ["pending_human_review", "final"], "finalised pending, then graded")
            let bank = try #require(envelopes.first { $0["subject"] == "assessment.quiz_bank.published.v1" })
            #expect(bank["payload"]?["quizBankId"]?.stringValue?.hasPrefix("qbk_") == true && bank["partitionKey"] == bank["payload"]?["quizBankId"])
        }
    }

    @Test("a refused request publishes nothing: the outbox row commits with its change or not at all")
    func refusedWritesPublishNothing() async throws {
        try await TestEnvironment.withServer(on: try await Self.database.value) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let before = try await EventTesting.outbox(tenant.tenantId, database: server.database).count
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: tenant.admin)
            let refused = try await Delivery.answer(client, started.sessionId, started.items[0], #"{"answer":{"optionIds":["nope"]}}"#, as: tenant.admin)
            #expect(refused.status == .unprocessableContent)
            #expect(try await client.send(.post, "/v1/evaluations/\(quiz)/versions/1/publish", as: tenant.admin).status == .conflict)
            #expect(try await EventTesting.outbox(tenant.tenantId, database: server.database).count == before)
        }
    }

    @Test("a listener that keeps failing sends the event to the dead letters after five redeliveries; other partitions go on; a replay succeeds once it is fixed")
    func deadLettersAndReplay() async throws {
        // Archived quiz banks only: every test server dispatches every tenant's events, and these are rare.
        let broken = Mutex<String?>(nil)
        let listener = RecordingListener("flaky", subjects: ["assessment.quiz_bank.archived.v1"]) { event in
            broken.withLock { $0 } == event.partitionKey
        }
        try await TestEnvironment.withServer(on: try await Self.database.value, configure: EventTesting.listening([listener])) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            listener.listen(to: tenant.tenantId)
            let failing = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let working = try await Authoring.publishedQuiz(client, as: tenant.admin)
            broken.withLock { $0 = AssessmentEvents.quizBankId(failing) }
            let healthy = AssessmentEvents.quizBankId(working)
            for quiz in [failing, working] {
                #expect(try await client.send(.patch, "/v1/evaluations/\(quiz)", json: #"{"status":"archived"}"#, as: tenant.admin).status == .ok)
            }

            let path = "/v1/tenants/\(tenant.tenantId)/events/dead-letters"
            var letters: [JSONValue] = []
            try await EventTesting.until("the event is a dead letter") {
                letters = try await client.send(.get, path).json()["items"]?.arrayValue ?? []
                return !letters.isEmpty
            }
            let letter = try #require(letters.first)
            #expect(letter["consumer"]?.stringValue == listener.name && letter["attempts"] == 6 && letter["subject"] == "assessment.quiz_bank.archived.v1", "\(letter)")
            #expect(letter["sequence"]?.stringValue == nil && letter["sequence"] != nil, "where a replay would start: \(letter)")
            #expect(listener.attempts.withLock { $0[letter["eventId"]?.stringValue ?? ""] } == 6, "one delivery and five redeliveries")
            #expect(listener.heard.withLock { $0.map(\.partitionKey) } == [healthy], "the other quiz bank's event was not held back")
            #expect(try await client.send(.get, path, as: tenant.admin).status == .forbidden, "dead letters are the platform operator's")

            let id = try #require(letter["id"]?.stringValue)
            let stillBroken = try await client.send(.post, "\(path)/\(id)/replay")
            #expect(stillBroken.status == .conflict && stillBroken.text.contains("\(listener.name) is broken"), "\(stillBroken.text)")
            broken.withLock { $0 = nil }
            let replayed = try await client.send(.post, "\(path)/\(id)/replay")
            #expect(try replayed.status == .ok && replayed.json()["replayedAt"]?.stringValue != nil, "\(replayed.text)")
            #expect(listener.heard.withLock { $0.map(\.partitionKey) } == [healthy, AssessmentEvents.quizBankId(failing)])
            #expect(try await client.send(.post, "\(path)/\(id)/replay").status == .ok, "replaying twice changes nothing")
            #expect(listener.heard.withLock { $0.count } == 2)
            #expect(try await client.send(.get, path).json()["items"]?.arrayValue.isEmpty == true, "only waiting dead letters by default")
        }
    }

    @Test("the seed's schedule: redeliveries after 1 s, 5 s, 25 s, 2 min and 10 min, then the dead letters; servers use it by default")
    func seedRetrySchedule() {
        let waits = (1...6).map { RetryPolicy.seed.wait(afterFailedAttempts: $0) }
        #expect(waits == [.seconds(1), .seconds(5), .seconds(25), .seconds(120), .seconds(600), nil])
        #expect(AppConfiguration().events.retry.backoff == RetryPolicy.seed.backoff)
    }

    @Test("a failed event is not delivered again before its backoff has passed")
    func backoffIsWaitedOut() async throws {
        let firstFailure = Mutex<ContinuousClock.Instant?>(nil)
        let redeliveredAfter = Mutex<Duration?>(nil)
        let listener = RecordingListener("patient", subjects: ["assessment.quiz_bank.archived.v1"]) { _ in
            let now = ContinuousClock.now
            return firstFailure.withLock { first in
                guard let first else {
                    first = now
                    return true
                }
                redeliveredAfter.withLock { $0 = now - first }
                return false
            }
        }
        try await TestEnvironment.withServer(on: try await Self.database.value, configure: {
            $0.events.extraListeners = [listener]
            $0.events.retry = RetryPolicy(backoff: [.seconds(2)])
        }) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            listener.listen(to: tenant.tenantId)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            #expect(try await client.send(.patch, "/v1/evaluations/\(quiz)", json: #"{"status":"archived"}"#, as: tenant.admin).status == .ok)
            try await EventTesting.until("the event was redelivered") { !listener.heardIds.isEmpty }
            let waited = try #require(redeliveredAfter.withLock { $0 })
            #expect(waited >= .seconds(2), "redelivered after \(waited)")
        }
    }

    @Test("a replay from a sequence reaches a listener that joined later; one that heard the events skips them; a replay from a time starts there; a quiz bank's events arrive in order")
    func replayFromSequenceOrTime() async throws {
        let subjects = ["assessment.quiz_bank.updated.v1", "assessment.quiz_bank.archived.v1"]
        let early = RecordingListener("early", subjects: subjects)
        let late = RecordingListener("late", subjects: subjects)
        let recent = RecordingListener("recent", subjects: subjects)
        let database = try await Self.database.value
        let (tenant, published, bank) = try await TestEnvironment.withServer(on: database, configure: EventTesting.listening([early])) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            early.listen(to: tenant.tenantId)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            #expect(try await client.send(.post, "/v1/evaluations/\(quiz)/versions", json: "{}", as: tenant.admin).status == .created)
            for status in ["archived", "active", "archived"] {
                #expect(try await client.send(.patch, "/v1/evaluations/\(quiz)", json: #"{"status":"\#(status)"}"#, as: tenant.admin).status == .ok)
            }
            let bank = AssessmentEvents.quizBankId(quiz)
            let published = try await EventTesting.outbox(tenant.tenantId, database: server.database)
                .filter { $0["partitionKey"]?.stringValue == bank && subjects.contains($0["subject"]?.stringValue ?? "") }
            #expect(published.count == 4, "a new draft, archived, restored, archived again")
            let ids = published.compactMap { $0["eventId"]?.stringValue }
            try await EventTesting.until("the early listener heard everything") { Set(ids).isSubset(of: Set(early.heardIds)) }
            #expect(early.heardIds == ids, "in the order written")
            return (tenant.tenantId, published, bank)
        }
        let ids = published.compactMap { $0["eventId"]?.stringValue }

        // Long after, the queue has moved on (the test empties it), and a later release adds a listener: it
        // hears nothing of the past until a replay.
        let emptyQueue = "DELETE FROM event_dispatch_queue WHERE tenant_id = '\(tenant)'"
        try await TestEnvironment.sql(emptyQueue, as: database.superuser)
        late.listen(to: tenant)
        try await TestEnvironment.withServer(on: database, configure: EventTesting.listening([early, late])) { client, server in
            try await Task.sleep(for: .milliseconds(300))
            #expect(late.heardIds.isEmpty)
            let replay = try await client.send(.post, "/v1/tenants/\(tenant)/events/replay", json: #"{"fromSequence":0}"#)
            guard case .number(let queued)? = try replay.json()["queued"] else { throw EventListenerError("no count: \(replay.text)") }
            #expect(replay.status == .ok && Int(queued) >= ids.count, "\(replay.text)")
            try await EventTesting.until("the late listener heard the history") { Set(ids).isSubset(of: Set(late.heardIds)) }
            #expect(late.heard.withLock { $0.filter { $0.partitionKey == bank }.map(\.eventId) } == ids, "in the order written")
            #expect(early.heardIds == ids, "nothing twice for the listener that had heard it")
            #expect(try await client.send(.post, "/v1/tenants/\(tenant)/events/replay", json: "{}").status == .unprocessableContent)
        }

        // A replay from the time of the third event: a listener that joins now hears the third and the fourth.
        try await TestEnvironment.sql(emptyQueue, as: database.superuser)
        recent.listen(to: tenant)
        let since = try #require(published[2]["occurredAt"]?.stringValue)
        try await TestEnvironment.withServer(on: database, configure: EventTesting.listening([recent])) { client, server in
            let replay = try await client.send(.post, "/v1/tenants/\(tenant)/events/replay", json: #"{"since":"\#(since)"}"#)
            #expect(replay.status == .ok, "\(replay.text)")
            try await EventTesting.until("the recent listener heard the replay") { Set(ids[2...]).isSubset(of: Set(recent.heardIds)) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(recent.heard.withLock { $0.filter { $0.partitionKey == bank }.map(\.eventId) } == Array(ids[2...]), "nothing before the time")
        }
    }

    @Test("received events are kept once; a content block is linked to its quiz bank and unlinked; a block naming another tenant's bank becomes a dead letter")
    func consumedEvents() async throws {
        try await TestEnvironment.withServer(on: try await Self.database.value, configure: EventTesting.listening([])) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let foreign = try await Authoring.publishedQuiz(client, as: other.admin)
            func receive(_ subject: EventSubject, _ payload: JSONValue, id: String = EventID.generate().rawValue) async throws -> Bool {
                let envelope = EventEnvelope(eventId: id, subject: subject, tenantId: tenant.tenantId, partitionKey: "block-7", occurredAt: ServerClock.now(), payload: payload)
                return try await server.database.transaction(.tenantWide(tenant.tenantId)) { try await $0.receive(envelope, bytes: try envelope.wireBytes()) }
            }
            let added: JSONValue = ["block": ["blockId": "block-7", "kind": "quiz", "blockRef": ["quizBankId": .string(AssessmentEvents.quizBankId(quiz))]]]
            let id = EventID.generate().rawValue
            #expect(try await receive("authoring.block.added.v1", added, id: id))
            #expect(try await receive("authoring.block.added.v1", added, id: id) == false, "a redelivery is kept once")
            try await EventTesting.until("the block is linked") {
                try await server.database.transaction(.tenantWide(tenant.tenantId)) { try await $0.blockLinks(of: quiz) } == ["block-7"]
            }
            #expect(try await receive("authoring.block.removed.v1", ["block": ["blockId": "block-7"]]))
            try await EventTesting.until("the block is unlinked") {
                try await server.database.transaction(.tenantWide(tenant.tenantId)) { try await $0.blockLinks(of: quiz) }.isEmpty
            }
            let types = try await Delivery.events(client, about: quiz.rawValue, as: tenant.admin).compactMap { $0["eventType"]?.stringValue }
            #expect(types.contains("evaluation.block_linked") && types.contains("evaluation.block_unlinked"))

            let stolen: JSONValue = ["block": ["blockId": "block-8", "kind": "quiz", "blockRef": ["quizBankId": .string(AssessmentEvents.quizBankId(foreign))]]]
            #expect(try await receive("authoring.block.added.v1", stolen))
            #expect(try await receive("gdpr.subject_request.received.v1", [
                "subjectType": "user", "userId": .string(tenant.admin.userId.rawValue), "tenantId": .string(tenant.tenantId.rawValue),
                "requestType": "erasure", "requestId": "gdpr_01HN0000000000000000000000", "deadline": "2026-12-22T00:00:00Z",
            ]))
            var letters: [JSONValue] = []
            try await EventTesting.until("the foreign link is a dead letter") {
                letters = try await client.send(.get, "/v1/tenants/\(tenant.tenantId)/events/dead-letters").json()["items"]?.arrayValue ?? []
                return !letters.isEmpty
            }
            #expect(letters.first?["lastError"]?.stringValue?.contains("does not have") == true, "\(letters)")
            #expect(try await server.database.transaction(.tenantWide(other.tenantId)) { try await $0.blockLinks(of: foreign) }.isEmpty)
            try await EventTesting.until("the data-subject request is on the ledger") {
                try await TestEnvironment.sql(
                    "SELECT count(*)::text FROM ledger_events WHERE tenant_id = '\(tenant.tenantId)' AND event_type = 'event.received' AND payload->>'deadline' = '2026-12-22T00:00:00Z'",
                    as: try await Self.database.value.superuser) == [["1"]]
            }
        }
    }
}

@Suite("The dispatch queue holds only what a listener wants", .timeLimit(.minutes(2)))
struct EventQueueTests {
    @Test("an event no listener named goes to the outbox alone; once a listener names its subject, the next one is queued too")
    func onlyWantedEventsAreQueued() async throws {
        // A database of its own: which listeners are named is the point, and test servers name theirs.
        let isolated = try await TestEnvironment.isolatedDatabase("evalium_test_event_queue")
        let tenant = TenantID.generate()
        try await TestEnvironment.sql("INSERT INTO tenants (id, name, created_at) VALUES ('\(tenant)', 'Queue', now())", as: isolated.superuser)
        func publish(_ subject: EventSubject, _ database: Database) async throws -> String {
            let id = EventID.generate().rawValue
            let envelope = EventEnvelope(eventId: id, subject: subject, tenantId: tenant, partitionKey: "p", occurredAt: ServerClock.now(), payload: [:])
            try await database.transaction(.tenantWide(tenant)) { try await $0.publish(OutboxEvent(envelope: envelope, orgUnitId: nil)) }
            return id
        }
        func queued() async throws -> [[String?]] {
            try await TestEnvironment.sql("SELECT event_id FROM event_dispatch_queue ORDER BY sequence", as: isolated.superuser)
        }
        let database = Database(endpoint: isolated.application, maximumConnections: 2, logger: TestEnvironment.logger)
        try await database.whileRunning {
            _ = try await publish("assessment.quiz_bank.archived.v1", database)
            #expect(try await queued().isEmpty, "nobody listens")
            try await database.transaction(.none) {
                try await $0.registerEventConsumers([("bank-watcher", ["assessment.quiz_bank."])], freshness: .zero)
            }
            let wanted = try await publish("assessment.quiz_bank.archived.v1", database)
            _ = try await publish("assessment.finding.detected.v1", database)
            #expect(try await queued() == [[wanted]], "only the subject the listener named")
            let outbox = try await TestEnvironment.sql("SELECT count(*)::text FROM outbox", as: isolated.superuser)
            #expect(outbox == [["3"]], "every event is published all the same")
        }
    }
}
