import EvaliumCore
import EvaliumStorage
import Foundation

/// Reading, sealing and verifying the execution ledger. Appends happen inside each domain's own unit
/// of work through `Transaction.appendLedgerEvent`; this service never writes events, only their seals.
public struct LedgerService: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    public struct Page: Encodable, Sendable {
        var items: [LedgerEntryView]
        var nextCursor: String?
    }

    /// Entries visible in `scope` (a tenant's whole ledger, or a reader's org units), oldest first.
    public func entries(
        scope: Scope, aggregateType: String?, aggregateId: String?, cursor: LedgerCursor?, limit: Int
    ) async throws -> Page {
        let entries = try await database.transaction(scope) { transaction in
            let tenantId = try scope.tenantId.orThrow(Problem(.notFound, "no tenant"))
            guard try await transaction.fetchTenant(tenantId) != nil else { throw Problem(.notFound, "no tenant \(tenantId)") }
            return try await transaction.listLedgerEntries(
                aggregateType: aggregateType, aggregateId: aggregateId, after: cursor, limit: limit + 1)
        }
        let page = Array(entries.prefix(limit))
        let next = entries.count > limit ? page.last.map { LedgerCursor(occurredAt: $0.event.occurredAt, eventId: $0.event.id).token } : nil
        return Page(items: page.map(LedgerEntryView.init), nextCursor: next)
    }

    /// Recomputes one tenant's chain.
    public func verify(tenantId: TenantID, progress: (Int) -> Void = { _ in }) async throws -> LedgerVerificationReport {
        // One snapshot, so the chain and the count of unsealed events describe the same moment.
        try await database.transaction(.tenantWide(tenantId), isolation: .repeatableRead) { transaction in
            guard try await transaction.fetchTenant(tenantId) != nil else { throw Problem(.notFound, "no tenant \(tenantId)") }
            return try await transaction.verifyLedgerChain(progress: progress)
        }
    }

    /// Every tenant id, for verifying the whole ledger.
    public func allTenantIds() async throws -> [TenantID] {
        try await database.transaction(.none) { try await $0.platformTenantIds() }
    }
}

/// A ledger event as the API shows it, with its hashes in hex.
public struct LedgerEntryView: Encodable, Sendable {
    var id: LedgerEventID
    var eventType: String
    var aggregateType: String
    var aggregateId: String
    var orgUnitId: OrgUnitID?
    var actor: LedgerActor
    var occurredAt: Date
    var clientOccurredAt: Date?
    var payload: JSONValue
    var contextMetadata: JSONValue
    var verificationLevel: VerificationLevel?
    var verificationOutcome: JSONValue?
    var leafHash: String
    var sequence: Int64?
    var chainHash: String?

    init(_ entry: LedgerEntry) {
        let event = entry.event
        id = event.id
        eventType = event.draft.eventType.rawValue
        aggregateType = event.draft.aggregateType
        aggregateId = event.draft.aggregateId
        orgUnitId = event.draft.orgUnitId
        actor = event.draft.actor
        occurredAt = event.occurredAt
        clientOccurredAt = event.draft.clientOccurredAt
        payload = event.draft.payload
        contextMetadata = event.draft.contextMetadata
        verificationLevel = event.draft.verificationLevel
        verificationOutcome = event.draft.verificationOutcome
        leafHash = entry.leafHash.hexString
        sequence = entry.sequence
        chainHash = entry.chainHash?.hexString
    }
}
