import Foundation

/// What kind of answer an item asks for (seed 001 §6.1). The kind belongs to the question's identity:
/// changing it makes a different question.
public enum ItemKind: String, Codable, Sendable, CaseIterable {
    case singleChoice = "single_choice"
    case multipleChoice = "multiple_choice"
    case trueFalse = "true_false"
    case numeric
    /// Graded later by a person or an AI grader, unless accepted answers are given.
    case shortText = "short_text"
    case longText = "long_text"
    /// An observation criterion: options such as pass / fail / not applicable, which may raise findings.
    case rubric
    /// Files, photos or notes to capture (seed 002 §4.1).
    case evidenceRequest = "evidence_request"

    var takesChoices: Bool { self == .singleChoice || self == .multipleChoice }
    var takesOptions: Bool { takesChoices || self == .rubric }
    var takesText: Bool { self == .shortText || self == .longText }
}

/// How partly correct answers score (seed 003 §3.1 `partialCreditDefault`).
public enum PartialCreditMode: String, Codable, Sendable, CaseIterable {
    case none
    case proportional
    case allOrNothing = "all_or_nothing"
}

/// How serious a finding is (seed 004 "Findings").
public enum FindingSeverity: String, Codable, Sendable, CaseIterable {
    case minor, major, critical
}

public enum ToleranceMode: String, Codable, Sendable, CaseIterable {
    /// `|answer − number| ≤ tolerance`.
    case absolute
    /// `|answer − number| ≤ tolerance × |number|`.
    case relative
}

/// Who grades free text that has no accepted answers.
public enum TextGrading: String, Codable, Sendable, CaseIterable {
    case person
    case ai
}

/// One option of a choice or rubric item. Rubric options carry the finding metadata of seed 004: an option
/// that raises a finding may force evidence and a comment before the item can be completed.
public struct QuestionOption: Codable, Hashable, Sendable {
    /// The author's key for the option, stable across versions (`a`, `pass`, `not_applicable`).
    public var id: String
    public var label: LocalizedText?
    /// Points a rubric option is worth (choice items score through the answer key).
    public var points: Double?
    public var finding: Bool?
    public var severity: FindingSeverity?
    public var requiresEvidence: Bool?
    public var requiresComment: Bool?

    public init(
        id: String, label: LocalizedText?, points: Double? = nil, finding: Bool? = nil, severity: FindingSeverity? = nil,
        requiresEvidence: Bool? = nil, requiresComment: Bool? = nil
    ) {
        self.id = id
        self.label = label
        self.points = points
        self.finding = finding
        self.severity = severity
        self.requiresEvidence = requiresEvidence
        self.requiresComment = requiresComment
    }

    var raisesFinding: Bool { finding ?? false }
    var carriesFindingMetadata: Bool {
        finding != nil || severity != nil || requiresEvidence != nil || requiresComment != nil
    }
}

/// The correct answer of an item, never shown to the person answering it. Which fields apply depends
/// on the item kind; publishing refuses a key that does not fit its kind.
public struct AnswerKey: Codable, Hashable, Sendable {
    /// Single choice: exactly one option id; multiple choice: one or more.
    public var correctOptionIds: [String]?
    /// True / false.
    public var correctValue: Bool?
    /// Numeric: the expected number and how far an answer may be from it.
    public var number: Double?
    public var tolerance: Double?
    public var toleranceMode: ToleranceMode?
    /// Short text: answers accepted automatically (trimmed; case-insensitive unless `caseSensitive`).
    public var acceptedAnswers: [String]?
    public var caseSensitive: Bool?
    /// Free text: a model answer to guide the person or AI grading it.
    public var modelAnswer: LocalizedText?

