import EvaliumCore
import EvaliumStorage
import Foundation

/// The universal approval layer (seed 002 §1, seed 004 "Four-Eyes Principle"): approve, reject, request
/// changes and reopen, each a transition of `ReviewTransition` recorded as a ledger event with the
/// reviewer's roles and the snapshot hash of what was reviewed. The recorded work never changes.
struct ReviewService: Sendable {
    let database: Database

    struct Decision: Codable, Sendable {
        var note: String?
    }

    static let maximumNote = 20_000

    func decide(
        _ id: SubmissionID, _ action: ReviewAction, _ decision: Decision, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> SubmissionView {
        let note = decision.note?.trimmingCharacters(in: .whitespacesAndNewlines)
        if action.requiresNote, note?.isEmpty ?? true {
            throw Problem(.validationFailed, "say why (`note`) when you \(action == .reject ? "reject" : "ask for changes")",
                          errors: [.init(pointer: "/note", detail: "is required")])
        }
        if let note, note.count > Self.maximumNote {
            throw Problem(.validationFailed, "the note is too long", errors: [.init(pointer: "/note", detail: "at most \(Self.maximumNote) characters")])
        }
        let now = ServerClock.now()
        do {
            return try await runner.run(access.scope) { transaction in
                let (submission, snapshot) = try await transaction.fetchSubmission(id).orThrow(SubmissionService.notFound(id))
                let status = try await transaction.lockApprovalStatus(of: id).orThrow(SubmissionService.notFound(id))
                let state = try await SubmissionService.currentState(submission, snapshot, in: transaction)
                if let void = state.corrections.void { throw CorrectionService.voided(id, void) }
                guard let next = ReviewTransition.next(from: status, action) else {
                    throw Problem(.conflict, "a submission that is \(status.rawValue) cannot be \(Self.pastTense(action))")
                }
                if action == .approve {
                    try await checkApprovable(submission, snapshot, result: state.result, reviewer: access.user.userId, in: transaction)
                }
                try await transaction.recordReview(of: id, status: next, by: access.user.userId, at: now, note: note)
                try await transaction.appendLedgerEvent(
                    DeliveryEvents.submission(
                        action.eventType, submission, actor: access.actor,
                        payload: [
                            "from": .string(status.rawValue), "to": .string(next.rawValue), "note": note.map(JSONValue.string) ?? .null,
                            "reviewerRoles": .array(Set(access.user.grants.map(\.roleId.rawValue)).sorted().map(JSONValue.string)),
                            "snapshotHash": .string(submission.snapshotHash),
                        ]))
                try await transaction.publish(
                    AssessmentEvents.reviewStatusChanged(submission, from: status, to: next, cause: .review, actor: access.actor, at: now))
                var reviewed = submission
                reviewed.approvalStatus = next
                return try await SubmissionService.view(reviewed, snapshot, level: snapshot.policy.disclosure.admin ?? .answerKey, in: transaction)
            }
        } catch let refusal as FourEyesRefusal {
            // The refusal is itself part of the audit trail, recorded in a transaction of its own.
            try await database.transaction(access.scope) { transaction in
                try await transaction.appendLedgerEvent(
                    DeliveryEvents.submission(
                        "submission.approval.refused", refusal.submission, actor: access.actor,
                        payload: ["reason": .string(refusal.reason), "reviewPolicy": "four_eyes"]))
            }
            throw Problem(.forbidden, "four-eyes review: \(refusal.reason); another reviewer must approve it")
        }
    }

    private struct FourEyesRefusal: Error {
        var submission: Submission
        var reason: String
    }

    /// Approval needs completed, fully graded work, and under four-eyes a reviewer who is neither the
    /// author of the work nor, for people, its subject.
    private func checkApprovable(
        _ submission: Submission, _ snapshot: VersionSnapshot, result: ScoreResult, reviewer: UserID, in transaction: Transaction
    ) async throws {
        guard submission.lifecycleStatus == .completed else { throw Problem(.conflict, "an incomplete submission cannot be approved") }
        guard result.pendingItems.isEmpty else {
            throw Problem(.conflict, "\(result.pendingItems.count) item(s) still await a grader; grade them before approving")
        }
        guard snapshot.policy.reviewPolicy == .fourEyes else { return }
        if submission.operatorId == reviewer { throw FourEyesRefusal(submission: submission, reason: "you did this work") }
        for linked in submission.subjects {
            if try await transaction.fetchSubject(linked.subjectId)?.userId == reviewer {
                throw FourEyesRefusal(submission: submission, reason: "you are the subject of this work")
            }
        }
    }

    private static func pastTense(_ action: ReviewAction) -> String {
        switch action {
        case .approve: "approved"
        case .reject: "rejected"
        case .requestChanges: "sent back for changes"
        case .reopen: "reopened"
        }
    }
}
