import Foundation

/// RFC 8785 JSON Canonicalization Scheme: object members sorted by their UTF-16 code units,
/// no insignificant white space, ECMAScript number formatting and minimal string escaping.
/// The same value always gives the same bytes, which is what makes a hash of it repeatable.
public enum CanonicalJSON {
    public struct NonFiniteNumber: Error, Equatable {}

    public static func bytes(_ value: JSONValue) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        try write(value, into: &output)
        return output
    }

    private static func write(_ value: JSONValue, into output: inout [UInt8]) throws {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): output.append(contentsOf: try ecmaScriptText(number).utf8)
        case .string(let text): writeString(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                try write(element, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { precedesInUTF16Order($0.key, $1.key) }).enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &output)
                output.append(UInt8(ascii: ":"))
                try write(member.value, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `first` sorts before `second` by UTF-16 code units (RFC 8785 §3.2.3), compared on their UTF-8
    /// bytes, which Swift strings hold natively: byte order is code point order, which agrees with UTF-16
    /// order except that U+E000–U+FFFF (lead bytes EE, EF) sort after the surrogate pairs of U+10000 and
    /// above (lead bytes F0–F4).
    static func precedesInUTF16Order(_ first: String, _ second: String) -> Bool {
        var firstBytes = first.utf8.makeIterator()
        var secondBytes = second.utf8.makeIterator()
        while true {
            switch (firstBytes.next(), secondBytes.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case (let one?, let other?) where one != other:
                // Bytes from EE up are always lead bytes, so these are the first differing characters.
                if one >= 0xEE, other >= 0xEE, (one >= 0xF0) != (other >= 0xF0) { return one >= 0xF0 }
                return one < other
            default: continue
            }
        }
    }

    private static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x08: output.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: Array("\\u00".utf8))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// ECMAScript `Number.prototype.toString()` for a finite double (RFC 8785 §3.2.2.3).
    static func ecmaScriptText(_ number: Double) throws -> String {
        guard number.isFinite else { throw NonFiniteNumber() }
        // Below 2^53 an integral double is exactly its integer, whose digits are also the shortest form.
        if number.rounded(.towardZero) == number, abs(number) < 9_007_199_254_740_992 { return String(Int64(number)) }
        let sign = number < 0 ? "-" : ""
        let (digits, exponent) = shortestDigits(abs(number))
        // `digits` × 10^(exponent − digits.count) is the value; n is the position of the decimal point.
        let k = digits.count
        let n = exponent
        if k <= n, n <= 21 {
            return sign + digits + String(repeating: "0", count: n - k)
        }
        if 0 < n, n <= 21 {
            return sign + digits.prefix(n) + "." + digits.dropFirst(n)
        }
        if -6 < n, n <= 0 {
            return sign + "0." + String(repeating: "0", count: -n) + digits
        }
        let exponentText = n - 1 >= 0 ? "+\(n - 1)" : "\(n - 1)"
        if k == 1 { return sign + digits + "e" + exponentText }
        return sign + digits.prefix(1) + "." + digits.dropFirst(1) + "e" + exponentText
    }

    /// The shortest round-tripping decimal digits of a positive double and the decimal point position,
    /// taken from Swift's own shortest representation (`description`).
    private static func shortestDigits(_ number: Double) -> (digits: String, pointPosition: Int) {
        let text = "\(number)"
        var mantissa = Substring(text)
        var exponent = 0
        if let eIndex = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<eIndex]
            exponent = Int(text[text.index(after: eIndex)...])!
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fractionPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fractionPart
        var pointPosition = integerPart.count + exponent
        let leadingZeros = digits.prefix(while: { $0 == "0" }).count
        digits.removeFirst(leadingZeros)
        pointPosition -= leadingZeros
        while digits.hasSuffix("0") { digits.removeLast() }
        return (digits, pointPosition)
    }
}
