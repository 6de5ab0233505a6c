import EvaliumCore
import Foundation
import Testing

@Suite("Decoding stored documents from a parsed tree", .timeLimit(.minutes(2)))
struct JSONValueDecoderTests {
    /// Written as storage writes it, read back both ways.
    static func readBack<Value: Codable>(_ value: Value) throws -> (tree: Value, foundation: Value) {
        let bytes = try WireJSON.makeEncoder().encode(value)
        return (
            try JSONValueDecoder().decode(Value.self, from: JSONValue(parsing: bytes)),
            try WireJSON.makeDecoder().decode(Value.self, from: bytes)
        )
    }

    static let itemIds = (0..<30).map { ItemID("itm_01ARZ3NDEKTSV4RRFFQ69G5F\(String(format: "%02d", $0))")! }
    static let questionId = QuestionID("qst_01ARZ3NDEKTSV4RRFFQ69G5FAV")!

    static var scoreResult: ScoreResult {
        let kinds: [ItemKind] = [.singleChoice, .trueFalse, .numeric, .rubric]
        let correctness: [Correctness] = [.correct, .incorrect, .partial, .pending]
        let items = itemIds.enumerated().map { index, itemId in
            ItemResult(
                itemId: itemId, questionId: questionId, kind: kinds[index % kinds.count], correct: correctness[index % correctness.count],
                pointsEarned: index % 4 == 3 ? nil : Double(index) * 0.25 - 1, pointsPossible: Double(index % 5),
                gradedBy: index % 4 == 3 ? nil : .deterministic)
        }
        return ScoreResult(
            items: items, rawScore: -0.5, maxScore: 60, scaledScore: 0.1, passed: nil, outcome: .pending,
            findings: [Finding(itemId: itemIds[3], questionId: questionId, optionId: "fail", severity: .critical)], pendingItems: [itemIds[3]])
    }

    @Test("a score result, subjects, answers and grades read back as written, as JSONDecoder reads them")
    func storedDocumentsReadBack() throws {
        let result = try Self.readBack(Self.scoreResult)
        #expect(result.tree == Self.scoreResult)
        #expect(result.tree == result.foundation)

        let subjects = [
            AssignedSubject(subjectId: SubjectID("sbj_01ARZ3NDEKTSV4RRFFQ69G5FAV")!, role: .primary),
            AssignedSubject(subjectId: SubjectID("sbj_01ARZ3NDEKTSV4RRFFQ69G5FAW")!, role: .secondary),
        ]
        #expect(try Self.readBack(subjects).tree == subjects)

        let answers: [String: Answer] = [
            "choice": Answer(optionIds: ["a", "b"]), "flag": Answer(value: false), "number": Answer(number: -12.5e3), "text": Answer(text: "é ✓ \u{1F600}"),
        ]
        #expect(try Self.readBack(answers).tree == answers)

        let graded = HumanGrade(pointsEarned: 2, gradedBy: UserID("usr_01ARZ3NDEKTSV4RRFFQ69G5FAV")!, gradedAt: RFC3339.parse("2026-11-22T05:41:00.123Z"))
        #expect(try Self.readBack([graded, HumanGrade(pointsEarned: 0, gradedBy: graded.gradedBy)]).tree.map(\.gradedAt) == [graded.gradedAt, nil])

        let untyped: JSONValue = ["device": "tablet", "gps": [.number(51.5), .number(-0.12)], "offline": true, "note": nil]
        #expect(try Self.readBack(untyped).tree == untyped)
    }

    @Test("a wrong type names the path to it")
    func mismatchNamesThePath() throws {
        guard case .object(var document) = try JSONValue(encoding: Self.scoreResult), case .array(var items) = document["items"],
            case .object(var third) = items[2]
        else {
            Issue.record("a score result is an object with an array of items")
            return
        }
        third["pointsPossible"] = "two"
        items[2] = .object(third)
        document["items"] = .array(items)
        #expect {
            try JSONValueDecoder().decode(ScoreResult.self, from: .object(document))
        } throws: { error in
            guard case DecodingError.typeMismatch(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["items", "Index 2", "pointsPossible"]
        }
    }

