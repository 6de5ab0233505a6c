import EvaliumCore
import Foundation
import Testing

@Suite("Scoring: how answers become points, findings and an outcome")
struct ScoringTests {
    static let grader = UserID.generate()

    static func item(
        _ kind: ItemKind, points: Double = 1, credit: PartialCreditMode = .none, key: AnswerKey? = nil, options: [QuestionOption]? = nil,
        grading: TextGrading? = nil
    ) -> ScorableItem {
        ScorableItem(
            itemId: .generate(), questionId: .generate(), kind: kind, points: points, partialCredit: credit, answerKey: key, options: options,
            textGrading: grading)
    }

    static func score(_ items: [ScorableItem], _ answers: [Answer?], grades: [Double?] = [], rule: GradingRule? = nil) -> ScoreResult {
        var answered: [ItemID: Answer] = [:]
        var graded: [ItemID: HumanGrade] = [:]
        for (index, item) in items.enumerated() {
            if index < answers.count, let answer = answers[index] { answered[item.itemId] = answer }
            if index < grades.count, let grade = grades[index] { graded[item.itemId] = HumanGrade(pointsEarned: grade, gradedBy: grader) }
        }
        return Scoring.score(items: items, answers: answered, grades: graded, rule: rule)
    }

    /// The result of one item answered alone under a rule with `penalty`.
    static func result(_ item: ScorableItem, _ answer: Answer?, penalty: Double = 0, grade: Double? = nil) -> ItemResult {
        score([item], [answer], grades: [grade], rule: GradingRule(wrongPenalty: penalty)).items[0]
    }

    /// What an item's result must be; `earned` is before the penalty, which `penalised` rows lose.
    struct Expected: Sendable, CustomStringConvertible {
        var correct: Correctness
        var earned: Double?
        var penalised = false
        var gradedBy: GradedBy? = .deterministic

        static func full(_ points: Double) -> Expected { Expected(correct: .correct, earned: points) }
        static func partial(_ points: Double) -> Expected { Expected(correct: .partial, earned: points) }
        static let wrong = Expected(correct: .incorrect, earned: 0, penalised: true)
        static let unanswered = Expected(correct: .incorrect, earned: 0)
        static let pending = Expected(correct: .pending, earned: nil, gradedBy: nil)
        static func incorrect(_ points: Double) -> Expected { Expected(correct: .incorrect, earned: points) }

        var description: String { "\(correct) \(earned.map { "\($0)" } ?? "–")\(penalised ? " minus the penalty" : "")" }

        func check(_ result: ItemResult, points: Double, penalty: Double, _ name: String) {
            let expected = earned.map { penalised ? $0 - penalty * points : $0 }
            #expect(result.correct == correct, "\(name)")
            #expect(result.pointsEarned == expected, "\(name)")
            #expect(result.gradedBy == gradedBy, "\(name)")
        }
    }

    // MARK: - Choice items

    static let fourOptions = ["a", "b", "c", "d"].map { QuestionOption(id: $0, label: LocalizedText($0)) }

    struct ChoiceCase: Sendable, CustomTestStringConvertible {
        var selection: String
        var chosen: [String]?
        var mode: PartialCreditMode
        var expected: Expected
        var testDescription: String { "\(mode.rawValue), \(selection) → \(expected)" }
    }

