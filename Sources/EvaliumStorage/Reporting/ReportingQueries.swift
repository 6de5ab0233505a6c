import EvaliumCore
import Foundation
import PostgresNIO

/// A sealed ledger event as the projection reads it: its place in the tenant's chain and what it is about.
public struct SealedEventRef: Sendable {
    public var sequence: Int64
    public var eventType: String
    public var aggregateType: String
    public var aggregateId: String
}

extension Transaction {
    // MARK: Following the ledger

    /// The last sealed sequence the scope's tenant's projection has read, with the tenant's projection lock
    /// held for this transaction so two projectors (two servers) take turns. With `skipIfBusy`, nil when
    /// another projector holds it: that one is catching the tenant up already, and waiting would only hold a
    /// connection (and, at shutdown, a server). An advisory lock, not a row lock, so that not even the first
    /// checkpoint of a tenant is ever waited on.
    public func lockReportingCheckpoint(skipIfBusy: Bool = false) async throws -> Int64? {
        let tenant = try requireTenant()
        let key = "evalium.reporting.checkpoint:\(tenant.rawValue)"
        if skipIfBusy {
            for try await locked in try await run("SELECT pg_try_advisory_xact_lock(hashtextextended(\(key), 0))").decode(Bool.self) {
                if !locked { return nil }
            }
        } else {
            try await run("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))")
        }
        let rows = try await run("SELECT last_sequence FROM reporting.checkpoints WHERE tenant_id = \(tenant.rawValue)")
        for try await sequence in rows.decode(Int64.self) { return sequence }
        return 0
    }

    /// Moves the checkpoint; callers hold the tenant's projection lock (`lockReportingCheckpoint`).
    public func saveReportingCheckpoint(_ sequence: Int64) async throws {
        let tenant = try requireTenant()
        try await run(
            """
            INSERT INTO reporting.checkpoints (tenant_id, last_sequence) VALUES (\(tenant.rawValue), \(sequence))
            ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = excluded.last_sequence
            """)
    }

