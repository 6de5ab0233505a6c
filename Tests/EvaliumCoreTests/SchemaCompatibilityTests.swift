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

    /// A changed schema, shown in the test log by its name rather than its whole JSON.
    struct Change: Sendable, CustomTestStringConvertible {
        var name: String
        var schema: JSONValue
        /// The start of the breaking change expected to be reported; nil for an allowed change.
        var reported: String?

        init(_ name: String, _ schema: JSONValue, _ reported: String? = nil) {
            (self.name, self.schema, self.reported) = (name, schema, reported)
        }

        var testDescription: String { name }
    }

    /// The §5 rows that need a new version, then each way a schema can admit fewer values.
    static let breaking: [Change] = [
        Change("§5 remove any field", changed(["properties"]) { $0["score"] = nil }, "/properties/score: removed"),
        Change("§5 rename a field", changed(["properties"]) { $0["scaled"] = $0.removeValue(forKey: "score") }, "/properties/score: removed"),
        Change("§5 narrow an enum", changed(["properties", "state"]) { $0["enum"] = ["final", "superseded"] }, "/properties/state/enum: narrowed"),
        Change("§5 tighten a type: number to integer", changed(["properties", "score"]) { $0["type"] = "integer" }, "/properties/score/type: tightened"),
        Change("drop null from a type", changed(["properties", "note"]) { $0["type"] = "string" }, "/properties/note/type: tightened"),
        Change("change a type", changed(["properties", "attemptId"]) { $0["type"] = "integer" }, "/properties/attemptId/type: tightened"),
        Change("require a field", changed([]) { $0["required"] = ["attemptId", "state", "score"] }, "/required: score newly required"),
        Change("stop requiring a field (consumers count on it)", changed([]) { $0["required"] = ["attemptId"] }, "/required: state no longer required"),
        Change("raise a minimum", changed(["properties", "score"]) { $0["minimum"] = .number(0.5) }, "/properties/score/minimum: tightened"),
        Change("lower a maximum", changed(["properties", "score"]) { $0["maximum"] = .number(0.5) }, "/properties/score/maximum: tightened"),
        Change("add a minLength", changed(["properties", "attemptId"]) { $0["minLength"] = 1 }, "/properties/attemptId/minLength: tightened"),
        Change("add a minItems", changed(["properties", "responses"]) { $0["minItems"] = 1 }, "/properties/responses/minItems: tightened"),
        Change("change a pattern", changed(["properties", "attemptId"]) { $0["pattern"] = "^att_[0-9A-Z]{26}$" }, "/properties/attemptId/pattern: tightened"),
        Change("add a const", changed(["properties", "state"]) { $0["const"] = "final" }, "/properties/state/const: tightened"),
        Change("forbid extra properties", changed(["$defs", "response"]) { $0["additionalProperties"] = false },
            "/$defs/response/additionalProperties: tightened"),
        Change("change a nested definition", changed(["$defs", "response", "properties", "questionId"]) { $0["type"] = "integer" },
            "/$defs/response/properties/questionId/type: tightened"),
        Change("remove a nested definition", changed([]) { $0["$defs"] = [:] }, "/$defs/response: removed"),
        Change("tighten the items of an array", changed(["properties", "responses"]) { $0["items"] = ["type": "object", "required": ["questionId"]] },
            "/properties/responses/items/type: tightened"),
        Change("change a keyword not compared finely", changed(["properties", "responses"]) { $0["uniqueItems"] = true },
            "/properties/responses/uniqueItems: changed"),
    ]

    @Test("each change the seed forbids is reported where it happens", arguments: breaking)
    func breakingChange(_ change: Change) throws {
        let expected = try #require(change.reported)
        let changes = SchemaCompatibility.breakingChanges(from: Self.released, to: change.schema)
        #expect(changes.contains { $0.hasPrefix(expected) }, "\(changes)")
    }

    static let allowed: [Change] = [
        Change("unchanged", released),
        Change("§5 add an optional field", changed(["properties"]) { $0["offlineScored"] = ["type": "boolean"] }),
        Change("§5 widen an enum (allowed, with caution)", changed(["properties", "state"]) { $0["enum"] = ["final", "pending_human_review", "superseded", "voided"] }),
        Change("widen integer to number", changed(["properties", "count"]) { $0["type"] = "number" }),
        Change("relax a bound", changed(["properties", "score"]) { $0["maximum"] = 2 }),
        Change("allow extra properties", changed([]) { $0["additionalProperties"] = nil }),
        Change("describe a field", changed(["properties", "score"]) { $0["description"] = "0…1 of the maximum" }),
    ]

    @Test("allowed changes report nothing", arguments: allowed)
    func allowedChange(_ change: Change) {
        #expect(SchemaCompatibility.breakingChanges(from: Self.released, to: change.schema) == [])
    }
}
