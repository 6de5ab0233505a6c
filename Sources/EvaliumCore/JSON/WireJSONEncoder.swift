import Foundation

/// Encodes a value to the same bytes as `WireJSON.makeEncoder()` (compact, member names sorted by their
/// UTF-8 bytes, slashes unescaped, dates as RFC 3339 strings, numbers as Swift prints them without a
/// trailing `.0`), without Foundation's `JSONEncoder`.
///
/// It exists because encoding a submission view through `JSONEncoder` was a quarter of the server's CPU
/// under a load of reads: that encoder makes a new encoder object and tries several dynamic casts for every
/// value. Here the common scalars are recognised by their type without a cast chain and written straight
/// into one buffer, and only structures get a node of their own. A test holds the bytes to `JSONEncoder`'s.
///
/// Coding paths are not tracked (none of our types reads them); a value that cannot be written (a NaN)
/// is reported without one.
public enum WireJSONEncoder {
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4_096)
        try WireNode.of(value).write(to: &bytes)
        return bytes
    }
}

/// One encoded value; objects and arrays are references so that their containers can fill them in later.
private enum WireNode {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsignedInteger(UInt64)
    /// A number already spelled out (floating point, `Decimal`).
    case number(String)
    case string(String)
    case object(WireObject)
    case array(WireArray)
    /// What a nested encoder (`superEncoder`) ends up holding.
    case deferred(NodeEncoder)

    static func of<Value: Encodable>(_ value: Value) throws -> WireNode {
        // The types the stored and wire forms use most, recognised by type before any encoder is made.
        if Value.self == String.self { return .string(value as! String) }
        if Value.self == Date.self { return .string((value as! Date).rfc3339) }
        if Value.self == Int.self { return .integer(Int64(value as! Int)) }
        if Value.self == Bool.self { return .bool(value as! Bool) }
        if Value.self == Double.self { return try number(value as! Double) }
        // What `JSONEncoder` writes in a form of its own rather than as the type encodes itself.
        if Value.self == Data.self { return .string((value as! Data).base64EncodedString()) }
        if Value.self == URL.self { return .string((value as! URL).absoluteString) }
        if Value.self == Decimal.self { return .number((value as! Decimal).description) }
        let encoder = NodeEncoder()
        try value.encode(to: encoder)
        return encoder.node ?? .object(WireObject())
    }

    static func number<Number: BinaryFloatingPoint & LosslessStringConvertible>(_ value: Number) throws -> WireNode {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not a JSON number"))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return .number(text)
    }

    func write(to bytes: inout [UInt8]) throws {
        switch self {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): bytes.append(contentsOf: String(value).utf8)
        case .unsignedInteger(let value): bytes.append(contentsOf: String(value).utf8)
        case .number(let text): bytes.append(contentsOf: text.utf8)
        case .string(let text): Self.write(string: text, to: &bytes)
        case .array(let array):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in array.elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                try element.write(to: &bytes)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            for (index, member) in object.sortedMembers().enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.write(string: member.key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                try member.value.write(to: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
        case .deferred(let encoder): try (encoder.node ?? .object(WireObject())).write(to: &bytes)
        }
    }

    /// A JSON string as `JSONEncoder` escapes it: quote, backslash and the C0 controls only (the short forms
    /// where JSON has them), everything else as UTF-8.
    static func write(string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        defer { bytes.append(UInt8(ascii: "\"")) }
        let needsEscapes = { (byte: UInt8) in byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") }
        guard string.utf8.withContiguousStorageIfAvailable({ $0.contains(where: needsEscapes) }) ?? string.utf8.contains(where: needsEscapes) else {
            bytes.append(contentsOf: string.utf8)
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
    }
}

private final class WireObject {
    var members: [(key: String, value: WireNode)] = []

    /// Members by the UTF-8 bytes of their names; of a name encoded twice, the last value (as `JSONEncoder`).
    func sortedMembers() -> [(key: String, value: WireNode)] {
        guard members.count > 1 else { return members }
        let sorted = members.sorted { precedes($0.key, $1.key) }
        guard zip(sorted, sorted.dropFirst()).contains(where: { $0.key == $1.key }) else { return sorted }
        // A name encoded twice (no synthesized conformance does it): order by name, then by when it was encoded.
        let order = members.indices.sorted { left, right in
            members[left].key == members[right].key ? left < right : precedes(members[left].key, members[right].key)
        }
        var unique: [(key: String, value: WireNode)] = []
        for index in order {
            if let last = unique.last, last.key == members[index].key { unique.removeLast() }
            unique.append(members[index])
        }
        return unique
    }

    /// UTF-8 byte order, compared in place (the generic `lexicographicallyPrecedes` over two UTF-8 views was a
    /// tenth of the encoding).
    private func precedes(_ left: String, _ right: String) -> Bool {
        let inPlace = left.utf8.withContiguousStorageIfAvailable { a in
            right.utf8.withContiguousStorageIfAvailable { b in
                guard let first = a.baseAddress, let second = b.baseAddress else { return a.count < b.count }
                let order = memcmp(first, second, min(a.count, b.count))
                return order == 0 ? a.count < b.count : order < 0
            }
        }
        return (inPlace ?? nil) ?? left.utf8.lexicographicallyPrecedes(right.utf8)
    }
}

private final class WireArray {
    var elements: [WireNode] = []
}

private final class NodeEncoder: Encoder {
    var node: WireNode?
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let object) = node { return KeyedEncodingContainer(KeyedWireContainer(object: object)) }
        let object = WireObject()
        node = .object(object)
        return KeyedEncodingContainer(KeyedWireContainer(object: object))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let array) = node { return UnkeyedWireContainer(array: array) }
        let array = WireArray()
        node = .array(array)
        return UnkeyedWireContainer(array: array)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleWireContainer(encoder: self) }
}

