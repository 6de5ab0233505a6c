import EvaliumCore
import Foundation
import Testing

@Suite("Writing the wire form without Foundation's encoder", .timeLimit(.minutes(2)))
struct WireJSONEncoderTests {
    static func foundation(_ value: some Encodable) throws -> String {
        String(decoding: try WireJSON.makeEncoder().encode(value), as: UTF8.self)
    }

    static func ours(_ value: some Encodable) throws -> String {
        String(decoding: try WireJSONEncoder.encode(value), as: UTF8.self)
    }

    @Test("random JSON trees (escapes, astral characters, numbers near every exponent) are written byte for byte as JSONEncoder writes them")
    func randomTrees() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let value = JSONParserTests.randomValue(depth: 0, using: &generator)
            #expect(try Self.ours(value) == Self.foundation(value))
        }
    }

    @Test("random doubles and floats are spelled as JSONEncoder spells them")
    func numbers() throws {
        var generator = SystemRandomNumberGenerator()
        var doubles: [Double] = [0, -0.0, 1, -5, 0.1, 1e15, 1e16, 9_007_199_254_740_993, 1e-7, 5e-324, .greatestFiniteMagnitude]
        var floats: [Float] = [0, 1.5, 0.1, .greatestFiniteMagnitude, 1e-10]
        for _ in 0..<2_000 {
            let double = Double(bitPattern: generator.next())
            if double.isFinite { doubles.append(double) }
            let float = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            if float.isFinite { floats.append(float) }
        }
        #expect(try Self.ours(doubles) == Self.foundation(doubles))
        #expect(try Self.ours(floats) == Self.foundation(floats))
        #expect(throws: EncodingError.self) { try WireJSONEncoder.encode([Double.nan]) }
    }

    enum Shape: Codable, Equatable {
        case circle(radius: Double)
        case labelled(String, at: Date)
        case none
    }

    struct Everything: Codable {
        var id: ItemID
        var name: String?
        var nothing: String?
        var explicitNull: Int?
        var when: Date
        var small: UInt8
        var large: Int64
        var unsigned: UInt64
        var counts: [String: Int]
        var byItem: [ItemID: Double]
        var bytes: Data
        var link: URL
        var shapes: [Shape]
        var nested: [[Bool]]
        var level: FeedbackLevel
        var result: ScoreResult

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encodeIfPresent(name, forKey: .name)
            try container.encodeIfPresent(nothing, forKey: .nothing)
            try container.encode(explicitNull, forKey: .explicitNull)
            try container.encode(when, forKey: .when)
            try container.encode(small, forKey: .small)
            try container.encode(large, forKey: .large)
            try container.encode(unsigned, forKey: .unsigned)
            try container.encode(counts, forKey: .counts)
            try container.encode(byItem, forKey: .byItem)
            try container.encode(bytes, forKey: .bytes)
            try container.encode(link, forKey: .link)
            try container.encode(shapes, forKey: .shapes)
            try container.encode(nested, forKey: .nested)
            try container.encode(level, forKey: .level)
            try container.encode(result, forKey: .result)
        }
    }

    struct Twice: Encodable {
        enum CodingKeys: String, CodingKey { case b, a }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(1, forKey: .b)
            try container.encode(2, forKey: .a)
            try container.encode("last", forKey: .b)
        }
    }

    @Test("a member encoded twice keeps its last value, as with JSONEncoder")
    func memberEncodedTwice() throws {
        #expect(try Self.ours(Twice()) == #"{"a":2,"b":"last"}"#)
        #expect(try Self.ours(Twice()) == Self.foundation(Twice()))
    }

    @Test("every kind of container and the types JSONEncoder treats specially come out the same")
    func everyContainer() throws {
        var generator = SystemRandomNumberGenerator()
        let value = Everything(
            id: JSONValueDecoderTests.itemIds[0], name: "Gauge \"G-7\" / north", nothing: nil, explicitNull: nil,
            when: Date(timeIntervalSince1970: 1_764_950_400.123), small: 255, large: .min, unsigned: .max,
            counts: ["B": 1, "a": 2, "a10": 3, "a9": 4, "é": 5, "_": 6], byItem: [JSONValueDecoderTests.itemIds[1]: 0.5],
            bytes: Data([0, 1, 2, 250]), link: URL(string: "https://example.org/a/b?c=d")!,
            shapes: [.circle(radius: 2.5), .labelled("x", at: Date(timeIntervalSince1970: 0)), .none], nested: [[true], [], [false, true]],
            level: .itemResults, result: StoredScoreResultTests.random(using: &generator))
        #expect(try Self.ours(value) == Self.foundation(value))
        for _ in 0..<200 {
            let result = StoredScoreResultTests.random(using: &generator)
            #expect(try Self.ours(result) == Self.foundation(result))
        }
    }
}
