import Foundation

/// K, O or E (seed 002 §0): all three run on the same delivery engine; the kind sets the defaults and
/// what a publishable version must contain.
public enum EvaluationKind: String, Codable, Sendable, CaseIterable {
    case knowledge, observation, evidence
}

public enum NavigationMode: String, Codable, Sendable, CaseIterable {
    /// Items in any order, going back allowed.
    case free
    /// One item after another, no going back.
    case sequential
}

public struct NavigationRules: Codable, Hashable, Sendable {
    public var mode: NavigationMode?
    public var shuffleItems: Bool?
    public var allowSkip: Bool?
    public var timeLimitSeconds: Int?

    public init(mode: NavigationMode? = nil, shuffleItems: Bool? = nil, allowSkip: Bool? = nil, timeLimitSeconds: Int? = nil) {
        self.mode = mode
        self.shuffleItems = shuffleItems
        self.allowSkip = allowSkip
        self.timeLimitSeconds = timeLimitSeconds
    }
}

/// When the person answering sees the correct answers (seed 003 §3.1).
public enum CorrectAnswerDisclosure: String, Codable, Sendable, CaseIterable {
    case never
    case afterAttempt = "after_attempt"
    case afterClose = "after_close"
}

/// The grading rule of seed 003 §3.1, the shape the `quiz_bank.published` event carries.
public struct GradingRule: Codable, Hashable, Sendable {
    /// Fraction of the maximum score needed to pass, 0…1.
    public var passThreshold: Double?
    /// Fraction of an item's points taken off for a wrong answer, 0…1.
    public var wrongPenalty: Double?
    public var partialCreditDefault: PartialCreditMode?
    public var showCorrectAnswers: CorrectAnswerDisclosure?
    public var maxAttempts: Int?

    public init(
        passThreshold: Double? = nil, wrongPenalty: Double? = nil, partialCreditDefault: PartialCreditMode? = nil,
        showCorrectAnswers: CorrectAnswerDisclosure? = nil, maxAttempts: Int? = nil
    ) {
        self.passThreshold = passThreshold
        self.wrongPenalty = wrongPenalty
        self.partialCreditDefault = partialCreditDefault
        self.showCorrectAnswers = showCorrectAnswers
        self.maxAttempts = maxAttempts
    }
}

/// How much feedback an audience may see, each level including the ones before it (seed 001 §15.2).
public enum FeedbackLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case none
    /// Pass / fail and the approval state.
    case outcome
    /// Plus the score.
    case score
    /// Plus each item's result and the findings.
    case itemResults = "item_results"
    /// Plus the correct answers and explanations.
    case answerKey = "answer_key"

    public static func < (left: FeedbackLevel, right: FeedbackLevel) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}

/// What feedback the operator (the person who did the work), the tenant's administrators and the
/// client portal may see. Enforced on the server wherever results are read.
public struct DisclosureRules: Codable, Hashable, Sendable {
    public var `operator`: FeedbackLevel?
    public var admin: FeedbackLevel?
    public var client: FeedbackLevel?

    public init(operator: FeedbackLevel? = nil, admin: FeedbackLevel? = nil, client: FeedbackLevel? = nil) {
        self.operator = `operator`
        self.admin = admin
        self.client = client
    }
}

/// Maker–checker policy (seed 004 "Four-Eyes Principle").
public enum ReviewPolicy: String, Codable, Sendable, CaseIterable {
    case selfApprove = "self_approve"
    case fourEyes = "four_eyes"
}

/// Whether work may be captured offline (seed 002 §3.1); absent means inherit from the org unit or tenant.
public enum OfflinePolicy: String, Codable, Sendable, CaseIterable {
    case onlineOnly = "online_only"
    case offlineAllowed = "offline_allowed"
    case offlinePreferred = "offline_preferred"
}

/// Context the server must receive with the work before accepting it (seed 001 §10).
public enum ContextField: String, Codable, Sendable, CaseIterable {
    case gps
    case deviceId = "device_id"
    case clientTimestamp = "client_timestamp"
    case siteReference = "site_reference"
    /// A fresh step-up verification of the person doing the work.
    case stepUp = "step_up"
}

/// One item of a section: a pinned question version in one place of the evaluation.
public struct EvaluationItem: Codable, Hashable, Sendable {
    /// Assigned by the server when absent; kept when a new draft is made from this version.
    public var id: ItemID?
    public var questionId: QuestionID
    /// Absent in a request: the question's latest published version when saved, else its draft.
    public var version: Int?
    /// Overrides the question's points in this evaluation.
    public var points: Double?
    /// Whether the item must be answered before submitting (default true).
    public var required: Bool?

    public init(id: ItemID? = nil, questionId: QuestionID, version: Int? = nil, points: Double? = nil, required: Bool? = nil) {
        self.id = id
        self.questionId = questionId
        self.version = version
        self.points = points
        self.required = required
    }
}

public struct EvaluationSection: Codable, Hashable, Sendable {
    public var id: SectionID?
    public var title: LocalizedText?
    public var description: LocalizedText?
    public var items: [EvaluationItem]

