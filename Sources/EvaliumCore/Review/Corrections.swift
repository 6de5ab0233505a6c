import Foundation

/// A correction of one recorded item (seed 001 §11): a new answer, a new comment, or both. A field left
/// out keeps its current value; an empty comment clears it.
public struct ItemCorrection: Codable, Hashable, Sendable {
    public var itemId: ItemID
    public var answer: Answer?
    public var comment: String?

    public init(itemId: ItemID, answer: Answer? = nil, comment: String? = nil) {
        self.itemId = itemId
        self.answer = answer
        self.comment = comment
    }
}

/// An amendment as recorded: appended to its submission's chain, never replacing what came before.
public struct Amendment: Codable, Hashable, Sendable {
    public var id: AmendmentID
    public var submissionId: SubmissionID
    /// 1, 2, 3… in the order the amendments of one submission were appended.
    public var sequence: Int
    public var reason: String
    public var changes: [ItemCorrection]
    public var amendedBy: UserID
    public var amendedAt: Date

    public init(
        id: AmendmentID, submissionId: SubmissionID, sequence: Int, reason: String, changes: [ItemCorrection], amendedBy: UserID,
        amendedAt: Date
    ) {
        self.id = id
        self.submissionId = submissionId
        self.sequence = sequence
        self.reason = reason
        self.changes = changes
        self.amendedBy = amendedBy
        self.amendedAt = amendedAt
    }

    /// SHA-256 of the amendment's canonical JSON, named by its ledger event so the record proves its content.
    public var contentHash: String {
        get throws { try ContentHash.of(self) }
    }
}

/// The step-up a void was made with: the method and the proof's id, never the code.
public struct StepUpRecord: Codable, Hashable, Sendable {
    public var method: String
    public var proofId: String
    public var verifiedAt: Date

    public init(method: String, proofId: String, verifiedAt: Date) {
        self.method = method
        self.proofId = proofId
        self.verifiedAt = verifiedAt
    }
}

/// A void: the submission stays in the record, marked as no longer standing, with who, when and why.
public struct SubmissionVoid: Codable, Hashable, Sendable {
    public var submissionId: SubmissionID
    public var reason: String
    public var voidedBy: UserID
    public var voidedAt: Date
    public var stepUp: StepUpRecord?

    public init(submissionId: SubmissionID, reason: String, voidedBy: UserID, voidedAt: Date, stepUp: StepUpRecord?) {
        self.submissionId = submissionId
        self.reason = reason
        self.voidedBy = voidedBy
        self.voidedAt = voidedAt
        self.stepUp = stepUp
    }
}

/// What one item said at one point of the chain.
public struct ItemValue: Codable, Hashable, Sendable {
    public var answer: Answer
    public var comment: String?

    public init(answer: Answer, comment: String?) {
        self.answer = answer
        self.comment = comment
    }

    init(_ response: RecordedResponse) { self.init(answer: response.answer, comment: response.comment) }

    /// This value as `change` corrects it.
    func corrected(by change: ItemCorrection) -> ItemValue {
        let comment = change.comment.map { $0.isEmpty ? nil : $0 } ?? self.comment
        return ItemValue(answer: change.answer ?? answer, comment: comment)
    }
}

/// An amendment as a history shows it: every change with the value it replaced, so a reader can cross
/// the old value out rather than lose it.
public struct AmendmentRecord: Codable, Hashable, Sendable {
    public var id: AmendmentID
    public var sequence: Int
    public var reason: String
    public var amendedBy: UserID
    public var amendedAt: Date
    public var changes: [Change]

    public struct Change: Codable, Hashable, Sendable {
        public var itemId: ItemID
        public var before: ItemValue
        public var after: ItemValue
    }
}

/// A submission's corrections and what follows from them: the current state is the finalised record
/// with every amendment applied in order; the original is never lost.
public struct CorrectionChain: Sendable {
    public var original: [RecordedResponse]
    /// In sequence order.
    public var amendments: [Amendment]
    public var void: SubmissionVoid?

    public init(original: [RecordedResponse], amendments: [Amendment], void: SubmissionVoid?) {
        self.original = original
        self.amendments = amendments.sorted { $0.sequence < $1.sequence }
        self.void = void
    }

    /// The responses as they stand after every amendment, each changed one naming its latest amendment.
    public var current: [RecordedResponse] {
        var responses = original
        for amendment in amendments {
            for change in amendment.changes {
                guard let index = responses.firstIndex(where: { $0.itemId == change.itemId }) else { continue }
                responses[index] = Self.applying(change, to: responses[index], by: amendment)
            }
        }
        return responses
    }

