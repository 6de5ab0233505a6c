import Foundation

extension ScoreResult {
    /// Reads a score result in the form storage writes it (its `Codable` form, which stays the one
    /// definition of that form) straight from the parsed document.
    ///
    /// It exists because every read of a submission reads its result, and a reporting rebuild reads 100,000:
    /// through `Decodable`'s containers, thirty item results made the decode a fifth of the rebuild's CPU.
    /// A test holds it to `Decodable` on random results.
    public init(storedForm document: JSONValue) throws {
        let result = try StoredObject(document, at: "result")
        self.init(
            items: try result.array("items").enumerated().map { index, node in
                let item = try StoredObject(node, at: "items[\(index)]")
                return ItemResult(
                    itemId: ItemID(unchecked: try item.string("itemId")), questionId: QuestionID(unchecked: try item.string("questionId")),
                    kind: try item.raw(ItemKind.self, "kind"), correct: try item.correctness("correct"), pointsEarned: try item.number(ifPresent: "pointsEarned"),
                    pointsPossible: try item.number("pointsPossible"), gradedBy: try item.raw(ifPresent: GradedBy.self, "gradedBy"))
            },
            rawScore: try result.number("rawScore"), maxScore: try result.number("maxScore"), scaledScore: try result.number("scaledScore"),
            passed: try result.bool(ifPresent: "passed"), outcome: try result.raw(Outcome.self, "outcome"),
            findings: try result.array("findings").enumerated().map { index, node in
                let finding = try StoredObject(node, at: "findings[\(index)]")
                return Finding(
                    itemId: ItemID(unchecked: try finding.string("itemId")), questionId: QuestionID(unchecked: try finding.string("questionId")),
                    optionId: try finding.string("optionId"), severity: try finding.raw(FindingSeverity.self, "severity"))
            },
            pendingItems: try result.array("pendingItems").map { node in
                guard case .string(let id) = node else { throw StoredObject.malformed("pendingItems holds \(node), not an item id") }
                return ItemID(unchecked: id)
            })
    }
}

/// An object of a stored document, read member by member; a member that is missing or of the wrong kind is
/// a `DecodingError` naming where it is.
private struct StoredObject {
    let members: [String: JSONValue]
    let path: String

    init(_ node: JSONValue, at path: String) throws {
        guard case .object(let members) = node else { throw Self.malformed("\(path) is \(node), not an object") }
        self.members = members
        self.path = path
    }

    static func malformed(_ detail: String) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "stored score result: \(detail)"))
    }

    private func member(_ key: String) throws -> JSONValue {
        guard let node = members[key] else { throw Self.malformed("\(path).\(key) is missing") }
        return node
    }

    private func wrongKind(_ key: String, _ node: JSONValue, expected: String) -> DecodingError {
        Self.malformed("\(path).\(key) is \(node), not \(expected)")
    }

    func string(_ key: String) throws -> String {
        let node = try member(key)
        guard case .string(let text) = node else { throw wrongKind(key, node, expected: "a string") }
        return text
    }

    func number(_ key: String) throws -> Double {
        let node = try member(key)
        guard case .number(let number) = node else { throw wrongKind(key, node, expected: "a number") }
        return number
    }

    func number(ifPresent key: String) throws -> Double? {
        guard let node = members[key], node != .null else { return nil }
        return try number(key)
    }

    func bool(ifPresent key: String) throws -> Bool? {
        guard let node = members[key], node != .null else { return nil }
        guard case .bool(let flag) = node else { throw wrongKind(key, node, expected: "a boolean") }
        return flag
    }

    func array(_ key: String) throws -> [JSONValue] {
        let node = try member(key)
        guard case .array(let elements) = node else { throw wrongKind(key, node, expected: "an array") }
        return elements
    }

    func raw<Value: RawRepresentable<String>>(_ type: Value.Type, _ key: String) throws -> Value {
        let text = try string(key)
        guard let value = Value(rawValue: text) else { throw Self.malformed("\(path).\(key) is \"\(text)\", not a \(type)") }
        return value
    }

    func raw<Value: RawRepresentable<String>>(ifPresent type: Value.Type, _ key: String) throws -> Value? {
        guard let node = members[key], node != .null else { return nil }
        return try raw(type, key)
    }

    /// `true`, `false`, `"partial"` or `"pending"`, as `Correctness` encodes itself.
    func correctness(_ key: String) throws -> Correctness {
        switch try member(key) {
        case .bool(true): return .correct
        case .bool(false): return .incorrect
        case .string("partial"): return .partial
        case .string("pending"): return .pending
        case let node: throw wrongKind(key, node, expected: "true, false, \"partial\" or \"pending\"")
        }
    }
}