    public init(
        correctOptionIds: [String]? = nil, correctValue: Bool? = nil, number: Double? = nil, tolerance: Double? = nil,
        toleranceMode: ToleranceMode? = nil, acceptedAnswers: [String]? = nil, caseSensitive: Bool? = nil,
        modelAnswer: LocalizedText? = nil
    ) {
        self.correctOptionIds = correctOptionIds
        self.correctValue = correctValue
        self.number = number
        self.tolerance = tolerance
        self.toleranceMode = toleranceMode
        self.acceptedAnswers = acceptedAnswers
        self.caseSensitive = caseSensitive
        self.modelAnswer = modelAnswer
    }
}

/// Settings of a free-text answer.
public struct TextResponseSettings: Codable, Hashable, Sendable {
    public var maxLength: Int?
    public var grading: TextGrading?

    public init(maxLength: Int? = nil, grading: TextGrading? = nil) {
        self.maxLength = maxLength
        self.grading = grading
    }
}

/// What evidence an item accepts or demands (seed 002 §4.1): media types, how many files, whether a note is required.
public struct EvidenceRequirements: Codable, Hashable, Sendable {
    /// `type/subtype` or `type/*`, e.g. `image/*`, `application/pdf`.
    public var allowedMediaTypes: [String]
    public var minFiles: Int?
    public var maxFiles: Int?
    public var noteRequired: Bool?
    public var maxFileBytes: Int?

    public init(allowedMediaTypes: [String], minFiles: Int? = nil, maxFiles: Int? = nil, noteRequired: Bool? = nil, maxFileBytes: Int? = nil) {
        self.allowedMediaTypes = allowedMediaTypes
        self.minFiles = minFiles
        self.maxFiles = maxFiles
        self.noteRequired = noteRequired
        self.maxFileBytes = maxFileBytes
    }

    static let maximumFiles = 50
}

/// The content of one question version: prompt, options, answer key, scoring metadata and tags.
/// A draft may be incomplete; `publishProblems(kind:)` says everything that keeps it from being published.
public struct QuestionContent: Codable, Hashable, Sendable {
    public var prompt: LocalizedText?
    /// Shown as feedback when the evaluation's disclosure rules allow it.
    public var explanation: LocalizedText?
    /// Points the item is worth (default 1).
    public var points: Double?
    /// Overrides the evaluation's `partialCreditDefault` for this item.
    public var partialCredit: PartialCreditMode?
    public var tags: [TagID]?
    public var options: [QuestionOption]?
    public var answerKey: AnswerKey?
    public var text: TextResponseSettings?
    /// Numeric: the unit the answer is in (`bar`, `mm`).
    public var unit: LocalizedText?
    /// Evidence requests: what to capture. Other kinds: what evidence may be attached (none when absent).
    public var evidence: EvidenceRequirements?

    public init(
        prompt: LocalizedText? = nil, explanation: LocalizedText? = nil, points: Double? = nil, partialCredit: PartialCreditMode? = nil,
        tags: [TagID]? = nil, options: [QuestionOption]? = nil, answerKey: AnswerKey? = nil, text: TextResponseSettings? = nil,
        unit: LocalizedText? = nil, evidence: EvidenceRequirements? = nil
    ) {
        self.prompt = prompt
        self.explanation = explanation
        self.points = points
        self.partialCredit = partialCredit
        self.tags = tags
        self.options = options
        self.answerKey = answerKey
        self.text = text
        self.unit = unit
        self.evidence = evidence
    }

    public static let defaultPoints = 1.0
    public var effectivePoints: Double { points ?? Self.defaultPoints }

    /// Every reason this content cannot be published as an item of `kind`, each with a JSON pointer
    /// below `base` (for example `/content`), so an author can fix them all in one pass.
    public func publishProblems(kind: ItemKind, at base: String = "") -> [Problem.FieldError] {
        var problems = AuthoringProblems(base: base)
        problems.requireText(prompt, at: "/prompt", what: "a prompt")
        problems.checkOptionalText(explanation, at: "/explanation")
        problems.checkOptionalText(unit, at: "/unit")
        if let points, !(points.isFinite && points >= 0) {
            problems.add("/points", "must be a number of zero or more")
        }
        if let tags, Set(tags).count != tags.count { problems.add("/tags", "names a tag more than once") }
        checkOptions(kind: kind, into: &problems)
        checkAnswerKey(kind: kind, into: &problems)
        checkText(kind: kind, into: &problems)
        checkEvidence(kind: kind, into: &problems)
        if unit != nil, kind != .numeric { problems.add("/unit", "only numeric items have a unit") }
        return problems.errors
    }