    /// Up to `limit` sealed events after `sequence`, in chain order.
    public func sealedEvents(after sequence: Int64, limit: Int) async throws -> [SealedEventRef] {
        let tenant = try requireTenant()
        let rows = try await run(
            """
            SELECT s.sequence, e.event_type, e.aggregate_type, e.aggregate_id
            FROM ledger_seals s JOIN ledger_events e ON e.id = s.event_id
            WHERE s.tenant_id = \(tenant.rawValue) AND s.sequence > \(sequence)
            ORDER BY s.sequence LIMIT \(limit)
            """)
        var events: [SealedEventRef] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            events.append(
                SealedEventRef(
                    sequence: try cells[0].decode(Int64.self), eventType: try cells[1].decode(String.self),
                    aggregateType: try cells[2].decode(String.self), aggregateId: try cells[3].decode(String.self)))
        }
        return events
    }

    /// The last sealed sequence of the scope's tenant, 0 before its first seal.
    public func lastSealedSequence() async throws -> Int64 {
        let tenant = try requireTenant()
        let rows = try await run("SELECT coalesce(max(sequence), 0) FROM ledger_seals WHERE tenant_id = \(tenant.rawValue)")
        for try await sequence in rows.decode(Int64.self) { return sequence }
        return 0
    }

    /// The `finding.detected` events of each of `submissions`.
    public func findingDetections(of submissions: [SubmissionID]) async throws -> [SubmissionID: [FindingDetection]] {
        let rows = try await run(
            """
            SELECT aggregate_id, id, payload->>'itemId', payload->>'optionId', occurred_at FROM ledger_events
            WHERE aggregate_type = 'submission' AND aggregate_id = ANY(\(submissions.map(\.rawValue))::text[]) AND event_type = 'finding.detected'
            """)
        var detections: [SubmissionID: [FindingDetection]] = [:]
        for try await (submission, id, item, option, at) in rows.decode((String, String, String, String, Date).self) {
            detections[SubmissionID(unchecked: submission), default: []].append(
                FindingDetection(
                    itemId: ItemID(unchecked: item), optionId: option, eventId: LedgerEventID(unchecked: id), occurredAt: at.roundedToMilliseconds()))
        }
        return detections
    }

    // MARK: Writing projections

    /// Replaces everything the reporting world holds about each projected submission with its projection,
    /// in a handful of statements whatever their number (a statement per row was a rebuild's main cost).
    /// Arrays cannot carry NULLs through the driver: an empty string stands for one, as NULLIF reads it,
    /// and lists of subjects travel space-separated.
    public func replaceProjections(_ projections: [SubmissionProjection], tenant: TenantID) async throws {
        guard !projections.isEmpty else { return }
        let ids = projections.map(\.fact.submissionId.rawValue)
        // A rebuild and the projector may recompute one submission at once; they take turns on it, taking
        // the locks in id order so that two batches never wait on each other in a circle.
        try await run("SELECT pg_advisory_xact_lock(hashtextextended('evalium.reporting:' || id, 0)) FROM unnest(\(ids.sorted())::text[]) AS id")
        // One submission at a time (migration 0018 says why).
        try await run("SELECT reporting.forget_submissions(\(ids)::text[])")
        let facts = projections.map(\.fact)
        func subjects(_ ids: [SubjectID]) -> String { ids.map(\.rawValue).joined(separator: " ") }
        try await run(
            """
            INSERT INTO reporting.submission_facts (submission_id, tenant_id, org_unit_id, evaluation_id, evaluation_version, kind, cohort,
                batch_id, subject_ids, operator_id, started_at, submitted_at, outcome, raw_score, max_score, scaled_score, passed,
                approval_status, amendment_count, voided, finding_count, evidence_count, replaces)
            SELECT submission_id, \(tenant.rawValue), org_unit_id, evaluation_id, evaluation_version, kind, NULLIF(cohort, ''),
                   NULLIF(batch_id, ''), string_to_array(subject_ids, ' '), operator_id, started_at::timestamptz, submitted_at::timestamptz,
                   outcome, raw_score, max_score, scaled_score, NULLIF(passed, '')::boolean, approval_status, amendment_count, voided,
                   finding_count, evidence_count, NULLIF(replaces, '')
            FROM unnest(\(ids)::text[], \(facts.map(\.orgUnitId.rawValue))::text[], \(facts.map(\.evaluationId.rawValue))::text[],
                        \(facts.map(\.evaluationVersion))::integer[], \(facts.map(\.kind.rawValue))::text[], \(facts.map { $0.cohort ?? "" })::text[],
                        \(facts.map { $0.batchId?.rawValue ?? "" })::text[], \(facts.map { subjects($0.subjectIds) })::text[],
                        \(facts.map(\.operatorId.rawValue))::text[], \(facts.map(\.startedAt.rfc3339))::text[], \(facts.map(\.submittedAt.rfc3339))::text[],
                        \(facts.map(\.outcome.rawValue))::text[], \(facts.map(\.rawScore))::double precision[], \(facts.map(\.maxScore))::double precision[],
                        \(facts.map(\.scaledScore))::double precision[], \(facts.map { $0.passed.map { "\($0)" } ?? "" })::text[],
                        \(facts.map(\.approvalStatus.rawValue))::text[], \(facts.map(\.amendmentCount))::integer[], \(facts.map(\.voided))::boolean[],
                        \(facts.map(\.findingCount))::integer[], \(facts.map(\.evidenceCount))::integer[], \(facts.map { $0.replaces?.rawValue ?? "" })::text[])
                 AS f(submission_id, org_unit_id, evaluation_id, evaluation_version, kind, cohort, batch_id, subject_ids, operator_id, started_at,
                      submitted_at, outcome, raw_score, max_score, scaled_score, passed, approval_status, amendment_count, voided, finding_count,
                      evidence_count, replaces)
            ON CONFLICT (submission_id) DO UPDATE SET
                outcome = excluded.outcome, raw_score = excluded.raw_score, max_score = excluded.max_score,
                scaled_score = excluded.scaled_score, passed = excluded.passed, approval_status = excluded.approval_status,
                amendment_count = excluded.amendment_count, voided = excluded.voided, finding_count = excluded.finding_count,
                evidence_count = excluded.evidence_count
            """)
        let findings = projections.flatMap(\.findings)
        let items = projections.flatMap(\.items)
        func number(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
        try await run(
            """
            WITH findings AS (
                INSERT INTO reporting.findings (submission_id, item_id, tenant_id, org_unit_id, question_id, option_id, severity, subject_ids,
                                                batch_id, ledger_event_id, detected_at, voided)
                SELECT submission_id, item_id, \(tenant.rawValue), org_unit_id, question_id, option_id, severity, string_to_array(subject_ids, ' '),
                       NULLIF(batch_id, ''), ledger_event_id, detected_at::timestamptz, voided
                FROM unnest(\(findings.map(\.submissionId.rawValue))::text[], \(findings.map(\.itemId.rawValue))::text[],
                            \(findings.map(\.orgUnitId.rawValue))::text[], \(findings.map(\.questionId.rawValue))::text[],
                            \(findings.map(\.optionId))::text[], \(findings.map(\.severity.rawValue))::text[],
                            \(findings.map { subjects($0.subjectIds) })::text[], \(findings.map { $0.batchId?.rawValue ?? "" })::text[],
                            \(findings.map(\.ledgerEventId.rawValue))::text[], \(findings.map(\.detectedAt.rfc3339))::text[],
                            \(findings.map(\.voided))::boolean[])
                     AS f(submission_id, item_id, org_unit_id, question_id, option_id, severity, subject_ids, batch_id, ledger_event_id,
                          detected_at, voided))
            INSERT INTO reporting.item_results (submission_id, item_id, tenant_id, org_unit_id, evaluation_id, evaluation_version,
                                                question_id, question_version, correct, points_earned, points_possible, seconds_spent, voided)
            SELECT submission_id, item_id, \(tenant.rawValue), org_unit_id, evaluation_id, evaluation_version, question_id, question_version,
                   correct, NULLIF(points_earned, '')::double precision, points_possible, NULLIF(seconds_spent, '')::double precision, voided
            FROM unnest(\(items.map(\.submissionId.rawValue))::text[], \(items.map(\.itemId.rawValue))::text[],
                        \(items.map(\.orgUnitId.rawValue))::text[], \(items.map(\.evaluationId.rawValue))::text[],
                        \(items.map(\.evaluationVersion))::integer[], \(items.map(\.questionId.rawValue))::text[],
                        \(items.map(\.questionVersion))::integer[], \(items.map(\.correct.label))::text[],
                        \(items.map { number($0.pointsEarned) })::text[], \(items.map(\.pointsPossible))::double precision[],
                        \(items.map { number($0.secondsSpent) })::text[], \(items.map(\.voided))::boolean[])
                 AS i(submission_id, item_id, org_unit_id, evaluation_id, evaluation_version, question_id, question_version, correct,
                      points_earned, points_possible, seconds_spent, voided)
            """)
    }

    /// Removes the scope's checkpoint, for a rebuild: until the rebuild ends, the projector replays the tenant's
    /// ledger from the start. The projections stay, and each page of the rebuild replaces its own
    /// (`replaceProjections`), so readers never meet an empty report and a tenant-wide delete leaves no
    /// millions of dead index entries behind for the pages to step over.
    public func resetReportingCheckpoint() async throws {
        try await run("DELETE FROM reporting.checkpoints WHERE tenant_id = \(try requireTenant().rawValue)")
    }

    public func countSubmissions() async throws -> Int {
        for try await count in try await run("SELECT count(*)::int FROM submissions").decode(Int.self) { return count }
        return 0
    }

    /// Hands `body` every submission id of the scope, in no particular order, as PostgreSQL streams them
    /// (memory stays flat however many there are). One read: paging with `id > last LIMIT n` is misplanned
    /// here, because the row-level policies make the planner expect a row or two and it sorts the whole
    /// tenant for every page; and unordered, the first ids arrive at once rather than after a sort.
    public func forEachSubmissionId(_ body: (SubmissionID) async throws -> Void) async throws {
        let rows = try await run("SELECT id FROM submissions")
        for try await id in rows.decode(String.self) { try await body(SubmissionID(unchecked: id)) }
    }
}

