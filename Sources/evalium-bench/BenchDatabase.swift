import EvaliumCore
import EvaliumStorage
import Foundation
import Logging

/// The server's PostgreSQL as the bench watches it, as its superuser: whether the background work has caught up,
/// how late the sealer was, and which processes are PostgreSQL's.
struct BenchDatabase: Sendable {
    private let endpoint: DatabaseEndpoint
    private let logger: Logger

    init?(superuserURL: String?) {
        guard let superuserURL, let endpoint = DatabaseEndpoint(url: superuserURL) else { return nil }
        self.endpoint = endpoint
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        self.logger = logger
    }

    /// Waits (up to two minutes) until the server has sealed every appended event and projected every sealed one
    /// for reporting, so a measured phase measures its own requests, not the previous phase's backlog (the
    /// finalisations just before the fixed rates leave thousands of submissions to project).
    ///
    /// `startingAsPgbenchLevels` then gives the phase the start each pgbench level gets
    /// (`scripts/lib/pgbench_baseline.sh`): `VACUUM (ANALYZE)` and a `CHECKPOINT`, for the finalisations measured
    /// against it. Not for the fixed rates: the first write to each page after a checkpoint logs the whole page,
    /// and ten seconds of reads, each appending its event to random leaves of the ledger's indexes, right after
    /// one measured that worst moment of the checkpoint cycle (indexed reads at 500/s: p50 60–74 ms, 6–8 ms without).
    func settle(startingAsPgbenchLevels: Bool = false) async throws {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(120) {
            let rows = try await AdministrativeSQL.run(
                [
                    """
                    SELECT ((SELECT count(*) FROM ledger_seal_queue)
                           + (SELECT count(*) FROM tenants t
                              WHERE (SELECT max(s.sequence) FROM ledger_seals s WHERE s.tenant_id = t.id)
                                    > coalesce((SELECT c.last_sequence FROM reporting.checkpoints c WHERE c.tenant_id = t.id), 0)))::text
                    """
                ], on: endpoint, logger: logger)
            if rows.last?.first.flatMap({ $0 }) == "0" {
                let caughtUp = ContinuousClock.now
                var done = String(format: "  background work (sealing, reporting) caught up after %.1f s", (caughtUp - started).seconds)
                if startingAsPgbenchLevels {
                    try await AdministrativeSQL.run(["VACUUM (ANALYZE)", "CHECKPOINT"], on: endpoint, logger: logger)
                    done += String(format: "; vacuumed and checkpointed in %.1f s", (ContinuousClock.now - caughtUp).seconds)
                }
                say(done)
                return
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        say("  background work (sealing, reporting) still behind after 120 s; measuring anyway")
    }

    /// The process id of this PostgreSQL, for where the machine's CPU went (`CPUCounters`):
    /// the parent of its checkpointer (a backend of the bench's own would end with its connection).
    func postmasterPid() async throws -> Int32? {
        let rows = try await AdministrativeSQL.run(
            ["SELECT pid::text FROM pg_stat_activity WHERE backend_type = 'checkpointer'"], on: endpoint, logger: logger)
        return rows.first?.first.flatMap { $0 }.flatMap(Int32.init).flatMap(ProcessStat.init(pid:))?.parent
    }

    /// How late the sealer sealed the events appended since `start`.
    func sealerLag(since start: Date) async throws -> Lag? {
        // Give the sealer a moment to seal the last appends before measuring how late it was.
        try await Task.sleep(for: .seconds(2))
        let rows = try await AdministrativeSQL.run(
            [
                """
                SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), 0)::text,
                       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), 0)::text,
                       coalesce(max(lag), 0)::text, count(*)::text,
                       (SELECT count(*) FROM ledger_seal_queue)::text
                FROM (SELECT extract(epoch FROM s.sealed_at - e.occurred_at) AS lag
                      FROM ledger_events e JOIN ledger_seals s ON s.event_id = e.id
                      WHERE e.occurred_at >= '\(start.rfc3339)') lags
                """
            ], on: endpoint, logger: logger)
        guard let row = rows.last, row.count == 5 else { return nil }
        let number = { (index: Int) in Double(row[index] ?? "0") ?? 0 }
        return Lag(p50: number(0), p99: number(1), max: number(2), events: Int(number(3)), stillQueued: Int(number(4)))
    }
}