    private func checkOptions(kind: ItemKind, into problems: inout AuthoringProblems) {
        guard kind.takesOptions else {
            if options != nil { problems.add("/options", "\(kind.rawValue) items have no options") }
            return
        }
        let options = options ?? []
        let minimum = kind.takesChoices ? 2 : 1
        if options.count < minimum { problems.add("/options", "needs at least \(minimum) option\(minimum == 1 ? "" : "s")") }
        var seen: Set<String> = []
        for (index, option) in options.enumerated() {
            let pointer = "/options/\(index)"
            if !Self.isOptionKey(option.id) {
                problems.add("\(pointer)/id", "must be 1–64 letters, digits, `_` or `-`")
            } else if !seen.insert(option.id).inserted {
                problems.add("\(pointer)/id", "repeats the option id `\(option.id)`")
            }
            problems.requireText(option.label, at: "\(pointer)/label", what: "a label")
            if kind == .rubric {
                checkFindingMetadata(option, at: pointer, into: &problems)
            } else {
                if option.carriesFindingMetadata {
                    problems.add(pointer, "only rubric options raise findings or require evidence and comments")
                }
                if option.points != nil { problems.add("\(pointer)/points", "choice options score through the answer key") }
            }
        }
    }

    private func checkFindingMetadata(_ option: QuestionOption, at pointer: String, into problems: inout AuthoringProblems) {
        if let points = option.points, !(points.isFinite && points >= 0) {
            problems.add("\(pointer)/points", "must be a number of zero or more")
        }
        if option.raisesFinding, option.severity == nil {
            problems.add("\(pointer)/severity", "an option that raises a finding needs a severity (minor, major or critical)")
        }
        if !option.raisesFinding, option.severity != nil {
            problems.add("\(pointer)/severity", "only an option that raises a finding (`finding: true`) has a severity")
        }
        if option.requiresEvidence == true, evidence == nil {
            problems.add("\(pointer)/requiresEvidence", "the option requires evidence but the item allows none; add `evidence` requirements")
        }
    }