/// Filters for the findings list; they combine with AND. Voided work is left out unless asked for.
public struct FindingFilter: Sendable {
    public var submissionId: SubmissionID?
    public var severity: FindingSeverity?
    public var subjectId: SubjectID?
    public var batchId: BatchID?
    public var from: Date?
    public var to: Date?
    public var includeVoided = false
    /// The last finding of the previous page: its detection time, submission and item.
    public var after: (detectedAt: Date, submissionId: SubmissionID, itemId: ItemID)?
    public var limit: Int

    public init(limit: Int) { self.limit = limit }

    /// The parameters `bind(into:)` binds, numbered from `first`, as `reporting_findings` and `scoped_findings`
    /// take them; each is cast, since any may be NULL.
    static func parameters(from first: Int) -> String {
        ["text", "text", "text", "text", "timestamptz", "timestamptz", "boolean", "timestamptz", "text", "text", "bigint"]
            .enumerated().map { "$\(first + $0.offset)::\($0.element)" }.joined(separator: ", ")
    }

    /// Binds the filter after the bindings already in `binds`, in the order of `parameters(from:)`.
    func bind(into binds: inout PostgresBindings) {
        binds.append(submissionId?.rawValue)
        binds.append(severity?.rawValue)
        binds.append(subjectId?.rawValue)
        binds.append(batchId?.rawValue)
        binds.append(from.map(MillisecondTimestamp.init))
        binds.append(to.map(MillisecondTimestamp.init))
        binds.append(includeVoided)
        binds.append(after.map { MillisecondTimestamp($0.detectedAt) })
        binds.append(after?.submissionId.rawValue)
        binds.append(after?.itemId.rawValue)
        binds.append(limit)
    }
}

