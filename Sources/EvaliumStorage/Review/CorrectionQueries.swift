import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    /// A submission's amendments in sequence order, its void if it has one, and the latest grade of each item.
    public func corrections(of submission: SubmissionID) async throws -> SubmissionCorrections {
        try await corrections(of: [submission])[submission] ?? SubmissionCorrections()
    }

    /// The same for each of `submissions` that has any, in one statement: every read of a submission and
    /// every page of a rebuild needs all three, and three statements were two round trips too many.
    public func corrections(of submissions: [SubmissionID]) async throws -> [SubmissionID: SubmissionCorrections] {
        // One submission (every read of one) has a statement of its own, as in `fetchSubmissions`.
        func select(_ condition: String) -> String {
            """
            SELECT 'amendment', submission_id, id, sequence, reason, changes::text, amended_by, amended_at, NULL, NULL::double precision
            FROM submission_amendments WHERE \(condition)
            UNION ALL
            SELECT 'void', submission_id, NULL, NULL, reason, step_up::text, voided_by, voided_at, NULL, NULL
            FROM submission_voids WHERE \(condition)
            UNION ALL
            SELECT * FROM (
                SELECT DISTINCT ON (submission_id, item_id) 'grade', submission_id, NULL, NULL::integer, NULL, NULL, graded_by, graded_at, item_id, points
                FROM submission_grades WHERE \(condition) ORDER BY submission_id, item_id, id DESC) AS latest
            ORDER BY 2, 4
            """
        }
        // The condition is spelled three times with one binding, so the query is written out rather than interpolated.
        let single = submissions.count == 1
        var binds = PostgresBindings()
        if single { binds.append(submissions[0].rawValue) } else { binds.append(submissions.map(\.rawValue)) }
        let rows =
            if single {
                try await run(PostgresQuery(unsafeSQL: select("submission_id = $1"), binds: binds), plannedAs: CorrectionsOfSubmission.self)
            } else {
                try await run(
                    PostgresQuery(unsafeSQL: select("submission_id = ANY($1::text[])"), binds: binds), plannedAs: CorrectionsOfSubmissions.self)
            }
        var corrections: [SubmissionID: SubmissionCorrections] = [:]
        for try await row in rows {
            let (kind, submissionId, id, sequence, reason, document, actor, stored, itemId, points) = try row.decode(
                (String, String, String?, Int?, String?, String?, String, Date, String?, Double?).self)
            let submission = SubmissionID(unchecked: submissionId)
            let actorId = UserID(unchecked: actor)
            let at = stored.roundedToMilliseconds()
            switch (kind, id, sequence, reason, document, itemId, points) {
            case ("amendment", let id?, let sequence?, let reason?, let changes?, _, _):
                corrections[submission, default: SubmissionCorrections()].amendments.append(
                    Amendment(
                        id: AmendmentID(unchecked: id), submissionId: submission, sequence: sequence, reason: reason,
                        changes: try storedValue([ItemCorrection].self, changes), amendedBy: actorId, amendedAt: at))
            case ("void", _, _, let reason?, let stepUp, _, _):
                corrections[submission, default: SubmissionCorrections()].void = SubmissionVoid(
                    submissionId: submission, reason: reason, voidedBy: actorId, voidedAt: at,
                    stepUp: try stepUp.map { try storedValue(StepUpRecord.self, $0) })
            case ("grade", _, _, _, _, let itemId?, let points?):
                corrections[submission, default: SubmissionCorrections()].latestGrades[ItemID(unchecked: itemId)] = HumanGrade(
                    pointsEarned: points, gradedBy: actorId, gradedAt: at)
            default:
                throw StorageError.unexpected(detail: "an unreadable \(kind) row of submission \(submissionId)")
            }
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

/// What has been done to a submission since it was finalised.
public struct SubmissionCorrections: Sendable {
    public var amendments: [Amendment] = []
    public var void: SubmissionVoid?
    public var latestGrades: [ItemID: HumanGrade] = [:]

    /// Nothing: a submission as it was finalised.
    public init() {}
}

private enum CorrectionsOfSubmission: PlannedStatement {}
private enum CorrectionsOfSubmissions: PlannedStatement {}
