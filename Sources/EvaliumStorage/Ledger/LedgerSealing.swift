import EvaliumCore
import NIOCore
import PostgresNIO

/// What one sealer pass did: how many events it sealed, and whether another pass should follow at once.
struct LedgerSealPass: Sendable {
    let sealed: Int
    /// A sealed tenant had more pending than a pass takes, more tenants were waiting than a pass takes, or (when
    /// waiting for turns) a tenant's chain moved between the pass's read and its write.
    let hasMore: Bool
}

extension Database {
    /// Seals every tenant's committed, unsealed events, a pass after another until none is left, and returns how
    /// many were sealed (`progress` hears the running total after each pass). The sealer worker calls this, and so
    /// do CLI commands that append. Unless `waitingForTurn`, a tenant another sealer is sealing is left to it.
    public func sealPendingLedgerEvents(
        eventsPerTenant: Int = 1000, waitingForTurn: Bool = true, progress: (Int) -> Void = { _ in }
    ) async throws -> Int {
        var total = 0
        while true {
            let pass = try await scopedStatements(.none) {
                try await $0.sealLedgerEvents(eventsPerTenant: eventsPerTenant, tenants: 50, waitingForTurn: waitingForTurn)
            }
            total += pass.sealed
            progress(total)
            if !pass.hasMore { return total }
        }
    }
}

extension ScopedStatements {
    /// One pass over up to `tenants` tenants with events pending (the longest waiting first), sealing up to
    /// `eventsPerTenant` of each, in two statements whatever the number of tenants (migration 0021): the read of
    /// each tenant's chain head and pending events, then, with the chains continued here, one transaction that
    /// writes every tenant's seals and takes their events off the queue. Sealers (several servers, the CLI) take
    /// turns per tenant on an advisory lock; unless `waitingForTurn`, a tenant whose turn another sealer has is
    /// left to it. A tenant whose chain moved between the read and the write is left for the next pass.
    func sealLedgerEvents(eventsPerTenant: Int, tenants: Int, waitingForTurn: Bool) async throws -> LedgerSealPass {
        let work = try await ledgerSealWork(eventsPerTenant: eventsPerTenant, tenants: tenants)
        guard !work.isEmpty else { return LedgerSealPass(sealed: 0, hasMore: false) }
        // Sorted, so that sealers waiting for turns take them in one order.
        let chains = work.sorted { $0.tenantId.rawValue < $1.tenantId.rawValue }.map { tenant in
            (tenant: tenant, seals: tenant.head.sealing(tenant.events, tenantId: tenant.tenantId))
        }
        let sealed = try await writeLedgerSeals(chains, waitingForTurn: waitingForTurn)
        let total = sealed.values.reduce(0, +)
        let fullBatchSealed = work.contains { $0.events.count == eventsPerTenant && sealed[$0.tenantId, default: 0] > 0 }
        let chainMoved = waitingForTurn && sealed.values.contains(0)
        return LedgerSealPass(sealed: total, hasMore: (total > 0 && (fullBatchSealed || work.count == tenants)) || chainMoved)
    }

    /// A tenant's pending events (in the order they are to be sealed) and the head of its chain when they were read.
    private struct TenantSealWork {
        let tenantId: TenantID
        let head: LedgerChainHead
        var events: [(id: LedgerEventID, leafHash: [UInt8])]
    }

    private func ledgerSealWork(eventsPerTenant: Int, tenants: Int) async throws -> [TenantSealWork] {
        let rows = try await run(
            "SELECT * FROM ledger_seal_work(\(Int32(clamping: eventsPerTenant)), \(Int32(clamping: tenants)))", plannedAs: ReadSealWork.self)
        var work: [TenantSealWork] = []
        for try await row in rows {
            let cells = row.makeRandomAccess()
            let tenantId = TenantID(unchecked: try cells[0].decode(String.self))
            let event = (LedgerEventID(unchecked: try cells[3].decode(String.self)), Array(buffer: try cells[4].decode(ByteBuffer.self)))
            if work.last?.tenantId == tenantId {
                work[work.count - 1].events.append(event)
                continue
            }
            let head =
                if let chainHash = try cells[2].decode(ByteBuffer?.self) {
                    LedgerChainHead(sequence: try cells[1].decode(Int64.self), chainHash: Array(buffer: chainHash))
                } else {
                    LedgerChainHead.genesis(tenantId)
                }
            work.append(TenantSealWork(tenantId: tenantId, head: head, events: [event]))
        }
        return work
    }

    /// Writes each tenant's seals after the head they were computed from; answers how many each tenant got (0 for
    /// a tenant left to another sealer or whose chain moved).
    private func writeLedgerSeals(
        _ chains: [(tenant: TenantSealWork, seals: [LedgerSeal])], waitingForTurn: Bool
    ) async throws -> [TenantID: Int] {
        let seals = chains.flatMap(\.seals)
        let rows = try await run(
            """
            SELECT tenant, sealed FROM ledger_write_seals(
                \(waitingForTurn), \(chains.map(\.tenant.tenantId.rawValue))::text[], \(chains.map(\.tenant.head.sequence))::bigint[],
                \(chains.map { Int32($0.seals.count) })::integer[], \(seals.map(\.eventId.rawValue))::text[],
                \(seals.map { ByteBuffer(bytes: $0.leafHash) })::bytea[], \(seals.map { ByteBuffer(bytes: $0.chainHash) })::bytea[])
            """, plannedAs: WriteSeals.self)
        var sealed: [TenantID: Int] = [:]
        for try await row in rows {
            let cells = row.makeRandomAccess()
            sealed[TenantID(unchecked: try cells[0].decode(String.self))] = Int(try cells[1].decode(Int32.self))
        }
        return sealed
    }
}

private enum ReadSealWork: PlannedStatement {}
private enum WriteSeals: PlannedStatement {}