/// Filters for the submission facts list; they combine with AND.
public struct FactFilter: Sendable {
    public var evaluationId: EvaluationID?
    public var evaluationVersion: Int?
    public var cohort: String?
    public var batchId: BatchID?
    public var subjectId: SubjectID?
    public var outcome: Outcome?
    public var approvalStatus: ApprovalStatus?
    public var from: Date?
    public var to: Date?
    public var includeVoided = false
    /// The last fact of the previous page: its submission time and id.
    public var after: (submittedAt: Date, submissionId: SubmissionID)?
    public var limit: Int

    public init(limit: Int) { self.limit = limit }
}

/// Item analytics of one question version within one evaluation version.
public struct ItemAnalytics: Codable, Sendable, Hashable {
    public var itemId: ItemID
    public var questionId: QuestionID
    public var questionVersion: Int
    public var attempts: Int
    public var correct: Int
    public var partial: Int
    public var pending: Int
    public var correctRate: Double?
    public var averagePoints: Double?
    public var pointsPossible: Double
    /// Average seconds between the previous answer and this one.
    public var averageSeconds: Double?
}

/// A tenant's sealed events after its projection checkpoint, as one pass of the projector read them.
public struct ReportingLedgerWork: Sendable {
    public let tenantId: TenantID
    public let checkpoint: Int64
    public var events: [SealedEventRef]
}

