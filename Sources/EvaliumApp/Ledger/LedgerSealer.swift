import EvaliumCore
import EvaliumStorage
import Logging
import ServiceLifecycle

/// Gives committed ledger events their gapless per-tenant sequence numbers and chain hashes, in
/// batches, moments after they commit. Appends never wait for it; it is woken by commits and also
/// looks on its own every `idleInterval`, so events committed by other server instances get sealed too.
struct LedgerSealer: Service {
    let database: Database
    let batchSize: Int
    let idleInterval: Duration
    let metrics: MetricsRegistry
    let logger: Logger

    /// Loops until graceful shutdown, then returns normally: a worker that throws on shutdown makes the
    /// service group cancel the others, which can leave a transaction waiting on a closed pool.
    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await sealEverythingPending()
                } catch {
                    if Task.isCancelled { return }
                    metrics.recordSealFailure()
                    logger.error("ledger sealing failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                    try? await Task.sleep(for: .seconds(1))
                }
                await waitForWork()
            }
        }
    }

    /// Seals every tenant's pending events; returns how many were sealed.
    @discardableResult
    func sealEverythingPending() async throws -> Int {
        let tenants = try await database.transaction(.none) { try await $0.ledgerTenantsAwaitingSeal() }
        var total = 0
        for tenantId in tenants {
            while true {
                let sealed = try await database.transaction(.tenantWide(tenantId)) { transaction in
                    try await transaction.sealPendingLedgerEvents(limit: batchSize)
                }
                total += sealed
                if sealed < batchSize { break }
            }
        }
        if total > 0 { metrics.recordSealPass(sealed: total) }
        return total
    }

    /// Returns when a commit appended events, after a while without any, or when cancelled.
    private func waitForWork() async {
        let deadline = ContinuousClock.now + idleInterval * 20
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if database.ledgerAppendSignal.takePending() { return }
            try? await Task.sleep(for: idleInterval)
        }
    }
}

/// Deletes expired idempotency keys every few minutes so the table stays small.
struct IdempotencyKeyPurger: Service {
    let database: Database
    let interval: Duration
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let purged = try await database.transaction(.none) { try await $0.purgeExpiredIdempotencyKeys() }
                    if purged > 0 { logger.info("purged expired idempotency keys", metadata: ["count": "\(purged)"]) }
                } catch {
                    if Task.isCancelled { return }
                    logger.error("purging idempotency keys failed", metadata: ["error": "\(String(reflecting: error))"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
