import Foundation

/// An evaluation version assembled into exactly what the person doing the work sees (seed 001 §6.3):
/// prompts, options, requirements and policy, and never an answer key, a correct flag or an explanation.
/// Authors preview it; delivery hands the same structure to operators.
public struct OperatorForm: Codable, Hashable, Sendable {
    public var evaluationId: EvaluationID
    public var version: Int
    public var kind: EvaluationKind
    public var status: VersionStatus
    public var title: LocalizedText?
    public var description: LocalizedText?
    public var instructions: LocalizedText?
    public var navigation: NavigationRules?
    public var maxAttempts: Int?
    public var verificationLevel: VerificationLevel?
    public var requiredContext: [ContextField]?
    public var offlinePolicy: OfflinePolicy?
    public var sections: [Section]
    public var itemCount: Int
    public var maxScore: Double

    public struct Section: Codable, Hashable, Sendable {
        public var id: SectionID?
        public var title: LocalizedText?
        public var description: LocalizedText?
        public var items: [Item]
    }

    public struct Item: Codable, Hashable, Sendable {
        public var id: ItemID?
        public var questionId: QuestionID
        public var questionVersion: Int
        public var kind: ItemKind
        public var prompt: LocalizedText?
        public var points: Double
        public var required: Bool
        public var options: [Option]?
        public var text: TextResponseSettings?
        public var unit: LocalizedText?
        public var evidence: EvidenceRequirements?
    }

    /// An option without its correctness; rubric options keep their finding metadata, because the
    /// operator must know which choices demand evidence and a comment.
    public struct Option: Codable, Hashable, Sendable {
        public var id: String
        public var label: LocalizedText?
        public var finding: Bool?
        public var severity: FindingSeverity?
        public var requiresEvidence: Bool?
        public var requiresComment: Bool?
    }

    /// Assembles `version` with its pinned question versions; an item whose question version is
    /// missing from `questions` cannot be shown and is left out (only drafts can be in that state).
    public init(_ version: EvaluationVersion, questions: [QuestionPin: QuestionVersion]) {
        let definition = version.definition
        evaluationId = version.evaluationId
        self.version = version.version
        kind = version.kind
        status = version.status
        title = definition.title
        description = definition.description
        instructions = definition.instructions
        navigation = definition.navigation
        maxAttempts = definition.grading?.maxAttempts
        verificationLevel = definition.verificationLevel
        requiredContext = definition.requiredContext
        offlinePolicy = definition.offlinePolicy
        sections = (definition.sections ?? []).map { section in
            Section(
                id: section.id, title: section.title, description: section.description,
                items: section.items.compactMap { item in
                    guard let number = item.version, let question = questions[QuestionPin(questionId: item.questionId, version: number)] else {
                        return nil
                    }
                    let content = question.content
                    return Item(
                        id: item.id, questionId: item.questionId, questionVersion: number, kind: question.kind, prompt: content.prompt,
                        points: item.points ?? Self.maximumPoints(of: question),
                        required: item.required ?? true,
                        options: content.options?.map { option in
                            Option(
                                id: option.id, label: option.label, finding: option.finding, severity: option.severity,
                                requiresEvidence: option.requiresEvidence, requiresComment: option.requiresComment)
                        },
                        text: content.text, unit: content.unit, evidence: content.evidence)
                })
        }
        itemCount = sections.reduce(0) { $0 + $1.items.count }
        maxScore = sections.reduce(0) { total, section in total + section.items.reduce(0) { $0 + $1.points } }
    }

    /// A rubric item is worth its best option; every other item its points.
    static func maximumPoints(of question: QuestionVersion) -> Double {
        guard question.kind == .rubric else { return question.content.effectivePoints }
        return question.content.options?.compactMap(\.points).max() ?? question.content.effectivePoints
    }
}

extension OperatorForm {
    /// Hashes the version's identity and size only. The encoded-form cache (`SubmissionViewEncoder`) looks a
    /// form up at every view of a submission, and hashing the whole form (thirty items with their texts) was
    /// 1–2 % of the server's CPU under reads. Equal forms still hash alike, and forms that share these fields
    /// are told apart by `==`, which finds two copies of one form equal at once when they share their storage.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(evaluationId)
        hasher.combine(version)
        hasher.combine(itemCount)
    }
}