extension ScopedStatements {
    /// The checkpoint of each of up to `tenants` tenants whose sealed ledger is ahead of it, with up to
    /// `eventsPerTenant` of the sealed events after it, in chain order: one statement for every tenant
    /// (`reporting_ledger_work`, migration 0022), each tenant read under its own scope.
    public func reportingLedgerWork(eventsPerTenant: Int, tenants: Int) async throws -> [ReportingLedgerWork] {
        let rows = try await run(
            "SELECT * FROM reporting_ledger_work(\(Int32(clamping: eventsPerTenant)), \(Int32(clamping: tenants)))",
            plannedAs: ReadReportingWork.self)
        var work: [ReportingLedgerWork] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let tenantId = TenantID(unchecked: try cells[0].decode(String.self))
            let event = SealedEventRef(
                sequence: try cells[2].decode(Int64.self), eventType: try cells[3].decode(String.self),
                aggregateType: try cells[4].decode(String.self), aggregateId: try cells[5].decode(String.self))
            if work.last?.tenantId == tenantId {
                work[work.count - 1].events.append(event)
            } else {
                work.append(ReportingLedgerWork(tenantId: tenantId, checkpoint: try cells[1].decode(Int64.self), events: [event]))
            }
        }
        return work
    }

    /// Moves each tenant's checkpoint from `from` to `to`, past events that change no projection, in one
    /// statement (`reporting_skip_to`): only where no other projector has the tenant's turn and the checkpoint
    /// is still `from`. Answers the tenants whose checkpoint moved.
    public func skipReportingCheckpoints(_ moves: [(tenantId: TenantID, from: Int64, to: Int64)]) async throws -> Set<TenantID> {
        let rows = try await run(
            """
            SELECT tenant, moved FROM reporting_skip_to(
                \(moves.map(\.tenantId.rawValue))::text[], \(moves.map(\.from))::bigint[], \(moves.map(\.to))::bigint[])
            """, plannedAs: SkipReportingCheckpoints.self)
        var moved: Set<TenantID> = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            if try cells[1].decode(Bool.self) { moved.insert(TenantID(unchecked: try cells[0].decode(String.self))) }
        }
        return moved
    }

    /// Findings by detection time (then submission and item), after `filter.after`, in one statement that
    /// applies the scope itself (`scoped_findings`).
    public func listFindings(_ filter: FindingFilter) async throws -> [FindingFact] {
        var binds = PostgresBindings()
        bindScope(into: &binds)
        filter.bind(into: &binds)
        var findings: [FindingFact] = []
        for try await row in try await run(PostgresQuery(unsafeSQL: Self.scopedFindings, binds: binds), plannedAs: ScopedFindings.self) {
            findings.append(try FindingFact(row))
        }
        return findings
    }

    private static let scopedFindings = "SELECT * FROM scoped_findings(\(Scope.parameters), \(FindingFilter.parameters(from: 9)))"
}

extension Transaction {
    /// The findings `filter` asks for, in the order of `ScopedStatements.listFindings`, handed to `body` one at a
    /// time as the database streams them, so an export of any size holds one row at a time.
    public func eachFinding(_ filter: FindingFilter, _ body: (FindingFact) async throws -> Void) async throws {
        var binds = PostgresBindings()
        filter.bind(into: &binds)
        // Not prepared: the function is inlined, and the statement planned for this export's filters.
        let rows = try await run(PostgresQuery(unsafeSQL: "SELECT * FROM reporting_findings(\(FindingFilter.parameters(from: 1)))", binds: binds))
        for try await row in rows {
            try await body(try FindingFact(row))
        }
    }

    /// Submission facts by submission time (then id), after `filter.after`.
    public func listFacts(_ filter: FactFilter) async throws -> [SubmissionFact] {
        var facts: [SubmissionFact] = []
        try await eachFact(filter) { facts.append($0) }
        return facts
    }

    /// The same facts, handed to `body` one at a time as the database streams them.
    public func eachFact(_ filter: FactFilter, _ body: (SubmissionFact) async throws -> Void) async throws {
        let rows = try await run(
            Self.factCondition(filter).wrapped(
                """
                SELECT submission_id, org_unit_id, evaluation_id, evaluation_version, kind, cohort, batch_id, subject_ids, operator_id,
                       started_at, submitted_at, outcome, raw_score, max_score, scaled_score, passed, approval_status, amendment_count, voided,
                       finding_count, evidence_count, replaces
                FROM reporting.submission_facts
                """, "ORDER BY submitted_at, submission_id LIMIT \(filter.limit)"))
        for try await row in rows {
            let cells = Array(row)
            func text(_ index: Int) throws -> String { try cells[index].decode(String.self) }
            func optional(_ index: Int) throws -> String? { try cells[index].decode(String?.self) }
            try await body(
                SubmissionFact(
                    submissionId: SubmissionID(unchecked: try text(0)), orgUnitId: OrgUnitID(unchecked: try text(1)),
                    evaluationId: EvaluationID(unchecked: try text(2)), evaluationVersion: try cells[3].decode(Int.self),
                    kind: try storedEnum(EvaluationKind.self, try text(4)), cohort: try optional(5), batchId: try optional(6).map(BatchID.init(unchecked:)),
                    subjectIds: try cells[7].decode([String].self).map(SubjectID.init(unchecked:)), operatorId: UserID(unchecked: try text(8)),
                    startedAt: try cells[9].decode(Date.self).roundedToMilliseconds(), submittedAt: try cells[10].decode(Date.self).roundedToMilliseconds(),
                    outcome: try storedEnum(Outcome.self, try text(11)), rawScore: try cells[12].decode(Double.self),
                    maxScore: try cells[13].decode(Double.self), scaledScore: try cells[14].decode(Double.self), passed: try cells[15].decode(Bool?.self),
                    approvalStatus: try storedEnum(ApprovalStatus.self, try text(16)), amendmentCount: try cells[17].decode(Int.self),
                    voided: try cells[18].decode(Bool.self), findingCount: try cells[19].decode(Int.self),
                    evidenceCount: try cells[20].decode(Int.self), replaces: try optional(21).map(SubmissionID.init(unchecked:))))
        }
    }

