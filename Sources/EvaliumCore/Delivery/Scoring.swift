import Foundation

/// What an operator recorded for one item. Which fields apply depends on the kind; the others are ignored.
public struct Answer: Codable, Hashable, Sendable {
    /// Single choice: one id; multiple choice: any number; rubric: one.
    public var optionIds: [String]?
    /// True / false.
    public var value: Bool?
    /// Numeric.
    public var number: Double?
    /// Short and long text; also an evidence request's note.
    public var text: String?

    public init(optionIds: [String]? = nil, value: Bool? = nil, number: Double? = nil, text: String? = nil) {
        self.optionIds = optionIds
        self.value = value
        self.number = number
        self.text = text
    }
}

/// Whether an item was answered correctly, written on the wire exactly as seed 003 §3.2's `responseSummary.correct`:
/// `true`, `false`, `"partial"` or `"pending"`.
public enum Correctness: Sendable, Hashable, Codable {
    case correct
    case incorrect
    /// Some credit (possibly none, as all-or-nothing gives) for a partly right answer; never penalised.
    case partial
    /// Waiting for a person or an AI grader.
    case pending

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = value ? .correct : .incorrect
            return
        }
        switch try container.decode(String.self) {
        case "partial": self = .partial
        case "pending": self = .pending
        case let other:
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected true, false, \"partial\" or \"pending\", not \"\(other)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .correct: try container.encode(true)
        case .incorrect: try container.encode(false)
        case .partial: try container.encode("partial")
        case .pending: try container.encode("pending")
        }
    }
}

/// Who decided an item's result (seed 003 §3.2 `gradedBy`).
public enum GradedBy: String, Codable, Sendable {
    case deterministic, ai, human
}

/// One item as the scorer needs it, resolved from the frozen snapshot.
public struct ScorableItem: Sendable, Hashable {
    public var itemId: ItemID
    public var questionId: QuestionID
    public var kind: ItemKind
    /// Points possible for every kind but rubric, with the item's override already applied.
    public var points: Double
    /// Already resolved: the question's own mode, else the evaluation's default.
    public var partialCredit: PartialCreditMode
    public var answerKey: AnswerKey?
    /// Rubric: the points and finding metadata of each option.
    public var options: [QuestionOption]?
    public var textGrading: TextGrading?

    public init(
        itemId: ItemID, questionId: QuestionID, kind: ItemKind, points: Double, partialCredit: PartialCreditMode, answerKey: AnswerKey? = nil,
        options: [QuestionOption]? = nil, textGrading: TextGrading? = nil
    ) {
        self.itemId = itemId
        self.questionId = questionId
        self.kind = kind
        self.points = points
        self.partialCredit = partialCredit
        self.answerKey = answerKey
        self.options = options
        self.textGrading = textGrading
    }
}

/// A person's grade for an item that needed one (or a reviewer's override of one that did not).
public struct HumanGrade: Codable, Hashable, Sendable {
    public var pointsEarned: Double
    public var gradedBy: UserID
    /// When the grade was given; a grade older than an amendment of its item no longer counts.
    public var gradedAt: Date?

    public init(pointsEarned: Double, gradedBy: UserID, gradedAt: Date? = nil) {
        self.pointsEarned = pointsEarned
        self.gradedBy = gradedBy
        self.gradedAt = gradedAt
    }
}

/// The result of one item, in the shape of seed 003 §3.2's `responseSummary`.
public struct ItemResult: Codable, Hashable, Sendable {
    public var itemId: ItemID
    public var questionId: QuestionID
    public var kind: ItemKind
    public var correct: Correctness
    /// Nil while pending; negative when a wrong answer was penalised.
    public var pointsEarned: Double?
    public var pointsPossible: Double
    /// Nil while pending.
    public var gradedBy: GradedBy?

    public init(
        itemId: ItemID, questionId: QuestionID, kind: ItemKind, correct: Correctness, pointsEarned: Double?, pointsPossible: Double,
        gradedBy: GradedBy?
    ) {
        self.itemId = itemId
        self.questionId = questionId
        self.kind = kind
        self.correct = correct
        self.pointsEarned = pointsEarned
        self.pointsPossible = pointsPossible
        self.gradedBy = gradedBy
    }
}

