import Crypto
import Foundation

/// The hashes that make the ledger tamper-evident.
///
/// A leaf is hashed as RFC 6962 defines Merkle leaves, `SHA-256(0x00 ‖ canonical bytes)`, so a later
/// Merkle tree and its inclusion proofs can be built on the same leaves. Each tenant's leaves are also
/// chained in sequence order: `link(n) = SHA-256(0x01 ‖ link(n−1) ‖ leaf(n))`, starting from a genesis
/// value bound to the tenant id, so a chain cannot be moved to another tenant.
public enum LedgerHash {
    public static func leaf(canonicalBytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: canonicalBytes)
        return Array(hasher.finalize())
    }

    public static func genesis(tenantId: TenantID) -> [UInt8] {
        Array(SHA256.hash(data: Array("evalium.ledger.genesis:\(tenantId.rawValue)".utf8)))
    }

    public static func link(previous: [UInt8], leaf: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: previous)
        hasher.update(data: leaf)
        return Array(hasher.finalize())
    }
}

/// The seal of one event: its gapless per-tenant sequence number and its place in the chain.
public struct LedgerSeal: Sendable, Equatable {
    public var tenantId: TenantID
    public var sequence: Int64
    public var eventId: LedgerEventID
    public var leafHash: [UInt8]
    public var chainHash: [UInt8]

    public init(tenantId: TenantID, sequence: Int64, eventId: LedgerEventID, leafHash: [UInt8], chainHash: [UInt8]) {
        self.tenantId = tenantId
        self.sequence = sequence
        self.eventId = eventId
        self.leafHash = leafHash
        self.chainHash = chainHash
    }
}

/// The last sealed position of a tenant's chain; `sequence` 0 means nothing is sealed yet.
public struct LedgerChainHead: Sendable, Equatable {
    public var sequence: Int64
    public var chainHash: [UInt8]

    public init(sequence: Int64, chainHash: [UInt8]) {
        self.sequence = sequence
        self.chainHash = chainHash
    }

    public static func genesis(_ tenantId: TenantID) -> LedgerChainHead {
        LedgerChainHead(sequence: 0, chainHash: LedgerHash.genesis(tenantId: tenantId))
    }

    /// Seals `events` (id and leaf hash, in the order they are to be sequenced) after this head.
    public func sealing(
        _ events: [(id: LedgerEventID, leafHash: [UInt8])], tenantId: TenantID
    ) -> [LedgerSeal] {
        var head = self
        return events.map { event in
            head = LedgerChainHead(
                sequence: head.sequence + 1, chainHash: LedgerHash.link(previous: head.chainHash, leaf: event.leafHash))
            return LedgerSeal(
                tenantId: tenantId, sequence: head.sequence, eventId: event.id, leafHash: event.leafHash,
                chainHash: head.chainHash)
        }
    }
}

extension Array where Element == UInt8 {
    public var hexString: String { map { String(format: "%02x", $0) }.joined() }

    /// The bytes of an even-length hexadecimal string; nil when it is not one.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self = bytes
    }
}
