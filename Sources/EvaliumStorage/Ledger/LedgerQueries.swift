import EvaliumCore
import Foundation
import NIOCore
import NIOPosix
import PostgresNIO

extension Transaction {
    /// Appends one event to the execution ledger inside this transaction (through `LedgerAppend`, the single
    /// way anything is written to `ledger_events`). The event commits or rolls back with the caller's
    /// own writes.
    ///
    /// No lock is taken: the event is queued for the sealer, which gives it its sequence number and
    /// chain hash moments after commit.
    @discardableResult
    public func appendLedgerEvent(_ draft: LedgerEventDraft) async throws -> LedgerEvent {
        try await appendLedgerEvents([draft])[0]
    }

    /// Appends `drafts` in this order, in one round trip (a finalisation appends one event per finding).
    @discardableResult
    public func appendLedgerEvents(_ drafts: [LedgerEventDraft]) async throws -> [LedgerEvent] {
        guard !drafts.isEmpty else { return [] }
        let batch = try LedgerAppend(drafts, tenantId: try requireTenant())
        var binds = PostgresBindings()
        let appending = batch.expressions(binding: &binds)
        let rows = try await run(
            PostgresQuery(unsafeSQL: "WITH \(appending) SELECT count(*) FROM appended", binds: binds), plannedAs: AppendLedgerEvents.self)
        // A refusal (a row-level policy, a constraint) arrives with the rows, not before them: read to the end.
        for try await _ in rows {}
        noteAppended(batch)
        return batch.events
    }

    /// Tells the sealer, after commit, that `batch` was appended by a statement of this transaction.
    func noteAppended(_ batch: LedgerAppend) {
        if !batch.events.isEmpty { effects.noteLedgerAppend() }
    }

    /// Events visible in this scope, oldest first, optionally for one aggregate, after a cursor.
    public func listLedgerEntries(
        aggregateType: String? = nil, aggregateId: String? = nil, excluding excludedTypes: [String] = [], after cursor: LedgerCursor? = nil,
        limit: Int
    ) async throws -> [LedgerEntry] {
        let rows = try await run(
            """
            SELECT \(unescaped: Self.eventColumns), e.leaf_hash, s.sequence, s.chain_hash
            FROM ledger_events e LEFT JOIN ledger_seals s ON s.event_id = e.id
            WHERE (\(aggregateType)::text IS NULL OR e.aggregate_type = \(aggregateType))
              AND (\(aggregateId)::text IS NULL OR e.aggregate_id = \(aggregateId))
              AND NOT (e.event_type = ANY(\(excludedTypes)::text[]))
              AND (\(cursor?.eventId.rawValue)::text IS NULL
                   OR (e.occurred_at, e.id) > (\(cursor.map { MillisecondTimestamp($0.occurredAt) }), \(cursor?.eventId.rawValue)))
            ORDER BY e.occurred_at, e.id
            LIMIT \(limit)
            """)
        var entries: [LedgerEntry] = []
        for try await row in rows {
            let random = row.makeRandomAccess()
            let event = try Self.decodeEvent(random)
            let leaf = try random[16].decode(ByteBuffer.self)
            let sequence = try random[17].decode(Int64?.self)
            let chain = try random[18].decode(ByteBuffer?.self)
            entries.append(
                LedgerEntry(
                    event: event, leafHash: Array(buffer: leaf), sequence: sequence, chainHash: chain.map { Array(buffer: $0) }))
        }
        return entries
    }

