import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import ServiceLifecycle

/// Keeps the reporting world up to date (seed 000 "Reporting is recomputable"). It follows each tenant's
/// sealed ledger from a checkpoint: every submission an event is about is projected again, whole, from
/// durable truth, and the checkpoint moves in the same transaction. So a projector stopped at any point
/// resumes where it committed, replaying an event changes nothing, and a rebuild (the same projection of
/// every submission) produces the very same rows.
struct ReportingProjector: Sendable {
    let database: Database

    static let batchSize = 500

    /// Projects what the scope's tenant's ledger says changed since its checkpoint, up to `limit` events;
    /// returns how many events it read (fewer than `limit`: it has caught up).
    func catchUp(_ tenant: TenantID, limit: Int = batchSize) async throws -> Int {
        try await database.transaction(.tenantWide(tenant)) { transaction in
            guard let checkpoint = try await transaction.lockReportingCheckpoint(skipIfBusy: true) else { return 0 }
            let events = try await transaction.sealedEvents(after: checkpoint, limit: limit)
            guard let last = events.last else { return 0 }
            var seen = Set<String>()
            for event in events where event.aggregateType == "submission" && seen.insert(event.aggregateId).inserted {
                try await project(SubmissionID(unchecked: event.aggregateId), tenant: tenant, in: transaction)
            }
            try await transaction.saveReportingCheckpoint(last.sequence)
            return events.count
        }
    }

    /// Recomputes every projection of `tenant` from durable truth, `pageSize` submissions per transaction,
    /// telling `progress` how many are done of how many.
    func rebuild(_ tenant: TenantID, pageSize: Int = 200, progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Int {
        // The checkpoint goes with the rows, so until the rebuild ends the projector replays the tenant's
        // ledger from the start: a rebuild stopped half-way is completed by the projector, never left partial.
        let (total, sealed) = try await database.transaction(.tenantWide(tenant)) { transaction in
            try await transaction.clearProjections()
            return (try await transaction.countSubmissions(), try await transaction.lastSealedSequence())
        }
        var done = 0
        var after: SubmissionID?
        while true {
            let page = try await database.transaction(.tenantWide(tenant)) { transaction in
                let ids = try await transaction.submissionIds(after: after, limit: pageSize)
                for id in ids { try await project(id, tenant: tenant, in: transaction) }
                return ids
            }
            done += page.count
            progress(done, total)
            guard let last = page.last, page.count == pageSize else { break }
            after = last
        }
        // Every event up to `sealed` is covered now; the projector follows on from the next one.
        try await database.transaction(.tenantWide(tenant)) { transaction in
            if try await transaction.lockReportingCheckpoint() ?? 0 < sealed { try await transaction.saveReportingCheckpoint(sealed) }
        }
        return done
    }

    /// One submission's projection, recomputed from its record, snapshot, corrections and ledger.
    func project(_ id: SubmissionID, tenant: TenantID, in transaction: Transaction) async throws {
        guard let (submission, snapshot) = try await transaction.fetchSubmission(id) else { return }
        let state = try await SubmissionService.currentState(submission, snapshot, in: transaction)
        let projection = ReportingProjection.project(
            submission, snapshot, result: state.result, responses: state.corrections.original, amendmentCount: state.corrections.amendments.count,
            voided: state.corrections.void != nil, evidenceCount: try await transaction.listAttachments(session: submission.sessionId).count,
            detections: try await transaction.findingDetections(of: id))
        try await transaction.replaceProjection(projection, tenant: tenant)
    }
}

/// The projector as a background worker: never on a request's path, woken every `interval`.
struct ReportingWorker: Service {
    let projector: ReportingProjector
    let interval: Duration
    let logger: Logger

    func run() async {
        await repeatUntilShutdown(name: "reporting projection", logger: logger) {
            for tenant in try await projector.database.transaction(.none, { try await $0.reportingTenantsBehind() }) {
                // Shutdown is checked between batches, so a server stops within one batch of work.
                while !Task.isCancelled, try await projector.catchUp(tenant) == ReportingProjector.batchSize {}
                if Task.isCancelled { return }
            }
        } pause: {
            try? await Task.sleep(for: interval)
        }
    }
}

/// The reporting maintenance the command line runs.
public enum ReportingMaintenance {
    /// Recomputes every projection of `tenant` from durable truth; `progress` hears (done, total).
    public static func rebuild(_ tenant: TenantID, database: Database, progress: @escaping @Sendable (Int, Int) -> Void) async throws -> Int {
        try await ReportingProjector(database: database).rebuild(tenant, progress: progress)
    }
}
