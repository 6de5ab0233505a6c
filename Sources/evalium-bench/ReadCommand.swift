import ArgumentParser
import Foundation

/// One fixed-rate phase against a running server, its figures printed as one JSON line: the measuring half of
/// `scripts/bench-ab`, which restarts the server of each side of a comparison before every run.
struct ReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read", abstract: "Measure one fixed-rate phase of reads against a running server (scripts/bench-ab).")

    @Option(help: "The server's base URL.") var server = "http://127.0.0.1:8090"
    @Option(help: "The phases `load --read-phases-out` wrote.") var phases: String
    @Option(help: "Which phase: indexed, submissions, hot-submissions, subjects or hot-subjects.") var phase: String
    @Option(help: "Reads per second, instead of the phase's own rate.") var rate: Int?
    @Option(help: "Seconds measured.") var seconds = 10
    @Option(help: "Seconds of the same reads first, not measured: a fresh server's first seconds plan every statement on every connection.")
    var warm = 5
    @Option(help: "A superuser URL of the server's database, to wait for its background work and read the sealer's lag.")
    var superuserURL: String?
    @Option(help: "The server's process id, for its CPU.") var serverPid: Int32?

    func run() async throws {
        let known = try JSONDecoder().decode([ReadPhase].self, from: Data(contentsOf: URL(fileURLWithPath: phases)))
        guard var chosen = known.first(where: { $0.key == phase }) else {
            throw ValidationError("no phase \(phase) in \(phases); it has \(known.map(\.key).joined(separator: ", "))")
        }
        chosen.rate = rate ?? chosen.rate
        let database = BenchDatabase(superuserURL: superuserURL)
        let reader = try LoopbackReader(base: server)
        if warm > 0 {
            _ = await FixedRateRun(reader: reader, name: chosen.name, targets: chosen.targets, rate: chosen.rate, seconds: warm).run()
        }
        let result = try await chosen.measure(
            with: reader, seconds: seconds, database: database, serverPid: serverPid, postmasterPid: try await database?.postmasterPid())
        await reader.close()
        print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }
}