    /// Multiple choice keyed `a` and `b` of `a`…`d`, worth 2 points: each selection with what each mode makes of it
    /// (none, all or nothing, proportional).
    static let multipleChoiceSelections: [(String, [String]?, [Expected])] = [
        ("the exact keyed set", ["a", "b"], [.full(2), .full(2), .full(2)]),
        ("the exact keyed set in another order", ["b", "a"], [.full(2), .full(2), .full(2)]),
        ("part of the key", ["a"], [.wrong, .partial(0), .partial(1)]),
        ("the key and one unkeyed option", ["a", "b", "c"], [.wrong, .partial(0), .partial(1)]),
        ("one keyed and one unkeyed option, netting nothing", ["a", "c"], [.wrong, .partial(0), .partial(0)]),
        ("one keyed and two unkeyed options, netting below nothing", ["a", "c", "d"], [.wrong, .partial(0), .partial(0)]),
        ("no keyed option, one unkeyed", ["c"], [.wrong, .wrong, .wrong]),
        ("only unkeyed options", ["c", "d"], [.wrong, .wrong, .wrong]),
        ("no answer", nil, [.unanswered, .unanswered, .unanswered]),
        ("an empty selection", [], [.unanswered, .unanswered, .unanswered]),
    ]
    static let multipleChoiceCases: [ChoiceCase] = multipleChoiceSelections.flatMap { selection, chosen, expected in
        zip([PartialCreditMode.none, .allOrNothing, .proportional], expected).map {
            ChoiceCase(selection: selection, chosen: chosen, mode: $0, expected: $1)
        }
    }

    @Test("multiple choice scores every selection by its partial-credit mode, penalising only wrong answers", arguments: multipleChoiceCases, [0.0, 0.25])
    func multipleChoice(_ row: ChoiceCase, penalty: Double) {
        let item = Self.item(.multipleChoice, points: 2, credit: row.mode, key: AnswerKey(correctOptionIds: ["a", "b"]), options: Self.fourOptions)
        let result = Self.result(item, row.chosen.map { Answer(optionIds: $0) }, penalty: penalty)
        row.expected.check(result, points: 2, penalty: penalty, row.testDescription)
        #expect(result.pointsPossible == 2)
    }

    /// Single choice keyed `b`, worth 3 points, with proportional credit (which single choice ignores).
    static let singleChoiceCases: [ChoiceCase] = [
        ChoiceCase(selection: "the keyed option", chosen: ["b"], mode: .proportional, expected: .full(3)),
        ChoiceCase(selection: "another option", chosen: ["a"], mode: .proportional, expected: .wrong),
        ChoiceCase(selection: "the keyed option and another", chosen: ["a", "b"], mode: .proportional, expected: .wrong),
        ChoiceCase(selection: "no answer", chosen: nil, mode: .proportional, expected: .unanswered),
        ChoiceCase(selection: "an answer without options", chosen: [], mode: .proportional, expected: .unanswered),
    ]

    @Test("single choice is right only for exactly the keyed option, and a wrong choice takes the penalty", arguments: singleChoiceCases, [0.0, 0.25])
    func singleChoice(_ row: ChoiceCase, penalty: Double) {
        let item = Self.item(.singleChoice, points: 3, credit: row.mode, key: AnswerKey(correctOptionIds: ["b"]), options: Array(Self.fourOptions.prefix(3)))
        let answer = row.chosen.map { Answer(optionIds: $0) }
        row.expected.check(Self.result(item, answer, penalty: penalty), points: 3, penalty: penalty, row.testDescription)
    }

    static let trueFalseCases: [(Bool, Answer?, Expected)] = [
        (true, Answer(value: true), .full(1)), (true, Answer(value: false), .wrong), (false, Answer(value: false), .full(1)),
        (false, Answer(value: true), .wrong), (true, nil, .unanswered), (true, Answer(text: "true"), .unanswered),
    ]

    @Test("true/false is right only for the keyed value, and a wrong value takes the penalty", arguments: trueFalseCases)
    func trueFalse(_ key: Bool, answer: Answer?, expected: Expected) {
        let item = Self.item(.trueFalse, key: AnswerKey(correctValue: key))
        expected.check(Self.result(item, answer, penalty: 0.25), points: 1, penalty: 0.25, "key \(key), answer \(String(describing: answer))")
    }

    // MARK: - Numbers and text

    static func numeric(_ number: Double, tolerance: Double? = nil, _ mode: ToleranceMode? = nil) -> AnswerKey {
        AnswerKey(number: number, tolerance: tolerance, toleranceMode: mode)
    }

