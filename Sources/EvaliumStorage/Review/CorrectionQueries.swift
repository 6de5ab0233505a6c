import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    /// A submission's amendments in sequence order and its void, if it has one.
    public func fetchCorrections(of submission: SubmissionID) async throws -> (amendments: [Amendment], void: SubmissionVoid?) {
        try await fetchCorrections(of: [submission])[submission] ?? ([], nil)
    }

    /// Each of `submissions`' amendments in order and its void, for those that have any.
    public func fetchCorrections(of submissions: [SubmissionID]) async throws -> [SubmissionID: (amendments: [Amendment], void: SubmissionVoid?)] {
        let ids = submissions.map(\.rawValue)
        // One submission (every read of one) has statements of its own, as in `fetchSubmissions`.
        let amendments = "SELECT submission_id, id, sequence, reason, changes::text, amended_by, amended_at FROM submission_amendments"
        let amendmentRows =
            if ids.count == 1 {
                try await run("\(unescaped: amendments) WHERE submission_id = \(ids[0]) ORDER BY sequence", plannedAs: AmendmentsOfSubmission.self)
            } else {
                try await run(
                    "\(unescaped: amendments) WHERE submission_id = ANY(\(ids)::text[]) ORDER BY submission_id, sequence",
                    plannedAs: AmendmentsOfSubmissions.self)
            }
        var corrections: [SubmissionID: (amendments: [Amendment], void: SubmissionVoid?)] = [:]
        for try await row in amendmentRows {
            let (submissionId, id, sequence, reason, changes, amendedBy, amendedAt) = try row.decode((String, String, Int, String, String, String, Date).self)
            let submission = SubmissionID(unchecked: submissionId)
            corrections[submission, default: ([], nil)].amendments.append(
                Amendment(
                    id: AmendmentID(unchecked: id), submissionId: submission, sequence: sequence, reason: reason,
                    changes: try storedValue([ItemCorrection].self, changes), amendedBy: UserID(unchecked: amendedBy),
                    amendedAt: amendedAt.roundedToMilliseconds()))
        }
        let voids = "SELECT submission_id, reason, voided_by, voided_at, step_up::text FROM submission_voids"
        let voidRows =
            if ids.count == 1 {
                try await run("\(unescaped: voids) WHERE submission_id = \(ids[0])", plannedAs: VoidOfSubmission.self)
            } else {
                try await run("\(unescaped: voids) WHERE submission_id = ANY(\(ids)::text[])", plannedAs: VoidsOfSubmissions.self)
            }
        for try await row in voidRows {
            let (submissionId, reason, voidedBy, voidedAt, stepUp) = try row.decode((String, String, String, Date, String?).self)
            let submission = SubmissionID(unchecked: submissionId)
            corrections[submission, default: ([], nil)].void = SubmissionVoid(
                submissionId: submission, reason: reason, voidedBy: UserID(unchecked: voidedBy), voidedAt: voidedAt.roundedToMilliseconds(),
                stepUp: try stepUp.map { try storedValue(StepUpRecord.self, $0) })
        }
        return corrections
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

private enum AmendmentsOfSubmission: PlannedStatement {}
private enum AmendmentsOfSubmissions: PlannedStatement {}
private enum VoidOfSubmission: PlannedStatement {}
private enum VoidsOfSubmissions: PlannedStatement {}
