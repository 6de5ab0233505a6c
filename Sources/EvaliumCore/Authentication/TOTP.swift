import Crypto
import Foundation

/// Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30-second steps, the
/// parameters every authenticator app accepts.
public struct TOTP: Sendable {
    public static let digits = 6
    public static let period: TimeInterval = 30
    /// Steps either side of now that are still accepted, for clocks a little apart.
    public static let tolerance = 1

    public let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    /// A new 160-bit secret (RFC 4226 §4 recommends 160).
    public static func generateSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    public static func step(at date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / period).rounded(.down)) }

    /// The code of one time step.
    public func code(step: Int64) -> String {
        let counter = withUnsafeBytes(of: UInt64(bitPattern: step).bigEndian, Array.init)
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: counter, using: SymmetricKey(data: secret)))
        let offset = Int(mac[19] & 0x0f)
        let binary = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        let value = binary % 1_000_000
        let text = String(value)
        return String(repeating: "0", count: Self.digits - text.count) + text
    }

    /// The step `code` belongs to if it is valid at `date` and newer than `lastUsedStep`; nil otherwise.
    /// Refusing steps at or before the last used one stops a code from being replayed (RFC 6238 §5.2).
    public func acceptedStep(for code: String, at date: Date, after lastUsedStep: Int64?) -> Int64? {
        guard code.utf8.count == Self.digits, code.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        let now = Self.step(at: date)
        for step in (now - Int64(Self.tolerance))...(now + Int64(Self.tolerance)) {
            if let lastUsedStep, step <= lastUsedStep { continue }
            if constantTimeEqual(Array(self.code(step: step).utf8), Array(code.utf8)) { return step }
        }
        return nil
    }

    /// The `otpauth://` URI authenticator apps read (usually from a QR code).
    public func provisioningURI(issuer: String, account: String) -> String {
        var components = URLComponents()
        components.scheme = "otpauth"
        components.host = "totp"
        components.path = "/\(issuer):\(account)"
        components.queryItems = [
            URLQueryItem(name: "secret", value: Base32.encode(secret)),
            URLQueryItem(name: "issuer", value: issuer),
            URLQueryItem(name: "algorithm", value: "SHA1"),
            URLQueryItem(name: "digits", value: String(Self.digits)),
            URLQueryItem(name: "period", value: String(Int(Self.period))),
        ]
        return components.string ?? ""
    }
}

/// Compares without stopping at the first difference, so timing tells nothing about a secret.
public func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
    guard left.count == right.count else { return false }
    return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}

/// RFC 4648 base32 without padding, the alphabet authenticator apps expect for TOTP secrets.
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: output, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer = 0
        var bits = 0
        for character in text.uppercased().utf8 where character != UInt8(ascii: "=") {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = ((buffer << 5) | value) & 0xFFFF
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return output
    }
}
