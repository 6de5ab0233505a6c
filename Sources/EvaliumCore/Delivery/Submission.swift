import Foundation

public enum LifecycleStatus: String, Codable, Sendable {
    case inProgress = "in_progress"
    case completed
}

/// Trust in a submission (seed 002 §1, seed 004): metadata about the work, never a change to it.
public enum ApprovalStatus: String, Codable, Sendable, CaseIterable {
    case approved
    case pendingReview = "pending_review"
    case rejected
    case changesRequested = "changes_requested"
}

/// The authored content an assignment runs, frozen when it is issued: the published evaluation version
/// and every question version it pins.
public struct AssignmentContent: Codable, Hashable, Sendable {
    public let evaluation: EvaluationVersion
    public let questions: [QuestionVersion]
    /// The form exactly as the operator is shown it, built once with the content: every answer, submit and read
    /// of a submission needs it, and building it each time was about 3 % of the server's CPU under submits.
    public let form: OperatorForm

    public init(evaluation: EvaluationVersion, questions: [QuestionVersion]) {
        self.evaluation = evaluation
        self.questions = questions
        form = OperatorForm(evaluation, questions: Dictionary(questions.map { ($0.pin, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            evaluation: try container.decode(EvaluationVersion.self, forKey: .evaluation),
            questions: try container.decode([QuestionVersion].self, forKey: .questions))
    }

    /// The form follows from the rest, so it is neither encoded nor compared.
    private enum CodingKeys: String, CodingKey { case evaluation, questions }

    public static func == (left: Self, right: Self) -> Bool { left.evaluation == right.evaluation && left.questions == right.questions }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(evaluation)
        hasher.combine(questions)
    }
}

/// The part of a version snapshot that is one submission's own: the effective policy, the org scope and the
/// assignment linkage. The content (evaluation version and question versions) is stored once and named by
/// its hash.
public struct SnapshotFrame: Codable, Hashable, Sendable {
    public var policy: EffectivePolicy
    public var orgUnitId: OrgUnitID
    public var assignment: VersionSnapshot.AssignmentLink

    public init(policy: EffectivePolicy, orgUnitId: OrgUnitID, assignment: VersionSnapshot.AssignmentLink) {
        self.policy = policy
        self.orgUnitId = orgUnitId
        self.assignment = assignment
    }
}

/// Everything needed to reconstruct what the operator saw and did, frozen into the submission
/// (seed 001 §9): the evaluation version and every question version it pins (answer keys, tags),
/// the effective policy with its disclosure config, the org scope and the assignment linkage.
/// Reporting and reconstruction read this, never the live authoring tables.
public struct VersionSnapshot: Codable, Hashable, Sendable {
    /// The evaluation version and every question version it pins, with the form they make.
    public let content: AssignmentContent
    public var policy: EffectivePolicy
    public var orgUnitId: OrgUnitID
    public var assignment: AssignmentLink

    public struct AssignmentLink: Codable, Hashable, Sendable {
        public var assignmentId: AssignmentID
        public var cohort: String?
        public var batchId: BatchID?

        public init(assignmentId: AssignmentID, cohort: String?, batchId: BatchID?) {
            self.assignmentId = assignmentId
            self.cohort = cohort
            self.batchId = batchId
        }
    }

    public init(
        evaluation: EvaluationVersion, questions: [QuestionVersion], policy: EffectivePolicy, orgUnitId: OrgUnitID, assignment: AssignmentLink
    ) {
        self.init(content: AssignmentContent(evaluation: evaluation, questions: questions), policy: policy, orgUnitId: orgUnitId, assignment: assignment)
    }

    public init(content: AssignmentContent, policy: EffectivePolicy, orgUnitId: OrgUnitID, assignment: AssignmentLink) {
        self.content = content
        self.policy = policy
        self.orgUnitId = orgUnitId
        self.assignment = assignment
    }

    public var evaluation: EvaluationVersion { content.evaluation }
    public var questions: [QuestionVersion] { content.questions }

    /// One object: the content's members (`evaluation`, `questions`) and the frame's beside them.
    public init(from decoder: any Decoder) throws {
        self.init(frame: try SnapshotFrame(from: decoder), content: try AssignmentContent(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try content.encode(to: encoder)
        try frame.encode(to: encoder)
    }

    public init(frame: SnapshotFrame, content: AssignmentContent) {
        self.init(content: content, policy: frame.policy, orgUnitId: frame.orgUnitId, assignment: frame.assignment)
    }

    /// What is the submission's own, beside the content it shares with its assignment.
    public var frame: SnapshotFrame { SnapshotFrame(policy: policy, orgUnitId: orgUnitId, assignment: assignment) }

    /// The snapshot's hash, given the hash of its content's bytes: the SHA-256 of the canonical JSON of the
    /// frame with `contentHash` beside it. It commits to everything the snapshot holds (to the content
    /// through its hash, which the database checks against the stored bytes) without encoding the tens of
    /// kilobytes of content again on every submit.
    public func hash(contentHash: String) throws -> String {
        try ContentHash.of(HashedSnapshot(frame: frame, contentHash: contentHash))
    }

    private struct HashedSnapshot: Encodable {
        var frame: SnapshotFrame
        var contentHash: String

        func encode(to encoder: any Encoder) throws {
            try frame.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(contentHash, forKey: .contentHash)
        }

        enum CodingKeys: String, CodingKey { case contentHash }
    }

    /// `responses` scored against this snapshot's answer keys and grading rule, with `grades` for the items a person graded.
    public func score(_ responses: [RecordedResponse], grades: [ItemID: HumanGrade]) -> ScoreResult {
        Scoring.score(
            items: scorableItems, answers: Dictionary(responses.map { ($0.itemId, $0.answer) }, uniquingKeysWith: { $1 }), grades: grades,
            rule: evaluation.definition.grading)
    }

    /// The form exactly as the operator was shown it.
    public var form: OperatorForm { content.form }

    /// The items as the scorer needs them: points with the item's override, partial credit resolved
    /// from the question, else the evaluation's default.
    public var scorableItems: [ScorableItem] {
        let questions = Dictionary(self.questions.map { ($0.pin, $0) }, uniquingKeysWith: { first, _ in first })
        let defaultCredit = evaluation.definition.grading?.partialCreditDefault ?? PartialCreditMode.none
        return evaluation.definition.items.compactMap { entry in
            guard let itemId = entry.item.id, let number = entry.item.version,
                  let question = questions[QuestionPin(questionId: entry.item.questionId, version: number)]
            else { return nil }
            return ScorableItem(
                itemId: itemId, questionId: question.questionId, kind: question.kind,
                points: entry.item.points ?? question.content.effectivePoints,
                partialCredit: question.content.partialCredit ?? defaultCredit, answerKey: question.content.answerKey,
                options: question.content.options, textGrading: question.content.text?.grading)
        }
    }
}

/// The durable, immutable record of one finalised attempt (seed 001 §8.3).
public struct Submission: Codable, Hashable, Sendable {
    public var id: SubmissionID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var sessionId: AttemptID
    public var assignmentId: AssignmentID
    public var evaluationId: EvaluationID
    public var evaluationVersion: Int
    public var kind: EvaluationKind
    public var operatorId: UserID
    public var batchId: BatchID?
    public var cohort: String?
    public var lifecycleStatus: LifecycleStatus
    public var outcome: Outcome
    public var approvalStatus: ApprovalStatus
    /// The result at finalisation; later human grades add events, never edit this.
    public var result: ScoreResult
    /// SHA-256 of the canonical JSON of the version snapshot.
    public var snapshotHash: String
    public var subjects: [AssignedSubject]
    public var context: JSONValue?
    public var startedAt: Date
    public var submittedAt: Date
    /// The rejected or sent-back submission this one is the rework of.
    public var replaces: SubmissionID?

    public init(
        id: SubmissionID, tenantId: TenantID, orgUnitId: OrgUnitID, sessionId: AttemptID, assignmentId: AssignmentID,
        evaluationId: EvaluationID, evaluationVersion: Int, kind: EvaluationKind, operatorId: UserID, batchId: BatchID?, cohort: String?,
        lifecycleStatus: LifecycleStatus, outcome: Outcome, approvalStatus: ApprovalStatus, result: ScoreResult, snapshotHash: String,
        subjects: [AssignedSubject], context: JSONValue?, startedAt: Date, submittedAt: Date, replaces: SubmissionID? = nil
    ) {
        self.replaces = replaces
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.sessionId = sessionId
        self.assignmentId = assignmentId
        self.evaluationId = evaluationId
        self.evaluationVersion = evaluationVersion
        self.kind = kind
        self.operatorId = operatorId
        self.batchId = batchId
        self.cohort = cohort
        self.lifecycleStatus = lifecycleStatus
        self.outcome = outcome
        self.approvalStatus = approvalStatus
        self.result = result
        self.snapshotHash = snapshotHash
        self.subjects = subjects
        self.context = context
        self.startedAt = startedAt
        self.submittedAt = submittedAt
    }
}

/// One line of a submission listing or review queue.
public struct SubmissionSummary: Codable, Hashable, Sendable {
    public var id: SubmissionID
    public var orgUnitId: OrgUnitID
    public var assignmentId: AssignmentID
    public var evaluationId: EvaluationID
    public var evaluationVersion: Int
    public var kind: EvaluationKind
    public var operatorId: UserID
    public var batchId: BatchID?
    public var cohort: String?
    public var outcome: Outcome
    public var approvalStatus: ApprovalStatus
    public var findingsCount: Int
    public var submittedAt: Date
    public var replaces: SubmissionID?
    public var voided: Bool
    public var amendmentCount: Int

    public init(
        id: SubmissionID, orgUnitId: OrgUnitID, assignmentId: AssignmentID, evaluationId: EvaluationID, evaluationVersion: Int,
        kind: EvaluationKind, operatorId: UserID, batchId: BatchID?, cohort: String?, outcome: Outcome, approvalStatus: ApprovalStatus,
        findingsCount: Int, submittedAt: Date, replaces: SubmissionID?, voided: Bool, amendmentCount: Int
    ) {
        self.voided = voided
        self.amendmentCount = amendmentCount
        self.id = id
        self.orgUnitId = orgUnitId
        self.assignmentId = assignmentId
        self.evaluationId = evaluationId
        self.evaluationVersion = evaluationVersion
        self.kind = kind
        self.operatorId = operatorId
        self.batchId = batchId
        self.cohort = cohort
        self.outcome = outcome
        self.approvalStatus = approvalStatus
        self.findingsCount = findingsCount
        self.submittedAt = submittedAt
        self.replaces = replaces
    }
}
