/// Why a text is not a JSON document Evalium accepts, and the byte offset where that became clear.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String

    public var description: String { "\(reason) at byte \(offset)" }
}

extension JSONValue {
    /// Nesting deeper than this is refused, as Foundation's decoder refuses it, so a hostile body cannot
    /// exhaust the stack.
    public static let maximumDepth = 512

    /// Parses one JSON document (RFC 8259) in the I-JSON profile (RFC 7493): UTF-8 only, no member name
    /// twice in one object, no lone surrogate escapes, and numbers that fit a Double. Whitespace may
    /// surround the document; nothing else may follow it.
    ///
    /// It exists because `JSONDecoder` reaches an untyped `JSONValue` only by trial (`Bool`? `Double`?
    /// `String`? …), throwing and catching at every node; ledger verification and request checks decode
    /// millions of such documents.
    public init(parsing bytes: some Collection<UInt8>) throws(JSONSyntaxError) {
        let parsed = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONSyntaxError) in try JSONValue(parsing: UnsafeRawBufferPointer(buffer)) }
        }
        if let parsed {
            self = try parsed.get()
        } else {
            self = try JSONValue(parsing: Array(bytes))
        }
    }

    /// `init(parsing:)` over raw bytes, for callers that already hold a buffer (a database row, a body).
    public init(parsing buffer: UnsafeRawBufferPointer) throws(JSONSyntaxError) {
        var parser = JSONParser(buffer)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.atEnd else { throw parser.error("unexpected text after the document") }
        self = value
    }
}

