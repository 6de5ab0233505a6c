import EvaliumCore
import Foundation
import PostgresNIO

/// Where an event in the dispatch queue came from: Evalium's outbox or the journal of received events.
public enum EventSource: String, Sendable, Codable {
    case outbox, inbound
}

/// An event some listener may still have to hear, with what each listener has made of it so far.
public struct PendingEvent: Sendable {
    public var eventId: String
    public var source: EventSource
    public var sequence: Int64
    public var subject: EventSubject
    public var partitionKey: String
    public var envelope: String
    /// Listeners that handled it (the inbox).
    public var handledBy: Set<String>
    /// Listeners that gave it up as a dead letter not yet replayed.
    public var deadFor: Set<String>
    /// Listeners that failed it and are waiting to try again.
    public var failures: [String: DeliveryFailure]
}

public struct DeliveryFailure: Sendable, Decodable {
    public var attempts: Int
    public var nextAttemptAt: Date
}

/// An outbox row or a dead letter on its way to JetStream.
public struct RelayMessage: Sendable {
    public var id: String
    public var subject: String
    public var partitionKey: String
    public var envelope: String
    /// The event's place in the tenant's event order, for a watcher who wants to replay from it.
    public var sequence: Int64?
    /// For a dead letter: the listener, the error and the attempts, sent as headers.
    public var deadLetter: DeadLetter?
}

public struct DeadLetter: Sendable, Codable, Equatable {
    public var id: DeadLetterID
    public var consumer: String
    public var eventId: String
    public var source: EventSource
    public var subject: String
    public var attempts: Int
    public var lastError: String
    public var deadAt: Date
    public var replayedAt: Date?
    /// The event's place in the tenant's event order: where a replay (`fromSequence`) starts to include it.
    public var sequence: Int64?
}

extension Transaction {
    // MARK: Publishing

    /// Writes `events` (the nils skipped) to the outbox and the dispatch queue in one round trip, in the
    /// caller's transaction: they are published if and only if the state change they report commits, and in
    /// the order given. Without `RETURNING`: a writer scoped to an org unit may write outbox rows but not read
    /// them back.
    ///
    /// Only the events some listener ever named (in `event_consumers`) are queued for dispatch: most events
    /// go to the bus alone, and a queue full of events no listener wants made every dispatcher's look at it
    /// cost milliseconds. A listener named for the first time hears the events from then on; older ones
    /// reach it by a replay.
    public func publish(_ events: [OutboxEvent?]) async throws {
        let outbox = try OutboxWrite(events)
        guard !outbox.isEmpty else { return }
        var binds = PostgresBindings()
        let writing = outbox.expressions(binding: &binds)
        let rows = try await run(
            PostgresQuery(unsafeSQL: "WITH \(writing) SELECT count(*)::int FROM outbox_wanted", binds: binds), plannedAs: PublishEvents.self)
        try await notePublished(counting: rows)
    }

    /// Notes, after a statement with `OutboxWrite`'s expressions whose single row counts `outbox_wanted`, that the
    /// relay has events to send and, when a listener wanted some, that the dispatcher has work.
    func notePublished(counting rows: PlannedRows) async throws {
        effects.noteEventPublished()
        for try await row in rows where try row.decode(Int.self) > 0 { effects.noteEventQueued() }
    }

    public func publish(_ event: OutboxEvent) async throws {
        try await publish([event])
    }

