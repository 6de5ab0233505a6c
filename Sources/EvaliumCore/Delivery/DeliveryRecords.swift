import Foundation

/// Who an assignment is issued to: one person, every member of a group, or an invited email (the person
/// who later has an account with that address).
public struct AssignmentTarget: Codable, Hashable, Sendable {
    public var userId: UserID?
    public var groupId: GroupID?
    public var email: String?

    public init(userId: UserID? = nil, groupId: GroupID? = nil, email: String? = nil) {
        self.userId = userId
        self.groupId = groupId
        self.email = email
    }

    /// Exactly one of the three must be given.
    public var isSingle: Bool { [userId != nil, groupId != nil, email != nil].filter { $0 }.count == 1 }
}

public enum SubjectRole: String, Codable, Sendable, CaseIterable {
    case primary, secondary
}

public struct AssignedSubject: Codable, Hashable, Sendable {
    public var subjectId: SubjectID
    public var role: SubjectRole

    public init(subjectId: SubjectID, role: SubjectRole) {
        self.subjectId = subjectId
        self.role = role
    }
}

public enum AssignmentStatus: String, Codable, Sendable {
    case active, withdrawn
}

/// A task issued (seed 001 §8.1): one pinned, published evaluation version, a target, and the policy
/// resolved and frozen at issue time.
public struct Assignment: Codable, Hashable, Sendable {
    public var id: AssignmentID
    public var tenantId: TenantID
    /// The frozen org scope: where the work, its sessions and its submission belong.
    public var orgUnitId: OrgUnitID
    public var evaluationId: EvaluationID
    public var evaluationVersion: Int
    public var kind: EvaluationKind
    public var target: AssignmentTarget
    public var status: AssignmentStatus
    public var cohort: String?
    public var batchId: BatchID?
    public var subjects: [AssignedSubject]
    public var overrides: AssignmentOverrides
    public var policy: EffectivePolicy
    public var createdBy: UserID
    public var createdAt: Date
    public var withdrawnAt: Date?

    public init(
        id: AssignmentID, tenantId: TenantID, orgUnitId: OrgUnitID, evaluationId: EvaluationID, evaluationVersion: Int,
        kind: EvaluationKind, target: AssignmentTarget, status: AssignmentStatus, cohort: String?, batchId: BatchID?,
        subjects: [AssignedSubject], overrides: AssignmentOverrides, policy: EffectivePolicy, createdBy: UserID, createdAt: Date,
        withdrawnAt: Date?
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.evaluationId = evaluationId
        self.evaluationVersion = evaluationVersion
        self.kind = kind
        self.target = target
        self.status = status
        self.cohort = cohort
        self.batchId = batchId
        self.subjects = subjects
        self.overrides = overrides
        self.policy = policy
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.withdrawnAt = withdrawnAt
    }
}

public enum SessionStatus: String, Codable, Sendable {
    case active, submitted
}

public enum CaptureMode: String, Codable, Sendable {
    case online, offline
}

/// A delivery session: runtime state of one attempt (seed 000 "Runtime truth", retention-bound).
public struct DeliverySession: Codable, Hashable, Sendable {
    public var id: AttemptID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var assignmentId: AssignmentID
    public var operatorId: UserID
    public var attemptNumber: Int
    public var status: SessionStatus
    public var mode: CaptureMode
    public var startedAt: Date
    /// When the time limit runs out, if there is one.
    public var expiresAt: Date?
    public var currentItemId: ItemID?
    public var submissionId: SubmissionID?
    public var submittedAt: Date?
    /// Set for rework: the rejected or sent-back submission this attempt replaces.
    public var reworkOf: SubmissionID?

    public init(
        id: AttemptID, tenantId: TenantID, orgUnitId: OrgUnitID, assignmentId: AssignmentID, operatorId: UserID, attemptNumber: Int,
        status: SessionStatus, mode: CaptureMode, startedAt: Date, expiresAt: Date?, currentItemId: ItemID?, submissionId: SubmissionID?,
        submittedAt: Date?, reworkOf: SubmissionID? = nil
    ) {
        self.reworkOf = reworkOf
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.assignmentId = assignmentId
        self.operatorId = operatorId
        self.attemptNumber = attemptNumber
        self.status = status
        self.mode = mode
        self.startedAt = startedAt
        self.expiresAt = expiresAt
        self.currentItemId = currentItemId
        self.submissionId = submissionId
        self.submittedAt = submittedAt
    }
}