/// A recursive-descent reader over UTF-8 bytes, one value per call.
private struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, reason: reason) }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while let byte = current, byte == .space || byte == .tab || byte == .lineFeed || byte == .carriageReturn {
            position += 1
        }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < JSONValue.maximumDepth else { throw error("nested deeper than \(JSONValue.maximumDepth) levels") }
        guard let byte = current else { throw error("a value was expected") }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("a value was expected")
        }
    }

    private mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        // Room for a typical stored object at once, rather than growing through 1, 2, 4 and 8 members.
        var members = [String: JSONValue](minimumCapacity: 8)
        try commaSeparated(closedBy: UInt8(ascii: "}"), in: "an object") { parser throws(JSONSyntaxError) in
            guard parser.current == UInt8(ascii: "\"") else { throw parser.error("a member name in quotes was expected") }
            let nameOffset = parser.position
            let name = try parser.string()
            parser.skipWhitespace()
            guard parser.current == UInt8(ascii: ":") else { throw parser.error("':' was expected after a member name") }
            parser.position += 1
            parser.skipWhitespace()
            guard members.updateValue(try parser.value(depth: depth + 1), forKey: name) == nil else {
                throw JSONSyntaxError(offset: nameOffset, reason: "the member name \"\(name)\" appears twice in one object")
            }
        }
        return .object(members)
    }

    private mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        var elements: [JSONValue] = []
        try commaSeparated(closedBy: UInt8(ascii: "]"), in: "an array") { parser throws(JSONSyntaxError) in
            elements.append(try parser.value(depth: depth + 1))
        }
        return .array(elements)
    }

    /// From an opening bracket to its `closing` one: none, or `readElement` again after each comma.
    private mutating func commaSeparated(
        closedBy closing: UInt8, in container: String, _ readElement: (inout JSONParser) throws(JSONSyntaxError) -> Void
    ) throws(JSONSyntaxError) {
        position += 1
        skipWhitespace()
        if current == closing {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            try readElement(&self)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case closing: position += 1; return
            default: throw error("',' or '\(Character(Unicode.Scalar(closing)))' was expected in \(container)")
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - position >= count,
              (0..<count).allSatisfy({ bytes[position + $0] == word.utf8Start[$0] })
        else { throw error("a value was expected") }
        position += count
    }

    /// A string from its opening quote; the common case, with no escape, is validated and copied straight
    /// from the input (a short one into the string itself, with no allocation).
    private mutating func string() throws(JSONSyntaxError) -> String {
        position += 1
        let start = position
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw error("a control character must be escaped in a string") }
            position += 1
        }
        guard let stop = current else { throw error("a string is not closed") }
        let string: String?
        if stop == UInt8(ascii: "\"") {
            string = UnsafeRawBufferPointer(rebasing: bytes[start..<position]).withMemoryRebound(to: UInt8.self) {
                String(validating: $0, as: UTF8.self)
            }
        } else {
            var text = Array(bytes[start..<position])
            try appendEscapedRest(to: &text)
            string = String(validating: text, as: UTF8.self)
        }
        position += 1
        guard let string else { throw JSONSyntaxError(offset: start, reason: "a string is not valid UTF-8") }
        return string
    }

    /// The rest of a string from its first backslash to (not past) its closing quote, unescaped.
    private mutating func appendEscapedRest(to text: inout [UInt8]) throws(JSONSyntaxError) {
        while let byte = current, byte != UInt8(ascii: "\"") {
            guard byte >= 0x20 else { throw error("a control character must be escaped in a string") }
            guard byte == UInt8(ascii: "\\") else {
                text.append(byte)
                position += 1
                continue
            }
            position += 1
            guard let escaped = current else { break }
            position += 1
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
            case UInt8(ascii: "b"): text.append(0x08)
            case UInt8(ascii: "f"): text.append(0x0C)
            case UInt8(ascii: "n"): text.append(.lineFeed)
            case UInt8(ascii: "r"): text.append(.carriageReturn)
            case UInt8(ascii: "t"): text.append(.tab)
            case UInt8(ascii: "u"): UTF8.encode(try unicodeEscape()) { text.append($0) }
            default: throw error("an unknown escape in a string")
            }
        }
        guard current != nil else { throw error("a string is not closed") }
    }

    /// The scalar of a `\u` escape (the backslash and `u` already read), joining a surrogate pair.
    private mutating func unicodeEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let first = try hexQuad()
        switch first {
        case 0xD800...0xDBFF:
            guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                throw error("a high surrogate escape must be followed by a low one")
            }
            position += 2
            let second = try hexQuad()
            guard (0xDC00...0xDFFF).contains(second) else { throw error("a high surrogate escape must be followed by a low one") }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        case 0xDC00...0xDFFF:
            throw error("a low surrogate escape without a high one")
        default:
            return Unicode.Scalar(first)!
        }
    }

    private mutating func hexQuad() throws(JSONSyntaxError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("\\u must be followed by four hex digits") }
        var scalar: UInt32 = 0
        for _ in 0..<4 {
            let digit: UInt8
            switch bytes[position] {
            case let byte where (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte): digit = byte - UInt8(ascii: "0")
            case let byte where (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte): digit = byte - UInt8(ascii: "a") + 10
            case let byte where (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("\\u must be followed by four hex digits")
            }
            scalar = scalar << 4 | UInt32(digit)
            position += 1
        }
        return scalar
    }

    /// A number as RFC 8259 writes it (no leading zeros, no bare point, no `+`), as the nearest Double.
    private mutating func number() throws(JSONSyntaxError) -> Double {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        if current == UInt8(ascii: "0") {
            position += 1
            if let byte = current, byte.isDigit { throw error("a number must not start with 0") }
        } else {
            guard digits() > 0 else { throw error("a digit was expected") }
        }
        var isInteger = true
        if current == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard digits() > 0 else { throw error("a digit was expected after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw error("a digit was expected in an exponent") }
        }
        let text = bytes[start..<position]
        // Up to 15 digits an integer is exact in a Double, and summing them is much cheaper than strtod.
        if isInteger, text.count <= 15 {
            let negative = text.first == UInt8(ascii: "-")
            let magnitude = text.dropFirst(negative ? 1 : 0).reduce(0) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
            return Double(negative ? -magnitude : magnitude)
        }
        guard let number = Double(String(decoding: text, as: UTF8.self)), number.isFinite else {
            throw JSONSyntaxError(offset: start, reason: "a number does not fit a 64-bit float")
        }
        return number
    }

    private mutating func digits() -> Int {
        let start = position
        while let byte = current, byte.isDigit { position += 1 }
        return position - start
    }
}

extension UInt8 {
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let lineFeed = UInt8(ascii: "\n")
    fileprivate static let carriageReturn = UInt8(ascii: "\r")

    fileprivate var isDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
}
