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

    func run() async {
        await repeatUntilShutdown(name: "ledger sealing", logger: logger, onFailure: metrics.recordSealFailure) {
            try await sealEverythingPending()
        } pause: {
            await waitForWork()
        }
    }

    /// A tenant whose turn another server's sealer has is left to it, as the event dispatcher leaves a tenant
    /// another server is dispatching. Waiting for the turn held one of this server's pooled connections the
    /// while: in the test pass, where some fifty servers seal the same tenants, backends waited up to 30 s on
    /// those turns, and requests of servers with a small pool waited out their deadline behind them.
    func sealEverythingPending() async throws {
        let sealed = try await database.sealPendingLedgerEvents(eventsPerTenant: batchSize, waitingForTurn: false)
        if sealed > 0 { metrics.recordSealPass(sealed: sealed) }
    }

    /// Returns when a commit appended events, after a while without any, or when cancelled; never sooner than
    /// `idleInterval` after the last pass. Under a stream of appends a pass per commit sealed a handful of events
    /// each time at the full price of a pass: a fifth of PostgreSQL's CPU under subject reads, when a pass was a
    /// transaction of eight statements per tenant (two statements in all since migration 0021). A pass every
    /// `idleInterval` seals what that interval appended, at most that much later.
    private func waitForWork() async {
        await database.ledgerAppendSignal.wait(atMost: idleInterval * 20, spacedBy: idleInterval)
    }
}

/// Deletes expired idempotency keys every few minutes so the table stays small.
struct IdempotencyKeyPurger: Service {
    let database: Database
    let interval: Duration
    let logger: Logger

    func run() async {
        await repeatUntilShutdown(name: "purging idempotency keys", logger: logger) {
            let purged = try await database.transaction(.none) { try await $0.purgeExpiredIdempotencyKeys() }
            if purged > 0 { logger.info("purged expired idempotency keys", metadata: ["count": "\(purged)"]) }
        } pause: {
            try? await Task.sleep(for: interval)
        }
    }
}

/// The loop of a background worker: runs `pass`, then `pause`, until graceful shutdown, and then
/// returns normally. A failed pass is logged and retried after a second. Workers must not throw on
/// shutdown: a service that throws makes the service group cancel the others, which can leave a
/// transaction waiting on an already closed pool.
func repeatUntilShutdown(
    name: String, logger: Logger, onFailure: @escaping @Sendable () -> Void = {},
    _ pass: @escaping @Sendable () async throws -> Void, pause: @escaping @Sendable () async -> Void
) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch {
                if Task.isCancelled { return }
                onFailure()
                logger.error("\(name) failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
            await pause()
        }
    }
}