    /// Recomputes the scope tenant's whole chain from the stored bytes, in sequence order, streaming.
    ///
    /// Rebuilding an event's canonical bytes from its columns is nearly all the cost, and each entry is
    /// checked against the stored seal before it, so the stream is cut into runs of `runLength` entries
    /// checked on every core at once (one run per core in memory at a time), then taken in order.
    public func verifyLedgerChain(runLength: Int = 2_000, progress: (Int) -> Void = { _ in }) async throws -> LedgerVerificationReport {
        let tenantId = try requireTenant()
        let rows = try await run(
            """
            SELECT \(unescaped: Self.eventColumns), s.sequence, s.event_id, s.leaf_hash, s.chain_hash
            FROM ledger_seals s LEFT JOIN ledger_events e ON e.id = s.event_id
            WHERE s.tenant_id = \(tenantId.rawValue)
            ORDER BY s.sequence
            """)
        var verifier = LedgerChainVerifier(tenantId: tenantId)
        try await withThrowingTaskGroup(of: (index: Int, run: LedgerChainVerifier).self) { checking in
            let runsInFlight = max(2, System.coreCount)
            var pendingRows: [PostgresRow] = []
            var runHead = verifier.head
            var started = 0
            var taken = 0
            var finished: [Int: LedgerChainVerifier] = [:]
            var reportedAt = 0
            // Waits for one run, then takes in every run whose predecessors are all in.
            func takeFinishedRuns() async throws {
                guard let (index, result) = try await checking.next() else { return }
                finished[index] = result
                while let next = finished.removeValue(forKey: taken) {
                    verifier.append(next)
                    taken += 1
                }
                if verifier.checkedEntries - reportedAt >= 100_000 {
                    reportedAt = verifier.checkedEntries
                    progress(reportedAt)
                }
            }
            func startRun() async throws {
                if started - taken >= runsInFlight { try await takeFinishedRuns() }
                let (run, head, index) = (pendingRows, runHead, started)
                // On the blocking pool's threads: a child task would stay on the event loop reading the rows.
                checking.addTask {
                    (index, try await NIOThreadPool.singleton.runIfActive { try Self.checkedRun(run, after: head, tenantId: tenantId) })
                }
                started += 1
                let last = try Self.seal(run[run.count - 1].makeRandomAccess(), tenantId: tenantId)
                runHead = LedgerChainHead(sequence: last.sequence, chainHash: last.chainHash)
                pendingRows.removeAll(keepingCapacity: true)
            }
            for try await row in rows {
                pendingRows.append(row)
                if pendingRows.count == runLength {
                    try await startRun()
                    if verifier.firstBreak != nil { break }
                }
            }
            if !pendingRows.isEmpty, verifier.firstBreak == nil { try await startRun() }
            while taken < started, verifier.firstBreak == nil { try await takeFinishedRuns() }
            checking.cancelAll()
        }
        let unsealedRows = try await run(
            """
            SELECT count(*)::int FROM ledger_events e
            WHERE e.tenant_id = \(tenantId.rawValue)
              AND NOT EXISTS (SELECT 1 FROM ledger_seals s WHERE s.event_id = e.id)
            """)
        var unsealed = 0
        for try await count in unsealedRows.decode(Int.self) { unsealed = count }
        return LedgerVerificationReport(
            tenantId: tenantId, sealedEventsChecked: verifier.checkedEntries, headSequence: verifier.head.sequence,
            headChainHash: verifier.head.chainHash.hexString, unsealedEvents: unsealed,
            firstBreak: verifier.firstBreak?.description)
    }

    /// One run of the verification query's rows, checked after the stored seal `previous`.
    private static func checkedRun(_ rows: [PostgresRow], after previous: LedgerChainHead, tenantId: TenantID) throws -> LedgerChainVerifier {
        var verifier = LedgerChainVerifier(after: previous)
        for row in rows {
            let columns = row.makeRandomAccess()
            let seal = try seal(columns, tenantId: tenantId)
            var event: (columns: LedgerEvent, storedCanonicalBytes: [UInt8])?
            if try columns[0].decode(String?.self) != nil {
                event = (try decodeEvent(columns), Array(buffer: try columns[15].decode(ByteBuffer.self)))
            }
            verifier.check(SealedLedgerEntry(seal: seal, event: event))
            if verifier.firstBreak != nil { break }
        }
        return verifier
    }

    /// The seal in columns 16–19 of a verification row.
    private static func seal(_ columns: PostgresRandomAccessRow, tenantId: TenantID) throws -> LedgerSeal {
        LedgerSeal(
            tenantId: tenantId, sequence: try columns[16].decode(Int64.self),
            eventId: LedgerEventID(unchecked: try columns[17].decode(String.self)),
            leafHash: Array(buffer: try columns[18].decode(ByteBuffer.self)),
            chainHash: Array(buffer: try columns[19].decode(ByteBuffer.self)))
    }