/// A finding raised by a rubric answer (seed 004 "Findings").
public struct Finding: Codable, Hashable, Sendable {
    public var itemId: ItemID
    public var questionId: QuestionID
    public var optionId: String
    public var severity: FindingSeverity

    public init(itemId: ItemID, questionId: QuestionID, optionId: String, severity: FindingSeverity) {
        self.itemId = itemId
        self.questionId = questionId
        self.optionId = optionId
        self.severity = severity
    }
}

public enum Outcome: String, Codable, Sendable {
    case pass, fail, pending
}

/// The score of one attempt.
public struct ScoreResult: Codable, Hashable, Sendable {
    /// In the order of the input items.
    public var items: [ItemResult]
    /// May be negative when wrong answers are penalised.
    public var rawScore: Double
    public var maxScore: Double
    /// 0…1.
    public var scaledScore: Double
    /// Nil while pending, or when a pass threshold has nothing to apply to (a maximum score of 0).
    public var passed: Bool?
    public var outcome: Outcome
    /// In item order.
    public var findings: [Finding]
    /// In item order.
    public var pendingItems: [ItemID]

    public init(
        items: [ItemResult], rawScore: Double, maxScore: Double, scaledScore: Double, passed: Bool?, outcome: Outcome, findings: [Finding],
        pendingItems: [ItemID]
    ) {
        self.items = items
        self.rawScore = rawScore
        self.maxScore = maxScore
        self.scaledScore = scaledScore
        self.passed = passed
        self.outcome = outcome
        self.findings = findings
        self.pendingItems = pendingItems
    }
}

/// Scores an attempt. Deterministic: the same items, answers, grades and rule always give the same result,
/// so a submission can be rescored from its frozen snapshot. Each rule is documented once, on the function
/// that applies it:
/// - which answers count as given, and how each kind is marked: `mark(_:answer:)` and the function for the kind;
/// - points possible: `pointsPossible(_:)`; what wrong, partial and unanswered answers earn: `Marking.earned(points:penalty:)`;
/// - the penalty itself: `wrongPenalty(_:)`; findings: `finding(_:answer:)`;
/// - human grades: `humanGraded(_:possible:)`;
/// - totals and the scaled score: `score(items:answers:grades:rule:)`;
/// - the outcome: `outcome(rule:maxScore:scaledScore:pending:findings:)`.
public enum Scoring {
    /// Slack for comparing computed numbers, so values equal in decimal but apart after binary rounding
    /// (0.33 − 0.3 against 10% of 0.3; twelve tenths out of fifteen against 0.8) still count as equal.
    static let epsilon = 1e-9

    /// Scores `items` in order. Answers and grades for items not in `items` are ignored.
    ///
    /// Totals: `rawScore` is the sum of points earned (pending items count 0; penalties may make it negative),
    /// `maxScore` the sum of points possible (pending items included), and `scaledScore` is
    /// `rawScore / maxScore` clamped to 0…1, or 0 when `maxScore` is 0.
    public static func score(items: [ScorableItem], answers: [ItemID: Answer], grades: [ItemID: HumanGrade], rule: GradingRule?) -> ScoreResult {
        let penalty = wrongPenalty(rule)
        var results: [ItemResult] = []
        var findings: [Finding] = []
        for item in items {
            let answer = answers[item.itemId]
            let possible = pointsPossible(item)
            var marking = mark(item, answer: answer)
            if let grade = grades[item.itemId] { marking = humanGraded(grade, possible: possible) }
            results.append(ItemResult(
                itemId: item.itemId, questionId: item.questionId, kind: item.kind, correct: marking.correct,
                pointsEarned: marking.earned(points: item.points, penalty: penalty), pointsPossible: possible, gradedBy: marking.gradedBy))
            if let finding = finding(item, answer: answer) { findings.append(finding) }
        }
        let rawScore = results.reduce(0) { $0 + ($1.pointsEarned ?? 0) }
        let maxScore = results.reduce(0) { $0 + $1.pointsPossible }
        let scaledScore = maxScore > 0 ? min(max(rawScore / maxScore, 0), 1) : 0
        let pending = results.filter { $0.correct == .pending }.map(\.itemId)
        let decision = outcome(rule: rule, maxScore: maxScore, scaledScore: scaledScore, pending: !pending.isEmpty, findings: findings)
        return ScoreResult(
            items: results, rawScore: rawScore, maxScore: maxScore, scaledScore: scaledScore, passed: decision.passed, outcome: decision.outcome,
            findings: findings, pendingItems: pending)
    }