    static let numericCases: [(String, AnswerKey?, Double?, Expected)] = [
        ("the exact number", numeric(10, tolerance: 0.5), 10, .full(1)),
        ("within an absolute tolerance", numeric(10, tolerance: 0.5), 10.3, .full(1)),
        ("at the upper edge of an absolute tolerance", numeric(10, tolerance: 0.5), 10.5, .full(1)),
        ("at the lower edge of an absolute tolerance", numeric(10, tolerance: 0.5, .absolute), 9.5, .full(1)),
        ("beyond an absolute tolerance", numeric(10, tolerance: 0.5), 10.6, .wrong),
        ("below an absolute tolerance", numeric(10, tolerance: 0.5), 9.4, .wrong),
        ("at an edge only binary rounding puts outside (1.1 against 1 ± 0.1)", numeric(1, tolerance: 0.1), 1.1, .full(1)),
        ("exact without a tolerance", numeric(10), 10, .full(1)),
        ("off by less than the 1e-9 slack without a tolerance", numeric(10), 10.000_000_000_1, .full(1)),
        ("off by a thousandth without a tolerance", numeric(10), 10.001, .wrong),
        ("within a relative tolerance", numeric(200, tolerance: 0.05, .relative), 209, .full(1)),
        ("at the upper edge of a relative tolerance", numeric(200, tolerance: 0.05, .relative), 210, .full(1)),
        ("at the lower edge of a relative tolerance", numeric(200, tolerance: 0.05, .relative), 190, .full(1)),
        ("beyond a relative tolerance", numeric(200, tolerance: 0.05, .relative), 210.5, .wrong),
        ("at the edge of a relative tolerance of a negative number", numeric(-50, tolerance: 0.1, .relative), -55, .full(1)),
        ("beyond a relative tolerance of a negative number", numeric(-50, tolerance: 0.1, .relative), -56, .wrong),
        ("at a relative edge only binary rounding puts outside (0.33 against 0.3 ± 10%)", numeric(0.3, tolerance: 0.1, .relative), 0.33, .full(1)),
        ("anything but zero against a relative tolerance of zero", numeric(0, tolerance: 0.1, .relative), 0.001, .wrong),
        ("no answer", numeric(10, tolerance: 0.5), nil, .unanswered),
        ("an infinite number, which is no answer", numeric(10, tolerance: 0.5), Double.infinity, .unanswered),
        ("an item without its expected number, which waits for a person", nil, 10, .pending),
    ]

    @Test("numeric answers are right within the tolerance and at its edges, and wrong beyond it", arguments: numericCases)
    func numeric(_ name: String, key: AnswerKey?, number: Double?, expected: Expected) {
        let item = Self.item(.numeric, key: key)
        expected.check(Self.result(item, number.map { Answer(number: $0) }, penalty: 0.25), points: 1, penalty: 0.25, name)
    }

    static let shortTextCases: [(String, AnswerKey?, TextGrading?, String?, Expected)] = [
        ("an accepted answer in another case, with spaces around it", AnswerKey(acceptedAnswers: ["Newton"]), nil, "  newton \n", .full(2)),
        ("an accepted answer that is itself padded", AnswerKey(acceptedAnswers: [" kelvin "]), nil, "Kelvin", .full(2)),
        ("an accepted answer whose case folds to more letters", AnswerKey(acceptedAnswers: ["Straße"]), nil, "STRASSE", .full(2)),
        ("an accepted answer in its exact case when case matters", AnswerKey(acceptedAnswers: ["Newton"], caseSensitive: true), nil, "Newton ", .full(2)),
        ("an accepted answer in another case when case matters", AnswerKey(acceptedAnswers: ["Newton"], caseSensitive: true), nil, "newton", .wrong),
        ("an answer not accepted, with no grader", AnswerKey(acceptedAnswers: ["Newton"]), nil, "Leibniz", .wrong),
        ("an answer not accepted, with an AI grader", AnswerKey(acceptedAnswers: ["Newton"]), .ai, "Leibniz", .pending),
        ("an answer in the wrong case, with a person grading", AnswerKey(acceptedAnswers: ["Newton"], caseSensitive: true), .person, "newton", .pending),
        ("an accepted answer, with an AI grader", AnswerKey(acceptedAnswers: ["Newton"]), .ai, "NEWTON", .full(2)),
        ("any answer to an item without accepted answers", nil, nil, "Gravity pulls", .pending),
        ("any answer to an item with an empty list of accepted answers", AnswerKey(acceptedAnswers: []), nil, "Gravity pulls", .pending),
        ("a blank answer", AnswerKey(acceptedAnswers: ["Newton"]), .ai, "  \n ", .unanswered),
        ("no answer", AnswerKey(acceptedAnswers: ["Newton"]), nil, nil, .unanswered),
    ]

