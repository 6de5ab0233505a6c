import EvaliumCore
import Foundation
import Testing

@Suite("Corrections: the amendment chain, its history and the rules an amendment meets")
struct CorrectionRuleTests {
    static let check = ItemID.generate()
    static let reading = ItemID.generate()
    static let unanswered = ItemID.generate()

    /// A rubric check whose `fail` option demands a comment, a numeric reading, and an optional item left unanswered.
    static let form: OperatorForm = {
        let json = """
            {"evaluationId":"\(EvaluationID.generate())","version":1,"kind":"observation","status":"published","itemCount":3,"maxScore":2,
             "sections":[{"items":[
               {"id":"\(check)","questionId":"\(QuestionID.generate())","questionVersion":1,"kind":"rubric","points":1,"required":true,
                "options":[{"id":"pass"},{"id":"fail","finding":true,"severity":"major","requiresComment":true}]},
               {"id":"\(reading)","questionId":"\(QuestionID.generate())","questionVersion":1,"kind":"numeric","points":1,"required":true},
               {"id":"\(unanswered)","questionId":"\(QuestionID.generate())","questionVersion":1,"kind":"numeric","points":0,"required":false}]}]}
            """
        return try! JSONDecoder().decode(OperatorForm.self, from: Data(json.utf8))
    }()

    static let recordedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func response(_ item: ItemID, _ answer: Answer, comment: String? = nil) -> RecordedResponse {
        RecordedResponse(
            itemId: item, questionId: .generate(), answer: answer, comment: comment, complete: true, missing: [], clientTimestamp: nil,
            context: nil, recordedAt: recordedAt)
    }

    static let original = [response(check, Answer(optionIds: ["pass"])), response(reading, Answer(number: 12), comment: "gauge 1")]

    static func amendment(_ sequence: Int, _ changes: [ItemCorrection], minutes: Double) -> Amendment {
        Amendment(
            id: .generate(), submissionId: .generate(), sequence: sequence, reason: "correction \(sequence)", changes: changes,
            amendedBy: .generate(), amendedAt: recordedAt.addingTimeInterval(minutes * 60))
    }

    @Test("the current state applies amendments in sequence order, whatever order they arrive in; the original stays")
    func currentState() {
        let first = Self.amendment(1, [ItemCorrection(itemId: Self.reading, answer: Answer(number: 13))], minutes: 1)
        let second = Self.amendment(2, [ItemCorrection(itemId: Self.reading, answer: Answer(number: 14), comment: "")], minutes: 2)
        let chain = CorrectionChain(original: Self.original, amendments: [second, first], void: nil)
        let reading = chain.current.first { $0.itemId == Self.reading }
        #expect(reading?.answer.number == 14 && reading?.comment == nil, "an empty comment clears it")
        #expect(reading?.amendmentId == second.id && reading?.amendedAt == second.amendedAt)
        #expect(chain.current.first { $0.itemId == Self.check } == Self.original[0], "an item nobody amended is untouched")
        #expect(chain.original == Self.original)
    }

    @Test("the history keeps each value an amendment replaced beside the value it set")
    func history() {
        let chain = CorrectionChain(
            original: Self.original,
            amendments: [
                Self.amendment(1, [ItemCorrection(itemId: Self.reading, answer: Answer(number: 13))], minutes: 1),
                Self.amendment(2, [ItemCorrection(itemId: Self.reading, comment: "gauge 2")], minutes: 2),
            ], void: nil)
        let changes = chain.history.map { $0.changes[0] }
        #expect(changes.map(\.before) == [ItemValue(answer: Answer(number: 12), comment: "gauge 1"), ItemValue(answer: Answer(number: 13), comment: "gauge 1")])
        #expect(changes.map(\.after) == [ItemValue(answer: Answer(number: 13), comment: "gauge 1"), ItemValue(answer: Answer(number: 13), comment: "gauge 2")])
        #expect(chain.history.map(\.sequence) == [1, 2])
    }

    @Test("a grade given before its item was amended no longer stands; one given after does")
    func standingGrades() {
        let amended = Self.amendment(1, [ItemCorrection(itemId: Self.reading, answer: Answer(number: 13))], minutes: 10)
        let chain = CorrectionChain(original: Self.original, amendments: [amended], void: nil)
        let grader = UserID.generate()
        let before = HumanGrade(pointsEarned: 1, gradedBy: grader, gradedAt: Self.recordedAt.addingTimeInterval(60))
        let after = HumanGrade(pointsEarned: 0, gradedBy: grader, gradedAt: Self.recordedAt.addingTimeInterval(3600))
        #expect(chain.standingGrades([Self.reading: before, Self.check: before]) == [Self.check: before])
        #expect(chain.standingGrades([Self.reading: after]) == [Self.reading: after])
    }

    @Test("what an amendment may not do, each with its pointer", arguments: [
        ([ItemCorrection](), "/changes"),
        ([ItemCorrection(itemId: .generate(), comment: "x")], "/changes/0/itemId"),
        ([ItemCorrection(itemId: unanswered, answer: Answer(number: 1))], "/changes/0/itemId"),
        ([ItemCorrection(itemId: reading)], "/changes/0"),
        ([ItemCorrection(itemId: reading, answer: Answer(number: 12))], "/changes/0"),
        ([ItemCorrection(itemId: check, answer: Answer(optionIds: ["maybe"]))], "/changes/0/answer"),
        ([ItemCorrection(itemId: check, answer: Answer(optionIds: ["fail"]))], "/changes/0"),
        ([ItemCorrection(itemId: reading, comment: String(repeating: "x", count: 20_001))], "/changes/0/comment"),
        ([ItemCorrection(itemId: reading, comment: "a"), ItemCorrection(itemId: reading, comment: "b")], "/changes/1/itemId"),
    ])
    func refusals(changes: [ItemCorrection], pointer: String) {
        let problems = CorrectionRules.problems(changes, form: Self.form, current: Self.original)
        #expect(problems.map(\.pointer) == [pointer], "\(problems)")
    }

    @Test("a correction that fits the form and leaves the item complete is accepted")
    func accepted() {
        let changes = [
            ItemCorrection(itemId: Self.check, answer: Answer(optionIds: ["fail"]), comment: "seal broken"),
            ItemCorrection(itemId: Self.reading, comment: ""),
        ]
        #expect(CorrectionRules.problems(changes, form: Self.form, current: Self.original).isEmpty)
        #expect(CorrectionRules.reasonProblems("  ").map(\.pointer) == ["/reason"])
        #expect(CorrectionRules.reasonProblems("Misread gauge").isEmpty)
    }

    @Test("voiding high-assurance work asks for a step-up")
    func voidStepUp() throws {
        let definition = EvaluationDefinition(title: LocalizedText("Extinguisher check"), sections: []).normalized(kind: .observation, now: Date())
        let base = try EffectivePolicy.resolve(
            evaluation: definition, overrides: AssignmentOverrides(), availableFrom: nil, availableUntil: nil).get()
        #expect(!base.voidRequiresStepUp)
        for overrides in [
            AssignmentOverrides(reviewPolicy: .fourEyes), AssignmentOverrides(verificationLevel: .l4), AssignmentOverrides(requiredContext: [.stepUp]),
        ] {
            let strict = try EffectivePolicy.resolve(evaluation: definition, overrides: overrides, availableFrom: nil, availableUntil: nil).get()
            #expect(strict.voidRequiresStepUp, "\(overrides)")
        }
    }
}
