import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    /// A submission's amendments in sequence order, its void if it has one, and the latest grade of each item.
    public func corrections(of submission: SubmissionID) async throws -> SubmissionCorrections {
        try await corrections(of: [submission])[submission] ?? SubmissionCorrections()
    }

    /// The same for each of `submissions` that has any, in one statement (`submission_corrections`): every page
    /// of a rebuild needs all three, and three statements were two round trips too many.
    public func corrections(of submissions: [SubmissionID]) async throws -> [SubmissionID: SubmissionCorrections] {
        // One submission has a statement of its own, as in `fetchSubmissions`: `ARRAY[$1]` is planned as one id.
        let rows =
            if submissions.count == 1 {
                try await run(
                    "SELECT * FROM submission_corrections(ARRAY[\(submissions[0].rawValue)]) ORDER BY 2, 4", plannedAs: CorrectionsOfSubmission.self)
            } else {
                try await run(
                    "SELECT * FROM submission_corrections(\(submissions.map(\.rawValue))::text[]) ORDER BY 2, 4",
                    plannedAs: CorrectionsOfSubmissions.self)
            }
        var corrections: [SubmissionID: SubmissionCorrections] = [:]
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let submission = SubmissionID(unchecked: try cells[1].decode(String.self))
            try corrections[submission, default: SubmissionCorrections()].add(cells, kind: try cells[0].decode(String.self))
        }
        return corrections
    }

    /// A submission's recorded responses, in the order they were recorded, and its corrections, in one statement
    /// (`submission_record`): everything that shows or changes a submission's current state reads both.
    public func responsesAndCorrections(of submission: Submission) async throws -> (responses: [RecordedResponse], corrections: SubmissionCorrections) {
        let rows = try await run(
            "SELECT * FROM submission_record(\(submission.id.rawValue), \(submission.sessionId.rawValue)) ORDER BY 1, 4, 8, 9",
            plannedAs: ResponsesAndCorrections.self)
        return try await Self.submissionRecord(from: rows)
    }

    /// Appends an amendment. Callers hold the submission's row (`lockApprovalStatus`), so its sequence is free.
    public func insertAmendment(_ amendment: Amendment, of submission: Submission) async throws {
        try await run(
            """
            INSERT INTO submission_amendments (id, tenant_id, org_unit_id, submission_id, sequence, reason, changes, content_hash,
                                               amended_by, amended_at)
            VALUES (\(amendment.id.rawValue), \(submission.tenantId.rawValue), \(submission.orgUnitId.rawValue), \(submission.id.rawValue),
                    \(amendment.sequence), \(amendment.reason), \(try storedJSON(amendment.changes))::jsonb, \(try amendment.contentHash),
                    \(amendment.amendedBy.rawValue), \(MillisecondTimestamp(amendment.amendedAt)))
            """)
    }

    public func insertVoid(_ void: SubmissionVoid, of submission: Submission) async throws {
        try await run(
            """
            INSERT INTO submission_voids (submission_id, tenant_id, org_unit_id, reason, voided_by, voided_at, step_up)
            VALUES (\(submission.id.rawValue), \(submission.tenantId.rawValue), \(submission.orgUnitId.rawValue), \(void.reason),
                    \(void.voidedBy.rawValue), \(MillisecondTimestamp(void.voidedAt)), \(try void.stepUp.map(storedJSON))::jsonb)
            """)
    }

    /// The submissions that are rework of `submission`, oldest first.
    public func replacements(of submission: SubmissionID) async throws -> [SubmissionID] {
        let rows = try await run("SELECT id FROM submissions WHERE replaces = \(submission.rawValue) ORDER BY submitted_at, id")
        var ids: [SubmissionID] = []
        for try await id in rows.decode(String.self) { ids.append(SubmissionID(unchecked: id)) }
        return ids
    }
}

