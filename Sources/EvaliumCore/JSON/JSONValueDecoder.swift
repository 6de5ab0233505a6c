import Foundation

/// Decodes a `Decodable` value from a parsed `JSONValue`, reading dates as `WireJSON` writes them (RFC 3339).
///
/// It exists for stored documents read in bulk: a reporting rebuild decodes a score result, a snapshot frame
/// and a subject list for each of 100,000 submissions, and `JSONDecoder` spent a third of the rebuild's
/// CPU on them. Over an already parsed tree, one decoder object serves every nested value (it is re-pointed,
/// not re-created), and a member is one dictionary lookup.
public struct JSONValueDecoder {
    public init() {}

    public func decode<Value: Decodable>(_ type: Value.Type, from document: JSONValue) throws -> Value {
        try TreeDecoder(document).unwrap(type)
    }
}

/// The one decoder object of a decode: `value` is the node being decoded, `codingPath` the way to it. Both
/// are pushed and popped as nested values are decoded; containers keep no copy of the path (a copy would
/// make every push copy the array), only where theirs ends.
private final class TreeDecoder: Decoder {
    var value: JSONValue
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [any CodingKey] = []) {
        self.value = value
        self.codingPath = codingPath
    }

    /// Decodes `type` from the current node: a date from its RFC 3339 text, an untyped document as it is,
    /// anything else by its own `init(from:)`.
    func unwrap<Value: Decodable>(_ type: Value.Type) throws -> Value {
        if type == Date.self {
            guard case .string(let text) = value, let date = RFC3339.parse(text) else {
                throw typeMismatch(type, expected: "an RFC 3339 timestamp such as 2026-11-22T05:41:00.123Z", found: value, at: codingPath)
            }
            return date as! Value
        }
        if type == JSONValue.self { return value as! Value }
        return try Value(from: self)
    }

    /// Decodes `type` from `child`, reached from the current node by `nestedKeys` (a nested container's own
    /// keys, usually none) and `key`, then points back at the current node.
    func unwrap<Value: Decodable>(_ type: Value.Type, from child: JSONValue, nestedKeys: [any CodingKey], key: any CodingKey) throws -> Value {
        let parent = value
        value = child
        codingPath.append(contentsOf: nestedKeys)
        codingPath.append(key)
        defer {
            value = parent
            codingPath.removeLast(nestedKeys.count + 1)
        }
        return try unwrap(type)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw typeMismatch([String: JSONValue].self, expected: "an object", found: value, at: codingPath) }
        return KeyedDecodingContainer(ObjectContainer<Key>(decoder: self, members: members, nestedKeys: []))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw typeMismatch([JSONValue].self, expected: "an array", found: value, at: codingPath) }
        return ArrayContainer(decoder: self, elements: elements, nestedKeys: [])
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { NodeContainer(decoder: self) }
}

/// Scalars out of nodes, shared by the three containers.
private enum Scalar {
    static func bool(_ node: JSONValue) -> Bool? {
        if case .bool(let flag) = node { return flag }
        return nil
    }

    static func string(_ node: JSONValue) -> String? {
        if case .string(let text) = node { return text }
        return nil
    }

    static func double(_ node: JSONValue) -> Double? {
        if case .number(let number) = node { return number }
        return nil
    }

    /// An integer only when the number is one exactly and fits the type, as `JSONDecoder` requires.
    static func integer<Integer: FixedWidthInteger>(_ node: JSONValue, as type: Integer.Type) -> Integer? {
        guard case .number(let number) = node, number.rounded(.towardZero) == number else { return nil }
        return Integer(exactly: number)
    }
}

