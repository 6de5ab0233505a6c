/// Seed 003 §5: which changes to a published event schema need a new version. A consumer written against
/// the released schema must accept every payload the changed schema allows, so what a schema may no longer
/// promise (a field, an enum value, a looser type) is a breaking change; adding an optional field or
/// widening an enum is not.
public enum SchemaCompatibility {
    /// Every change from `released` to `current` that §5 forbids without a new version, each naming where
    /// (a JSON pointer into the schema) and what.
    public static func breakingChanges(from released: JSONValue, to current: JSONValue) -> [String] {
        var changes: [String] = []
        compare(released, current, at: "", into: &changes)
        return changes
    }

    private static func compare(_ old: JSONValue, _ new: JSONValue, at pointer: String, into changes: inout [String]) {
        guard case .object(let before) = old, case .object(let after) = new else {
            if old != new { changes.append("\(pointer.isEmpty ? "/" : pointer): replaced") }
            return
        }
        let types = (allowed(before["type"]), allowed(after["type"]))
        if let oldTypes = types.0 {
            let newTypes = types.1 ?? oldTypes
            let lost = oldTypes.filter { type in !newTypes.contains(type) && !(type == "integer" && newTypes.contains("number")) }
            if !lost.isEmpty { changes.append("\(pointer)/type: tightened (no longer \(lost.sorted().joined(separator: ", ")))") }
        } else if types.1 != nil {
            changes.append("\(pointer)/type: tightened (a type where there was none)")
        }
        if let oldValues = enumValues(before["enum"]) {
            let newValues = enumValues(after["enum"]) ?? []
            let removed = oldValues.filter { !newValues.contains($0) }
            if after["enum"] == nil {
                // An enum dropped admits more: a widening.
            } else if !removed.isEmpty {
                changes.append("\(pointer)/enum: narrowed (removed \(removed.map(describe).joined(separator: ", ")))")
            }
        } else if after["enum"] != nil {
            changes.append("\(pointer)/enum: narrowed (an enum where any value was allowed)")
        }
        if after["const"] != nil, after["const"] != before["const"] { changes.append("\(pointer)/const: tightened") }
        for bound in ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"] {
            if isTighter(after[bound], than: before[bound], larger: true) { changes.append("\(pointer)/\(bound): tightened") }
        }
        for bound in ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"] {
            if isTighter(after[bound], than: before[bound], larger: false) { changes.append("\(pointer)/\(bound): tightened") }
        }
        for keyword in ["pattern", "format"] where after[keyword] != nil && after[keyword] != before[keyword] {
            changes.append("\(pointer)/\(keyword): tightened (\(before[keyword].map(describe) ?? "none") → \(describe(after[keyword]!)))")
        }
        if after["additionalProperties"] == .bool(false), before["additionalProperties"] != .bool(false) {
            changes.append("\(pointer)/additionalProperties: tightened (no longer allowed)")
        }
        let oldRequired = Set(strings(before["required"]))
        for field in strings(after["required"]) where !oldRequired.contains(field) {
            changes.append("\(pointer)/required: \(field) newly required")
        }
        if case .object(let oldProperties)? = before["properties"] {
            let newProperties = after["properties"].flatMap { value -> [String: JSONValue]? in
                if case .object(let members) = value { return members }
                return nil
            } ?? [:]
            for (name, schema) in oldProperties.sorted(by: { $0.key < $1.key }) {
                guard let changed = newProperties[name] else {
                    changes.append("\(pointer)/properties/\(name): removed (or renamed)")
                    continue
                }
                compare(schema, changed, at: "\(pointer)/properties/\(name)", into: &changes)
            }
        }
        for keyword in ["items", "additionalProperties"] {
            if let oldSchema = before[keyword], case .object = oldSchema, let newSchema = after[keyword] {
                compare(oldSchema, newSchema, at: "\(pointer)/\(keyword)", into: &changes)
            }
        }
        if case .object(let oldDefinitions)? = before["$defs"] {
            for (name, schema) in oldDefinitions.sorted(by: { $0.key < $1.key }) {
                guard let changed = after["$defs"]?[name] else {
                    changes.append("\(pointer)/$defs/\(name): removed")
                    continue
                }
                compare(schema, changed, at: "\(pointer)/$defs/\(name)", into: &changes)
            }
        }
        if after["$ref"] != before["$ref"] { changes.append("\(pointer)/$ref: replaced") }
        if after["oneOf"] != before["oneOf"] || after["anyOf"] != before["anyOf"] || after["allOf"] != before["allOf"] {
            changes.append("\(pointer): its combination of schemas (oneOf, anyOf, allOf) changed")
        }
    }

    private static func allowed(_ type: JSONValue?) -> Set<String>? {
        switch type {
        case .string(let one)?: [one]
        case .array(let many)?: Set(many.compactMap(\.stringValue))
        default: nil
        }
    }

    private static func enumValues(_ value: JSONValue?) -> [JSONValue]? {
        if case .array(let values)? = value { return values }
        return nil
    }

    private static func strings(_ value: JSONValue?) -> [String] {
        if case .array(let values)? = value { return values.compactMap(\.stringValue) }
        return []
    }

    /// Whether a bound became stricter: `larger` for lower bounds (a higher minimum is stricter).
    private static func isTighter(_ new: JSONValue?, than old: JSONValue?, larger: Bool) -> Bool {
        guard case .number(let newBound)? = new else { return false }
        guard case .number(let oldBound)? = old else { return true }
        return larger ? newBound > oldBound : newBound < oldBound
    }

    private static func describe(_ value: JSONValue) -> String {
        (try? CanonicalJSON.bytes(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}
