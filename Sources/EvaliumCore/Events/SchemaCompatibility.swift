/// Seed 003 §5: which changes to a published event schema need a new version. A consumer written against
/// the released schema must accept every payload the changed schema allows, so what a schema may no longer
/// promise (a field, a field always present, an enum value, a looser type) is a breaking change; adding an
/// optional field or widening an enum is not.
public enum SchemaCompatibility {
    /// Every change from `released` to `current` that §5 forbids without a new version, each naming where
    /// (a JSON pointer into the schema) and what. A keyword this checker does not compare finely (`oneOf`,
    /// `$ref`, `uniqueItems`, …) is reported whenever it changes, so nothing it cannot judge passes silently.
    public static func breakingChanges(from released: JSONValue, to current: JSONValue) -> [String] {
        var changes: [String] = []
        compare(released, current, at: "", into: &changes)
        return changes
    }

    /// Keywords that describe a schema without changing which values it accepts.
    private static let annotations: Set<String> = [
        "$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly",
    ]
    private static let lowerBounds = ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"]
    private static let upperBounds = ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"]
    private static let compared: Set<String> = annotations.union(lowerBounds).union(upperBounds).union([
        "type", "enum", "const", "pattern", "format", "required", "properties", "items", "additionalProperties", "$defs",
    ])

    private static func compare(_ old: JSONValue, _ new: JSONValue, at pointer: String, into changes: inout [String]) {
        // A `false` schema allowed nothing, so whatever replaces it allows at least as much.
        if old == new || old == .bool(false) { return }
        guard new != .bool(false) else {
            changes.append("\(location(pointer)): tightened (nothing allowed any more)")
            return
        }
        guard let before = members(old), let after = members(new) else {
            changes.append("\(location(pointer)): replaced")
            return
        }
        compareTypes(before["type"], after["type"], at: pointer + "/type", into: &changes)
        if let newValues = array(after["enum"]) {
            if let oldValues = array(before["enum"]) {
                let removed = oldValues.filter { !newValues.contains($0) }
                if !removed.isEmpty { changes.append("\(pointer)/enum: narrowed (removed \(removed.map(describe).joined(separator: ", ")))") }
            } else {
                changes.append("\(pointer)/enum: narrowed (an enum where any value was allowed)")
            }
        }
        if let value = after["const"], value != before["const"] { changes.append("\(pointer)/const: tightened (\(describe(value)))") }
        for bound in lowerBounds where isTighter(after[bound], than: before[bound], lower: true) {
            changes.append("\(pointer)/\(bound): tightened")
        }
        for bound in upperBounds where isTighter(after[bound], than: before[bound], lower: false) {
            changes.append("\(pointer)/\(bound): tightened")
        }
        for keyword in ["pattern", "format"] {
            if let value = after[keyword], value != before[keyword] {
                changes.append("\(pointer)/\(keyword): tightened (\(before[keyword].map(describe) ?? "none") → \(describe(value)))")
            }
        }
        let oldRequired = Set(strings(before["required"]))
        let newRequired = Set(strings(after["required"]))
        for field in newRequired.subtracting(oldRequired).sorted() {
            changes.append("\(pointer)/required: \(field) newly required")
        }
        // A payload may now leave out what every consumer could count on: as good as removed.
        for field in oldRequired.subtracting(newRequired).sorted() {
            changes.append("\(pointer)/required: \(field) no longer required (consumers count on it)")
        }
        // A property is looked up by name, so a renamed one shows up here as removed.
        compareNamed(before["properties"], after["properties"], at: pointer + "/properties", removal: "removed (or renamed)", into: &changes)
        compareNamed(before["$defs"], after["$defs"], at: pointer + "/$defs", removal: "removed", into: &changes)
        // Absent means any value is allowed, the same as `true`.
        for keyword in ["items", "additionalProperties"] {
            compare(before[keyword] ?? true, after[keyword] ?? true, at: "\(pointer)/\(keyword)", into: &changes)
        }
        for keyword in Set(before.keys).union(after.keys).subtracting(compared).sorted() where before[keyword] != after[keyword] {
            changes.append("\(pointer)/\(keyword): changed, and whether that narrows what is allowed is not checked")
        }
    }

    /// A type set that no longer contains an old type is a tightening, except that `number` still admits
    /// every `integer`.
    private static func compareTypes(_ old: JSONValue?, _ new: JSONValue?, at pointer: String, into changes: inout [String]) {
        guard let newTypes = typeNames(new) else { return }
        guard let oldTypes = typeNames(old) else {
            changes.append("\(pointer): tightened (a type where any was allowed)")
            return
        }
        let lost = oldTypes.filter { !newTypes.contains($0) && !($0 == "integer" && newTypes.contains("number")) }
        if !lost.isEmpty { changes.append("\(pointer): tightened (no longer \(lost.sorted().joined(separator: ", ")))") }
    }

    /// Compares the schemas of a name → schema map (`properties`, `$defs`) by name.
    private static func compareNamed(_ old: JSONValue?, _ new: JSONValue?, at pointer: String, removal: String, into changes: inout [String]) {
        guard case .object(let oldSchemas)? = old else { return }
        let newSchemas = new.flatMap(members) ?? [:]
        for (name, schema) in oldSchemas.sorted(by: { $0.key < $1.key }) {
            let location = pointer + "/" + escaped(name)
            if let changed = newSchemas[name] {
                compare(schema, changed, at: location, into: &changes)
            } else {
                changes.append("\(location): \(removal)")
            }
        }
    }

    /// A schema's keywords; `true` is the empty schema.
    private static func members(_ schema: JSONValue) -> [String: JSONValue]? {
        switch schema {
        case .bool(true): [:]
        case .object(let members): members
        default: nil
        }
    }

    private static func typeNames(_ type: JSONValue?) -> Set<String>? {
        switch type {
        case .string(let one)?: [one]
        case .array(let many)?: Set(many.compactMap(\.stringValue))
        default: nil
        }
    }

    private static func array(_ value: JSONValue?) -> [JSONValue]? {
        if case .array(let values)? = value { return values }
        return nil
    }

    private static func strings(_ value: JSONValue?) -> [String] {
        array(value)?.compactMap(\.stringValue) ?? []
    }

    /// Whether a bound became stricter: for a `lower` bound, a higher value is stricter.
    private static func isTighter(_ new: JSONValue?, than old: JSONValue?, lower: Bool) -> Bool {
        guard case .number(let newBound)? = new else { return false }
        guard case .number(let oldBound)? = old else { return true }
        return lower ? newBound > oldBound : newBound < oldBound
    }

    /// RFC 6901: `~` and `/` inside a name are escaped in a JSON pointer.
    private static func escaped(_ name: String) -> String {
        name.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    private static func location(_ pointer: String) -> String {
        pointer.isEmpty ? "(root)" : pointer
    }

    private static func describe(_ value: JSONValue) -> String {
        (try? CanonicalJSON.bytes(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }
}
