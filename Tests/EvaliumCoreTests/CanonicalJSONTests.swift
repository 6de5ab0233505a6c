import EvaliumCore
import Foundation
import Testing

@Suite("RFC 8785 canonical JSON", .timeLimit(.minutes(2)))
struct CanonicalJSONTests {
    static func text(_ value: JSONValue) throws -> String { String(decoding: try CanonicalJSON.bytes(value), as: UTF8.self) }

    @Test("numbers are written as ECMAScript writes them", arguments: [
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.5, "-1.5"), (4.5, "4.5"), (0.002, "0.002"), (1e-7, "1e-7"),
        (0.000001, "0.000001"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (123456789012345680000.0, "123456789012345680000"),
        (333333333.33333329, "333333333.3333333"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740992.0, "9007199254740992"), (0.1, "0.1"), (100.0, "100"),
    ])
    func numbers(value: Double, expected: String) throws {
        #expect(try Self.text(.number(value)) == expected)
    }

    @Test("object members are sorted by UTF-16 code units, at every depth")
    func sorting() throws {
        let value: JSONValue = ["b": 1, "a": ["z": true, "y": nil], "€": 1, "\u{10000}": 2, "\u{FB33}": 3]
        // U+10000 is the surrogate pair D800 DC00, so it sorts before U+FB33 although its scalar is larger.
        #expect(try Self.text(value) == "{\"a\":{\"y\":null,\"z\":true},\"b\":1,\"€\":1,\"\u{10000}\":2,\"\u{FB33}\":3}")
    }

    @Test("random member names, from ASCII to the astral planes, sort as their UTF-16 code units do")
    func sortingRandomNames() throws {
        let alphabet: [Unicode.Scalar] = ["a", "b", "Z", "é", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FB33}", "\u{FFFF}", "\u{10000}", "😀", "\u{10FFFF}"]
        for _ in 0..<200 {
            let names = Set((0..<8).map { _ in
                String(String.UnicodeScalarView((0..<Int.random(in: 0...4)).map { _ in alphabet.randomElement()! }))
            })
            let value = JSONValue.object(Dictionary(uniqueKeysWithValues: names.map { ($0, JSONValue.null) }))
            let expected = names.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            #expect(try Self.text(value) == "{" + expected.map { "\"\($0)\":null" }.joined(separator: ",") + "}")
        }
    }

    @Test("strings escape only what JSON requires")
    func strings() throws {
        #expect(try Self.text(.string("quote\" back\\ nl\n tab\t ctl\u{01} é ✓ /")) == #""quote\" back\\ nl\n tab\t ctl\u0001 é ✓ /""#)
    }

    @Test("non-finite numbers cannot be canonicalised")
    func nonFinite() {
        #expect(throws: CanonicalJSON.NonFiniteNumber.self) { try CanonicalJSON.bytes(.number(.infinity)) }
    }

    @Test("the same document parsed from differently formatted text gives the same bytes")
    func formattingIndependent() throws {
        let one = try WireJSON.makeDecoder().decode(JSONValue.self, from: Data(#"{"b":[1,2.50,{"c":1e2}],"a":"x"}"#.utf8))
        let two = try WireJSON.makeDecoder().decode(JSONValue.self, from: Data(#"{ "a" : "x", "b" : [ 1, 2.5, { "c" : 100 } ] }"#.utf8))
        #expect(try CanonicalJSON.bytes(one) == CanonicalJSON.bytes(two))
        #expect(try Self.text(one) == #"{"a":"x","b":[1,2.5,{"c":100}]}"#)
    }
}