    /// Columns 0–15 of every event query, in the order `decodeEvent` reads them.
    static let eventColumns = """
        e.id, e.tenant_id, e.org_unit_id, e.event_type, e.aggregate_type, e.aggregate_id, e.actor_kind, e.actor_id,
        e.occurred_at, e.client_occurred_at, e.payload::text, e.context_metadata::text, e.verification_level,
        e.verification_outcome::text, e.idempotency_key, e.canonical_bytes
        """

    static func decodeEvent(_ row: PostgresRandomAccessRow) throws -> LedgerEvent {
        func json(_ text: ByteBuffer) throws -> JSONValue {
            try text.withUnsafeReadableBytes { bytes in try JSONValue(parsing: bytes) }
        }
        let draft = LedgerEventDraft(
            eventType: LedgerEventType(rawValue: try row[3].decode(String.self)),
            aggregateType: try row[4].decode(String.self),
            aggregateId: try row[5].decode(String.self),
            orgUnitId: try row[2].decode(String?.self).map(OrgUnitID.init(unchecked:)),
            actor: LedgerActor(
                kind: LedgerActor.Kind(rawValue: try row[6].decode(String.self)) ?? .system, id: try row[7].decode(String.self)),
            clientOccurredAt: try row[9].decodeOptionalMilliseconds(),
            payload: try json(try row[10].decode(ByteBuffer.self)),
            contextMetadata: try json(try row[11].decode(ByteBuffer.self)),
            verificationLevel: try row[12].decode(String?.self).flatMap(VerificationLevel.init(rawValue:)),
            verificationOutcome: try row[13].decode(ByteBuffer?.self).map(json),
            idempotencyKey: try row[14].decode(String?.self))
        return LedgerEvent(
            id: LedgerEventID(unchecked: try row[0].decode(String.self)),
            tenantId: TenantID(unchecked: try row[1].decode(String.self)),
            occurredAt: try row[8].decodeMilliseconds(), draft: draft)
    }
}

/// JSON text for a jsonb parameter.
func jsonText(_ value: JSONValue) throws -> String {
    String(decoding: try CanonicalJSON.bytes(value), as: UTF8.self)
}

extension ScopedStatements {
    /// Appends `drafts` in this order, committed at once by the one statement that applies the scope
    /// (`scoped_ledger_append`).
    public func appendLedgerEvents(_ drafts: [LedgerEventDraft]) async throws {
        guard !drafts.isEmpty else { return }
        let batch = try LedgerAppend(drafts, tenantId: try requireTenant())
        var binds = PostgresBindings()
        bindScope(into: &binds)
        batch.bind(into: &binds)
        let rows = try await run(PostgresQuery(unsafeSQL: Self.scopedAppend, binds: binds), plannedAs: ScopedAppendLedgerEvents.self)
        // A refusal (a row-level policy, a constraint) arrives with the rows, not before them: read to the end.
        for try await _ in rows {}
        effects.noteLedgerAppend()
    }

    /// The scope, then the batch.
    private static let scopedAppend = "SELECT scoped_ledger_append(\(Scope.parameters), \(LedgerAppend.batch(from: 9)))"
}

/// Events to append to the ledger, ready to be written by a statement: one clock reading for their ids and time
/// (so id order, time order and sealing order agree), their canonical bytes and leaf hashes. A statement that
/// starts `WITH` and `expressions(binding:)` appends them whatever else it does: the one way anything is written
/// to `ledger_events`, alone (`appendLedgerEvents`) or within another statement, but for `ledger_append`
/// (migration 0019), which writes the same rows from the same parameters (`bind(into:)`, as one `ledger_batch`) for
/// the statements that apply their own scope outside a transaction (`scoped_ledger_append`,
/// `scoped_submission_record`).
struct LedgerAppend {
    let events: [LedgerEvent]
    private let tenantId: TenantID
    private let now: Date
    private let drafts: [LedgerEventDraft]
    private let canonicalBytes: [[UInt8]]
    private let payloads: [String]
    private let contextMetadata: [String]
    private let verificationOutcomes: [String]

    init(_ drafts: [LedgerEventDraft], tenantId: TenantID) throws {
        let now = ServerClock.now()
        self.tenantId = tenantId
        self.now = now
        self.drafts = drafts
        events = drafts.map { LedgerEvent(id: .generate(at: now), tenantId: tenantId, occurredAt: now, draft: $0) }
        canonicalBytes = try events.map { try $0.canonicalBytes() }
        payloads = try drafts.map { try jsonText($0.payload) }
        contextMetadata = try drafts.map { try jsonText($0.contextMetadata) }
        verificationOutcomes = try drafts.map { try $0.verificationOutcome.map(jsonText) ?? "" }
    }

