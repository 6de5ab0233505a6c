import EvaliumCore
import Foundation
import Testing

@Suite("Authoring rules: what a publishable question and evaluation must be")
struct AuthoringRuleTests {
    static let text = LocalizedText("Text")

    static func option(_ id: String, finding: Bool? = nil, severity: FindingSeverity? = nil, evidence: Bool? = nil) -> QuestionOption {
        QuestionOption(id: id, label: text, finding: finding, severity: severity, requiresEvidence: evidence)
    }

    /// Each row: a kind, content, and the pointers publishing must report (empty: publishable).
    static let questionCases: [(String, ItemKind, QuestionContent, Set<String>)] = [
        ("a complete single choice", .singleChoice,
         QuestionContent(prompt: text, options: [option("a"), option("b")], answerKey: AnswerKey(correctOptionIds: ["b"])), []),
        ("a single choice without an answer key", .singleChoice,
         QuestionContent(prompt: text, options: [option("a"), option("b")]), ["/answerKey/correctOptionIds"]),
        ("a single choice with two correct options", .singleChoice,
         QuestionContent(prompt: text, options: [option("a"), option("b")], answerKey: AnswerKey(correctOptionIds: ["a", "b"])),
         ["/answerKey/correctOptionIds"]),
        ("a multiple choice keyed to a missing option", .multipleChoice,
         QuestionContent(prompt: text, options: [option("a"), option("b")], answerKey: AnswerKey(correctOptionIds: ["a", "z"])),
         ["/answerKey/correctOptionIds/1"]),
        ("repeated option ids and a missing prompt", .multipleChoice,
         QuestionContent(options: [option("a"), option("a")], answerKey: AnswerKey(correctOptionIds: ["a"])), ["/prompt", "/options/1/id"]),
        ("a true/false without its value", .trueFalse, QuestionContent(prompt: text), ["/answerKey/correctValue"]),
        ("a numeric with a negative tolerance", .numeric,
         QuestionContent(prompt: text, answerKey: AnswerKey(number: 9.81, tolerance: -1)), ["/answerKey/tolerance"]),
        ("a short text graded later", .shortText, QuestionContent(prompt: text, text: TextResponseSettings(grading: .ai)), []),
        ("a rubric option requiring evidence where none is allowed", .rubric,
         QuestionContent(prompt: text, options: [option("fail", finding: true, severity: .major, evidence: true)]),
         ["/options/0/requiresEvidence"]),
        ("a finding without severity", .rubric, QuestionContent(prompt: text, options: [option("fail", finding: true)]), ["/options/0/severity"]),
        ("a complete rubric", .rubric,
         QuestionContent(
             prompt: text, options: [option("pass"), option("fail", finding: true, severity: .critical, evidence: true)],
             evidence: EvidenceRequirements(allowedMediaTypes: ["image/*"])), []),
        ("finding metadata on a choice option", .singleChoice,
         QuestionContent(prompt: text, options: [option("a", finding: true), option("b")], answerKey: AnswerKey(correctOptionIds: ["b"])),
         ["/options/0"]),
        ("an evidence request without requirements", .evidenceRequest, QuestionContent(prompt: text), ["/evidence"]),
        ("an evidence request with a bad media type and min above max", .evidenceRequest,
         QuestionContent(prompt: text, evidence: EvidenceRequirements(allowedMediaTypes: ["jpeg"], minFiles: 4, maxFiles: 2)),
         ["/evidence/allowedMediaTypes/0", "/evidence/minFiles"]),
        ("a prompt missing its default locale", .trueFalse,
         QuestionContent(
             prompt: LocalizedText(defaultLocale: LocaleTag("fr")!, locales: [.english: "Only English"]), answerKey: AnswerKey(correctValue: true)),
         ["/prompt"]),
    ]

    @Test("question publish rules", arguments: questionCases)
    func questionRules(_ name: String, kind: ItemKind, content: QuestionContent, expected: Set<String>) {
        let pointers = Set(content.publishProblems(kind: kind).map(\.pointer))
        #expect(pointers == expected, "\(name)")
    }

    static let trueFalse = QuestionID.generate()
    static let rubric = QuestionID.generate()
    static let pinned: [QuestionPin: PinnedQuestion] = [
        QuestionPin(questionId: trueFalse, version: 1): PinnedQuestion(
            kind: .trueFalse, status: .published, content: QuestionContent(prompt: text, answerKey: AnswerKey(correctValue: true))),
        QuestionPin(questionId: rubric, version: 2): PinnedQuestion(
            kind: .rubric, status: .draft, content: QuestionContent(prompt: text, options: [option("fail", finding: true)])),
    ]

    static func definition(_ items: [EvaluationItem], _ change: (inout EvaluationDefinition) -> Void = { _ in }) -> EvaluationDefinition {
        var definition = EvaluationDefinition(title: text, sections: [EvaluationSection(items: items)])
        change(&definition)
        return definition
    }