    @Test("short text is accepted by the case rule, else waits for a grader or is wrong", arguments: shortTextCases)
    func shortText(_ name: String, key: AnswerKey?, grading: TextGrading?, text: String?, expected: Expected) {
        let item = Self.item(.shortText, points: 2, key: key, grading: grading)
        expected.check(Self.result(item, text.map { Answer(text: $0) }, penalty: 0.25), points: 2, penalty: 0.25, name)
    }

    /// A long answer worth 4 points under a pass threshold of 0.5: no grade yet, then each grade a person might give.
    static let longTextCases: [(String, Double?, Correctness, Double?, Outcome, Bool?)] = [
        ("not graded yet", nil, .pending, nil, .pending, nil),
        ("full marks", 4, .correct, 4, .pass, true),
        ("no marks", 0, .incorrect, 0, .fail, false),
        ("part marks", 2.5, .partial, 2.5, .pass, true),
        ("more than the item is worth, clamped to full marks", 9, .correct, 4, .pass, true),
        ("less than nothing, clamped to no marks", -1, .incorrect, 0, .fail, false),
        ("not a number, counted as no marks", Double.nan, .incorrect, 0, .fail, false),
    ]

    @Test("a long answer waits for a grader, and a person's grade then settles it", arguments: longTextCases)
    func longText(_ name: String, grade: Double?, correct: Correctness, earned: Double?, outcome: Outcome, passed: Bool?) {
        let item = Self.item(.longText, points: 4, grading: .person)
        let result = Self.score([item], [Answer(text: "Because the pressure drops")], grades: [grade], rule: GradingRule(passThreshold: 0.5))
        #expect(result.items[0].correct == correct, "\(name)")
        #expect(result.items[0].pointsEarned == earned, "\(name)")
        #expect(result.items[0].pointsPossible == 4, "\(name)")
        #expect(result.items[0].gradedBy == (grade == nil ? nil : .human), "\(name)")
        #expect(result.outcome == outcome && result.passed == passed, "\(name)")
        #expect(result.pendingItems == (grade == nil ? [item.itemId] : []), "\(name)")
        #expect(result.maxScore == 4 && result.rawScore == (earned ?? 0), "\(name)")
    }

    @Test("a blank long answer is unanswered, not pending")
    func blankLongText() {
        Expected.unanswered.check(Self.result(Self.item(.longText), Answer(text: " ")), points: 1, penalty: 0, "blank long text")
    }

    @Test("a human grade overrides a machine-marked item, penalty and all")
    func humanGradeOverridesMarking() {
        let item = Self.item(.singleChoice, points: 3, key: AnswerKey(correctOptionIds: ["b"]))
        let result = Self.result(item, Answer(optionIds: ["a"]), penalty: 0.25, grade: 1.5)
        #expect(result.correct == .partial && result.pointsEarned == 1.5 && result.gradedBy == .human)
    }

    // MARK: - Observations and evidence

    static let rubricOptions = [
        QuestionOption(id: "pass", label: LocalizedText("Pass"), points: 1),
        QuestionOption(id: "minor", label: LocalizedText("Minor issue"), points: 0.5, finding: true, severity: .minor),
        QuestionOption(id: "fail", label: LocalizedText("Fail"), points: 0, finding: true, severity: .major),
        QuestionOption(id: "unsafe", label: LocalizedText("Unsafe"), finding: true, severity: .critical),
        QuestionOption(id: "not_applicable", label: LocalizedText("Not applicable")),
    ]

