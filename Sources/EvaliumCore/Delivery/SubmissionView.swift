import Foundation

/// A submission as one reader may see it: always the snapshot's form and the recorded answers, and as
/// much of the result as the disclosure level allows (seed 001 §15.2, enforced here on the server):
/// `outcome` adds pass/fail, `score` the scores, `item_results` each item's result and the findings,
/// `answer_key` the correct answers and explanations.
public struct SubmissionView: Codable, Hashable, Sendable {
    public var id: SubmissionID
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
    public var approvalStatus: ApprovalStatus
    public var subjects: [AssignedSubject]
    public var startedAt: Date
    public var submittedAt: Date
    public var snapshotHash: String
    public var replaces: SubmissionID?
    /// How many amendments the current state below applies; its history lists them.
    public var amendmentCount: Int
    /// Set once the submission is voided: it no longer stands, and stays in the record.
    public var void: SubmissionVoid?
    public var disclosure: FeedbackLevel
    public var outcome: Outcome?
    public var score: Score?
    public var items: [ItemResult]?
    public var findings: [Finding]?
    public var answerKeys: [KeyedItem]?
    public var form: OperatorForm
    /// The current state: the recorded responses with every amendment applied.
    public var responses: [RecordedResponse]

    public struct Score: Codable, Hashable, Sendable {
        public var rawScore: Double
        public var maxScore: Double
        public var scaledScore: Double
        public var passed: Bool?
    }

    public struct KeyedItem: Codable, Hashable, Sendable {
        public var itemId: ItemID
        public var answerKey: AnswerKey?
        public var explanation: LocalizedText?
    }

    /// `result` is the current result: the corrected responses scored with the human grades that still stand.
    public init(_ submission: Submission, snapshot: VersionSnapshot, corrections: CorrectionChain, result: ScoreResult, level: FeedbackLevel) {
        id = submission.id
        orgUnitId = submission.orgUnitId
        sessionId = submission.sessionId
        assignmentId = submission.assignmentId
        evaluationId = submission.evaluationId
        evaluationVersion = submission.evaluationVersion
        kind = submission.kind
        operatorId = submission.operatorId
        batchId = submission.batchId
        cohort = submission.cohort
        lifecycleStatus = submission.lifecycleStatus
        approvalStatus = submission.approvalStatus
        subjects = submission.subjects
        startedAt = submission.startedAt
        submittedAt = submission.submittedAt
        snapshotHash = submission.snapshotHash
        replaces = submission.replaces
        amendmentCount = corrections.amendments.count
        void = corrections.void
        disclosure = level
        form = snapshot.form
        responses = corrections.current
        if level >= .outcome { outcome = result.outcome }
        if level >= .score {
            score = Score(rawScore: result.rawScore, maxScore: result.maxScore, scaledScore: result.scaledScore, passed: result.passed)
        }
        if level >= .itemResults {
            items = result.items
            findings = result.findings
        }
        if level >= .answerKey {
            let questions = Dictionary(snapshot.questions.map { ($0.pin, $0) }, uniquingKeysWith: { first, _ in first })
            answerKeys = snapshot.form.sections.flatMap(\.items).compactMap { item in
                guard let id = item.id, let question = questions[QuestionPin(questionId: item.questionId, version: item.questionVersion)] else {
                    return nil
                }
                return KeyedItem(itemId: id, answerKey: question.content.answerKey, explanation: question.content.explanation)
            }
        }
    }
}