/// One recorded answer or observation (a `submission_item`): what, with which comment, when the client
/// says it happened, in which context, and whether the item's capture rules are satisfied.
public struct RecordedResponse: Codable, Hashable, Sendable {
    public var itemId: ItemID
    public var questionId: QuestionID
    public var answer: Answer
    public var comment: String?
    public var complete: Bool
    /// Why the item is not complete yet (a required comment, evidence still to attach).
    public var missing: [String]
    public var clientTimestamp: Date?
    public var context: JSONValue?
    public var recordedAt: Date
    /// Set in a submission's current state when an amendment changed this item: the latest one.
    public var amendmentId: AmendmentID?
    public var amendedAt: Date?

    public init(
        itemId: ItemID, questionId: QuestionID, answer: Answer, comment: String?, complete: Bool, missing: [String],
        clientTimestamp: Date?, context: JSONValue?, recordedAt: Date
    ) {
        self.itemId = itemId
        self.questionId = questionId
        self.answer = answer
        self.comment = comment
        self.complete = complete
        self.missing = missing
        self.clientTimestamp = clientTimestamp
        self.context = context
        self.recordedAt = recordedAt
    }
}

/// The rules an answer must meet when it is captured (seed 004: findings force evidence and comments).
public enum CaptureRules {
    /// Refusals: an answer that does not fit the item at all (a 422).
    public static func shapeProblems(_ answer: Answer, for item: OperatorForm.Item) -> [String] {
        let optionIds = Set((item.options ?? []).map(\.id))
        switch item.kind {
        case .singleChoice, .rubric:
            guard let chosen = answer.optionIds, chosen.count == 1 else { return ["choose exactly one option (`optionIds`)"] }
            return optionIds.contains(chosen[0]) ? [] : ["there is no option `\(chosen[0])`"]
        case .multipleChoice:
            guard let chosen = answer.optionIds, !chosen.isEmpty else { return ["choose at least one option (`optionIds`)"] }
            if Set(chosen).count != chosen.count { return ["an option is chosen twice"] }
            return chosen.filter { !optionIds.contains($0) }.map { "there is no option `\($0)`" }
        case .trueFalse:
            return answer.value == nil ? ["answer true or false (`value`)"] : []
        case .numeric:
            guard let number = answer.number else { return ["give a number (`number`)"] }
            return number.isFinite ? [] : ["the number must be finite"]
        case .shortText, .longText:
            guard let text = answer.text else { return ["give the answer as `text`"] }
            if let limit = item.text?.maxLength, text.count > limit { return ["the answer is longer than \(limit) characters"] }
            return []
        case .evidenceRequest:
            return []
        }
    }

    /// What is still missing before the item counts as complete, given the evidence attached so far.
    /// Whether `missing` counts the evidence attached for this answer (a chosen option that requires it, or
    /// an evidence request); when not, the count need not be looked up.
    public static func countsEvidence(_ answer: Answer, for item: OperatorForm.Item) -> Bool {
        switch item.kind {
        case .rubric: item.options?.first { $0.id == answer.optionIds?.first }?.requiresEvidence == true
        case .evidenceRequest: item.evidence != nil
        default: false
        }
    }

    public static func missing(_ answer: Answer, comment: String?, attachedEvidence: Int, for item: OperatorForm.Item) -> [String] {
        var missing: [String] = []
        let hasComment = !(comment ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        if item.kind == .rubric, let chosen = answer.optionIds?.first, let option = item.options?.first(where: { $0.id == chosen }) {
            if option.requiresComment == true, !hasComment { missing.append("option `\(chosen)` requires a comment") }
            if option.requiresEvidence == true, attachedEvidence == 0 { missing.append("option `\(chosen)` requires evidence; none is attached") }
        }
        if item.kind == .evidenceRequest, let evidence = item.evidence {
            let minimum = evidence.minFiles ?? 0
            if attachedEvidence < minimum { missing.append("needs at least \(minimum) file\(minimum == 1 ? "" : "s"); \(attachedEvidence) attached") }
            if evidence.noteRequired == true, (answer.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                missing.append("needs a note (`text`)")
            }
        }
        return missing
    }
}
