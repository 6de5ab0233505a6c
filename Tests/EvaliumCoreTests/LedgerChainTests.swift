import EvaliumCore
import Foundation
import Testing

@Suite("Ledger hashing and chain verification", .timeLimit(.minutes(2)))
struct LedgerChainTests {
    static let tenant = TenantID.generate()

    static func event(_ index: Int) -> LedgerEvent {
        LedgerEvent(
            id: .generate(), tenantId: tenant, occurredAt: ServerClock.now(),
            draft: LedgerEventDraft(
                eventType: "test.recorded", aggregateType: "test", aggregateId: "item-\(index)", orgUnitId: nil,
                actor: .platformOperator, payload: ["index": .number(Double(index))]))
    }

    static func chain(_ count: Int) throws -> [SealedLedgerEntry] {
        let events = (0..<count).map(event)
        let leaves = try events.map { (id: $0.id, leafHash: LedgerHash.leaf(canonicalBytes: try $0.canonicalBytes())) }
        let seals = LedgerChainHead.genesis(tenant).sealing(leaves, tenantId: tenant)
        return try zip(seals, events).map { SealedLedgerEntry(seal: $0, event: ($1, try $1.canonicalBytes())) }
    }

    static func verify(_ entries: [SealedLedgerEntry]) -> LedgerChainVerifier {
        var verifier = LedgerChainVerifier(tenantId: tenant)
        entries.forEach { verifier.check($0) }
        return verifier
    }

    @Test("leaves are RFC 6962 leaf hashes of the canonical bytes")
    func leafHash() {
        // SHA-256 of the single byte 0x00: the RFC 6962 hash of an empty leaf.
        #expect(LedgerHash.leaf(canonicalBytes: []).hexString == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    }

    @Test("an intact chain verifies to its head")
    func intact() throws {
        let verifier = Self.verify(try Self.chain(5))
        #expect(verifier.firstBreak == nil)
        #expect(verifier.head.sequence == 5)
    }

    @Test("the genesis is bound to the tenant, so a chain cannot be moved to another tenant")
    func genesisBinding() throws {
        let entries = try Self.chain(2)
        var verifier = LedgerChainVerifier(tenantId: .generate())
        entries.forEach { verifier.check($0) }
        #expect(verifier.firstBreak == .chainHashMismatch(sequence: 1, eventId: entries[0].seal.eventId))
    }

    enum Tampering: String, CaseIterable { case editedColumn, editedBytes, editedSeal, deletedEvent, removedPosition }

    static func tamper(_ entries: inout [SealedLedgerEntry], at index: Int, by kind: Tampering) {
        switch kind {
        case .editedColumn: entries[index].event!.columns.draft.payload = ["index": 99]
        case .editedBytes: entries[index].event!.storedCanonicalBytes.append(0x20)
        case .editedSeal: entries[index].seal.chainHash[0] ^= 0xFF
        case .deletedEvent: entries[index].event = nil
        case .removedPosition: entries.remove(at: index)
        }
    }

    @Test("every kind of tampering is found at the position where it happened", arguments: Tampering.allCases)
    func tampering(kind: Tampering) throws {
        var entries = try Self.chain(5)
        let target = entries[2]
        Self.tamper(&entries, at: 2, by: kind)
        let expected: LedgerChainBreak =
            switch kind {
            case .editedColumn: .columnsDisagreeWithHashedBytes(sequence: 3, eventId: target.seal.eventId)
            case .editedBytes: .columnsDisagreeWithHashedBytes(sequence: 3, eventId: target.seal.eventId)
            case .editedSeal: .chainHashMismatch(sequence: 3, eventId: target.seal.eventId)
            case .deletedEvent: .eventMissing(sequence: 3, eventId: target.seal.eventId)
            case .removedPosition: .sequenceGap(expected: 3, found: 4)
            }
        let verifier = Self.verify(entries)
        #expect(verifier.firstBreak == expected)
        #expect(verifier.head.sequence == 2)
    }

    @Test("checked in runs, each after the stored seal before it, a chain breaks where it does entry by entry",
          arguments: [Tampering?.none] + Tampering.allCases.map(Optional.some))
    func runs(kind: Tampering?) throws {
        var entries = try Self.chain(9)
        if let kind { Self.tamper(&entries, at: 4, by: kind) }
        let oneByOne = Self.verify(entries)
        for runLength in [1, 2, 3, 4, 100] {
            var whole = LedgerChainVerifier(tenantId: Self.tenant)
            var previous = whole.head
            for start in stride(from: 0, to: entries.count, by: runLength) {
                let run = entries[start..<min(start + runLength, entries.count)]
                var verifier = LedgerChainVerifier(after: previous)
                run.forEach { verifier.check($0) }
                whole.append(verifier)
                previous = LedgerChainHead(sequence: run.last!.seal.sequence, chainHash: run.last!.seal.chainHash)
            }
            #expect(whole.firstBreak == oneByOne.firstBreak, "runs of \(runLength)")
            #expect(whole.head == oneByOne.head, "runs of \(runLength)")
            #expect(whole.checkedEntries == oneByOne.checkedEntries, "runs of \(runLength)")
        }
    }

    @Test("bytes re-hashed consistently but not matching the sealed leaf are found")
    func rehashedBytes() throws {
        var entries = try Self.chain(3)
        var forged = entries[1].event!.columns
        forged.draft.payload = ["index": 42]
        entries[1].event = (forged, try forged.canonicalBytes())
        #expect(Self.verify(entries).firstBreak == .leafHashMismatch(sequence: 2, eventId: entries[1].seal.eventId))
    }
}
