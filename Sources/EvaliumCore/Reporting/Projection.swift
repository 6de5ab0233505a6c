import Foundation

/// One submission as the reporting world keeps it: its fact row, its current findings and its item results,
/// all computed from durable truth (the submission, its frozen snapshot, its corrections and its ledger), never
/// from live authoring tables (seed 001 §4.3).
public struct SubmissionProjection: Codable, Hashable, Sendable {
    public var fact: SubmissionFact
    public var findings: [FindingFact]
    public var items: [ItemResultFact]
}

public struct SubmissionFact: Codable, Hashable, Sendable {
    public var submissionId: SubmissionID
    public var orgUnitId: OrgUnitID
    public var evaluationId: EvaluationID
    public var evaluationVersion: Int
    public var kind: EvaluationKind
    public var cohort: String?
    public var batchId: BatchID?
    public var subjectIds: [SubjectID]
    public var operatorId: UserID
    public var startedAt: Date
    public var submittedAt: Date
    public var outcome: Outcome
    public var rawScore: Double
    public var maxScore: Double
    public var scaledScore: Double
    public var passed: Bool?
    public var approvalStatus: ApprovalStatus
    public var amendmentCount: Int
    public var voided: Bool
    public var findingCount: Int
    public var evidenceCount: Int
    public var replaces: SubmissionID?

    public init(
        submissionId: SubmissionID, orgUnitId: OrgUnitID, evaluationId: EvaluationID, evaluationVersion: Int,
        kind: EvaluationKind, cohort: String?, batchId: BatchID?, subjectIds: [SubjectID], operatorId: UserID,
        startedAt: Date, submittedAt: Date, outcome: Outcome, rawScore: Double, maxScore: Double, scaledScore: Double,
        passed: Bool?, approvalStatus: ApprovalStatus, amendmentCount: Int, voided: Bool, findingCount: Int, evidenceCount: Int,
        replaces: SubmissionID?
    ) {
        self.submissionId = submissionId
        self.orgUnitId = orgUnitId
        self.evaluationId = evaluationId
        self.evaluationVersion = evaluationVersion
        self.kind = kind
        self.cohort = cohort
        self.batchId = batchId
        self.subjectIds = subjectIds
        self.operatorId = operatorId
        self.startedAt = startedAt
        self.submittedAt = submittedAt
        self.outcome = outcome
        self.rawScore = rawScore
        self.maxScore = maxScore
        self.scaledScore = scaledScore
        self.passed = passed
        self.approvalStatus = approvalStatus
        self.amendmentCount = amendmentCount
        self.voided = voided
        self.findingCount = findingCount
        self.evidenceCount = evidenceCount
        self.replaces = replaces
    }
}

/// A finding as it stands, tied to the `finding.detected` ledger event that raised it.
public struct FindingFact: Codable, Hashable, Sendable {
    public var submissionId: SubmissionID
    public var itemId: ItemID
    public var orgUnitId: OrgUnitID
    public var questionId: QuestionID
    public var optionId: String
    public var severity: FindingSeverity
    public var subjectIds: [SubjectID]
    public var batchId: BatchID?
    public var ledgerEventId: LedgerEventID
    public var detectedAt: Date
    public var voided: Bool

    public init(
        submissionId: SubmissionID, itemId: ItemID, orgUnitId: OrgUnitID, questionId: QuestionID, optionId: String,
        severity: FindingSeverity, subjectIds: [SubjectID], batchId: BatchID?, ledgerEventId: LedgerEventID,
        detectedAt: Date, voided: Bool
    ) {
        self.submissionId = submissionId
        self.itemId = itemId
        self.orgUnitId = orgUnitId
        self.questionId = questionId
        self.optionId = optionId
        self.severity = severity
        self.subjectIds = subjectIds
        self.batchId = batchId
        self.ledgerEventId = ledgerEventId
        self.detectedAt = detectedAt
        self.voided = voided
    }
}

public struct ItemResultFact: Codable, Hashable, Sendable {
    public var submissionId: SubmissionID
    public var itemId: ItemID
    public var orgUnitId: OrgUnitID
    public var evaluationId: EvaluationID
    public var evaluationVersion: Int
    public var questionId: QuestionID
    public var questionVersion: Int
    public var correct: Correctness
    public var pointsEarned: Double?
    public var pointsPossible: Double
    /// Seconds between the previous recorded answer (or the session's start) and this one's last recording.
    public var secondsSpent: Double?
    public var voided: Bool

