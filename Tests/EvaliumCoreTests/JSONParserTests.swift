import EvaliumCore
import Foundation
import Testing

@Suite("JSON parser", .timeLimit(.minutes(2)))
struct JSONParserTests {
    static func parsed(_ text: String) throws -> JSONValue { try JSONValue(parsing: Array(text.utf8)) }
    static func foundation(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test("reads what Foundation's decoder reads, to the same value", arguments: [
        "null", "true", "false", "0", "-0", "7", "-12", "3.25", "-0.5e-3", "1E+2", "123456789012345", "1234567890123456789",
        "9007199254740993", "1.7976931348623157e308", "5e-324", "0.1", #""""#, #""plain""#, #""é ✓ \u00e9 \ud83d\ude00""#,
        #""quote\" back\\ slash\/ \b\f\n\r\t \u0000""#, "[]", "{}", " [1, [2, [3]], {\"a\": []}] ",
        #"{"id":"sub_01","score":{"raw":3,"max":4.5},"tags":["a","b"],"nested":{"deep":{"deeper":[null,true,false]}}}"#,
        "\t\r\n{\"a\" :\n1 }\n",
    ])
    func agreesWithFoundation(text: String) throws {
        #expect(try Self.parsed(text) == Self.foundation(text))
    }

    @Test("random documents survive a canonical round trip unchanged")
    func randomRoundTrips() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let value = Self.randomValue(depth: 0, using: &generator)
            let text = try CanonicalJSON.bytes(value)
            #expect(try JSONValue(parsing: text) == value)
            #expect(try JSONValue(parsing: text) == Self.foundation(String(decoding: text, as: UTF8.self)))
        }
    }

    @Test("refuses what is not JSON or not I-JSON, saying where", arguments: [
        "", " ", "nul", "tru", "True", "01", "-", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "1e400", "-1e400",
        "[1,]", "[1 2]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{'a':1}", "[", "{", "\"open", "\"bad \\x escape\"",
        "\"\\u12\"", "\"\\ud800\"", "\"\\ud800\\u0041\"", "\"\\udc00\"", "\"raw\ttab\"", "1 2", "{}x",
        #"{"a":1,"a":2}"#, #"{"outer":{"same":1,"same":1}}"#,
    ])
    func refusals(text: String) {
        #expect(throws: JSONSyntaxError.self) { try Self.parsed(text) }
    }

    @Test("refuses bytes that are not UTF-8 inside a string")
    func invalidUTF8() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: [UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\"")]) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: [UInt8(ascii: "\""), 0xED, 0xA0, 0x80, UInt8(ascii: "\"")]) }
    }

    @Test("a member name given twice is named in the error, at its second place")
    func duplicateNamed() {
        let error = #expect(throws: JSONSyntaxError.self) { try Self.parsed(#"{"a":1, "a":2}"#) }
        #expect(error?.description == #"the member name "a" appears twice in one object at byte 8"#)
    }

    @Test("nesting is limited, as Foundation limits it")
    func depth() throws {
        let deepest = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        #expect(throws: Never.self) { try Self.parsed(deepest) }
        let tooDeep = "[" + deepest + "]"
        #expect(throws: JSONSyntaxError.self) { try Self.parsed(tooDeep) }
    }

    static func randomValue(depth: Int, using generator: inout SystemRandomNumberGenerator) -> JSONValue {
        let kinds = depth > 3 ? 4 : 6
        switch Int.random(in: 0..<kinds, using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2:
            return Bool.random(using: &generator)
                ? .number(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)))
                : .number(Double.random(in: -1e12...1e12, using: &generator) * pow(10, Double(Int.random(in: -20...20, using: &generator))))
        case 3: return .string(randomString(using: &generator))
        case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                members[randomString(using: &generator)] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(members)
        }
    }

    static func randomString(using generator: inout SystemRandomNumberGenerator) -> String {
        let alphabet: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "€", "\u{FFFF}", "😀", "\u{10FFFF}"]
        return String(String.UnicodeScalarView((0..<Int.random(in: 0...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
    }
}
