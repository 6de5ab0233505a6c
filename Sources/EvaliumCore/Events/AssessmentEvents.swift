import Foundation

/// The events Evalium publishes (seed 003 §1), each built from the durable records of the change it
/// reports so the payload fits its schema under `schemas/events/`. Payloads name people, subjects and
/// items by id only: no answers, no comments, no answer keys, no names (seed 003 §3.2 PII rules).
///
/// An evaluation of kind `knowledge` is the seed's quiz bank. Its events carry the evaluation's ULID
/// with the seed's `qbk_` prefix (`evl_01H…` is `qbk_01H…`); observation and evidence templates are not
/// quiz banks and publish only the submission events.
public enum AssessmentEvents {
    public static func quizBankId(_ evaluation: EvaluationID) -> String { "qbk_" + evaluation.rawValue.dropFirst(EvaluationID.prefix.count + 1) }

    public static func quizBankCreated(_ evaluation: Evaluation, at time: Date) -> OutboxEvent? {
        quizBank("assessment.quiz_bank.created.v1", evaluation, at: time, [
            "version": .number(Double(evaluation.latestVersion)), "createdAt": .string(time.rfc3339),
            "orgUnitId": .string(evaluation.orgUnitId.rawValue), "createdBy": .string(evaluation.createdBy.rawValue),
        ])
    }

    /// What changed on a quiz bank without publishing or archiving it.
    public enum QuizBankChange: String, Sendable {
        case draftSaved = "draft_saved", shared, unshared, restored
    }

    public static func quizBankUpdated(
        _ evaluation: Evaluation, change: QuizBankChange, version: Int?, actor: LedgerActor, at time: Date
    ) -> OutboxEvent? {
        var payload: [String: JSONValue] = ["change": .string(change.rawValue), "updatedAt": .string(time.rfc3339)]
        if let version { payload["version"] = .number(Double(version)) }
        payload["updatedBy"] = userId(actor)
        return quizBank("assessment.quiz_bank.updated.v1", evaluation, at: time, payload)
    }

    /// Seed 003 §3.1. `courseVersionId` names the exact content published: the version's content hash
    /// (Evalium has no courses; the hash is what a bundle build must match).
    public static func quizBankPublished(_ evaluation: Evaluation, _ version: EvaluationVersion, actor: LedgerActor, at time: Date) -> OutboxEvent? {
        let rule = version.definition.grading ?? GradingRule()
        var grading: [String: JSONValue] = ["passThreshold": .number(rule.passThreshold ?? 0)]
        if let penalty = rule.wrongPenalty { grading["wrongPenalty"] = .number(penalty) }
        if let partial = rule.partialCreditDefault { grading["partialCreditDefault"] = .string(partial.rawValue) }
        if let disclosure = rule.showCorrectAnswers { grading["showCorrectAnswers"] = .string(disclosure.rawValue) }
        if let attempts = rule.maxAttempts { grading["maxAttempts"] = .number(Double(attempts)) }
        var payload: [String: JSONValue] = [
            "version": .number(Double(version.version)), "courseVersionId": .string(version.contentHash),
            "questionCount": .number(Double(version.definition.items.count)), "gradingRule": .object(grading),
            "publishedAt": .string(time.rfc3339),
        ]
        if let title = evaluation.title { payload["title"] = (try? JSONValue(encoding: title)) ?? .null }
        payload["publishedBy"] = userId(actor)
        return quizBank("assessment.quiz_bank.published.v1", evaluation, at: time, payload)
    }

    public static func quizBankArchived(_ evaluation: Evaluation, actor: LedgerActor, at time: Date) -> OutboxEvent? {
        quizBank("assessment.quiz_bank.archived.v1", evaluation, at: time, ["archivedAt": .string(time.rfc3339), "archivedBy": userId(actor)])
    }

