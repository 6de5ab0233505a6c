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
            let changed = events.filter { Self.changesProjection($0) && seen.insert($0.aggregateId).inserted }
            try await project(changed.map { SubmissionID(unchecked: $0.aggregateId) }, tenant: tenant, in: transaction)
            try await transaction.saveReportingCheckpoint(last.sequence)
            return events.count
        }
    }

    /// Whether `event` can change a projection: an event about a submission, other than a read of it (a read
    /// changes nothing a projection holds, and every read of a submission appends one).
    static func changesProjection(_ event: SealedEventRef) -> Bool {
        event.aggregateType == "submission" && !CorrectionService.viewEvents.contains(event.eventType)
    }

    /// One pass over the tenants whose sealed ledger is ahead of their checkpoint (up to `tenantsPerPass`): their
    /// new events are read in one statement; the checkpoints of tenants whose events change no projection (reads,
    /// mostly) move past them in one more; each other tenant is caught up (`catchUp`). Answers whether a tenant
    /// had more than the pass read, or more tenants were behind than it took.
    func followLedger(tenantsPerPass: Int = 50) async throws -> Bool {
        let work = try await database.scopedStatements(.none) {
            try await $0.reportingLedgerWork(eventsPerTenant: Self.batchSize, tenants: tenantsPerPass)
        }
        let unchanging = work.filter { !$0.events.contains(where: Self.changesProjection) }
        let skips = unchanging.compactMap { tenant in tenant.events.last.map { (tenant.tenantId, tenant.checkpoint, $0.sequence) } }
        if !skips.isEmpty {
            _ = try await database.scopedStatements(.none) { try await $0.skipReportingCheckpoints(skips) }
        }
        for tenant in work where tenant.events.contains(where: Self.changesProjection) {
            // Shutdown is checked between batches, so a server stops within one batch of work.
            while !Task.isCancelled, try await catchUp(tenant.tenantId) == Self.batchSize {}
        }
        return work.count == tenantsPerPass || unchanging.contains { $0.events.count == Self.batchSize }
    }

    /// Recomputes every projection of `tenant` from durable truth, `pageSize` submissions per transaction and
    /// `concurrentPages` transactions at a time (each submission's projection stands alone, and a page waits
    /// mostly on round trips), telling `progress` how many are done of how many.
    func rebuild(
        _ tenant: TenantID, pageSize: Int = 500, concurrentPages: Int = 3, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Int {
        // The checkpoint goes first, so until the rebuild ends the projector replays the tenant's ledger from the
        // start: a rebuild stopped half-way is completed by the projector, never left partial. Readers see the old
        // projections until each page replaces its own.
        let (total, sealed) = try await database.transaction(.tenantWide(tenant)) { transaction in
            try await transaction.resetReportingCheckpoint()
            return (try await transaction.countSubmissions(), try await transaction.lastSealedSequence())
        }
        let database = database
        // One transaction lists the ids while others project them, a page each.
        let done = try await database.transaction(.tenantWide(tenant)) { listing in
            try await withThrowingTaskGroup(of: Int.self) { pages in
                var done = 0
                var running = 0
                var page: [SubmissionID] = []
                func startPage() async throws {
                    if running == concurrentPages, let finished = try await pages.next() {
                        done += finished
                        running -= 1
                        progress(done, total)
                    }
                    let ids = page
                    pages.addTask {
                        try await database.transaction(.tenantWide(tenant)) { transaction in
                            try await project(ids, tenant: tenant, in: transaction)
                            return ids.count
                        }
                    }
                    running += 1
                    page.removeAll(keepingCapacity: true)
                }
                try await listing.forEachSubmissionId { id in
                    page.append(id)
                    if page.count == pageSize { try await startPage() }
                }
                if !page.isEmpty { try await startPage() }
                for try await finished in pages {
                    done += finished
                    progress(done, total)
                }
                return done
            }
        }
        // Every event up to `sealed` is covered now; the projector follows on from the next one.
        try await database.transaction(.tenantWide(tenant)) { transaction in
            if try await transaction.lockReportingCheckpoint() ?? 0 < sealed { try await transaction.saveReportingCheckpoint(sealed) }
        }
        return done
    }

    /// The projections of `ids`, recomputed from their records, snapshots, corrections and ledger: every
    /// piece read for all of them at once, so a page costs a dozen statements, not a dozen per submission.
    func project(_ ids: [SubmissionID], tenant: TenantID, in transaction: Transaction) async throws {
        guard !ids.isEmpty else { return }
        let submissions = try await transaction.fetchSubmissions(ids)
        let sessions = submissions.map(\.0.sessionId)
        let corrections = try await transaction.corrections(of: ids)
        let answeredAt = try await transaction.answerTimes(ofSessions: sessions)
        // Only rescored work needs its recorded answers.
        let rescored = submissions.map(\.0).filter { submission in
            SubmissionService.isRescored(
                amendments: corrections[submission.id]?.amendments ?? [], latestGrades: corrections[submission.id]?.latestGrades ?? [:])
        }
        let responses = rescored.isEmpty ? [:] : try await transaction.responses(ofSessions: rescored.map(\.sessionId))
        let evidence = try await transaction.attachmentCounts(sessions: sessions)
        let detections = try await transaction.findingDetections(of: ids)
        let projections = submissions.map { submission, snapshot in
            let corrected = corrections[submission.id] ?? SubmissionCorrections()
            let state = SubmissionService.currentState(
                submission, snapshot,
                corrections: CorrectionChain(
                    original: responses[submission.sessionId] ?? [], amendments: corrected.amendments, void: corrected.void),
                grades: corrected.latestGrades)
            return ReportingProjection.project(
                submission, snapshot, result: state.result, answeredAt: answeredAt[submission.sessionId] ?? [:],
                amendmentCount: corrected.amendments.count, voided: corrected.void != nil, evidenceCount: evidence[submission.sessionId] ?? 0,
                detections: detections[submission.id] ?? [])
        }
        try await transaction.replaceProjections(projections, tenant: tenant)
    }
}

/// The projector as a background worker: never on a request's path, woken every `interval`.
struct ReportingWorker: Service {
    let projector: ReportingProjector
    let interval: Duration
    let logger: Logger

    func run() async {
        await repeatUntilShutdown(name: "reporting projection", logger: logger) {
            while !Task.isCancelled, try await projector.followLedger() {}
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