    @Test("refuses a missing member, a fractional integer and a malformed date")
    func refusals() throws {
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder().decode(AssignedSubject.self, from: ["role": "primary"])
        }
        #expect(throws: DecodingError.self) { try JSONValueDecoder().decode([Int].self, from: [1, .number(2.5)]) }
        #expect(try JSONValueDecoder().decode([Int].self, from: [1, -2, .number(3e2)]) == [1, -2, 300])
        #expect(throws: DecodingError.self) {
            try JSONValueDecoder().decode(HumanGrade.self, from: ["pointsEarned": 1, "gradedBy": "usr_01ARZ3NDEKTSV4RRFFQ69G5FAV", "gradedAt": "yesterday"])
        }
    }
}

@Suite("Reading stored score results", .timeLimit(.minutes(2)))
struct StoredScoreResultTests {
    static func random(using generator: inout some RandomNumberGenerator) -> ScoreResult {
        let ids = JSONValueDecoderTests.itemIds
        let correctness: [Correctness] = [.correct, .incorrect, .partial, .pending]
        let items = (0..<Int.random(in: 0...30, using: &generator)).map { index in
            ItemResult(
                itemId: ids[index], questionId: JSONValueDecoderTests.questionId, kind: ItemKind.allCases.randomElement(using: &generator)!,
                correct: correctness.randomElement(using: &generator)!, pointsEarned: Bool.random(using: &generator) ? nil : Double.random(in: -2...5, using: &generator),
                pointsPossible: Double(Int.random(in: 0...5, using: &generator)), gradedBy: [nil, .deterministic, .ai, .human].randomElement(using: &generator)!)
        }
        let findings = items.filter { _ in Int.random(in: 0..<5, using: &generator) == 0 }.map {
            Finding(itemId: $0.itemId, questionId: $0.questionId, optionId: "opt-\($0.itemId.rawValue.suffix(2))", severity: FindingSeverity.allCases.randomElement(using: &generator)!)
        }
        return ScoreResult(
            items: items, rawScore: Double.random(in: -10...100, using: &generator), maxScore: Double(Int.random(in: 0...150, using: &generator)),
            scaledScore: Double.random(in: 0...1, using: &generator), passed: [nil, true, false].randomElement(using: &generator)!,
            outcome: [Outcome.pass, .fail, .pending].randomElement(using: &generator)!, findings: findings,
            pendingItems: items.filter { $0.correct == .pending }.map(\.itemId))
    }

    @Test("random results read back as written and as Decodable reads them")
    func agreesWithDecodable() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let result = Self.random(using: &generator)
            let bytes = try WireJSON.makeEncoder().encode(result)
            let read = try ScoreResult(storedForm: JSONValue(parsing: bytes))
            #expect(read == result)
            #expect(read == (try WireJSON.makeDecoder().decode(ScoreResult.self, from: bytes)))
        }
    }

    @Test("a missing or mistyped member is refused, naming it")
    func refusals() throws {
        guard case .object(var document) = try JSONValue(encoding: JSONValueDecoderTests.scoreResult) else {
            Issue.record("a score result is an object")
            return
        }
        document["outcome"] = "maybe"
        #expect(throws: DecodingError.self) { try ScoreResult(storedForm: .object(document)) }
        document["outcome"] = "pass"
        #expect(throws: Never.self) { try ScoreResult(storedForm: .object(document)) }
        document["maxScore"] = nil
        #expect {
            try ScoreResult(storedForm: .object(document))
        } throws: { error in
            guard case DecodingError.dataCorrupted(let context) = error else { return false }
            return context.debugDescription.contains("result.maxScore is missing")
        }
    }
}