extension ScopedStatements {
    /// A submission's recorded responses and its corrections, as `Transaction.responsesAndCorrections` reads
    /// them, after appending `events` (a read's `submission.viewed`), in one statement that applies the scope
    /// itself (`scoped_submission_record`): a read and its event, one round trip.
    public func responsesAndCorrections(
        of submission: Submission, appending events: [LedgerEventDraft]
    ) async throws -> (responses: [RecordedResponse], corrections: SubmissionCorrections) {
        let batch = try LedgerAppend(events, tenantId: try requireTenant())
        var binds = PostgresBindings()
        bindScope(into: &binds)
        binds.append(submission.id.rawValue)
        binds.append(submission.sessionId.rawValue)
        batch.bind(into: &binds)
        let rows = try await run(PostgresQuery(unsafeSQL: Self.scopedRecord, binds: binds), plannedAs: ScopedResponsesAndCorrections.self)
        let record = try await Self.submissionRecord(from: rows)
        if !events.isEmpty { effects.noteLedgerAppend() }
        return record
    }

    /// The scope, the submission and its session, then the batch.
    private static let scopedRecord = "SELECT * FROM scoped_submission_record(\(Scope.parameters), $9, $10, \(LedgerAppend.batch(from: 11)))"
}

extension ScopedConnection {
    /// Responses and corrections from rows of `submission_record`, in its order.
    fileprivate static func submissionRecord(
        from rows: PlannedRows
    ) async throws -> (responses: [RecordedResponse], corrections: SubmissionCorrections) {
        var responses: [RecordedResponse] = []
        var corrections = SubmissionCorrections()
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let kind = try cells[0].decode(String.self)
            guard kind == "response" else {
                try corrections.add(cells, kind: kind)
                continue
            }
            responses.append(
                try RecordedResponse(
                    storedItem: try cells[8].decode(String.self), question: try cells[10].decode(String.self),
                    answer: try cells[11].decode(String.self), comment: try cells[12].decode(String?.self),
                    complete: try cells[13].decode(Bool.self), missing: try cells[14].decode(String.self),
                    clientTimestamp: try cells[15].decode(Date?.self), context: try cells[16].decode(String?.self),
                    recordedAt: try cells[7].decode(Date.self)))
        }
        return (responses, corrections)
    }
}

/// What has been done to a submission since it was finalised.
public struct SubmissionCorrections: Sendable {
    public var amendments: [Amendment] = []
    public var void: SubmissionVoid?
    public var latestGrades: [ItemID: HumanGrade] = [:]

    /// Nothing: a submission as it was finalised.
    public init() {}

    /// Adds the correction in `cells`, a row of `submission_corrections` (migration 0019).
    mutating func add(_ cells: PostgresRandomAccessRow, kind: String) throws {
        let submission = SubmissionID(unchecked: try cells[1].decode(String.self))
        let actor = UserID(unchecked: try cells[6].decode(String.self))
        let at = try cells[7].decode(Date.self).roundedToMilliseconds()
        switch kind {
        case "amendment":
            amendments.append(
                Amendment(
                    id: AmendmentID(unchecked: try cells[2].decode(String.self)), submissionId: submission,
                    sequence: try cells[3].decode(Int.self), reason: try cells[4].decode(String.self),
                    changes: try storedValue([ItemCorrection].self, try cells[5].decode(String.self)), amendedBy: actor, amendedAt: at))
        case "void":
            void = SubmissionVoid(
                submissionId: submission, reason: try cells[4].decode(String.self), voidedBy: actor, voidedAt: at,
                stepUp: try cells[5].decode(String?.self).map { try storedValue(StepUpRecord.self, $0) })
        case "grade":
            latestGrades[ItemID(unchecked: try cells[8].decode(String.self))] = HumanGrade(
                pointsEarned: try cells[9].decode(Double.self), gradedBy: actor, gradedAt: at)
        default:
            throw StorageError.unexpected(detail: "an unreadable \(kind) row of submission \(submission)")
        }
    }
}

private enum CorrectionsOfSubmission: PlannedStatement {}
private enum CorrectionsOfSubmissions: PlannedStatement {}
private enum ResponsesAndCorrections: PlannedStatement {}
private enum ScopedResponsesAndCorrections: PlannedStatement {}