    /// Keeps an event received from the bus and queues it for the listeners; false when it was already
    /// received (a redelivery), which changes nothing.
    public func receive(_ envelope: EventEnvelope, bytes: [UInt8]) async throws -> Bool {
        let rows = try await run(
            """
            WITH received AS (
                INSERT INTO inbound_events (event_id, tenant_id, subject, partition_key, occurred_at, envelope)
                VALUES (\(envelope.eventId), \(envelope.tenantId.rawValue), \(envelope.subject.rawValue), \(envelope.partitionKey),
                        \(MillisecondTimestamp(envelope.occurredAt)), \(String(decoding: bytes, as: UTF8.self)))
                ON CONFLICT (event_id) DO NOTHING
                RETURNING event_id, tenant_id, subject, sequence),
            queued AS (
                INSERT INTO event_dispatch_queue (event_id, tenant_id, source, subject, sequence)
                SELECT event_id, tenant_id, 'inbound', subject, sequence FROM received RETURNING 1)
            SELECT count(*)::int FROM queued
            """)
        effects.noteEventQueued()
        for try await count in rows.decode(Int.self) { return count == 1 }
        return false
    }

    // MARK: Dispatching to listeners

    /// Tenants with queued events that one of `consumers` still has to hear.
    public func eventTenantsToDispatch(for consumers: [(name: String, subjects: [String])]) async throws -> [TenantID] {
        let names = consumers.flatMap { consumer in consumer.subjects.map { _ in consumer.name } }
        let prefixes = consumers.flatMap(\.subjects)
        return try await tenantIds("SELECT id FROM events_tenants_to_dispatch(\(names)::text[], \(prefixes)::text[]) AS t(id)")
    }

    /// Removes from every tenant's queue the events every live listener is done with; answers how many.
    @discardableResult
    public func sweepEventQueue(liveness: Duration) async throws -> Int {
        for try await count in try await run("SELECT events_sweep(\(liveness.seconds))").decode(Int.self) { return count }
        return 0
    }

    /// Takes the scope's tenant's dispatch lock for this transaction, so two servers take turns; false when
    /// another holds it (it is dispatching the tenant already).
    public func tryLockEventDispatch() async throws -> Bool {
        try await tryAdvisoryLock("evalium.events.dispatch:\(try requireTenant().rawValue)")
    }

    /// Names this server's listeners and the subject prefixes they want, as still running. Rows another
    /// server renewed within `freshness` are left alone: every server names the same built-in listeners,
    /// and renewing them all at once would only queue the servers behind one row lock.
    public func registerEventConsumers(_ consumers: [(name: String, subjects: [String])], freshness: Duration) async throws {
        for consumer in consumers {
            try await run(
                """
                INSERT INTO event_consumers (name, subjects, last_seen_at)
                SELECT \(consumer.name), \(consumer.subjects), now()
                WHERE NOT EXISTS (
                    SELECT 1 FROM event_consumers WHERE name = \(consumer.name) AND subjects = \(consumer.subjects)
                      AND last_seen_at > now() - make_interval(secs => \(freshness.seconds)))
                ON CONFLICT (name) DO UPDATE SET subjects = excluded.subjects, last_seen_at = excluded.last_seen_at
                """)
        }
    }

