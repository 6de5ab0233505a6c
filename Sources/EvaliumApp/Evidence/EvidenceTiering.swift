import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import ServiceLifecycle

/// Moves verified evidence older than `coldAfter` from the hot tier to the cold one (seed 000 §6), a batch
/// at a time per tenant: copy, check the copy against the recorded SHA-256, record the new tier with its
/// ledger event, and only after that commit remove the hot copy. Downloads read either tier, so a file is
/// reachable at every moment of its move.
struct EvidenceTiering: Service {
    let database: Database
    let store: any EvidenceStore
    let coldAfter: Duration
    let interval: Duration
    let logger: Logger

    static let batchSize = 100
    static let actor = LedgerActor(kind: .system, id: "evidence-tiering")

    func run() async {
        await repeatUntilShutdown(name: "evidence tiering", logger: logger) {
            let moved = try await moveDue(at: ServerClock.now())
            if moved > 0 { logger.info("moved evidence to the cold tier", metadata: ["count": "\(moved)"]) }
        } pause: {
            try? await Task.sleep(for: interval)
        }
    }

    /// Moves everything due at `now`; returns how many assets moved.
    func moveDue(at now: Date) async throws -> Int {
        let cutoff = now.addingTimeInterval(-coldAfter.seconds)
        var moved = 0
        for tenant in try await database.transaction(.none, { try await $0.evidenceTenantsDueForCold(before: cutoff) }) {
            moved += try await moveDue(of: tenant, at: now)
            if Task.isCancelled { break }
        }
        return moved
    }

    /// Moves one tenant's evidence due at `now`; returns how many assets moved.
    func moveDue(of tenant: TenantID, at now: Date) async throws -> Int {
        let cutoff = now.addingTimeInterval(-coldAfter.seconds)
        var moved = 0
        // Keyset batches: a file that cannot be moved now is passed over, never retried in a loop, and never
        // holds back the ones behind it.
        var last: MediaAsset?
        repeat {
            let batch = try await moveBatch(of: tenant, before: cutoff, after: last)
            moved += batch.moved
            last = batch.last
        } while last != nil && !Task.isCancelled
        return moved
    }

    private func moveBatch(of tenant: TenantID, before cutoff: Date, after: MediaAsset?) async throws -> (moved: Int, last: MediaAsset?) {
        let (movedKeys, last): ([String], MediaAsset?) = try await database.transaction(.tenantWide(tenant)) { transaction in
            var keys: [String] = []
            let batch = try await transaction.lockAssetsDueForCold(before: cutoff, after: after, limit: Self.batchSize)
            for asset in batch {
                guard let key = asset.storageKey else { continue }
                guard let copied = try await store.copy(key: key, to: .cold), copied == StoredBytes(count: asset.byteSize, sha256: asset.sha256) else {
                    logger.error("evidence could not be copied to the cold tier intact; it stays hot", metadata: ["asset": "\(asset.id)"])
                    continue
                }
                let now = ServerClock.now()
                try await transaction.recordTier(of: asset.id, .cold, at: now)
                try await transaction.appendLedgerEvent(
                    EvidenceService.event("asset.tiered", asset, actor: Self.actor, payload: ["from": "hot", "to": "cold", "sha256": .string(asset.sha256)]))
                keys.append(key)
            }
            return (keys, batch.count == Self.batchSize ? batch.last : nil)
        }
        for key in movedKeys { await store.remove(key: key, from: .hot) }
        return (movedKeys.count, last)
    }
}