    /// Seed 003 §3.2, for a knowledge check's result: when it is finalised, when its last pending item is
    /// graded, and when an amendment changes it. Items waiting for a person make the state
    /// `pending_human_review` (and `passed` false until they are graded); `scoringMode` is `mixed` when
    /// any item is or was graded by a person.
    public static func attemptScored(_ submission: Submission, result: ScoreResult, at time: Date) -> OutboxEvent? {
        guard submission.kind == .knowledge else { return nil }
        let humanGraded = result.items.contains { $0.gradedBy == .human || $0.correct == .pending }
        let responses: [JSONValue] = result.items.map { item in
            var summary: [String: JSONValue] = [
                "questionId": .string(item.questionId.rawValue), "kind": .string(item.kind.rawValue),
                "pointsPossible": .number(item.pointsPossible), "correct": (try? JSONValue(encoding: item.correct)) ?? .null,
            ]
            if let earned = item.pointsEarned { summary["pointsEarned"] = .number(earned) }
            if let gradedBy = item.gradedBy { summary["gradedBy"] = .string(gradedBy.rawValue) }
            return .object(summary)
        }
        return attempt("assessment.attempt_result.scored.v1", submission, at: time, [
            "userId": .string(submission.operatorId.rawValue), "quizBankId": .string(quizBankId(submission.evaluationId)),
            "quizBankVersion": .number(Double(submission.evaluationVersion)),
            "rawScore": .number(result.rawScore), "maxScore": .number(result.maxScore), "scaledScore": .number(result.scaledScore),
            "passed": .bool(result.passed ?? false),
            "durationSeconds": .number(max(0, submission.submittedAt.timeIntervalSince(submission.startedAt)).rounded(.down)),
            "startedAt": .string(submission.startedAt.rfc3339), "scoredAt": .string(time.rfc3339),
            "scoringMode": .string(humanGraded ? "mixed" : "deterministic"),
            "state": .string(result.pendingItems.isEmpty ? "final" : "pending_human_review"),
            "responses": .array(responses),
        ])
    }

    /// Seed 003 §3.3, when a knowledge check is finalised with items only a person can grade. Evalium has
    /// no AI grader, so `aiConfidence` is 0: nothing but a person has judged the answer.
    public static func pendingHumanReview(_ submission: Submission, result: ScoreResult, at time: Date) -> OutboxEvent? {
        guard submission.kind == .knowledge, !result.pendingItems.isEmpty else { return nil }
        let pending = result.items.filter { $0.correct == .pending }.map { item -> JSONValue in
            ["questionId": .string(item.questionId.rawValue), "aiConfidence": 0]
        }
        return attempt("assessment.attempt.pending_human_review.v1", submission, at: time, [
            "userId": .string(submission.operatorId.rawValue), "pendingResponses": .array(pending), "createdAt": .string(time.rfc3339),
        ])
    }

    public enum SupersededReason: String, Sendable { case amended, voided }

    /// A knowledge check's result replaced by an amendment that changed it, or withdrawn by a void
    /// (seed 003 UC-19); `current` is nil for a void.
    public static func attemptSuperseded(
        _ submission: Submission, previous: ScoreResult, current: ScoreResult?, reason: SupersededReason, actor: LedgerActor, at time: Date
    ) -> OutboxEvent? {
        guard submission.kind == .knowledge else { return nil }
        var payload: [String: JSONValue] = [
            "userId": .string(submission.operatorId.rawValue), "quizBankId": .string(quizBankId(submission.evaluationId)),
            "reason": .string(reason.rawValue), "previousScaledScore": .number(previous.scaledScore),
            "previousPassed": .bool(previous.passed ?? false), "supersededAt": .string(time.rfc3339), "supersededBy": userId(actor),
        ]
        if let current {
            payload["currentScaledScore"] = .number(current.scaledScore)
            payload["currentPassed"] = .bool(current.passed ?? false)
        }
        return attempt("assessment.attempt.superseded.v1", submission, at: time, payload)
    }

    /// Every finalised submission, of every kind: the observation world's event.
    public static func submissionFinalised(_ submission: Submission, at time: Date) -> OutboxEvent {
        var payload: [String: JSONValue] = [
            "orgUnitId": .string(submission.orgUnitId.rawValue), "evaluationId": .string(submission.evaluationId.rawValue),
            "evaluationVersion": .number(Double(submission.evaluationVersion)), "kind": .string(submission.kind.rawValue),
            "userId": .string(submission.operatorId.rawValue), "subjectIds": subjectIds(submission),
            "findingCount": .number(Double(submission.result.findings.count)), "outcome": .string(submission.outcome.rawValue),
            "reviewStatus": .string(submission.approvalStatus.rawValue), "finalisedAt": .string(time.rfc3339),
            "assignmentId": .string(submission.assignmentId.rawValue),
        ]
        if let replaced = submission.replaces { payload["reworkOf"] = .string(replaced.rawValue) }
        return self.submission("assessment.submission.finalised.v1", submission, at: time, payload)
    }

    public enum FindingCause: String, Sendable { case finalisation, amendment, void }

    public static func findingDetected(_ finding: Finding, of submission: Submission, cause: FindingCause, at time: Date) -> OutboxEvent {
        self.submission("assessment.finding.detected.v1", submission, at: time, findingPayload(finding, submission, cause, timeField: "detectedAt", time))
    }

    public static func findingWithdrawn(_ finding: Finding, of submission: Submission, cause: FindingCause, at time: Date) -> OutboxEvent {
        self.submission("assessment.finding.withdrawn.v1", submission, at: time, findingPayload(finding, submission, cause, timeField: "withdrawnAt", time))
    }

