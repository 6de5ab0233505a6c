import EvaliumCore
import EvaliumStorage
import Foundation

/// Corrections by amendment and void (seed 001 §11): each is appended beside the finalised record, which
/// never changes, and each is a ledger event. The current state is computed from the chain; the history
/// shows every step of it, so a reader can see what was corrected, by whom, when and why.
struct CorrectionService: Sendable {
    let database: Database

    struct AmendmentInput: Codable, Sendable {
        var reason: String
        var changes: [ItemCorrection]
    }

    struct VoidInput: Codable, Sendable {
        var reason: String
    }

    struct Amended: Encodable, Sendable {
        var amendment: AmendmentRecord
        var submission: SubmissionView
    }

    /// The full story of one submission: the values as finalised, each amendment with the values it
    /// replaced, the void, the current state, the rework around it, and its ledger timeline.
    struct History: Encodable, Sendable {
        var submissionId: SubmissionID
        var approvalStatus: ApprovalStatus
        var replaces: SubmissionID?
        var replacedBy: [SubmissionID]
        var original: [RecordedResponse]
        var amendments: [AmendmentRecord]
        var void: SubmissionVoid?
        var current: [RecordedResponse]
        /// The evidence attached to the work, with its hash, who attached it when, and the latest decision.
        var evidence: [AttachedEvidence]
        var timeline: [LedgerEntryView]
    }

    struct AttachedEvidence: Encodable, Sendable {
        var attachment: Attachment
        var decision: EvidenceDecision
    }

    static let maximumChanges = 200
    /// Reads are ledger events too; a history leaves them out unless asked, so the story stays readable.
    static let viewEvents = ["submission.viewed", "portal.viewed"]

    /// Appends an amendment. The operator who did the work may correct it; so may anyone holding
    /// `submissions.amend` where the work belongs. Approved work whose policy asks for review goes back to
    /// `pending_review`: an approval covers what was approved, not what it was corrected to.
    func amend(_ id: SubmissionID, _ input: AmendmentInput, user: UserPrincipal, runner: some UnitOfWorkRunner) async throws -> Amended {
        var problems = CorrectionRules.reasonProblems(input.reason)
        if input.changes.count > Self.maximumChanges {
            problems.append(.init(pointer: "/changes", detail: "at most \(Self.maximumChanges) items per amendment"))
        }
        guard problems.isEmpty else { throw Problem(.validationFailed, "the amendment is not valid", errors: problems) }
        let corrector = try? user.scope(for: .submissionsAmend)
        let now = ServerClock.now()
        return try await runner.run(corrector ?? user.ownScope) { transaction in
            let (submission, snapshot) = try await transaction.fetchSubmission(id).orThrow(SubmissionService.notFound(id))
            guard corrector != nil || submission.operatorId == user.userId else {
                throw Problem(.capabilityMissing, "only the operator who did this work or a holder of `submissions.amend` may amend it")
            }
            let status = try await transaction.lockApprovalStatus(of: id).orThrow(SubmissionService.notFound(id))
            let before = try await SubmissionService.currentState(submission, snapshot, in: transaction)
            if let void = before.corrections.void { throw Self.voided(id, void) }
            guard status == .approved || status == .pendingReview else {
                throw Problem(.conflict, "this submission is \(status.rawValue): correct it by rework (POST /v1/submissions/\(id)/rework), not by amendment")
            }
            let problems = CorrectionRules.problems(input.changes, form: snapshot.form, current: before.corrections.current)
            guard problems.isEmpty else { throw Problem(.validationFailed, "the amendment cannot be applied", errors: problems) }

            let amendment = Amendment(
                id: .generate(at: now), submissionId: id, sequence: before.corrections.amendments.count + 1,
                reason: input.reason.trimmingCharacters(in: .whitespacesAndNewlines), changes: input.changes, amendedBy: user.userId,
                amendedAt: now)
            try await transaction.insertAmendment(amendment, of: submission)
            let after = try await SubmissionService.currentState(submission, snapshot, in: transaction)
            try await appendAmendmentEvents(amendment, submission, from: before.result, to: after.result, actor: user.ledgerActor, in: transaction)

            var current = submission
            if status == .approved, snapshot.policy.startsPendingReview, let reopened = ReviewTransition.next(from: status, .reopen) {
                try await transaction.recordReview(of: id, status: reopened, by: user.userId, at: now, note: "amended: \(amendment.reason)")
                try await transaction.appendLedgerEvent(
                    DeliveryEvents.submission(
                        ReviewAction.reopen.eventType, submission, actor: user.ledgerActor,
                        payload: [
                            "from": .string(status.rawValue), "to": .string(reopened.rawValue), "cause": "amendment",
                            "amendmentId": .string(amendment.id.rawValue), "snapshotHash": .string(submission.snapshotHash),
                        ]))
                try await transaction.publish(
                    AssessmentEvents.reviewStatusChanged(submission, from: status, to: reopened, cause: .amendment, actor: user.ledgerActor, at: now))
                current.approvalStatus = reopened
            } else {
                current.approvalStatus = status
            }
            let level = corrector != nil ? snapshot.policy.disclosure.admin ?? .answerKey : SubmissionService.operatorLevel(snapshot, at: now)
            return Amended(
                amendment: after.corrections.history.last!,
                submission: SubmissionView(current, snapshot: snapshot, corrections: after.corrections, result: after.result, level: level))
        }
    }