    public init(id: SectionID? = nil, title: LocalizedText? = nil, description: LocalizedText? = nil, items: [EvaluationItem]) {
        self.id = id
        self.title = title
        self.description = description
        self.items = items
    }
}

/// A pinned question version: `questionId` at `version`.
public struct QuestionPin: Hashable, Sendable, Codable, CustomStringConvertible {
    public var questionId: QuestionID
    public var version: Int

    public init(questionId: QuestionID, version: Int) {
        self.questionId = questionId
        self.version = version
    }

    public var description: String { "\(questionId) version \(version)" }
}

/// The definition held by one evaluation version (seed 001 §6.2): sections and ordered items pinned to
/// question versions, navigation, grading, disclosure, review and verification policy, offline policy.
public struct EvaluationDefinition: Codable, Hashable, Sendable {
    public var title: LocalizedText?
    public var description: LocalizedText?
    public var instructions: LocalizedText?
    public var sections: [EvaluationSection]?
    public var navigation: NavigationRules?
    public var grading: GradingRule?
    public var disclosure: DisclosureRules?
    public var reviewPolicy: ReviewPolicy?
    public var autoApprove: Bool?
    /// Whether submissions wait for a reviewer (seed 002 §1.1); defaults by kind: knowledge no, others yes.
    public var approvalRequired: Bool?
    public var verificationLevel: VerificationLevel?
    public var requiredContext: [ContextField]?
    public var offlinePolicy: OfflinePolicy?

    public init(
        title: LocalizedText? = nil, description: LocalizedText? = nil, instructions: LocalizedText? = nil,
        sections: [EvaluationSection]? = nil, navigation: NavigationRules? = nil, grading: GradingRule? = nil,
        disclosure: DisclosureRules? = nil, reviewPolicy: ReviewPolicy? = nil, autoApprove: Bool? = nil,
        approvalRequired: Bool? = nil, verificationLevel: VerificationLevel? = nil, requiredContext: [ContextField]? = nil,
        offlinePolicy: OfflinePolicy? = nil
    ) {
        self.title = title
        self.description = description
        self.instructions = instructions
        self.sections = sections
        self.navigation = navigation
        self.grading = grading
        self.disclosure = disclosure
        self.reviewPolicy = reviewPolicy
        self.autoApprove = autoApprove
        self.approvalRequired = approvalRequired
        self.verificationLevel = verificationLevel
        self.requiredContext = requiredContext
        self.offlinePolicy = offlinePolicy
    }

    /// Every item in order, with where it sits.
    public var items: [(section: Int, index: Int, item: EvaluationItem)] {
        (sections ?? []).enumerated().flatMap { section, value in value.items.enumerated().map { (section, $0.offset, $0.element) } }
    }

    /// The definition as it is stored: every policy spelled out (defaults by kind), every section and
    /// item given an id, so what was published says exactly what applies.
    public func normalized(kind: EvaluationKind, now: Date) -> EvaluationDefinition {
        var result = self
        result.sections = (sections ?? []).map { section in
            var section = section
            section.id = section.id ?? .generate(at: now)
            section.items = section.items.map { item in
                var item = item
                item.id = item.id ?? .generate(at: now)
                item.required = item.required ?? true
                return item
            }
            return section
        }
        var navigation = navigation ?? NavigationRules()
        navigation.mode = navigation.mode ?? .free
        navigation.shuffleItems = navigation.shuffleItems ?? false
        navigation.allowSkip = navigation.allowSkip ?? true
        result.navigation = navigation
        if kind == .knowledge || grading != nil {
            var grading = grading ?? GradingRule()
            grading.wrongPenalty = grading.wrongPenalty ?? 0
            grading.partialCreditDefault = grading.partialCreditDefault ?? PartialCreditMode.none
            grading.showCorrectAnswers = grading.showCorrectAnswers ?? .never
            result.grading = grading
        }
        var disclosure = disclosure ?? DisclosureRules()
        disclosure.operator = disclosure.operator ?? (kind == .knowledge ? .score : .outcome)
        disclosure.admin = disclosure.admin ?? .answerKey
        disclosure.client = disclosure.client ?? .itemResults
        result.disclosure = disclosure
        result.reviewPolicy = reviewPolicy ?? .selfApprove
        result.autoApprove = autoApprove ?? false
        result.approvalRequired = approvalRequired ?? (kind != .knowledge)
        result.verificationLevel = verificationLevel ?? .l1
        result.requiredContext = requiredContext ?? []
        return result
    }

    /// Every reason this definition cannot be published, given the question versions it pins (absent
    /// from `pinned`: not visible to the author or not existing). Problems inside a pinned draft
    /// question are reported under its item's pointer, since publishing the evaluation publishes it too.
    public func publishProblems(kind: EvaluationKind, pinned: [QuestionPin: PinnedQuestion]) -> [Problem.FieldError] {
        var problems = AuthoringProblems(base: "")
        problems.requireText(title, at: "/title", what: "a title")
        problems.checkOptionalText(description, at: "/description")
        problems.checkOptionalText(instructions, at: "/instructions")
        checkSections(kind: kind, pinned: pinned, into: &problems)
        checkGrading(kind: kind, into: &problems)
        checkPolicies(into: &problems)
        return problems.errors
    }