    /// Up to `limit` queued events of the scope's tenant that one of `consumers` wants (its subject starts
    /// with one of the consumer's prefixes) and has neither handled nor given up, in the order written.
    public func pendingEvents(for consumers: [(name: String, subjects: [String])], limit: Int) async throws -> [PendingEvent] {
        let tenant = try requireTenant()
        let names = consumers.flatMap { consumer in consumer.subjects.map { _ in consumer.name } }
        let prefixes = consumers.flatMap(\.subjects)
        let rows = try await run(
            """
            SELECT q.event_id, q.source, q.sequence, coalesce(o.subject, i.subject), coalesce(o.partition_key, i.partition_key),
                   coalesce(o.envelope, i.envelope),
                   ARRAY(SELECT x.consumer FROM event_inbox x WHERE x.event_id = q.event_id),
                   ARRAY(SELECT d.consumer FROM event_dead_letters d WHERE d.event_id = q.event_id AND d.replayed_at IS NULL),
                   (SELECT json_object_agg(f.consumer, json_build_object(
                        'attempts', f.attempts, 'nextAttemptAt', to_char(f.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
                    FROM event_delivery_failures f WHERE f.event_id = q.event_id)::text
            FROM event_dispatch_queue q
            LEFT JOIN outbox o ON q.source = 'outbox' AND o.event_id = q.event_id
            LEFT JOIN inbound_events i ON q.source = 'inbound' AND i.event_id = q.event_id
            WHERE q.tenant_id = \(tenant.rawValue)
              AND EXISTS (
                SELECT 1 FROM unnest(\(names)::text[], \(prefixes)::text[]) AS c(name, prefix)
                WHERE starts_with(q.subject, c.prefix)
                  AND NOT EXISTS (SELECT 1 FROM event_inbox x WHERE x.event_id = q.event_id AND x.consumer = c.name)
                  AND NOT EXISTS (SELECT 1 FROM event_dead_letters d WHERE d.event_id = q.event_id AND d.consumer = c.name AND d.replayed_at IS NULL))
            ORDER BY q.sequence
            LIMIT \(limit)
            """)
        var events: [PendingEvent] = []
        for try await (id, source, sequence, subject, partitionKey, envelope, handled, dead, failures) in rows.decode(
            (String, String, Int64, String, String, String, [String], [String], String?).self)
        {
            events.append(
                PendingEvent(
                    eventId: id, source: EventSource(rawValue: source) ?? .outbox, sequence: sequence, subject: EventSubject(rawValue: subject),
                    partitionKey: partitionKey, envelope: envelope, handledBy: Set(handled), deadFor: Set(dead),
                    failures: try failures.map { try storedValue([String: DeliveryFailure].self, $0) } ?? [:]))
        }
        return events
    }

    /// Records that `consumer` handled the event, in the transaction of its own effects; a failure it had
    /// recorded before goes.
    public func recordHandled(consumer: String, eventId: String) async throws {
        let tenant = try requireTenant()
        try await run(
            """
            WITH cleared AS (DELETE FROM event_delivery_failures WHERE event_id = \(eventId) AND consumer = \(consumer))
            INSERT INTO event_inbox (consumer, event_id, tenant_id) VALUES (\(consumer), \(eventId), \(tenant.rawValue))
            ON CONFLICT DO NOTHING
            """)
    }

    public func isHandled(consumer: String, eventId: String) async throws -> Bool {
        try await exists("SELECT 1 FROM event_inbox WHERE event_id = \(eventId) AND consumer = \(consumer)")
    }

    public func recordDeliveryFailure(
        consumer: String, event: PendingEvent, attempts: Int, nextAttemptAt: Date, error: String
    ) async throws {
        let tenant = try requireTenant()
        try await run(
            """
            INSERT INTO event_delivery_failures (consumer, event_id, tenant_id, partition_key, attempts, next_attempt_at, last_error)
            VALUES (\(consumer), \(event.eventId), \(tenant.rawValue), \(event.partitionKey), \(attempts),
                    \(MillisecondTimestamp(nextAttemptAt)), \(error))
            ON CONFLICT (event_id, consumer) DO UPDATE
                SET attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error
            """)
    }

    /// Gives the event up for `consumer`: its failure record becomes a dead letter.
    @discardableResult
    public func recordDeadLetter(consumer: String, event: PendingEvent, attempts: Int, error: String) async throws -> DeadLetterID {
        let tenant = try requireTenant()
        let id = DeadLetterID.generate()
        try await run(
            """
            WITH cleared AS (DELETE FROM event_delivery_failures WHERE event_id = \(event.eventId) AND consumer = \(consumer))
            INSERT INTO event_dead_letters (id, consumer, event_id, tenant_id, source, subject, attempts, last_error)
            VALUES (\(id.rawValue), \(consumer), \(event.eventId), \(tenant.rawValue), \(event.source.rawValue), \(event.subject.rawValue),
                    \(attempts), \(error))
            ON CONFLICT (event_id, consumer) DO UPDATE
                SET attempts = excluded.attempts, last_error = excluded.last_error, dead_at = now(), replayed_at = NULL, relayed_at = NULL
            """)
        effects.noteEventPublished()
        return id
    }