    /// Voids a submission: it stays in the record, marked as no longer standing. Needs `submissions.void`,
    /// and a step-up proof when the work's policy asks for high assurance (`voidRequiresStepUp`).
    func void(
        _ id: SubmissionID, _ input: VoidInput, access: CapabilityAccess, stepUp: @Sendable () async throws -> StepUpRecord,
        runner: some UnitOfWorkRunner
    ) async throws -> SubmissionView {
        let problems = CorrectionRules.reasonProblems(input.reason)
        guard problems.isEmpty else { throw Problem(.validationFailed, "the void is not valid", errors: problems) }
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let (submission, snapshot) = try await transaction.fetchSubmission(id).orThrow(SubmissionService.notFound(id))
            let status = try await transaction.lockApprovalStatus(of: id).orThrow(SubmissionService.notFound(id))
            let state = try await SubmissionService.currentState(submission, snapshot, in: transaction)
            if let void = state.corrections.void { throw Self.voided(id, void) }
            let proof = snapshot.policy.voidRequiresStepUp ? try await stepUp() : nil
            let void = SubmissionVoid(
                submissionId: id, reason: input.reason.trimmingCharacters(in: .whitespacesAndNewlines), voidedBy: access.user.userId,
                voidedAt: now, stepUp: proof)
            try await transaction.insertVoid(void, of: submission)
            var payload: [String: JSONValue] = [
                "reason": .string(void.reason), "approvalStatus": .string(status.rawValue), "snapshotHash": .string(submission.snapshotHash),
                "amendmentCount": .number(Double(state.corrections.amendments.count)),
            ]
            payload["stepUp"] = proof.map { .object(["method": .string($0.method), "proofId": .string($0.proofId)]) } ?? .null
            try await transaction.appendLedgerEvent(DeliveryEvents.submission("submission.voided", submission, actor: access.actor, payload: payload))
            try await transaction.publish(
                [AssessmentEvents.submissionVoided(submission, actor: access.actor, at: now)]
                    + state.result.findings.map { AssessmentEvents.findingWithdrawn($0, of: submission, cause: .void, at: now) }
                    + [AssessmentEvents.attemptSuperseded(submission, previous: state.result, current: nil, reason: .voided, actor: access.actor, at: now)])
            var current = submission
            current.approvalStatus = status
            let corrections = CorrectionChain(original: state.corrections.original, amendments: state.corrections.amendments, void: void)
            return SubmissionView(
                current, snapshot: snapshot, corrections: corrections, result: state.result, level: snapshot.policy.disclosure.admin ?? .answerKey)
        }
    }

    /// The history of a submission, for whoever may read it (the same rule as reading it), recorded as a view.
    func history(_ id: SubmissionID, user: UserPrincipal, includeViews: Bool) async throws -> History {
        let reader = SubmissionService.Reader(user)
        return try await database.transaction(reader.scope) { transaction in
            let (submission, snapshot) = try await transaction.fetchSubmission(id).orThrow(SubmissionService.notFound(id))
            guard reader.level(for: submission, snapshot, user: user, at: ServerClock.now()) != nil else { throw SubmissionService.notFound(id) }
            let history = try await Self.history(of: submission, snapshot, includeViews: includeViews, in: transaction)
            try await transaction.appendLedgerEvent(
                DeliveryEvents.submission("submission.viewed", submission, actor: user.ledgerActor, payload: ["view": "history"]))
            return history
        }
    }

    static func history(of submission: Submission, _ snapshot: VersionSnapshot, includeViews: Bool, in transaction: Transaction) async throws -> History {
        let state = try await SubmissionService.currentState(submission, snapshot, in: transaction)
        let timeline = try await transaction.listLedgerEntries(
            aggregateType: "submission", aggregateId: submission.id.rawValue, excluding: includeViews ? [] : viewEvents, limit: 1000)
        var evidence: [AttachedEvidence] = []
        for attachment in try await transaction.listAttachments(session: submission.sessionId) {
            evidence.append(AttachedEvidence(attachment: attachment, decision: try await transaction.latestEvidenceDecision(of: attachment.assetId)))
        }
        return History(
            submissionId: submission.id, approvalStatus: submission.approvalStatus, replaces: submission.replaces,
            replacedBy: try await transaction.replacements(of: submission.id), original: state.corrections.original,
            amendments: state.corrections.history, void: state.corrections.void, current: state.corrections.current, evidence: evidence,
            timeline: timeline.map(LedgerEntryView.init))
    }

    static func voided(_ id: SubmissionID, _ void: SubmissionVoid) -> Problem {
        Problem(.conflict, "submission \(id) was voided at \(void.voidedAt.rfc3339); a void is final")
    }

    /// `submission.amended` naming the amendment by content hash, then what the correction changed:
    /// findings raised or withdrawn, and a new score.
    private func appendAmendmentEvents(
        _ amendment: Amendment, _ submission: Submission, from before: ScoreResult, to after: ScoreResult, actor: LedgerActor,
        in transaction: Transaction
    ) async throws {
        try await transaction.appendLedgerEvent(
            DeliveryEvents.submission(
                "submission.amended", submission, actor: actor,
                payload: [
                    "amendmentId": .string(amendment.id.rawValue), "sequence": .number(Double(amendment.sequence)),
                    "reason": .string(amendment.reason), "itemIds": .array(amendment.changes.map { .string($0.itemId.rawValue) }),
                    "contentHash": .string(try amendment.contentHash),
                ]))
        let now = amendment.amendedAt
        try await transaction.publish(
            AssessmentEvents.submissionAmended(
                submission, amendment: amendment.id, number: amendment.sequence, itemIds: amendment.changes.map(\.itemId),
                hash: try amendment.contentHash, actor: actor, at: now))
        let raised = after.findings.filter { !before.findings.contains($0) }
        let withdrawn = before.findings.filter { !after.findings.contains($0) }
        for finding in withdrawn {
            try await transaction.appendLedgerEvent(DeliveryEvents.finding("finding.withdrawn", finding, of: submission, actor: actor))
            try await transaction.publish(AssessmentEvents.findingWithdrawn(finding, of: submission, cause: .amendment, at: now))
        }
        for finding in raised {
            try await transaction.appendLedgerEvent(DeliveryEvents.finding("finding.detected", finding, of: submission, actor: actor))
            try await transaction.publish(AssessmentEvents.findingDetected(finding, of: submission, cause: .amendment, at: now))
        }
        if let rescored = DeliveryEvents.rescored(submission, from: before, to: after, actor: actor) {
            try await transaction.appendLedgerEvent(rescored)
            try await transaction.publish([
                AssessmentEvents.attemptSuperseded(submission, previous: before, current: after, reason: .amended, actor: actor, at: now),
                AssessmentEvents.attemptScored(submission, result: after, at: now),
            ])
        }
    }
}