private struct ObjectContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: TreeDecoder
    let members: [String: JSONValue]
    /// Keys from the decoder's path to this container, when it was nested rather than decoded.
    let nestedKeys: [any CodingKey]

    var codingPath: [any CodingKey] { decoder.codingPath + nestedKeys }

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let node = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(codingPath: codingPath, debugDescription: "no member `\(key.stringValue)`"))
        }
        return node
    }

    private func scalar<Value>(_ key: Key, _ read: (JSONValue) -> Value?) throws -> Value {
        let node = try member(key)
        guard let scalar = read(node) else { throw typeMismatch(Value.self, expected: "\(Value.self)", found: node, at: codingPath + [key]) }
        return scalar
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try scalar(key, Scalar.bool) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try scalar(key, Scalar.string) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try scalar(key, Scalar.double) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try scalar(key, Scalar.double)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try scalar(key) { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try scalar(key) { Scalar.integer($0, as: type) } }

    func decode<Value: Decodable>(_ type: Value.Type, forKey key: Key) throws -> Value {
        try decoder.unwrap(type, from: try member(key), nestedKeys: nestedKeys, key: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        let node = try member(key)
        guard case .object(let nested) = node else { throw typeMismatch([String: JSONValue].self, expected: "an object", found: node, at: codingPath + [key]) }
        return KeyedDecodingContainer(ObjectContainer<NestedKey>(decoder: decoder, members: nested, nestedKeys: nestedKeys + [key]))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let node = try member(key)
        guard case .array(let elements) = node else { throw typeMismatch([JSONValue].self, expected: "an array", found: node, at: codingPath + [key]) }
        return ArrayContainer(decoder: decoder, elements: elements, nestedKeys: nestedKeys + [key])
    }

    func superDecoder() throws -> any Decoder { TreeDecoder(members["super"] ?? .null, codingPath: codingPath + [SuperKey()]) }
    func superDecoder(forKey key: Key) throws -> any Decoder { TreeDecoder(members[key.stringValue] ?? .null, codingPath: codingPath + [key]) }
}

private struct ArrayContainer: UnkeyedDecodingContainer {
    let decoder: TreeDecoder
    let elements: [JSONValue]
    /// Keys from the decoder's path to this container, when it was nested rather than decoded.
    let nestedKeys: [any CodingKey]
    private(set) var currentIndex = 0

    init(decoder: TreeDecoder, elements: [JSONValue], nestedKeys: [any CodingKey]) {
        self.decoder = decoder
        self.elements = elements
        self.nestedKeys = nestedKeys
    }

    var codingPath: [any CodingKey] { decoder.codingPath + nestedKeys }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex == elements.count }

    /// The key of the element at `currentIndex`, for paths in errors.
    private var indexKey: ElementIndex { ElementIndex(intValue: currentIndex) }

    private mutating func next<Value>(_ type: Value.Type) throws -> JSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type, DecodingError.Context(codingPath: codingPath + [indexKey], debugDescription: "the array ends at \(currentIndex) elements"))
        }
        defer { currentIndex += 1 }
        return elements[currentIndex]
    }

    private mutating func scalar<Value>(_ read: (JSONValue) -> Value?) throws -> Value {
        let key = indexKey
        let node = try next(Value.self)
        guard let scalar = read(node) else { throw typeMismatch(Value.self, expected: "\(Value.self)", found: node, at: codingPath + [key]) }
        return scalar
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try scalar(Scalar.bool) }
    mutating func decode(_ type: String.Type) throws -> String { try scalar(Scalar.string) }
    mutating func decode(_ type: Double.Type) throws -> Double { try scalar(Scalar.double) }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try scalar(Scalar.double)) }
    mutating func decode(_ type: Int.Type) throws -> Int { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try scalar { Scalar.integer($0, as: type) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try scalar { Scalar.integer($0, as: type) } }

    mutating func decode<Value: Decodable>(_ type: Value.Type) throws -> Value {
        let key = indexKey
        return try decoder.unwrap(type, from: try next(type), nestedKeys: nestedKeys, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let key = indexKey
        let node = try next([String: JSONValue].self)
        guard case .object(let members) = node else { throw typeMismatch([String: JSONValue].self, expected: "an object", found: node, at: codingPath + [key]) }
        return KeyedDecodingContainer(ObjectContainer<NestedKey>(decoder: decoder, members: members, nestedKeys: nestedKeys + [key]))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let key = indexKey
        let node = try next([JSONValue].self)
        guard case .array(let nested) = node else { throw typeMismatch([JSONValue].self, expected: "an array", found: node, at: codingPath + [key]) }
        return ArrayContainer(decoder: decoder, elements: nested, nestedKeys: nestedKeys + [key])
    }

    mutating func superDecoder() throws -> any Decoder {
        let key = indexKey
        return TreeDecoder(try next(JSONValue.self), codingPath: codingPath + [key])
    }
}

/// Holds only the decoder (its current node is this container's), so it fits an existential's inline
/// buffer: a single-value decode (every identifier, every enum) allocates nothing.
private struct NodeContainer: SingleValueDecodingContainer {
    let decoder: TreeDecoder

    var node: JSONValue { decoder.value }
    var codingPath: [any CodingKey] { decoder.codingPath }

    private func scalar<Value>(_ read: (JSONValue) -> Value?) throws -> Value {
        guard let scalar = read(node) else { throw typeMismatch(Value.self, expected: "\(Value.self)", found: node, at: codingPath) }
        return scalar
    }

    func decodeNil() -> Bool { node == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try scalar(Scalar.bool) }
    func decode(_ type: String.Type) throws -> String { try scalar(Scalar.string) }
    func decode(_ type: Double.Type) throws -> Double { try scalar(Scalar.double) }
    func decode(_ type: Float.Type) throws -> Float { Float(try scalar(Scalar.double)) }
    func decode(_ type: Int.Type) throws -> Int { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: Int8.Type) throws -> Int8 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: Int16.Type) throws -> Int16 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: Int32.Type) throws -> Int32 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: Int64.Type) throws -> Int64 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt.Type) throws -> UInt { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try scalar { Scalar.integer($0, as: type) } }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try scalar { Scalar.integer($0, as: type) } }

    func decode<Value: Decodable>(_ type: Value.Type) throws -> Value { try decoder.unwrap(type) }
}

/// The member `superDecoder()` reads, as `JSONDecoder` names it.
private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }

    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

/// An array element's place, as a coding key in error paths.
private struct ElementIndex: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private func typeMismatch(_ type: Any.Type, expected: String, found node: JSONValue, at path: [any CodingKey]) -> DecodingError {
    .typeMismatch(type, DecodingError.Context(codingPath: path, debugDescription: "expected \(expected), found \(node.kindName)"))
}

extension JSONValue {
    /// What kind of node this is, for messages.
    fileprivate var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