    /// The WHERE clause of a facts query: every filter, and the keyset position after `filter.after`.
    static func factCondition(_ filter: FactFilter) -> PostgresQuery {
        """
        WHERE (\(filter.evaluationId?.rawValue)::text IS NULL OR evaluation_id = \(filter.evaluationId?.rawValue))
          AND (\(filter.evaluationVersion)::integer IS NULL OR evaluation_version = \(filter.evaluationVersion))
          AND (\(filter.cohort)::text IS NULL OR cohort = \(filter.cohort))
          AND (\(filter.batchId?.rawValue)::text IS NULL OR batch_id = \(filter.batchId?.rawValue))
          AND (\(filter.subjectId?.rawValue)::text IS NULL OR subject_ids @> ARRAY[\(filter.subjectId?.rawValue)::text])
          AND (\(filter.outcome?.rawValue)::text IS NULL OR outcome = \(filter.outcome?.rawValue))
          AND (\(filter.approvalStatus?.rawValue)::text IS NULL OR approval_status = \(filter.approvalStatus?.rawValue))
          AND (\(filter.from.map(MillisecondTimestamp.init))::timestamptz IS NULL OR submitted_at >= \(filter.from.map(MillisecondTimestamp.init)))
          AND (\(filter.to.map(MillisecondTimestamp.init))::timestamptz IS NULL OR submitted_at < \(filter.to.map(MillisecondTimestamp.init)))
          AND (\(filter.includeVoided) OR NOT voided)
          AND (\(filter.after?.submissionId.rawValue)::text IS NULL
               OR (submitted_at, submission_id) > (\(filter.after.map { MillisecondTimestamp($0.submittedAt) }), \(filter.after?.submissionId.rawValue)))
        """
    }

    /// The scope's tenant's last seal: where its ledger stood when an export was read.
    public func lastSeal() async throws -> (sequence: Int64, chainHash: String) {
        let tenant = try requireTenant()
        let rows = try await run(
            "SELECT sequence, chain_hash FROM ledger_seals WHERE tenant_id = \(tenant.rawValue) ORDER BY sequence DESC LIMIT 1")
        for try await (sequence, hash) in rows.decode((Int64, ByteBuffer).self) { return (sequence, Array(buffer: hash).hexString) }
        return (0, "")
    }

    /// Per item of an evaluation version, over standing (not voided) submissions.
    public func itemAnalytics(evaluation: EvaluationID, version: Int) async throws -> [ItemAnalytics] {
        let rows = try await run(
            """
            SELECT item_id, question_id, question_version, count(*)::int,
                   count(*) FILTER (WHERE correct = 'correct')::int, count(*) FILTER (WHERE correct = 'partial')::int,
                   count(*) FILTER (WHERE correct = 'pending')::int, avg(points_earned), max(points_possible), avg(seconds_spent)
            FROM reporting.item_results
            WHERE evaluation_id = \(evaluation.rawValue) AND evaluation_version = \(version) AND NOT voided
            GROUP BY item_id, question_id, question_version
            ORDER BY item_id
            """)
        var analytics: [ItemAnalytics] = []
        for try await (item, question, questionVersion, attempts, correct, partial, pending, average, possible, seconds) in rows.decode(
            (String, String, Int, Int, Int, Int, Int, Double?, Double, Double?).self)
        {
            let graded = attempts - pending
            analytics.append(
                ItemAnalytics(
                    itemId: ItemID(unchecked: item), questionId: QuestionID(unchecked: question), questionVersion: questionVersion,
                    attempts: attempts, correct: correct, partial: partial, pending: pending,
                    correctRate: graded > 0 ? Double(correct) / Double(graded) : nil, averagePoints: average, pointsPossible: possible,
                    averageSeconds: seconds))
        }
        return analytics
    }
}