    @Test("evaluation publish rules report every problem, including those inside pinned draft questions")
    func evaluationRules() {
        let knowledge = Self.definition([EvaluationItem(questionId: Self.trueFalse, version: 1)]).normalized(kind: .knowledge, now: Date())
        #expect(knowledge.publishProblems(kind: .knowledge, pinned: Self.pinned).map(\.pointer) == ["/grading/passThreshold"])

        let broken = Self.definition([
            EvaluationItem(questionId: Self.trueFalse, version: 1), EvaluationItem(questionId: Self.rubric, version: 2),
            EvaluationItem(questionId: .generate(), version: 1),
        ]) {
            $0.grading = GradingRule(passThreshold: 2, wrongPenalty: -0.5, maxAttempts: 0)
            $0.reviewPolicy = .fourEyes
            $0.autoApprove = true
            $0.verificationLevel = .l4
        }.normalized(kind: .knowledge, now: Date())
        let pointers = Set(broken.publishProblems(kind: .knowledge, pinned: Self.pinned).map(\.pointer))
        #expect(pointers == [
            "/sections/0/items/1/question/options/0/severity", "/sections/0/items/2/questionId", "/sections",
            "/grading/passThreshold", "/grading/wrongPenalty", "/grading/maxAttempts", "/autoApprove", "/requiredContext",
        ])
    }

    @Test("normalising spells every policy out, with defaults by kind, and gives every section and item an id")
    func normalisationDefaults() {
        let observation = Self.definition([EvaluationItem(questionId: Self.rubric)]).normalized(kind: .observation, now: Date())
        #expect(observation.approvalRequired == true && observation.reviewPolicy == .selfApprove && observation.autoApprove == false)
        #expect(observation.verificationLevel == .l1 && observation.grading == nil)
        #expect(observation.sections?[0].id != nil && observation.sections?[0].items[0].id != nil)
        let knowledge = Self.definition([]).normalized(kind: .knowledge, now: Date())
        #expect(knowledge.approvalRequired == false && knowledge.grading?.showCorrectAnswers == .never)
        #expect(knowledge.disclosure?.operator == .score && knowledge.disclosure?.client == .itemResults)
    }

    @Test("the operator form never carries answer keys, correct options or explanations")
    func operatorFormHidesTheKey() throws {
        let question = QuestionVersion(
            questionId: Self.trueFalse, version: 1, kind: .singleChoice, status: .published,
            content: QuestionContent(
                prompt: Self.text, explanation: LocalizedText("Because"), points: 3, options: [Self.option("a"), Self.option("b")],
                answerKey: AnswerKey(correctOptionIds: ["b"])),
            tags: [], contentHash: String(repeating: "0", count: 64),
            history: VersionHistory(createdBy: .generate(), createdAt: Date(), updatedAt: Date()))
        let version = EvaluationVersion(
            evaluationId: .generate(), version: 1, kind: .knowledge, status: .draft,
            definition: Self.definition([EvaluationItem(questionId: Self.trueFalse, version: 1)]).normalized(kind: .knowledge, now: Date()),
            contentHash: String(repeating: "0", count: 64), history: question.history)
        let form = OperatorForm(version, questions: [question.pin: question])
        let json = String(decoding: try JSONEncoder().encode(form), as: UTF8.self)
        #expect(!json.contains("answerKey") && !json.contains("correct") && !json.contains("Because"))
        #expect(form.maxScore == 3 && form.itemCount == 1)

        // A whole snapshot (kept by submissions finalised before content was stored once) is one flat object
        // and reads back with the same form; the form built with the content is not part of its JSON.
        let policy = try EffectivePolicy.resolve(
            evaluation: version.definition, overrides: AssignmentOverrides(), availableFrom: nil, availableUntil: nil).get()
        let snapshot = VersionSnapshot(
            evaluation: version, questions: [question], policy: policy, orgUnitId: .generate(),
            assignment: .init(assignmentId: .generate(), cohort: nil, batchId: nil))
        let stored = try JSONEncoder().encode(snapshot)
        let members = try #require(try JSONSerialization.jsonObject(with: stored) as? [String: Any])
        #expect(Set(members.keys) == ["evaluation", "questions", "policy", "orgUnitId", "assignment"])
        let read = try JSONDecoder().decode(VersionSnapshot.self, from: stored)
        #expect(read == snapshot && read.form == form)
    }

    @Test("fields a client sent that the server did not understand are found, with their pointers")
    func unknownFields() throws {
        let sent: JSONValue = ["kind": "rubric", "content": ["options": [["id": "a", "requiresEvidance": true]], "prompt": ["defaultLocale": "en", "locales": ["EN-us": "x"]]], "note": .null]
        let understood: JSONValue = ["kind": "rubric", "content": ["options": [["id": "a"]], "prompt": ["defaultLocale": "en", "locales": ["en-US": "x"]]]]
        #expect(sent.unknownFieldPointers(comparedWith: understood) == ["/content/options/0/requiresEvidance"])
        let twice: JSONValue = ["kind": "true_false", "Kind": "rubric"]
        #expect(twice.unknownFieldPointers(comparedWith: ["kind": "true_false"]) == ["/Kind"])
    }
}