    /// Adds the batch's seventeen parameters to `binds`, in the order of `expressions(binding:)` and of the
    /// fields of `ledger_batch`.
    func bind(into binds: inout PostgresBindings) {
        // Arrays cannot carry NULLs through the driver: an empty string stands for one, as NULLIF reads it.
        func text(_ values: [String?]) -> [String] { values.map { $0 ?? "" } }
        binds.append(tenantId.rawValue)
        binds.append(MillisecondTimestamp(now))
        binds.append(events.map(\.id.rawValue))
        binds.append(text(drafts.map { $0.orgUnitId?.rawValue }))
        binds.append(drafts.map(\.eventType.rawValue))
        binds.append(drafts.map(\.aggregateType))
        binds.append(drafts.map(\.aggregateId))
        binds.append(drafts.map(\.actor.kind.rawValue))
        binds.append(drafts.map(\.actor.id))
        binds.append(text(drafts.map { $0.clientOccurredAt?.rfc3339 }))
        binds.append(payloads)
        binds.append(contextMetadata)
        binds.append(text(drafts.map { $0.verificationLevel?.rawValue }))
        binds.append(verificationOutcomes)
        binds.append(text(drafts.map(\.idempotencyKey)))
        binds.append(canonicalBytes.map { ByteBuffer(bytes: $0) })
        binds.append(canonicalBytes.map { ByteBuffer(bytes: LedgerHash.leaf(canonicalBytes: $0)) })
    }

    /// The batch's parameters from `$first` on (`bind(into:)`) as the one `ledger_batch` the `scoped_*` functions
    /// that append take.
    static func batch(from first: Int) -> String {
        "ROW(" + (first..<first + 17).map { "$\($0)" }.joined(separator: ", ") + ")::ledger_batch"
    }

    /// `appended` (the events) and `queued` (their seal-queue rows), two common table expressions whose
    /// parameters follow those already in `binds` and are added to it. An empty batch appends nothing. `queued`
    /// returns nothing: the queue accepts an event of any org unit of the tenant but shows a scope only its own,
    /// and a row it would not show cannot be returned.
    func expressions(binding binds: inout PostgresBindings) -> String {
        let first = binds.count + 1
        func parameter(_ offset: Int) -> String { "$\(first + offset)" }
        bind(into: &binds)
        return """
            appended AS (
                INSERT INTO ledger_events (
                    id, tenant_id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
                    occurred_at, client_occurred_at, payload, context_metadata, verification_level,
                    verification_outcome, idempotency_key, canonical_bytes, leaf_hash)
                SELECT id, \(parameter(0))::text, NULLIF(org_unit_id, ''), event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
                       \(parameter(1))::timestamptz, NULLIF(client_occurred_at, '')::timestamptz, payload::jsonb, context_metadata::jsonb,
                       NULLIF(verification_level, ''), NULLIF(verification_outcome, '')::jsonb, NULLIF(idempotency_key, ''),
                       canonical_bytes, leaf_hash
                FROM unnest(\(parameter(2))::text[], \(parameter(3))::text[], \(parameter(4))::text[], \(parameter(5))::text[],
                            \(parameter(6))::text[], \(parameter(7))::text[], \(parameter(8))::text[], \(parameter(9))::text[],
                            \(parameter(10))::text[], \(parameter(11))::text[], \(parameter(12))::text[], \(parameter(13))::text[],
                            \(parameter(14))::text[], \(parameter(15))::bytea[], \(parameter(16))::bytea[])
                     WITH ORDINALITY AS e(id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id, client_occurred_at,
                                          payload, context_metadata, verification_level, verification_outcome, idempotency_key,
                                          canonical_bytes, leaf_hash, position)
                ORDER BY position
                RETURNING id, tenant_id, org_unit_id),
            queued AS (
                INSERT INTO ledger_seal_queue (event_id, tenant_id, org_unit_id)
                SELECT id, tenant_id, org_unit_id FROM appended)
            """
    }
}

private enum AppendLedgerEvents: PlannedStatement {}
private enum ScopedAppendLedgerEvents: PlannedStatement {}