    private func checkAnswerKey(kind: ItemKind, into problems: inout AuthoringProblems) {
        let key = answerKey ?? AnswerKey()
        let optionIds = Set((options ?? []).map(\.id))
        switch kind {
        case .singleChoice, .multipleChoice:
            guard let correct = key.correctOptionIds, !correct.isEmpty else {
                problems.add("/answerKey/correctOptionIds", "an answer key naming the correct option\(kind == .singleChoice ? "" : "s") is required")
                break
            }
            if kind == .singleChoice, correct.count != 1 { problems.add("/answerKey/correctOptionIds", "a single-choice item has exactly one correct option") }
            if Set(correct).count != correct.count { problems.add("/answerKey/correctOptionIds", "names an option more than once") }
            for (index, id) in correct.enumerated() where !optionIds.contains(id) {
                problems.add("/answerKey/correctOptionIds/\(index)", "there is no option `\(id)`")
            }
        case .trueFalse:
            if key.correctValue == nil { problems.add("/answerKey/correctValue", "an answer key (true or false) is required") }
        case .numeric:
            if let number = key.number {
                if !number.isFinite { problems.add("/answerKey/number", "must be a finite number") }
            } else {
                problems.add("/answerKey/number", "an answer key with the expected number is required")
            }
            if let tolerance = key.tolerance, !(tolerance.isFinite && tolerance >= 0) {
                problems.add("/answerKey/tolerance", "must be a number of zero or more")
            }
        case .shortText:
            if let accepted = key.acceptedAnswers, accepted.contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
                problems.add("/answerKey/acceptedAnswers", "accepted answers cannot be blank")
            }
            problems.checkOptionalText(key.modelAnswer, at: "/answerKey/modelAnswer")
        case .longText:
            if key.acceptedAnswers != nil { problems.add("/answerKey/acceptedAnswers", "long answers are graded by a person or an AI grader") }
            problems.checkOptionalText(key.modelAnswer, at: "/answerKey/modelAnswer")
        case .rubric, .evidenceRequest:
            if answerKey != nil { problems.add("/answerKey", "\(kind.rawValue) items have no answer key") }
        }
        if kind != .numeric, key.number != nil || key.tolerance != nil || key.toleranceMode != nil {
            problems.add("/answerKey", "only numeric items have a number and tolerance")
        }
    }

    private func checkText(kind: ItemKind, into problems: inout AuthoringProblems) {
        guard let text else { return }
        guard kind.takesText else {
            problems.add("/text", "only short and long text items have text settings")
            return
        }
        if let maxLength = text.maxLength, !(1...100_000).contains(maxLength) {
            problems.add("/text/maxLength", "must be from 1 to 100000 characters")
        }
    }

    private func checkEvidence(kind: ItemKind, into problems: inout AuthoringProblems) {
        guard let evidence else {
            if kind == .evidenceRequest { problems.add("/evidence", "an evidence request needs its requirements (allowed media types, files)") }
            return
        }
        if evidence.allowedMediaTypes.isEmpty { problems.add("/evidence/allowedMediaTypes", "name at least one media type, such as image/*") }
        for (index, mediaType) in evidence.allowedMediaTypes.enumerated() where !Self.isMediaRange(mediaType) {
            problems.add("/evidence/allowedMediaTypes/\(index)", "`\(mediaType)` is not a media type such as image/jpeg or image/*")
        }
        let minimum = evidence.minFiles ?? 0
        let maximum = evidence.maxFiles ?? EvidenceRequirements.maximumFiles
        if minimum < 0 { problems.add("/evidence/minFiles", "cannot be negative") }
        if !(1...EvidenceRequirements.maximumFiles).contains(maximum) {
            problems.add("/evidence/maxFiles", "must be from 1 to \(EvidenceRequirements.maximumFiles)")
        }
        if minimum > maximum { problems.add("/evidence/minFiles", "is more than maxFiles") }
        if kind == .evidenceRequest, minimum == 0, evidence.noteRequired != true {
            problems.add("/evidence/minFiles", "an evidence request must ask for at least one file or a note")
        }
        if let bytes = evidence.maxFileBytes, bytes <= 0 { problems.add("/evidence/maxFileBytes", "must be positive") }
    }

    static func isOptionKey(_ text: String) -> Bool {
        (1...64).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }

    /// `type/subtype` or `type/*` with RFC 6838 restricted-name characters.
    static func isMediaRange(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] != "*" else { return false }
        func isName(_ part: Substring) -> Bool {
            (1...127).contains(part.count) && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "!#$&-^_.+".contains($0)) }
        }
        return isName(parts[0]) && (parts[1] == "*" || isName(parts[1]))
    }
}

/// Collects publish problems with pointers relative to one base.
struct AuthoringProblems {
    let base: String
    private(set) var errors: [Problem.FieldError] = []

    init(base: String) { self.base = base }

    mutating func add(_ pointer: String, _ detail: String) {
        errors.append(Problem.FieldError(pointer: base + pointer, detail: detail))
    }

    mutating func append(_ more: [Problem.FieldError]) { errors.append(contentsOf: more) }

    mutating func requireText(_ text: LocalizedText?, at pointer: String, what: String) {
        guard let text else { return add(pointer, "\(what) is required") }
        checkOptionalText(text, at: pointer)
    }

    mutating func checkOptionalText(_ text: LocalizedText?, at pointer: String) {
        for problem in text?.publishProblems() ?? [] { add(pointer, problem) }
    }
}