/// What a cohort or batch summary groups by.
public enum SummaryGrouping: String, Sendable {
    case cohort, batch
}

/// The standing work of one cohort or batch, counted.
public struct GroupSummary: Codable, Sendable, Hashable {
    /// The cohort label or batch id; nil for work without one.
    public var key: String?
    public var submissions: Int
    public var passed: Int
    public var failed: Int
    public var pending: Int
    public var approved: Int
    public var pendingReview: Int
    public var rejected: Int
    public var changesRequested: Int
    public var findings: Int
    public var averageScaledScore: Double?
    public var firstSubmittedAt: Date
    public var lastSubmittedAt: Date
}

extension Transaction {
    /// Submission facts matching `filter` (its paging aside), counted per cohort or batch.
    public func summarize(by grouping: SummaryGrouping, _ filter: FactFilter) async throws -> [GroupSummary] {
        let key = grouping == .cohort ? "cohort" : "batch_id"
        let rows = try await run(
            Self.factCondition(filter).wrapped(
                """
                SELECT \(key), count(*)::int, count(*) FILTER (WHERE outcome = 'pass')::int, count(*) FILTER (WHERE outcome = 'fail')::int,
                       count(*) FILTER (WHERE outcome = 'pending')::int, count(*) FILTER (WHERE approval_status = 'approved')::int,
                       count(*) FILTER (WHERE approval_status = 'pending_review')::int,
                       count(*) FILTER (WHERE approval_status = 'rejected')::int,
                       count(*) FILTER (WHERE approval_status = 'changes_requested')::int, coalesce(sum(finding_count), 0)::int,
                       avg(scaled_score), min(submitted_at), max(submitted_at)
                FROM reporting.submission_facts
                """, "GROUP BY \(key) ORDER BY \(key) NULLS FIRST"))
        var groups: [GroupSummary] = []
        for try await row in rows {
            let cells = Array(row)
            groups.append(
                GroupSummary(
                    key: try cells[0].decode(String?.self), submissions: try cells[1].decode(Int.self), passed: try cells[2].decode(Int.self),
                    failed: try cells[3].decode(Int.self), pending: try cells[4].decode(Int.self), approved: try cells[5].decode(Int.self),
                    pendingReview: try cells[6].decode(Int.self), rejected: try cells[7].decode(Int.self),
                    changesRequested: try cells[8].decode(Int.self), findings: try cells[9].decode(Int.self),
                    averageScaledScore: try cells[10].decode(Double?.self),
                    firstSubmittedAt: try cells[11].decode(Date.self).roundedToMilliseconds(),
                    lastSubmittedAt: try cells[12].decode(Date.self).roundedToMilliseconds()))
        }
        return groups
    }
}

extension FindingFact {
    /// A finding from a row of `reporting_findings`, its cells taken by position.
    fileprivate init(_ row: PostgresRow) throws {
        let cells = row.makeRandomAccess()
        self.init(
            submissionId: SubmissionID(unchecked: try cells[0].decode(String.self)), itemId: ItemID(unchecked: try cells[1].decode(String.self)),
            orgUnitId: OrgUnitID(unchecked: try cells[2].decode(String.self)), questionId: QuestionID(unchecked: try cells[3].decode(String.self)),
            optionId: try cells[4].decode(String.self), severity: try storedEnum(FindingSeverity.self, try cells[5].decode(String.self)),
            subjectIds: try cells[6].decode([String].self).map(SubjectID.init(unchecked:)),
            batchId: try cells[7].decode(String?.self).map(BatchID.init(unchecked:)),
            ledgerEventId: LedgerEventID(unchecked: try cells[8].decode(String.self)),
            detectedAt: try cells[9].decode(Date.self).roundedToMilliseconds(), voided: try cells[10].decode(Bool.self))
    }
}

private enum ReadReportingWork: PlannedStatement {}
private enum ScopedFindings: PlannedStatement {}
private enum SkipReportingCheckpoints: PlannedStatement {}