    static let rubricCases: [(String, [String]?, Expected, FindingSeverity?)] = [
        ("a passing option", ["pass"], .full(1), nil),
        ("an option with a minor finding and some points", ["minor"], .incorrect(0.5), .minor),
        ("an option with a major finding", ["fail"], .incorrect(0), .major),
        ("an option with a critical finding and no points", ["unsafe"], .incorrect(0), .critical),
        ("an option without points or a finding", ["not_applicable"], .full(0), nil),
        ("no answer", nil, .unanswered, nil),
        ("an option the item does not have", ["maybe"], .unanswered, nil),
    ]

    @Test("a rubric item earns its option's points out of the best option's, and a finding makes it incorrect without a penalty", arguments: rubricCases)
    func rubric(_ name: String, chosen: [String]?, expected: Expected, severity: FindingSeverity?) {
        let item = Self.item(.rubric, points: 7, options: Self.rubricOptions)
        let result = Self.score([item], [chosen.map { Answer(optionIds: $0) }], rule: GradingRule(wrongPenalty: 0.25))
        expected.check(result.items[0], points: 7, penalty: 0.25, name)
        #expect(result.items[0].pointsPossible == 1, "\(name)")
        #expect(result.findings.map(\.severity) == (severity.map { [$0] } ?? []), "\(name)")
        #expect(result.findings.first?.optionId == (severity == nil ? nil : chosen?.first), "\(name)")
    }

    @Test("a rubric whose options carry no points is worth the item's points, and its options earn none")
    func rubricWithoutOptionPoints() {
        let options = [QuestionOption(id: "pass", label: LocalizedText("Pass")), QuestionOption(id: "fail", label: LocalizedText("Fail"))]
        let result = Self.result(Self.item(.rubric, points: 2, options: options), Answer(optionIds: ["pass"]))
        #expect(result.correct == .correct && result.pointsEarned == 0 && result.pointsPossible == 2)
    }

    static let observationCases: [(String, [String], GradingRule?, Outcome, Bool?)] = [
        ("every check passing", ["pass", "pass", "not_applicable"], nil, .pass, true),
        ("a minor finding", ["pass", "minor", "pass"], nil, .pass, true),
        ("a major finding", ["pass", "fail", "minor"], nil, .fail, false),
        ("a critical finding", ["unsafe", "pass", "pass"], nil, .fail, false),
        ("a major finding under a threshold the score meets, which decides", ["pass", "fail", "pass"], GradingRule(passThreshold: 0.6), .pass, true),
        ("no finding under a threshold the score misses", ["pass", "not_applicable", "not_applicable"], GradingRule(passThreshold: 0.6), .fail, false),
    ]

    @Test("without a pass threshold an observation fails on a major or critical finding and passes otherwise", arguments: observationCases)
    func observationOutcome(_ name: String, chosen: [String], rule: GradingRule?, outcome: Outcome, passed: Bool?) {
        let items = chosen.map { _ in Self.item(.rubric, options: Self.rubricOptions) }
        let result = Self.score(items, chosen.map { Answer(optionIds: [$0]) }, rule: rule)
        #expect(result.outcome == outcome && result.passed == passed, "\(name)")
        let raising = zip(items, chosen).filter { ["minor", "fail", "unsafe"].contains($1) }
        #expect(result.findings.map(\.itemId) == raising.map { $0.0.itemId }, "\(name): findings in item order")
        #expect(result.findings.map(\.questionId) == raising.map { $0.0.questionId }, "\(name)")
    }

    static let evidenceCases: [(String, Answer?, Correctness)] = [
        ("a note", Answer(text: "Gauge reads 4 bar"), .correct), ("an empty answer (files only)", Answer(), .correct),
        ("nothing recorded", nil, .incorrect),
    ]

    @Test("an evidence request scores nothing and is correct once anything is recorded for it", arguments: evidenceCases)
    func evidenceRequest(_ name: String, answer: Answer?, correct: Correctness) {
        let result = Self.result(Self.item(.evidenceRequest, points: 5), answer, penalty: 1)
        #expect(result.correct == correct && result.pointsEarned == 0 && result.pointsPossible == 0 && result.gradedBy == .deterministic, "\(name)")
    }