    public enum ReviewCause: String, Sendable { case review, amendment, rework }

    /// An approval transition (seed 002 §1, seed 004 four-eyes): `pending_review` → `approved`, and so on.
    public static func reviewStatusChanged(
        _ submission: Submission, from: ApprovalStatus, to: ApprovalStatus, cause: ReviewCause, actor: LedgerActor, at time: Date
    ) -> OutboxEvent {
        self.submission("assessment.submission.review_status_changed.v1", submission, at: time, [
            "fromStatus": .string(from.rawValue), "toStatus": .string(to.rawValue), "cause": .string(cause.rawValue),
            "changedAt": .string(time.rfc3339), "actorId": userId(actor),
        ])
    }

    /// An amendment appended to a submission: which items it touched and the hash of its canonical JSON,
    /// never the answers themselves.
    public static func submissionAmended(
        _ submission: Submission, amendment: AmendmentID, number: Int, itemIds: [ItemID], hash: String, actor: LedgerActor, at time: Date
    ) -> OutboxEvent {
        self.submission("assessment.submission.amended.v1", submission, at: time, [
            "amendmentId": .string(amendment.rawValue), "amendmentNumber": .number(Double(number)),
            "itemIds": .array(itemIds.map { .string($0.rawValue) }), "amendmentHash": .string(hash), "amendedAt": .string(time.rfc3339),
            "amendedBy": userId(actor),
        ])
    }

    /// A void; its reason is free text a person wrote, so it stays in the submission.
    public static func submissionVoided(_ submission: Submission, actor: LedgerActor, at time: Date) -> OutboxEvent {
        self.submission("assessment.submission.voided.v1", submission, at: time, ["voidedAt": .string(time.rfc3339), "voidedBy": userId(actor)])
    }

    // MARK: Building blocks

    private static func quizBank(_ subject: EventSubject, _ evaluation: Evaluation, at time: Date, _ payload: [String: JSONValue]) -> OutboxEvent? {
        guard evaluation.kind == .knowledge else { return nil }
        var payload = payload.filter { $0.value != .null }
        let bank = quizBankId(evaluation.id)
        payload["quizBankId"] = .string(bank)
        payload["tenantId"] = .string(evaluation.tenantId.rawValue)
        return event(subject, tenant: evaluation.tenantId, orgUnit: evaluation.orgUnitId, partitionKey: bank, at: time, payload)
    }

    /// Attempt events are partitioned by the attempt (seed 003 §3.2), as are the submission events, so a
    /// consumer hears one attempt's story in order.
    private static func attempt(_ subject: EventSubject, _ submission: Submission, at time: Date, _ payload: [String: JSONValue]) -> OutboxEvent {
        var payload = payload.filter { $0.value != .null }
        payload["attemptId"] = .string(submission.sessionId.rawValue)
        payload["tenantId"] = .string(submission.tenantId.rawValue)
        return event(subject, tenant: submission.tenantId, orgUnit: submission.orgUnitId, partitionKey: submission.sessionId.rawValue, at: time, payload)
    }

    private static func submission(_ subject: EventSubject, _ submission: Submission, at time: Date, _ payload: [String: JSONValue]) -> OutboxEvent {
        var payload = payload
        payload["submissionId"] = .string(submission.id.rawValue)
        return attempt(subject, submission, at: time, payload)
    }

    private static func event(
        _ subject: EventSubject, tenant: TenantID, orgUnit: OrgUnitID?, partitionKey: String, at time: Date, _ payload: [String: JSONValue]
    ) -> OutboxEvent {
        OutboxEvent(
            envelope: EventEnvelope(
                eventId: EventID.generate(at: time).rawValue, subject: subject, tenantId: tenant, partitionKey: partitionKey, occurredAt: time,
                payload: .object(payload)),
            orgUnitId: orgUnit)
    }

    private static func findingPayload(
        _ finding: Finding, _ submission: Submission, _ cause: FindingCause, timeField: String, _ time: Date
    ) -> [String: JSONValue] {
        [
            "itemId": .string(finding.itemId.rawValue), "questionId": .string(finding.questionId.rawValue), "optionId": .string(finding.optionId),
            "severity": .string(finding.severity.rawValue), "subjectIds": subjectIds(submission), "cause": .string(cause.rawValue),
            timeField: .string(time.rfc3339),
        ]
    }

    private static func subjectIds(_ submission: Submission) -> JSONValue { .array(submission.subjects.map { .string($0.subjectId.rawValue) }) }

    /// A person's id, or null (dropped from the payload) when the actor is the platform or the system.
    private static func userId(_ actor: LedgerActor) -> JSONValue { actor.kind == .user ? .string(actor.id) : .null }
}