    /// The fraction of an item's points a wrong answer loses: the rule's `wrongPenalty`, 0 when there is none,
    /// kept within 0…1 (publishing already refuses anything else) so a penalty can never add points.
    static func wrongPenalty(_ rule: GradingRule?) -> Double {
        guard let penalty = rule?.wrongPenalty, !penalty.isNaN else { return 0 }
        return min(max(penalty, 0), 1)
    }

    /// Points possible: the item's `points` for every kind but two. A rubric item is worth its best option
    /// (an option without points is worth 0), or the item's `points` when no option has points; an evidence
    /// request is not scored and is worth 0.
    static func pointsPossible(_ item: ScorableItem) -> Double {
        switch item.kind {
        case .rubric:
            let points = (item.options ?? []).compactMap(\.points)
            return points.isEmpty ? item.points : max(points.max() ?? 0, 0)
        case .evidenceRequest:
            return 0
        default:
            return item.points
        }
    }

    /// Marks an answer by the item's kind. An item without an answer, or whose answer holds nothing that
    /// applies to its kind, is unanswered. A choice, true/false or numeric item without the answer key
    /// it needs (publishing refuses one) cannot be marked by a machine and waits for a person: pending.
    static func mark(_ item: ScorableItem, answer: Answer?) -> Marking {
        switch item.kind {
        case .singleChoice: return singleChoice(chosen(answer), key: key(item))
        case .multipleChoice: return multipleChoice(chosen(answer), key: key(item), mode: item.partialCredit)
        case .trueFalse: return trueFalse(answer?.value, key: item.answerKey?.correctValue)
        case .numeric: return numeric(answer?.number, key: item.answerKey)
        case .shortText: return shortText(text(answer), key: item.answerKey, grading: item.textGrading)
        case .longText: return text(answer) == nil ? .unanswered : .pending
        case .rubric: return rubric(chosenOption(item, answer: answer))
        case .evidenceRequest: return evidenceRequest(answer)
        }
    }

    /// The options chosen, as a set (order and repeats do not matter); nil when none is.
    private static func chosen(_ answer: Answer?) -> Set<String>? {
        guard let ids = answer?.optionIds, !ids.isEmpty else { return nil }
        return Set(ids)
    }

    private static func key(_ item: ScorableItem) -> Set<String>? {
        guard let ids = item.answerKey?.correctOptionIds, !ids.isEmpty else { return nil }
        return Set(ids)
    }

