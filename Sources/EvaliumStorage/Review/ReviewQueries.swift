import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    /// The submission's approval status, its row held until the transaction ends, so two reviewers acting
    /// on one submission at once are decided one after the other.
    public func lockApprovalStatus(of id: SubmissionID) async throws -> ApprovalStatus? {
        let rows = try await run("SELECT approval_status FROM submissions WHERE id = \(id.rawValue) FOR UPDATE")
        for try await status in rows.decode(String.self) { return try storedEnum(ApprovalStatus.self, status) }
        return nil
    }

    /// Writes the review columns, the only ones of a submission that ever change.
    public func recordReview(of id: SubmissionID, status: ApprovalStatus, by reviewer: UserID, at date: Date, note: String?) async throws {
        try await run(
            """
            UPDATE submissions SET approval_status = \(status.rawValue), reviewed_by = \(reviewer.rawValue),
                   reviewed_at = \(MillisecondTimestamp(date)), review_note = \(note)
            WHERE id = \(id.rawValue)
            """)
    }
}