    // MARK: - Totals and the outcome

    /// True/false items worth `points`, answered right or wrong.
    static func answered(_ rows: [(points: Double, right: Bool)], rule: GradingRule?) -> ScoreResult {
        let items = rows.map { item(.trueFalse, points: $0.points, key: AnswerKey(correctValue: true)) }
        return score(items, rows.map { Answer(value: $0.right) }, rule: rule)
    }

    static func tenths(right: Int, of count: Int) -> [(points: Double, right: Bool)] {
        (0..<count).map { (0.1, $0 < right) }
    }

    static let thresholdCases: [(String, [(points: Double, right: Bool)], Double, Bool)] = [
        ("just below the threshold", [(0.79999, true), (0.20001, false)], 0.8, false),
        ("exactly at the threshold", [(7, true), (3, false)], 0.7, true),
        ("at the threshold only binary rounding puts below (12 of 15 tenths against 0.8)", tenths(right: 12, of: 15), 0.8, true),
        ("above the threshold", [(8, true), (2, false)], 0.7, true),
        ("nothing right against a threshold of 0", [(1, false), (1, false)], 0, true),
        ("everything right against a threshold of 1", [(1, true), (1, true)], 1, true),
        ("all but a little right against a threshold of 1", [(99, true), (1, false)], 1, false),
    ]

    @Test("a score exactly at the pass threshold passes, and just below it fails", arguments: thresholdCases)
    func threshold(_ name: String, rows: [(points: Double, right: Bool)], threshold: Double, passed: Bool) {
        let result = Self.answered(rows, rule: GradingRule(passThreshold: threshold))
        #expect(result.passed == passed && result.outcome == (passed ? .pass : .fail), "\(name): scaled \(result.scaledScore)")
    }

    @Test("penalties can make the raw score negative, and the scaled score stops at 0")
    func negativeRawScore() {
        let result = Self.answered([(1, true), (1, false), (1, false), (1, false)], rule: GradingRule(passThreshold: 0, wrongPenalty: 1))
        #expect(result.rawScore == -2 && result.maxScore == 4 && result.scaledScore == 0)
        #expect(result.items.map(\.pointsEarned) == [1, -1, -1, -1])
        #expect(result.outcome == .pass && result.passed == true)
    }

    @Test("a penalty outside 0…1 is kept within it, so it never adds points nor takes more than the item")
    func penaltyBounds() {
        let wrong = Self.item(.trueFalse, points: 2, key: AnswerKey(correctValue: true))
        #expect(Self.result(wrong, Answer(value: false), penalty: -1).pointsEarned == 0)
        #expect(Self.result(wrong, Answer(value: false), penalty: 3).pointsEarned == -2)
    }

    @Test("with nothing to score, the scaled score is 0 and a threshold has nothing to apply to")
    func nothingToScore() {
        let zero = Self.answered([(0, true), (0, false)], rule: GradingRule(passThreshold: 0.5))
        #expect(zero.maxScore == 0 && zero.rawScore == 0 && zero.scaledScore == 0)
        #expect(zero.passed == nil && zero.outcome == .pass)
        let evidence = Self.score([Self.item(.evidenceRequest)], [Answer()], rule: nil)
        #expect(evidence.maxScore == 0 && evidence.scaledScore == 0 && evidence.passed == true && evidence.outcome == .pass)
        let empty = Scoring.score(items: [], answers: [:], grades: [:], rule: GradingRule(passThreshold: 0.7))
        #expect(empty.items.isEmpty && empty.maxScore == 0 && empty.passed == nil && empty.outcome == .pass)
    }