    /// Removes from the scope's tenant's queue the events that every listener of a running server (named
    /// within `liveness`) which wants them has handled or given up.
    public func dequeueFinishedEvents(liveness: Duration) async throws {
        let tenant = try requireTenant()
        try await run(
            """
            DELETE FROM event_dispatch_queue WHERE event_id IN (
              SELECT q.event_id FROM event_dispatch_queue q
              WHERE q.tenant_id = \(tenant.rawValue)
              AND NOT EXISTS (
                SELECT 1 FROM event_consumers c, unnest(c.subjects) AS prefix
                WHERE c.last_seen_at > now() - make_interval(secs => \(liveness.seconds)) AND starts_with(q.subject, prefix)
                  AND NOT EXISTS (SELECT 1 FROM event_inbox x WHERE x.event_id = q.event_id AND x.consumer = c.name)
                  AND NOT EXISTS (SELECT 1 FROM event_dead_letters d WHERE d.event_id = q.event_id AND d.consumer = c.name AND d.replayed_at IS NULL))
              FOR UPDATE SKIP LOCKED)
            """)
    }

    /// Puts the scope's tenant's events from `sequence` on, or from `time` on, back in the queue (seed 003
    /// §8): a listener that has not handled one hears it; one that has skips it (its inbox). Answers how
    /// many events are queued again.
    public func requeueEvents(fromSequence sequence: Int64?, since time: Date?) async throws -> Int {
        let tenant = try requireTenant()
        let from = sequence ?? 0
        let since = time.map(MillisecondTimestamp.init)
        let rows = try await run(
            """
            WITH replayed AS (
                INSERT INTO event_dispatch_queue (event_id, tenant_id, source, subject, sequence)
                SELECT event_id, tenant_id, 'outbox', subject, sequence FROM outbox
                WHERE tenant_id = \(tenant.rawValue) AND sequence >= \(from) AND (\(since)::timestamptz IS NULL OR occurred_at >= \(since))
                UNION ALL
                SELECT event_id, tenant_id, 'inbound', subject, sequence FROM inbound_events
                WHERE tenant_id = \(tenant.rawValue) AND sequence >= \(from) AND (\(since)::timestamptz IS NULL OR occurred_at >= \(since))
                ON CONFLICT (event_id) DO NOTHING
                RETURNING 1)
            SELECT count(*)::int FROM replayed
            """)
        effects.noteEventQueued()
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    // MARK: Dead letters

    public func listDeadLetters(includeReplayed: Bool, limit: Int) async throws -> [DeadLetter] {
        let rows = try await run(
            """
            SELECT \(unescaped: Self.deadLetterColumns) FROM event_dead_letters
            WHERE \(includeReplayed) OR replayed_at IS NULL
            ORDER BY dead_at DESC, id LIMIT \(limit)
            """)
        return try await Self.deadLetters(rows)
    }

    /// A dead letter with the envelope of its event.
    public func deadLetter(_ id: DeadLetterID) async throws -> (DeadLetter, PendingEvent)? {
        let rows = try await run("SELECT \(unescaped: Self.deadLetterColumns) FROM event_dead_letters WHERE id = \(id.rawValue)")
        guard let letter = try await Self.deadLetters(rows).first else { return nil }
        let events = try await run(
            """
            SELECT sequence, subject, partition_key, envelope FROM outbox WHERE event_id = \(letter.eventId) AND \(letter.source.rawValue) = 'outbox'
            UNION ALL
            SELECT sequence, subject, partition_key, envelope FROM inbound_events WHERE event_id = \(letter.eventId) AND \(letter.source.rawValue) = 'inbound'
            """)
        for try await (sequence, subject, partitionKey, envelope) in events.decode((Int64, String, String, String).self) {
            return (
                letter,
                PendingEvent(
                    eventId: letter.eventId, source: letter.source, sequence: sequence, subject: EventSubject(rawValue: subject),
                    partitionKey: partitionKey, envelope: envelope, handledBy: [], deadFor: [letter.consumer], failures: [:])
            )
        }
        return nil
    }

    public func markDeadLetterReplayed(_ id: DeadLetterID) async throws {
        try await run("UPDATE event_dead_letters SET replayed_at = now() WHERE id = \(id.rawValue)")
    }

    public func recordDeadLetterReplayFailure(_ id: DeadLetterID, error: String) async throws {
        try await run("UPDATE event_dead_letters SET last_error = \(error), attempts = attempts + 1 WHERE id = \(id.rawValue)")
    }

    // MARK: Relaying to JetStream

    public func eventTenantsToRelay() async throws -> [TenantID] {
        try await tenantIds("SELECT id FROM events_tenants_to_relay() AS t(id)")
    }

    public func tryLockEventRelay() async throws -> Bool {
        try await tryAdvisoryLock("evalium.events.relay:\(try requireTenant().rawValue)")
    }

    /// Outbox rows not yet acknowledged by JetStream, then dead letters not yet on the dead-letter subject,
    /// oldest first.
    public func messagesToRelay(limit: Int) async throws -> [RelayMessage] {
        let tenant = try requireTenant()
        var messages: [RelayMessage] = []
        let outbox = try await run(
            """
            SELECT event_id, subject, partition_key, envelope, sequence FROM outbox
            WHERE tenant_id = \(tenant.rawValue) AND relayed_at IS NULL ORDER BY sequence LIMIT \(limit)
            """)
        for try await (id, subject, partitionKey, envelope, sequence) in outbox.decode((String, String, String, String, Int64).self) {
            messages.append(RelayMessage(id: id, subject: subject, partitionKey: partitionKey, envelope: envelope, sequence: sequence))
        }
        let letters = try await run(
            """
            SELECT \(unescaped: Self.deadLetterColumns("d")), coalesce(o.envelope, i.envelope)
            FROM event_dead_letters d
            LEFT JOIN outbox o ON d.source = 'outbox' AND o.event_id = d.event_id
            LEFT JOIN inbound_events i ON d.source = 'inbound' AND i.event_id = d.event_id
            WHERE d.tenant_id = \(tenant.rawValue) AND d.relayed_at IS NULL ORDER BY d.dead_at LIMIT \(limit)
            """)
        for try await row in letters.decode((String, String, String, String, String, Int, String, Date, Date?, Int64?, String).self) {
            let letter = Self.deadLetter(row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9)
            messages.append(
                RelayMessage(
                    id: letter.id.rawValue, subject: letter.subject, partitionKey: letter.eventId, envelope: row.10, sequence: letter.sequence,
                    deadLetter: letter))
        }
        return messages
    }

    /// Marks what JetStream acknowledged: outbox rows by event id, dead letters by their id.
    public func markRelayed(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await run(
            """
            WITH letters AS (UPDATE event_dead_letters SET relayed_at = now() WHERE id = ANY(\(ids)::text[]) AND relayed_at IS NULL)
            UPDATE outbox SET relayed_at = now() WHERE event_id = ANY(\(ids)::text[]) AND relayed_at IS NULL
            """)
    }

    // MARK: Inspection

    /// The scope's tenant's published events, oldest first, as they went on the wire.
    public func outboxEnvelopes(after sequence: Int64 = 0, limit: Int) async throws -> [(sequence: Int64, envelope: String, relayed: Bool)] {
        let tenant = try requireTenant()
        let rows = try await run(
            """
            SELECT sequence, envelope, relayed_at IS NOT NULL FROM outbox
            WHERE tenant_id = \(tenant.rawValue) AND sequence > \(sequence) ORDER BY sequence LIMIT \(limit)
            """)
        var result: [(Int64, String, Bool)] = []
        for try await row in rows.decode((Int64, String, Bool).self) { result.append(row) }
        return result
    }

    // MARK: Content-block links (seed 003 UC-20)

    /// Links `blockId` to the evaluation, replacing the block's earlier link; false when the evaluation is
    /// not the tenant's.
    public func linkBlock(_ blockId: String, kind: String, to evaluation: EvaluationID, eventId: String, at time: Date) async throws -> OrgUnitID? {
        let tenant = try requireTenant()
        let rows = try await run(
            """
            INSERT INTO evaluation_block_links (block_id, tenant_id, evaluation_id, org_unit_id, block_kind, linked_at, linked_by_event)
            SELECT \(blockId), \(tenant.rawValue), e.id, e.org_unit_id, \(kind), \(MillisecondTimestamp(time)), \(eventId)
            FROM evaluations e WHERE e.id = \(evaluation.rawValue)
            ON CONFLICT (tenant_id, block_id) DO UPDATE
                SET evaluation_id = excluded.evaluation_id, org_unit_id = excluded.org_unit_id, block_kind = excluded.block_kind,
                    linked_at = excluded.linked_at, linked_by_event = excluded.linked_by_event
            RETURNING org_unit_id
            """)
        for try await orgUnit in rows.decode(String.self) { return OrgUnitID(unchecked: orgUnit) }
        return nil
    }

    /// Removes the block's link; the evaluation and org unit it had, or nil when there was none.
    public func unlinkBlock(_ blockId: String) async throws -> (EvaluationID, OrgUnitID)? {
        let tenant = try requireTenant()
        let rows = try await run(
            "DELETE FROM evaluation_block_links WHERE tenant_id = \(tenant.rawValue) AND block_id = \(blockId) RETURNING evaluation_id, org_unit_id")
        for try await (evaluation, orgUnit) in rows.decode((String, String).self) { return (EvaluationID(unchecked: evaluation), OrgUnitID(unchecked: orgUnit)) }
        return nil
    }

    public func blockLinks(of evaluation: EvaluationID) async throws -> [String] {
        let rows = try await run(
            "SELECT block_id FROM evaluation_block_links WHERE evaluation_id = \(evaluation.rawValue) ORDER BY block_id")
        var blocks: [String] = []
        for try await block in rows.decode(String.self) { blocks.append(block) }
        return blocks
    }

    // MARK: Helpers

    private static let deadLetterColumns = deadLetterColumns(nil)

    private static func deadLetterColumns(_ alias: String?) -> String {
        let prefix = "\(alias ?? "event_dead_letters")."
        let sequence = """
            coalesce((SELECT o.sequence FROM outbox o WHERE o.event_id = \(prefix)event_id),
                     (SELECT i.sequence FROM inbound_events i WHERE i.event_id = \(prefix)event_id))
            """
        return (["id", "consumer", "event_id", "source", "subject", "attempts", "last_error", "dead_at", "replayed_at"].map { prefix + $0 } + [sequence])
            .joined(separator: ", ")
    }

    private static func deadLetters(_ rows: PostgresRowSequence) async throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        for try await row in rows.decode((String, String, String, String, String, Int, String, Date, Date?, Int64?).self) {
            letters.append(deadLetter(row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9))
        }
        return letters
    }