private struct KeyedWireContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: WireObject
    var codingPath: [any CodingKey] { [] }

    private func add(_ node: WireNode, _ key: Key) { object.members.append((key.stringValue, node)) }

    mutating func encodeNil(forKey key: Key) throws { add(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { add(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { add(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { add(try .number(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { add(try .number(value), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { add(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { add(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { add(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { add(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { add(.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { add(.unsignedInteger(UInt64(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { add(.unsignedInteger(UInt64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { add(.unsignedInteger(UInt64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { add(.unsignedInteger(UInt64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { add(.unsignedInteger(value), key) }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws { add(try .of(value), key) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = WireObject()
        add(.object(nested), key)
        return KeyedEncodingContainer(KeyedWireContainer<NestedKey>(object: nested))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = WireArray()
        add(.array(nested), key)
        return UnkeyedWireContainer(array: nested)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

    private func superEncoder(named name: String) -> any Encoder {
        let encoder = NodeEncoder()
        object.members.append((name, .deferred(encoder)))
        return encoder
    }
}

private struct UnkeyedWireContainer: UnkeyedEncodingContainer, WireValueSink {
    let array: WireArray
    var codingPath: [any CodingKey] { [] }
    var count: Int { array.elements.count }

    func add(_ node: WireNode) { array.elements.append(node) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = WireObject()
        add(.object(nested))
        return KeyedEncodingContainer(KeyedWireContainer<NestedKey>(object: nested))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = WireArray()
        add(.array(nested))
        return UnkeyedWireContainer(array: nested)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = NodeEncoder()
        add(.deferred(encoder))
        return encoder
    }
}

private struct SingleWireContainer: SingleValueEncodingContainer, WireValueSink {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { [] }

    func add(_ node: WireNode) { encoder.node = node }
}

/// The value-taking methods an unkeyed and a single-value container share: each value becomes a node, which
/// the container adds (to its array, or as its encoder's one value).
private protocol WireValueSink {
    func add(_ node: WireNode)
}

extension WireValueSink {
    mutating func encodeNil() throws { add(.null) }
    mutating func encode(_ value: Bool) throws { add(.bool(value)) }
    mutating func encode(_ value: String) throws { add(.string(value)) }
    mutating func encode(_ value: Double) throws { add(try .number(value)) }
    mutating func encode(_ value: Float) throws { add(try .number(value)) }
    mutating func encode(_ value: Int) throws { add(.integer(Int64(value))) }
    mutating func encode(_ value: Int8) throws { add(.integer(Int64(value))) }
    mutating func encode(_ value: Int16) throws { add(.integer(Int64(value))) }
    mutating func encode(_ value: Int32) throws { add(.integer(Int64(value))) }
    mutating func encode(_ value: Int64) throws { add(.integer(value)) }
    mutating func encode(_ value: UInt) throws { add(.unsignedInteger(UInt64(value))) }
    mutating func encode(_ value: UInt8) throws { add(.unsignedInteger(UInt64(value))) }
    mutating func encode(_ value: UInt16) throws { add(.unsignedInteger(UInt64(value))) }
    mutating func encode(_ value: UInt32) throws { add(.unsignedInteger(UInt64(value))) }
    mutating func encode(_ value: UInt64) throws { add(.unsignedInteger(value)) }
    mutating func encode(_ value: some Encodable) throws { add(try .of(value)) }
}