    @Test("totals add every kind in item order; pending items count toward the maximum but earn nothing yet")
    func totals() {
        let items = [
            Self.item(.singleChoice, points: 2, key: AnswerKey(correctOptionIds: ["a"])),
            Self.item(.longText, points: 5),
            Self.item(.rubric, options: Self.rubricOptions),
            Self.item(.shortText, points: 3),
            Self.item(.trueFalse, points: 4, key: AnswerKey(correctValue: false)),
            Self.item(.evidenceRequest),
        ]
        let answers = [Answer(optionIds: ["a"]), Answer(text: "Long"), Answer(optionIds: ["minor"]), Answer(text: "Short"), Answer(value: true), Answer()]
        let result = Self.score(items, answers, rule: GradingRule(passThreshold: 0.5, wrongPenalty: 0.5))
        #expect(result.items.map(\.itemId) == items.map(\.itemId))
        #expect(result.items.map(\.pointsEarned) == [2, nil, 0.5, nil, -2, 0])
        #expect(result.rawScore == 0.5 && result.maxScore == 15)
        #expect(result.pendingItems == [items[1].itemId, items[3].itemId])
        #expect(result.outcome == .pending && result.passed == nil)
        #expect(result.findings == [Finding(itemId: items[2].itemId, questionId: items[2].questionId, optionId: "minor", severity: .minor)])

        let graded = Self.score(items, answers, grades: [nil, 5, nil, 3], rule: GradingRule(passThreshold: 0.5, wrongPenalty: 0.5))
        #expect(graded.rawScore == 8.5 && graded.scaledScore == 8.5 / 15 && graded.outcome == .pass && graded.passed == true)
        #expect(graded.pendingItems.isEmpty && graded.findings.count == 1)
    }

    // MARK: - The wire

    @Test("correctness is written true, false, \"partial\" or \"pending\" and read back")
    func correctnessJSON() throws {
        let all: [Correctness] = [.correct, .incorrect, .partial, .pending]
        let json = try JSONEncoder().encode(all)
        #expect(String(decoding: json, as: UTF8.self) == #"[true,false,"partial","pending"]"#)
        #expect(try JSONDecoder().decode([Correctness].self, from: json) == all)
        for refused in [#"["correct"]"#, #"["true"]"#, "[1]", "[null]"] {
            #expect(throws: DecodingError.self, "\(refused)") { try JSONDecoder().decode([Correctness].self, from: Data(refused.utf8)) }
        }
    }

    @Test("an item result is written as seed 003's response summary, without points or grader while pending, and never as -0")
    func itemResultJSON() throws {
        let itemId = ItemID("itm_01ARZ3NDEKTSV4RRFFQ69G5FAV")!
        let questionId = QuestionID("qst_01ARZ3NDEKTSV4RRFFQ69G5FAV")!
        let items = [
            ScorableItem(itemId: itemId, questionId: questionId, kind: .shortText, points: 2, partialCredit: .none),
            ScorableItem(itemId: ItemID("itm_01ARZ3NDEKTSV4RRFFQ69G5FAW")!, questionId: questionId, kind: .trueFalse, points: 2, partialCredit: .none, answerKey: AnswerKey(correctValue: true)),
        ]
        let pending = Self.score([items[0]], [Answer(text: "Maybe")]).items[0]
        let wrong = Self.score([items[1]], [Answer(value: false)], rule: GradingRule(wrongPenalty: 0)).items[0]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(pending), as: UTF8.self)
            == #"{"correct":"pending","itemId":"itm_01ARZ3NDEKTSV4RRFFQ69G5FAV","kind":"short_text","pointsPossible":2,"questionId":"qst_01ARZ3NDEKTSV4RRFFQ69G5FAV"}"#)
        #expect(String(decoding: try encoder.encode(wrong), as: UTF8.self)
            == #"{"correct":false,"gradedBy":"deterministic","itemId":"itm_01ARZ3NDEKTSV4RRFFQ69G5FAW","kind":"true_false","pointsEarned":0,"pointsPossible":2,"questionId":"qst_01ARZ3NDEKTSV4RRFFQ69G5FAV"}"#)
        let result = Self.score(items, [Answer(text: "Maybe"), Answer(value: true)])
        #expect(try JSONDecoder().decode(ScoreResult.self, from: try encoder.encode(result)) == result)
    }
}