    private static func deadLetter(
        _ id: String, _ consumer: String, _ eventId: String, _ source: String, _ subject: String, _ attempts: Int, _ error: String,
        _ deadAt: Date, _ replayedAt: Date?, _ sequence: Int64?
    ) -> DeadLetter {
        DeadLetter(
            id: DeadLetterID(unchecked: id), consumer: consumer, eventId: eventId, source: EventSource(rawValue: source) ?? .outbox, subject: subject,
            attempts: attempts, lastError: error, deadAt: deadAt.roundedToMilliseconds(), replayedAt: replayedAt?.roundedToMilliseconds(),
            sequence: sequence)
    }

    /// Takes the transaction-scoped advisory lock named `key` if no other transaction holds it.
    func tryAdvisoryLock(_ key: String) async throws -> Bool {
        for try await locked in try await run("SELECT pg_try_advisory_xact_lock(hashtextextended(\(key), 0))").decode(Bool.self) { return locked }
        return false
    }

    /// Runs `work` so that if it throws, what it wrote is undone and the transaction goes on (a listener's
    /// failure must not undo the other listeners' work nor the record of the failure).
    public func savepoint<Result: Sendable>(_ work: (Transaction) async throws -> Result) async throws -> Result {
        try await run("SAVEPOINT listener")
        do {
            let result = try await work(self)
            try await run("RELEASE SAVEPOINT listener")
            return result
        } catch {
            try await run("ROLLBACK TO SAVEPOINT listener")
            throw error
        }
    }
}

