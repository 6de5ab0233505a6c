import Foundation

/// A sealed position as read back for verification: the seal and, unless it was deleted, its event.
public struct SealedLedgerEntry: Sendable {
    public var seal: LedgerSeal
    /// The event rebuilt from its columns, and the canonical bytes stored when it was appended.
    public var event: (columns: LedgerEvent, storedCanonicalBytes: [UInt8])?

    public init(seal: LedgerSeal, event: (columns: LedgerEvent, storedCanonicalBytes: [UInt8])?) {
        self.seal = seal
        self.event = event
    }
}

/// Why a chain stopped verifying, at the first position where it did.
public enum LedgerChainBreak: Sendable, Equatable, CustomStringConvertible {
    case sequenceGap(expected: Int64, found: Int64)
    case eventMissing(sequence: Int64, eventId: LedgerEventID)
    case columnsDisagreeWithHashedBytes(sequence: Int64, eventId: LedgerEventID)
    case leafHashMismatch(sequence: Int64, eventId: LedgerEventID)
    case chainHashMismatch(sequence: Int64, eventId: LedgerEventID)

    public var description: String {
        switch self {
        case .sequenceGap(let expected, let found):
            "sequence gap: expected \(expected), found \(found) (a sealed event and its seal were removed)"
        case .eventMissing(let sequence, let eventId):
            "seq \(sequence): event \(eventId) is sealed but no longer in ledger_events (deleted)"
        case .columnsDisagreeWithHashedBytes(let sequence, let eventId):
            "seq \(sequence): event \(eventId) columns no longer match the bytes that were hashed (edited)"
        case .leafHashMismatch(let sequence, let eventId):
            "seq \(sequence): event \(eventId) hashed bytes no longer match its sealed leaf hash (edited)"
        case .chainHashMismatch(let sequence, let eventId):
            "seq \(sequence): event \(eventId) chain hash does not follow from the previous link (seal edited)"
        }
    }
}

/// Recomputes a tenant's chain entry by entry, in sequence order, and remembers the first break.
///
/// Each entry is checked against the stored seal before it, so a long chain can be cut into runs checked
/// at the same time: a verifier per run, started `after` the last seal of the run before, and the runs
/// `append`ed in order give the same result as one verifier over the whole chain.
public struct LedgerChainVerifier: Sendable {
    public private(set) var head: LedgerChainHead
    public private(set) var checkedEntries = 0
    public private(set) var firstBreak: LedgerChainBreak?

    public init(tenantId: TenantID) {
        self.head = .genesis(tenantId)
    }

    /// A verifier for the run of entries that follows the stored seal `previous`.
    public init(after previous: LedgerChainHead) {
        self.head = previous
    }

    /// Takes in the result of the run that follows this verifier's last entry; nothing after a break counts.
    public mutating func append(_ run: LedgerChainVerifier) {
        guard firstBreak == nil else { return }
        checkedEntries += run.checkedEntries
        firstBreak = run.firstBreak
        head = run.head
    }

    /// Checks the next entry; once a break is found later entries are not checked.
    public mutating func check(_ entry: SealedLedgerEntry) {
        guard firstBreak == nil else { return }
        checkedEntries += 1
        let seal = entry.seal
        if seal.sequence != head.sequence + 1 {
            firstBreak = .sequenceGap(expected: head.sequence + 1, found: seal.sequence)
            return
        }
        guard let event = entry.event else {
            firstBreak = .eventMissing(sequence: seal.sequence, eventId: seal.eventId)
            return
        }
        if (try? event.columns.canonicalBytes()) != event.storedCanonicalBytes {
            firstBreak = .columnsDisagreeWithHashedBytes(sequence: seal.sequence, eventId: seal.eventId)
            return
        }
        if LedgerHash.leaf(canonicalBytes: event.storedCanonicalBytes) != seal.leafHash {
            firstBreak = .leafHashMismatch(sequence: seal.sequence, eventId: seal.eventId)
            return
        }
        let expectedLink = LedgerHash.link(previous: head.chainHash, leaf: seal.leafHash)
        if expectedLink != seal.chainHash {
            firstBreak = .chainHashMismatch(sequence: seal.sequence, eventId: seal.eventId)
            return
        }
        head = LedgerChainHead(sequence: seal.sequence, chainHash: seal.chainHash)
    }
}

/// The outcome of verifying one tenant's ledger.
public struct LedgerVerificationReport: Sendable, Codable, Equatable {
    public var tenantId: TenantID
    public var sealedEventsChecked: Int
    public var headSequence: Int64
    public var headChainHash: String
    public var unsealedEvents: Int
    public var firstBreak: String?
    /// True when every sealed event re-hashed to its seal and the chain has no gap.
    public var verified: Bool

    public init(
        tenantId: TenantID, sealedEventsChecked: Int, headSequence: Int64, headChainHash: String,
        unsealedEvents: Int, firstBreak: String?
    ) {
        self.tenantId = tenantId
        self.sealedEventsChecked = sealedEventsChecked
        self.headSequence = headSequence
        self.headChainHash = headChainHash
        self.unsealedEvents = unsealedEvents
        self.firstBreak = firstBreak
        self.verified = firstBreak == nil
    }
}
