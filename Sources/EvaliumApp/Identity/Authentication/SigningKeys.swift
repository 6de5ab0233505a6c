import Crypto
import EvaliumCore
import EvaliumStorage
import Foundation

/// The server's secret keys: Ed25519 keys that sign access tokens, each with a key id so they can
/// rotate, and one AES-256 key that seals TOTP secrets at rest.
///
/// Rotation: add a new key to `signingKeys` and point `activeKeyId` at it. The old key keeps verifying
/// tokens it signed until they expire (minutes), then can be removed.
public struct SigningKeys: Sendable, Codable {
    public struct SigningKey: Sendable, Codable {
        public var keyId: String
        /// The Ed25519 private key, base64url.
        public var privateKey: String
    }

    public var activeKeyId: String
    public var signingKeys: [SigningKey]
    /// AES-256-GCM key for secrets stored in the database, base64url.
    public var sealingKey: String

    /// A fresh key set (zero-setup mode writes one into the data folder once).
    public static func generate() -> SigningKeys {
        let keyId = "k-" + ULID().text.lowercased()
        let signing = Curve25519.Signing.PrivateKey()
        let sealing = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        return SigningKeys(
            activeKeyId: keyId, signingKeys: [SigningKey(keyId: keyId, privateKey: Base64URL.encode(Array(signing.rawRepresentation)))],
            sealingKey: Base64URL.encode(sealing))
    }

    /// Reads a key file, or (when `createIfMissing`) writes a new one readable only by this user.
    public static func load(from file: URL, createIfMissing: Bool) throws -> SigningKeys {
        if FileManager.default.fileExists(atPath: file.path) {
            let keys = try JSONDecoder().decode(SigningKeys.self, from: Data(contentsOf: file))
            try keys.validate()
            return keys
        }
        guard createIfMissing else { throw KeyFileError(detail: "no key file at \(file.path)") }
        let keys = generate()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try SecretFile.write(String(decoding: try encoder.encode(keys), as: UTF8.self) + "\n", to: file)
        return keys
    }

    func validate() throws {
        guard signingKeys.contains(where: { $0.keyId == activeKeyId }) else {
            throw KeyFileError(detail: "activeKeyId \(activeKeyId) is not one of signingKeys")
        }
        for key in signingKeys where (try? privateKey(key)) == nil {
            throw KeyFileError(detail: "key \(key.keyId) is not a base64url Ed25519 private key")
        }
        guard Base64URL.decode(sealingKey)?.count == 32 else {
            throw KeyFileError(detail: "sealingKey must be 32 bytes, base64url")
        }
    }

    func privateKey(_ key: SigningKey) throws -> Curve25519.Signing.PrivateKey {
        try Curve25519.Signing.PrivateKey(rawRepresentation: Base64URL.decode(key.privateKey) ?? [])
    }

    /// Seals `secret` so only this server's key opens it.
    func seal(_ secret: [UInt8]) throws -> [UInt8] {
        let box = try AES.GCM.seal(secret, using: SymmetricKey(data: Base64URL.decode(sealingKey) ?? []))
        guard let combined = box.combined else { throw KeyFileError(detail: "AES-GCM produced no combined box") }
        return Array(combined)
    }

    func open(_ sealed: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: SymmetricKey(data: Base64URL.decode(sealingKey) ?? [])))
    }

    /// A key for one purpose, derived from the sealing key (HKDF-SHA256), so the key file stays one secret
    /// while a key leaked from one use opens nothing of another.
    func derivedKey(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Base64URL.decode(sealingKey) ?? []), info: Array(purpose.utf8), outputByteCount: 32)
    }
}

public struct KeyFileError: Error, CustomStringConvertible {
    public var detail: String
    public var description: String { "signing keys: \(detail)" }
}
