import Crypto
import Foundation

/// A bearer secret shown once (magic links, refresh tokens, portal links): 256 random bits as
/// base64url. Only its SHA-256 is stored, so a database reader cannot sign in with what they read.
public struct SecretToken: Sendable, Equatable {
    public let text: String

    public static func generate() -> SecretToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return SecretToken(text: Base64URL.encode(bytes))
    }

    /// A token as presented by a client; anything not shaped like one of ours is nil.
    public init?(presented: String) {
        guard presented.utf8.count == 43, presented.utf8.allSatisfy(Base64URL.isAlphabet) else { return nil }
        text = presented
    }

    private init(text: String) { self.text = text }

    public var hash: [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }
}

public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.allSatisfy(isAlphabet) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }

    static func isAlphabet(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
