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
        subcommands: [LoadCommand.self, ReadCommand.self, SeedCommand.self, ExportCommand.self], defaultSubcommand: LoadCommand.self)
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
    @Option(help: "Write the fixed-rate phases' reads here and stop after the whole flows (scripts/bench-ab measures them with `read`).")
    var readPhasesOut: String?

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
        let database = BenchDatabase(superuserURL: superuserURL)

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
                result.sealerLag = try await database?.sealerLag(since: result.startedAt)
                result.ledgerEventsPerSecond = result.sealerLag.map { Double($0.events) / result.seconds }
                results.append(result)
                say("  " + result.summary)
            }
        }
        let phases = readPhases(results.flatMap(\.submissions), seeded)
        if let readPhasesOut {
            try JSONEncoder().encode(phases).write(to: URL(fileURLWithPath: readPhasesOut))
            say("the fixed-rate phases' reads written to \(readPhasesOut)")
            return
        }
        var finalisations: [FinalisationResult] = []
        // A session takes some thirty requests to prepare and one to submit: ten seconds of preparing left about
        // a second of submitting, short enough for one checkpoint or autovacuum to move the ratio by a tenth.
        let preparation = max(duration, 30)
        for level in levels {
            say("finalisations alone, \(level) operator\(level == 1 ? "" : "s"): preparing sessions for up to \(preparation) s …")
            let run = FinalisationRun(
                api: api, tenants: Array(seeded.prefix(10)), operators: level, preparation: .seconds(preparation), maximumSessions: 3000)
            let result = try await run.run(beforeSubmitting: { try await database?.settle(startingAsPgbenchLevels: true) })
            finalisations.append(result)
            say(String(format: "  %d submitted in %.1f s: %.1f/s, %d errors", result.sessions, result.seconds, result.perSecond, result.errors)
                + (result.firstError.map { "\n  first error: \($0)" } ?? ""))
        }

        var fixedRate: [FixedRateResult] = []
        let reader = try LoopbackReader(base: api.base)
        let postmasterPid = try await database?.postmasterPid()
        for phase in phases {
            fixedRate.append(
                try await phase.measure(with: reader, seconds: 10, database: database, serverPid: serverPid, postmasterPid: postmasterPid))
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

    /// The fixed-rate phases, in the order they run.
    private func readPhases(_ submissions: [SubmissionRef], _ seeded: [SeededTenant]) -> [ReadPhase] {
        let reads = Self.submissionReads(submissions, seeded)
        let findings = seeded.prefix(10).map { ReadTarget(path: "/v1/reporting/findings?limit=50", route: "/v1/reporting/findings", token: $0.adminToken) }
        return [
            ReadPhase(key: "indexed", name: "indexed reads (a submission, a tenant's findings)", targets: Self.interleave(reads, findings), rate: readRate,
                      appends: false),
            ReadPhase(key: "submissions", name: "ledger appends: submission reads over 10 tenants", targets: reads.filter { $0.tenant < 10 }.map(\.target),
                      rate: appendRate, appends: true),
            ReadPhase(key: "hot-submissions", name: "ledger appends: submission reads in one hot tenant",
                      targets: reads.filter { $0.tenant == 0 }.map(\.target), rate: hotAppendRate, appends: true),
            ReadPhase(key: "subjects", name: "ledger appends: subject reads over 10 tenants", targets: Self.subjectReads(seeded.prefix(10)),
                      rate: appendRate, appends: true),
            ReadPhase(key: "hot-subjects", name: "ledger appends: subject reads in one hot tenant", targets: Self.subjectReads(seeded.prefix(1)),
                      rate: hotAppendRate, appends: true),
        ]
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