    private func checkSections(kind: EvaluationKind, pinned: [QuestionPin: PinnedQuestion], into problems: inout AuthoringProblems) {
        let sections = sections ?? []
        if sections.isEmpty { problems.add("/sections", "needs at least one section with items") }
        var sectionIds: Set<SectionID> = []
        var itemIds: Set<ItemID> = []
        var questions: Set<QuestionID> = []
        var kinds: Set<ItemKind> = []
        for (sectionIndex, section) in sections.enumerated() {
            let sectionPointer = "/sections/\(sectionIndex)"
            if let id = section.id, !sectionIds.insert(id).inserted { problems.add("\(sectionPointer)/id", "repeats section id \(id)") }
            problems.checkOptionalText(section.title, at: "\(sectionPointer)/title")
            problems.checkOptionalText(section.description, at: "\(sectionPointer)/description")
            if section.items.isEmpty { problems.add("\(sectionPointer)/items", "a section needs at least one item") }
            for (itemIndex, item) in section.items.enumerated() {
                let pointer = "\(sectionPointer)/items/\(itemIndex)"
                if let id = item.id, !itemIds.insert(id).inserted { problems.add("\(pointer)/id", "repeats item id \(id)") }
                if !questions.insert(item.questionId).inserted {
                    problems.add("\(pointer)/questionId", "question \(item.questionId) is already an item of this evaluation")
                }
                if let points = item.points, !(points.isFinite && points >= 0) {
                    problems.add("\(pointer)/points", "must be a number of zero or more")
                }
                guard let version = item.version, let question = pinned[QuestionPin(questionId: item.questionId, version: version)] else {
                    problems.add("\(pointer)/questionId", "no question \(item.questionId)\(item.version.map { " version \($0)" } ?? "") in your reach")
                    continue
                }
                kinds.insert(question.kind)
                switch question.status {
                case .archived: problems.add("\(pointer)/version", "question \(item.questionId) version \(version) is archived; pin a current version")
                case .draft: problems.append(question.content.publishProblems(kind: question.kind, at: "\(pointer)/question"))
                case .published: break
                }
            }
        }
        switch kind {
        case .knowledge where kinds.contains(.rubric):
            problems.add("/sections", "rubric items belong in observations, not knowledge checks")
        case .observation where !kinds.isEmpty && !kinds.contains(.rubric):
            problems.add("/sections", "an observation needs at least one rubric item")
        case .evidence where !kinds.isEmpty && !kinds.contains(.evidenceRequest):
            problems.add("/sections", "an evidence task needs at least one evidence request item")
        default: break
        }
    }

    private func checkGrading(kind: EvaluationKind, into problems: inout AuthoringProblems) {
        guard let grading else { return }
        if let threshold = grading.passThreshold {
            if !(0...1).contains(threshold) { problems.add("/grading/passThreshold", "must be from 0 to 1 (a fraction of the maximum score)") }
        } else if kind == .knowledge {
            problems.add("/grading/passThreshold", "a knowledge check needs a pass threshold from 0 to 1")
        }
        if let penalty = grading.wrongPenalty, !(0...1).contains(penalty) {
            problems.add("/grading/wrongPenalty", "must be from 0 to 1 (a fraction of the item's points)")
        }
        if let attempts = grading.maxAttempts, attempts < 1 { problems.add("/grading/maxAttempts", "must be at least 1") }
    }

    private func checkPolicies(into problems: inout AuthoringProblems) {
        if let limit = navigation?.timeLimitSeconds, !(1...604_800).contains(limit) {
            problems.add("/navigation/timeLimitSeconds", "must be from 1 second to 7 days")
        }
        if reviewPolicy == .fourEyes, autoApprove == true {
            problems.add("/autoApprove", "auto-approval cannot be combined with four-eyes review, which needs a second person")
        }
        let context = requiredContext ?? []
        if Set(context).count != context.count { problems.add("/requiredContext", "names a context field more than once") }
        switch verificationLevel {
        case .l2 where reviewPolicy != .fourEyes || approvalRequired == false:
            problems.add("/verificationLevel", "L2 (peer-verified sign-off) needs approvalRequired and reviewPolicy four_eyes")
        case .l4 where !context.contains(where: { [.gps, .deviceId, .clientTimestamp, .siteReference].contains($0) }):
            problems.add("/requiredContext", "L4 (context-verified) needs at least one of gps, device_id, client_timestamp or site_reference")
        default: break
        }
    }
}

/// What publish validation needs to know about a pinned question version.
public struct PinnedQuestion: Sendable {
    public var kind: ItemKind
    public var status: VersionStatus
    public var content: QuestionContent

    public init(kind: ItemKind, status: VersionStatus, content: QuestionContent) {
        self.kind = kind
        self.status = status
        self.content = content
    }
}