    /// The text trimmed of surrounding white space; nil when nothing is left.
    private static func text(_ answer: Answer?) -> String? {
        guard let text = answer?.text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    /// Single choice: exactly the keyed option is correct and earns the item's points; any other choice
    /// (another option, or more than one) is wrong. The partial-credit mode does not apply.
    static func singleChoice(_ chosen: Set<String>?, key: Set<String>?) -> Marking {
        guard let chosen else { return .unanswered }
        guard let key else { return .pending }
        return chosen == key ? .correct : .wrong
    }

    /// Multiple choice, by partial-credit mode. In every mode the exact keyed set is correct and earns the
    /// item's points, and a selection without any keyed option is wrong. In between:
    /// - `none`: wrong;
    /// - `allOrNothing`: partial, earning 0 and never penalised;
    /// - `proportional`: partial, earning `points × max(0, (keyed chosen − unkeyed chosen) / keyed)`, which may be 0.
    ///
    /// Any chosen id that is not keyed counts as an unkeyed option; capture refuses ids the item does not have.
    static func multipleChoice(_ chosen: Set<String>?, key: Set<String>?, mode: PartialCreditMode) -> Marking {
        guard let chosen else { return .unanswered }
        guard let key else { return .pending }
        if chosen == key { return .correct }
        let hits = chosen.intersection(key).count
        if hits == 0 { return .wrong }
        switch mode {
        case .none: return .wrong
        case .allOrNothing: return .partial(fraction: 0)
        case .proportional:
            let misses = chosen.count - hits
            return .partial(fraction: max(0, Double(hits - misses) / Double(key.count)))
        }
    }

    /// True / false: the keyed value is correct, the other is wrong.
    static func trueFalse(_ value: Bool?, key: Bool?) -> Marking {
        guard let value else { return .unanswered }
        guard let key else { return .pending }
        return value == key ? .correct : .wrong
    }

    /// Numeric: correct when `|answer − number| ≤ allowed + 1e-9`, else wrong. `allowed` is the tolerance
    /// (0 when absent, never negative) for `absolute` mode, the default, and `tolerance × |number|` for
    /// `relative`. A number that is not finite is no answer.
    static func numeric(_ number: Double?, key: AnswerKey?) -> Marking {
        guard let number, number.isFinite else { return .unanswered }
        guard let expected = key?.number else { return .pending }
        let tolerance = max(key?.tolerance ?? 0, 0)
        let allowed = key?.toleranceMode == .relative ? tolerance * abs(expected) : tolerance
        return abs(number - expected) <= allowed + epsilon ? .correct : .wrong
    }

    /// Short text: correct when the trimmed text equals one of the trimmed accepted answers, ignoring case
    /// unless `caseSensitive` is true (case is compared after upper- then lower-casing, so `STRASSE`
    /// matches `straße`). Otherwise it waits for a person or an AI grader (pending) when there are no accepted
    /// answers or the item names a grader, and is wrong when there are accepted answers and no grader.
    /// Long text is always pending once answered.
    static func shortText(_ text: String?, key: AnswerKey?, grading: TextGrading?) -> Marking {
        guard let text else { return .unanswered }
        let accepted = (key?.acceptedAnswers ?? []).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        let caseSensitive = key?.caseSensitive == true
        let fold: (String) -> String = { caseSensitive ? $0 : $0.uppercased().lowercased() }
        if accepted.contains(where: { fold($0) == fold(text) }) { return .correct }
        return accepted.isEmpty || grading != nil ? .pending : .wrong
    }

    /// The rubric option an answer chose: the first listed id that names one of the item's options.
    private static func chosenOption(_ item: ScorableItem, answer: Answer?) -> QuestionOption? {
        let options = item.options ?? []
        for id in answer?.optionIds ?? [] {
            if let option = options.first(where: { $0.id == id }) { return option }
        }
        return nil
    }

    /// Rubric: earns the chosen option's points (0 when it has none). Correct unless the option raises a
    /// finding, which makes it incorrect without any penalty. No option chosen (or none the item has) is unanswered.
    static func rubric(_ option: QuestionOption?) -> Marking {
        guard let option else { return .unanswered }
        return .scored(option.raisesFinding ? .incorrect : .correct, points: option.points ?? 0)
    }

    /// The finding a rubric answer raises: the chosen option's, with its severity (`major` if the option
    /// has none, which publishing refuses). A human grade changes the item's points, never the finding
    /// the operator recorded.
    static func finding(_ item: ScorableItem, answer: Answer?) -> Finding? {
        guard item.kind == .rubric, let option = chosenOption(item, answer: answer), option.raisesFinding else { return nil }
        return Finding(itemId: item.itemId, questionId: item.questionId, optionId: option.id, severity: option.severity ?? .major)
    }

    /// Evidence request: not scored (0 of 0). Correct once anything was recorded for it — any answer at all,
    /// since the files themselves live in the evidence ledger, not in the answer — else incorrect.
    static func evidenceRequest(_ answer: Answer?) -> Marking {
        .scored(answer == nil ? .incorrect : .correct, points: 0)
    }

    /// A human grade overrides everything the item's answer decided: its points are clamped to
    /// 0…points possible (not a number counts as 0); it is correct when that is the points possible,
    /// incorrect when 0, else partial; graded by a human.
    static func humanGraded(_ grade: HumanGrade, possible: Double) -> Marking {
        let earned = grade.pointsEarned.isNaN ? 0 : min(max(grade.pointsEarned, 0), possible)
        let correct: Correctness = earned == possible ? .correct : earned == 0 ? .incorrect : .partial
        return Marking(verdict: .scored(correct, points: earned), gradedBy: .human)
    }

    /// The outcome and whether the attempt passed:
    /// - any pending item: `pending`, passed nil;
    /// - a pass threshold and something to score (`maxScore > 0`): passed when `scaledScore ≥ threshold − 1e-9`
    ///   (a score exactly at the threshold passes), outcome `pass` or `fail`;
    /// - otherwise (observations and evidence tasks): `fail` when any finding is `major` or `critical`, else `pass`;
    ///   passed says the same, except that it is nil when a threshold had nothing to apply to.
    static func outcome(rule: GradingRule?, maxScore: Double, scaledScore: Double, pending: Bool, findings: [Finding]) -> (passed: Bool?, outcome: Outcome) {
        if pending { return (nil, .pending) }
        let threshold = rule?.passThreshold
        if let threshold, maxScore > 0 {
            let passed = scaledScore >= threshold - epsilon
            return (passed, passed ? .pass : .fail)
        }
        let result: Outcome = findings.contains { $0.severity == .major || $0.severity == .critical } ? .fail : .pass
        return (threshold == nil ? result == .pass : nil, result)
    }
}

extension Scoring {
    /// How one item was marked, before its points are counted.
    struct Marking: Sendable {
        enum Verdict: Sendable {
            /// The item's full points.
            case correct
            /// A wrong answer: loses `penalty × points`.
            case wrong
            /// A fraction of the item's points; never penalised.
            case partial(fraction: Double)
            /// An exact number of points with a fixed result (rubric options, evidence requests, human grades); never penalised.
            case scored(Correctness, points: Double)
            /// No answer: incorrect, 0 points, no penalty.
            case unanswered
            case pending
        }