/// Events for the outbox and the dispatch queue, as common table expressions a statement can carry (`publish`
/// alone, or a finalisation with its other writes): `outbox_written` and `outbox_queued` write, and `outbox_wanted`
/// holds the events some listener named, which the statement counts for `notePublished`.
struct OutboxWrite {
    private let events: [OutboxEvent]
    private let wireTexts: [String]

    /// `events` with the nils skipped.
    init(_ events: [OutboxEvent?]) throws {
        self.events = events.compactMap { $0 }
        wireTexts = try self.events.map { String(decoding: try $0.envelope.wireBytes(), as: UTF8.self) }
    }

    var isEmpty: Bool { events.isEmpty }

    /// The expressions, whose parameters follow those already in `binds` and are added to it.
    func expressions(binding binds: inout PostgresBindings) -> String {
        let first = binds.count + 1
        func parameter(_ offset: Int) -> String { "$\(first + offset)" }
        let envelopes = events.map(\.envelope)
        binds.append(envelopes.map(\.eventId))
        binds.append(envelopes.map(\.tenantId.rawValue))
        binds.append(events.map { $0.orgUnitId?.rawValue ?? "" })
        binds.append(envelopes.map(\.subject.rawValue))
        binds.append(envelopes.map(\.partitionKey))
        binds.append(envelopes.map(\.occurredAt.rfc3339))
        binds.append(wireTexts)
        return """
            outbox_given AS (
                SELECT * FROM unnest(\(parameter(0))::text[], \(parameter(1))::text[], \(parameter(2))::text[], \(parameter(3))::text[],
                                     \(parameter(4))::text[], \(parameter(5))::timestamptz[], \(parameter(6))::text[])
                    WITH ORDINALITY AS e(event_id, tenant_id, org_unit_id, subject, partition_key, occurred_at, envelope, position)),
            outbox_numbered AS MATERIALIZED (
                SELECT given.*, nextval('event_sequence') AS sequence FROM (SELECT * FROM outbox_given ORDER BY position) given),
            outbox_written AS (
                INSERT INTO outbox (event_id, sequence, tenant_id, org_unit_id, subject, partition_key, occurred_at, envelope)
                SELECT event_id, sequence, tenant_id, NULLIF(org_unit_id, ''), subject, partition_key, occurred_at, envelope
                FROM outbox_numbered),
            outbox_wanted AS MATERIALIZED (
                SELECT * FROM outbox_numbered
                WHERE EXISTS (SELECT 1 FROM event_consumers c, unnest(c.subjects) AS prefix WHERE starts_with(outbox_numbered.subject, prefix))),
            outbox_queued AS (
                INSERT INTO event_dispatch_queue (event_id, tenant_id, source, subject, sequence)
                SELECT event_id, tenant_id, 'outbox', subject, sequence FROM outbox_wanted)
            """
    }
}

private enum PublishEvents: PlannedStatement {}