    public init(
        submissionId: SubmissionID, itemId: ItemID, orgUnitId: OrgUnitID, evaluationId: EvaluationID,
        evaluationVersion: Int, questionId: QuestionID, questionVersion: Int, correct: Correctness,
        pointsEarned: Double?, pointsPossible: Double, secondsSpent: Double?, voided: Bool
    ) {
        self.submissionId = submissionId
        self.itemId = itemId
        self.orgUnitId = orgUnitId
        self.evaluationId = evaluationId
        self.evaluationVersion = evaluationVersion
        self.questionId = questionId
        self.questionVersion = questionVersion
        self.correct = correct
        self.pointsEarned = pointsEarned
        self.pointsPossible = pointsPossible
        self.secondsSpent = secondsSpent
        self.voided = voided
    }
}

/// A `finding.detected` event as the projection needs it.
public struct FindingDetection: Sendable, Hashable {
    public var itemId: ItemID
    public var optionId: String
    public var eventId: LedgerEventID
    public var occurredAt: Date

    public init(itemId: ItemID, optionId: String, eventId: LedgerEventID, occurredAt: Date) {
        self.itemId = itemId
        self.optionId = optionId
        self.eventId = eventId
        self.occurredAt = occurredAt
    }
}

public enum ReportingProjection {
    /// The projection of `submission` whose current result (after grades and amendments) is `result`, and
    /// whose items were last answered at `answeredAt` (as recorded, before any amendment).
    /// A current finding is tied to the latest detection of that very option on that item; one with no
    /// detection event (which the ledger always has) is left out rather than invented.
    public static func project(
        _ submission: Submission, _ snapshot: VersionSnapshot, result: ScoreResult, answeredAt: [ItemID: Date], amendmentCount: Int,
        voided: Bool, evidenceCount: Int, detections: [FindingDetection]
    ) -> SubmissionProjection {
        let subjects = submission.subjects.map(\.subjectId)
        var latest: [String: FindingDetection] = [:]
        for detection in detections {
            let key = "\(detection.itemId)/\(detection.optionId)"
            if let known = latest[key], known.occurredAt > detection.occurredAt { continue }
            latest[key] = detection
        }
        let findings = result.findings.compactMap { finding -> FindingFact? in
            guard let detection = latest["\(finding.itemId)/\(finding.optionId)"] else { return nil }
            return FindingFact(
                submissionId: submission.id, itemId: finding.itemId, orgUnitId: submission.orgUnitId, questionId: finding.questionId,
                optionId: finding.optionId, severity: finding.severity, subjectIds: subjects, batchId: submission.batchId,
                ledgerEventId: detection.eventId, detectedAt: detection.occurredAt, voided: voided)
        }
        let versions = Dictionary(
            snapshot.evaluation.definition.items.compactMap { entry in entry.item.id.map { ($0, entry.item.version ?? 0) } },
            uniquingKeysWith: { first, _ in first })
        var previous = submission.startedAt
        var seconds: [ItemID: Double] = [:]
        // Answers recorded in the same millisecond are taken in item order, so every rebuild gives the same rows.
        for (itemId, recordedAt) in answeredAt.sorted(by: { ($0.value, $0.key.rawValue) < ($1.value, $1.key.rawValue) }) {
            seconds[itemId] = max(0, recordedAt.timeIntervalSince(previous))
            previous = recordedAt
        }
        let items = result.items.map { item in
            ItemResultFact(
                submissionId: submission.id, itemId: item.itemId, orgUnitId: submission.orgUnitId, evaluationId: submission.evaluationId,
                evaluationVersion: submission.evaluationVersion, questionId: item.questionId, questionVersion: versions[item.itemId] ?? 0,
                correct: item.correct, pointsEarned: item.pointsEarned, pointsPossible: item.pointsPossible, secondsSpent: seconds[item.itemId],
                voided: voided)
        }
        let fact = SubmissionFact(
            submissionId: submission.id, orgUnitId: submission.orgUnitId, evaluationId: submission.evaluationId,
            evaluationVersion: submission.evaluationVersion, kind: submission.kind, cohort: submission.cohort, batchId: submission.batchId,
            subjectIds: subjects, operatorId: submission.operatorId, startedAt: submission.startedAt, submittedAt: submission.submittedAt,
            outcome: result.outcome, rawScore: result.rawScore, maxScore: result.maxScore, scaledScore: result.scaledScore,
            passed: result.passed, approvalStatus: submission.approvalStatus, amendmentCount: amendmentCount, voided: voided,
            findingCount: findings.count, evidenceCount: evidenceCount, replaces: submission.replaces)
        return SubmissionProjection(fact: fact, findings: findings, items: items)
    }
}

extension Correctness {
    /// The word a reporting row stores: `correct`, `incorrect`, `partial` or `pending`.
    public var label: String {
        switch self {
        case .correct: "correct"
        case .incorrect: "incorrect"
        case .partial: "partial"
        case .pending: "pending"
        }
    }

    public init?(label: String) {
        switch label {
        case "correct": self = .correct
        case "incorrect": self = .incorrect
        case "partial": self = .partial
        case "pending": self = .pending
        default: return nil
        }
    }
}