        var verdict: Verdict
        var gradedBy: GradedBy?

        init(verdict: Verdict, gradedBy: GradedBy?) {
            self.verdict = verdict
            self.gradedBy = gradedBy
        }

        static let correct = Marking(verdict: .correct, gradedBy: .deterministic)
        static let wrong = Marking(verdict: .wrong, gradedBy: .deterministic)
        static let unanswered = Marking(verdict: .unanswered, gradedBy: .deterministic)
        static let pending = Marking(verdict: .pending, gradedBy: nil)
        static func partial(fraction: Double) -> Marking { Marking(verdict: .partial(fraction: fraction), gradedBy: .deterministic) }
        static func scored(_ correct: Correctness, points: Double) -> Marking { Marking(verdict: .scored(correct, points: points), gradedBy: .deterministic) }

        var correct: Correctness {
            switch verdict {
            case .correct: .correct
            case .wrong, .unanswered: .incorrect
            case .partial: .partial
            case .scored(let correct, _): correct
            case .pending: .pending
            }
        }

        /// Points earned from an item worth `points`: nil while pending. A wrong answer loses `penalty × points`
        /// (written `0 − …` so no penalty gives 0, never −0, which JSON would spell `-0`); nothing else is penalised.
        func earned(points: Double, penalty: Double) -> Double? {
            switch verdict {
            case .correct: points
            case .wrong: 0 - penalty * points
            case .partial(let fraction): points * fraction
            case .scored(_, let earned): earned
            case .unanswered: 0
            case .pending: nil
            }
        }
    }
}
