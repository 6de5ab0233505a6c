import ArgumentParser
import AsyncHTTPClient
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The entry point: the load driver's tasks run on NIO's event loops (as the server's do), so the client
/// spends as little of the shared machine as it can.
@main
enum Entry {
    static func main() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task {
            await EvaliumBench.main()
            exit(0)
        }
        dispatchMain()
    }
}

/// The benchmark's driver (scripts/bench runs it): the load on a running server, then the bulk seeding and
/// the export that time the heavy paths. Not a test: it asserts nothing, it measures.
struct EvaliumBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evalium-bench", abstract: "Measure a running Evalium server.",
        subcommands: [LoadCommand.self, SeedCommand.self, ExportCommand.self], defaultSubcommand: LoadCommand.self)
}

/// Drives a running Evalium server over loopback HTTP with simulated operators, reviewers and readers, and
/// prints what it measured beside the pgbench baseline measured on the same PostgreSQL.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load a running Evalium server with real flows.")

    @Option(help: "The server's base URL.") var server = "http://127.0.0.1:8090"
    @Option(help: "The platform operator's token.") var platformToken: String
    @Option(help: "The folder the server writes mail to (sign-in links are read from it).") var mailDir: String
    @Option(help: "A superuser URL of the server's PostgreSQL, for the sealer's lag.") var superuserURL: String?
    @Option(help: "The server's process id, for its memory and CPU.") var serverPid: Int32?
    @Option(help: "Concurrent operators per level.") var levels = "1,8,32"
    @Option(help: "Seconds per level and scenario.") var duration = 15
    @Option(help: "Tenants to seed (the first is the large one).") var tenants = 20
    @Option(help: "Subjects in the large tenant.") var largeSubjects = 2000
    @Option(help: "Indexed reads per second in the fixed-rate read test.") var readRate = 500
    @Option(help: "Reads of submissions, then of subjects (each appending a viewed event), per second, spread over ten tenants.")
    var appendRate = 1500
    @Option(help: "The same reads per second in the hot tenant alone.") var hotAppendRate = 500
    @Option(help: "JSON lines from scripts/lib/pgbench_baseline.sh.") var baseline: String?
    @Option(help: "Where to write the figures as JSON.") var json = "bench-results.json"
    @Option(help: "The versions of what ran (Swift, PostgreSQL, the commit), recorded with the figures.") var versions = ""
    @Option(help: "Where to leave the large tenant's id and its administrator's token for the heavy paths.") var handoff: String?

    func run() async throws {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)))
        do {
            try await measure(API(client: client, base: server))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(_ api: API) async throws {
        let levels = self.levels.split(separator: ",").compactMap { Int($0) }

        say("seeding \(tenants) tenants (the first with \(largeSubjects) subjects, the others 50), each a 30-item observation template and a 20-question quiz")
        var seeded: [SeededTenant] = []
        let seeding = ProgressBar(total: tenants)
        for index in 0..<tenants {
            seeded.append(try await Seeder(api: api, platformToken: platformToken, mailDir: mailDir)
                .tenant(number: index, subjects: index == 0 ? largeSubjects : 50))
            seeding.show(index + 1)
        }
        if let handoff, let large = seeded.first {
            try JSONEncoder().encode(Handoff(tenantId: large.tenantId, token: large.adminToken)).write(to: URL(fileURLWithPath: handoff))
        }

        var results: [LevelResult] = []
        for scenario in Scenario.allCases {
            for level in levels {
                say("\(scenario.title): \(level) operator\(level == 1 ? "" : "s") for \(duration) s …")
                let workers = (0..<level).map { seeded[scenario == .hotTenant ? 0 : $0 % min(seeded.count, 10)] }
                var result = try await LoadRun(api: api, workers: workers, duration: .seconds(duration), serverPid: serverPid).run()
                result.scenario = scenario
                result.sealerLag = try await sealerLag(since: result.startedAt)
                result.ledgerEventsPerSecond = result.sealerLag.map { Double($0.events) / result.seconds }
                results.append(result)
                say("  " + result.summary)
            }
        }
        var finalisations: [FinalisationResult] = []
        // A session takes some thirty requests to prepare and one to submit: ten seconds of preparing left about
        // a second of submitting, short enough for one checkpoint or autovacuum to move the ratio by a tenth.
        let preparation = max(duration, 30)
        for level in levels {
            say("finalisations alone, \(level) operator\(level == 1 ? "" : "s"): preparing sessions for up to \(preparation) s …")
            let run = FinalisationRun(
                api: api, tenants: Array(seeded.prefix(10)), operators: level, preparation: .seconds(preparation), maximumSessions: 3000)
            let result = try await run.run(beforeSubmitting: { try await settle(startingAsPgbenchLevels: true) })
            finalisations.append(result)
            say(String(format: "  %d submitted in %.1f s: %.1f/s, %d errors", result.sessions, result.seconds, result.perSecond, result.errors)
                + (result.firstError.map { "\n  first error: \($0)" } ?? ""))
        }

        let submissions = results.flatMap(\.submissions)
        let reads = Self.submissionReads(submissions, seeded)
        let findings = seeded.prefix(10).map { ReadTarget(path: "/v1/reporting/findings?limit=50", route: "/v1/reporting/findings", token: $0.adminToken) }
        var fixedRate: [FixedRateResult] = []
        let reader = try LoopbackReader(base: api.base)
        let postmasterPid = try await postmasterPid()
        for (name, targets, rate, appends) in [
            ("indexed reads (a submission, a tenant's findings)", Self.interleave(reads, findings), readRate, false),
            ("ledger appends: submission reads over 10 tenants", reads.filter { $0.tenant < 10 }.map(\.target), appendRate, true),
            ("ledger appends: submission reads in one hot tenant", reads.filter { $0.tenant == 0 }.map(\.target), hotAppendRate, true),
            ("ledger appends: subject reads over 10 tenants", Self.subjectReads(seeded.prefix(10)), appendRate, true),
            ("ledger appends: subject reads in one hot tenant", Self.subjectReads(seeded.prefix(1)), hotAppendRate, true),
        ] {
            try await settle()
            say("\(name) at a fixed \(rate)/s for 10 s …")
            let startedAt = ServerClock.now()
            let counters = CPUCounters.read(serverPid: serverPid, postmasterPid: postmasterPid)
            var result = await FixedRateRun(reader: reader, name: name, targets: targets, rate: rate, seconds: 10).run()
            result.cpu = CPUCounters.read(serverPid: serverPid, postmasterPid: postmasterPid)
                .share(since: counters, requests: Int(result.endpoints.reduce(0) { $0 + $1.requests }))
            if appends, let lag = try await sealerLag(since: startedAt) {
                result.sealerLag = lag
                result.ledgerEventsPerSecond = Double(lag.events) / result.seconds
            }
            fixedRate.append(result)
        }
        await reader.close()

        let pgbench = try baseline.map(Self.loadBaseline) ?? [:]
        let report = Report(
            results: results, finalisations: finalisations, fixedRate: fixedRate, baseline: pgbench, machine: Machine.current(versions: versions),
            levels: levels)
        print(report.table())
        try report.write(to: json)
        say("figures written to \(json)")
    }

    /// A GET of each submission, as its tenant's administrator.
    private static func submissionReads(_ submissions: [SubmissionRef], _ tenants: [SeededTenant]) -> [(tenant: Int, target: ReadTarget)] {
        submissions.map { reference in
            (reference.tenant, ReadTarget(path: "/v1/submissions/\(reference.id)", route: "/v1/submissions/{id}", token: tenants[reference.tenant].adminToken))
        }
    }

    /// A GET of each tenant's first fifty subjects (each read appends `subject.viewed`: the ledger's append path
    /// under a small record, where a submission read carries its whole view), the tenants taken in turn.
    private static func subjectReads(_ tenants: ArraySlice<SeededTenant>) -> [ReadTarget] {
        let perTenant = tenants.map { tenant in
            tenant.subjects.prefix(50).map { ReadTarget(path: "/v1/subjects/\($0)", route: "/v1/subjects/{id}", token: tenant.adminToken) }
        }
        return (0..<(perTenant.map(\.count).max() ?? 0)).flatMap { index in perTenant.compactMap { index < $0.count ? $0[index] : nil } }
    }

    /// The submission reads with a findings list after every one, the lists taken in turn.
    private static func interleave(_ reads: [(tenant: Int, target: ReadTarget)], _ lists: [ReadTarget]) -> [ReadTarget] {
        reads.enumerated().flatMap { index, read in [read.target, lists[index % lists.count]] }
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
    private func settle(startingAsPgbenchLevels: Bool = false) async throws {
        guard let url = superuserURL, let endpoint = DatabaseEndpoint(url: url) else { return }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
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

    /// The process id of the PostgreSQL that serves the bench, for where the machine's CPU went (`CPUCounters`):
    /// the parent of its checkpointer (a backend of the bench's own would end with its connection).
    private func postmasterPid() async throws -> Int32? {
        guard let url = superuserURL, let endpoint = DatabaseEndpoint(url: url) else { return nil }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let rows = try await AdministrativeSQL.run(["SELECT pid::text FROM pg_stat_activity WHERE backend_type = 'checkpointer'"], on: endpoint, logger: logger)
        return rows.first?.first.flatMap { $0 }.flatMap(Int32.init).flatMap(ProcessStat.init(pid:))?.parent
    }

    private func sealerLag(since start: Date) async throws -> Lag? {
        guard let url = superuserURL, let endpoint = DatabaseEndpoint(url: url) else { return nil }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
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

    static func loadBaseline(_ path: String) throws -> [Int: Baseline] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        var byClients: [Int: Baseline] = [:]
        for line in lines where line.hasPrefix("{") {
            let baseline = try JSONDecoder().decode(Baseline.self, from: Data(line.utf8))
            byClients[baseline.clients] = baseline
        }
        return byClients
    }
}

func say(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// A bar on standard error that ends its line once, however often (and from however many tasks) it hears
/// that the work is done; counts past the total show as the total.
final class ProgressBar: Sendable {
    private let total: Int
    private let finished = Mutex(false)

    init(total: Int) { self.total = total }

    func show(_ done: Int) {
        finished.withLock { finished in
            guard !finished else { return }
            let done = min(done, total)
            finished = done == total
            let filled = total == 0 ? 30 : done * 30 / total
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
            FileHandle.standardError.write(Data("\r  [\(bar)] \(done)/\(total)\(finished ? "\n" : "")".utf8))
        }
    }

    func finish() { show(total) }
}