    /// Each amendment with the values it replaced.
    public var history: [AmendmentRecord] {
        var values = Dictionary(original.map { ($0.itemId, ItemValue($0)) }, uniquingKeysWith: { $1 })
        return amendments.map { amendment in
            let changes = amendment.changes.compactMap { change -> AmendmentRecord.Change? in
                guard let before = values[change.itemId] else { return nil }
                let after = before.corrected(by: change)
                values[change.itemId] = after
                return AmendmentRecord.Change(itemId: change.itemId, before: before, after: after)
            }
            return AmendmentRecord(
                id: amendment.id, sequence: amendment.sequence, reason: amendment.reason, amendedBy: amendment.amendedBy,
                amendedAt: amendment.amendedAt, changes: changes)
        }
    }

    /// The human grades that still apply: a grade given before its item was last amended graded an
    /// answer that no longer stands, so the item waits for a person again.
    public func standingGrades(_ grades: [ItemID: HumanGrade]) -> [ItemID: HumanGrade] {
        var lastAmended: [ItemID: Date] = [:]
        for amendment in amendments {
            for change in amendment.changes { lastAmended[change.itemId] = amendment.amendedAt }
        }
        return grades.filter { itemId, grade in
            guard let amendedAt = lastAmended[itemId] else { return true }
            return (grade.gradedAt ?? .distantPast) > amendedAt
        }
    }

    private static func applying(_ change: ItemCorrection, to response: RecordedResponse, by amendment: Amendment) -> RecordedResponse {
        let value = ItemValue(response).corrected(by: change)
        var amended = response
        amended.answer = value.answer
        amended.comment = value.comment
        amended.amendmentId = amendment.id
        amended.amendedAt = amendment.amendedAt
        return amended
    }
}

/// What an amendment must satisfy before it is appended. The corrected work must still fit its frozen
/// form and be complete: an amendment can fix a record, never leave it half-finished.
public enum CorrectionRules {
    public static let maximumReason = 2_000
    public static let maximumComment = 20_000

    public static func reasonProblems(_ reason: String, pointer: String = "/reason") -> [Problem.FieldError] {
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [.init(pointer: pointer, detail: "say why")] }
        if trimmed.count > maximumReason { return [.init(pointer: pointer, detail: "at most \(maximumReason) characters")] }
        return []
    }

    /// Every reason `changes` cannot be appended to a submission whose current responses are `current`.
    public static func problems(_ changes: [ItemCorrection], form: OperatorForm, current: [RecordedResponse]) -> [Problem.FieldError] {
        guard !changes.isEmpty else { return [.init(pointer: "/changes", detail: "name at least one item to correct")] }
        let items = Dictionary(form.sections.flatMap(\.items).compactMap { item in item.id.map { ($0, item) } }, uniquingKeysWith: { first, _ in first })
        let responses = Dictionary(current.map { ($0.itemId, $0) }, uniquingKeysWith: { $1 })
        var seen = Set<ItemID>()
        var problems: [Problem.FieldError] = []
        for (index, change) in changes.enumerated() {
            let pointer = "/changes/\(index)"
            guard seen.insert(change.itemId).inserted else {
                problems.append(.init(pointer: "\(pointer)/itemId", detail: "names an item already corrected in this amendment"))
                continue
            }
            guard let item = items[change.itemId] else {
                problems.append(.init(pointer: "\(pointer)/itemId", detail: "is not an item of this submission's form"))
                continue
            }
            guard let response = responses[change.itemId] else {
                problems.append(.init(pointer: "\(pointer)/itemId", detail: "was not answered; an amendment corrects recorded work"))
                continue
            }
            guard change.answer != nil || change.comment != nil else {
                problems.append(.init(pointer: pointer, detail: "give a corrected `answer`, `comment` or both"))
                continue
            }
            if let comment = change.comment, comment.count > maximumComment {
                problems.append(.init(pointer: "\(pointer)/comment", detail: "at most \(maximumComment) characters"))
            }
            if let answer = change.answer {
                let shape = CaptureRules.shapeProblems(answer, for: item)
                problems += shape.map { .init(pointer: "\(pointer)/answer", detail: $0) }
                if !shape.isEmpty { continue }
            }
            let after = ItemValue(response).corrected(by: change)
            if after == ItemValue(response) {
                problems.append(.init(pointer: pointer, detail: "changes nothing: the item already says this"))
                continue
            }
            problems += CaptureRules.missing(after.answer, comment: after.comment, attachedEvidence: 0, for: item)
                .map { .init(pointer: pointer, detail: $0) }
        }
        return problems
    }
}

extension EffectivePolicy {
    /// Voiding work done under high assurance asks for the same assurance: a fresh step-up proof when the
    /// work was reviewed under four-eyes, or needed step-up or L4 context-verification when it was done.
    public var voidRequiresStepUp: Bool {
        reviewPolicy == .fourEyes || verificationLevel >= .l4 || requiredContext.contains(.stepUp)
    }
}
