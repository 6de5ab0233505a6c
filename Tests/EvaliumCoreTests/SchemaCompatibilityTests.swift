import EvaliumCore
import Foundation
import Testing

@Suite("Schema evolution (seed 003 §5): what a published event schema may not do without a new version")
struct SchemaCompatibilityTests {
    static let released: JSONValue = [
        "type": "object", "required": ["attemptId", "state"], "additionalProperties": false,
        "properties": [
            "attemptId": ["type": "string", "pattern": "^att_"],
            "state": ["enum": ["final", "pending_human_review", "superseded"]],
            "score": ["type": "number", "minimum": 0, "maximum": 1],
            "count": ["type": "integer"],
            "note": ["type": ["string", "null"]],
            "responses": ["type": "array", "items": ["$ref": "#/$defs/response"]],
        ],
        "$defs": ["response": ["type": "object", "properties": ["questionId": ["type": "string"]]]],
    ]

    /// The released schema with `change` applied at the object found by following `path`.
    static func changed(_ path: [String], _ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
        func apply(_ value: JSONValue, _ path: ArraySlice<String>) -> JSONValue {
            guard case .object(var members) = value else { return value }
            if let key = path.first {
                members[key] = apply(members[key] ?? [:], path.dropFirst())
            } else {
                change(&members)
            }
            return .object(members)
        }
        return apply(released, path[...])
    }

    static let breaking: [(String, JSONValue, String)] = [
        ("remove a field", changed(["properties"]) { $0["score"] = nil }, "/properties/score: removed"),
        ("rename a field", changed(["properties"]) { $0["scaled"] = $0.removeValue(forKey: "score") }, "/properties/score: removed"),
        ("narrow an enum", changed(["properties", "state"]) { $0["enum"] = ["final", "superseded"] }, "/properties/state/enum: narrowed"),
        ("tighten a type", changed(["properties", "score"]) { $0["type"] = "integer" }, "/properties/score/type: tightened"),
        ("drop null from a type", changed(["properties", "note"]) { $0["type"] = "string" }, "/properties/note/type: tightened"),
        ("raise a minimum", changed(["properties", "score"]) { $0["minimum"] = .number(0.5) }, "/properties/score/minimum: tightened"),
        ("add a pattern", changed(["properties", "attemptId"]) { $0["pattern"] = "^att_[0-9A-Z]{26}$" }, "/properties/attemptId/pattern: tightened"),
        ("require a field", changed([]) { $0["required"] = ["attemptId", "state", "score"] }, "/required: score newly required"),
        ("change a nested definition", changed(["$defs", "response", "properties", "questionId"]) { $0["type"] = "integer" },
         "/$defs/response/properties/questionId/type: tightened"),
        ("forbid extra properties in a nested object", changed(["$defs", "response"]) { $0["additionalProperties"] = false },
         "/$defs/response/additionalProperties: tightened"),
    ]

    @Test("each change the seed forbids is reported where it happens", arguments: breaking)
    func breakingChange(name: String, current: JSONValue, expected: String) {
        let changes = SchemaCompatibility.breakingChanges(from: Self.released, to: current)
        #expect(changes.contains { $0.hasPrefix(expected) }, "\(name): \(changes)")
    }

    static let allowed: [(String, JSONValue)] = [
        ("unchanged", released),
        ("add an optional field", changed(["properties"]) { $0["offlineScored"] = ["type": "boolean"] }),
        ("widen an enum", changed(["properties", "state"]) { $0["enum"] = ["final", "pending_human_review", "superseded", "voided"] }),
        ("widen integer to number", changed(["properties", "count"]) { $0["type"] = "number" }),
        ("relax a bound", changed(["properties", "score"]) { $0["maximum"] = 2 }),
        ("stop requiring a field", changed([]) { $0["required"] = ["attemptId"] }),
        ("describe a field", changed(["properties", "score"]) { $0["description"] = "0…1 of the maximum" }),
    ]

    @Test("allowed changes report nothing", arguments: allowed)
    func allowedChange(name: String, current: JSONValue) {
        #expect(SchemaCompatibility.breakingChanges(from: Self.released, to: current).isEmpty, "\(name)")
    }
}
