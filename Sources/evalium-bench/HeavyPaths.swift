import ArgumentParser
import AsyncHTTPClient
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// What the load leaves for the heavy paths: the large tenant and a way in.
struct Handoff: Codable {
    var tenantId: String
    var token: String
}

/// Grows the large tenant to the heavy paths' sizes (while the server is stopped, so its projector does
/// not chase the copies).
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Copy the load's submissions and events up to the given sizes.")

    @Option(help: "The application role's database URL.") var applicationURL: String
    @Option(help: "A superuser URL of the same database.") var superuserURL: String
    @Option(help: "The file the load left (--handoff).") var handoff: String
    @Option(help: "Submissions to add.") var submissions = 100_000
    @Option(help: "Ledger events to add (the copies' own, then reads).") var events = 1_000_000

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        guard let application = DatabaseEndpoint(url: applicationURL), let superuser = DatabaseEndpoint(url: superuserURL) else {
            throw ValidationError("--application-url and --superuser-url must be postgres:// URLs")
        }
        let left = try JSONDecoder().decode(Handoff.self, from: Data(contentsOf: URL(fileURLWithPath: handoff)))
        let started = ContinuousClock.now
        try await BulkSeeder(application: application, superuser: superuser, tenantId: TenantID(unchecked: left.tenantId), logger: logger)
            .seed(submissions: submissions, events: events)
        say(String(format: "seeded in %.0f s", (ContinuousClock.now - started).seconds))
    }
}

/// Downloads the large tenant's submissions CSV and times it, with the server's resident memory sampled
/// while it streams.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Time the submissions CSV export.")

    @Option(help: "The server's base URL.") var server: String
    @Option(help: "The server's process id, for its memory.") var serverPid: Int32?
    @Option(help: "The file the load left (--handoff).") var handoff: String

    func run() async throws {
        let left = try JSONDecoder().decode(Handoff.self, from: Data(contentsOf: URL(fileURLWithPath: handoff)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let sampler = ProcessSampler(pid: serverPid)
        let sampling = Task { await sampler.sample(until: .now + .seconds(3600)) }
        defer { sampling.cancel() }
        var request = HTTPClientRequest(url: server + "/v1/reporting/exports/submissions.csv")
        request.headers.add(name: "Authorization", value: "Bearer \(left.token)")
        let started = ContinuousClock.now
        var bytes = 0
        var tail: [UInt8] = []
        do {
            let response = try await client.execute(request, timeout: .seconds(3600))
            guard response.status == .ok else { throw SeedFailed("the export answered \(response.status)") }
            for try await chunk in response.body {
                bytes += chunk.readableBytes
                tail = Array((tail + chunk.readableBytesView).suffix(512))
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        let seconds = (ContinuousClock.now - started).seconds
        // The export's trailer counts its rows: `# rows: N`.
        guard let trailer = String(decoding: tail, as: UTF8.self).components(separatedBy: "# rows: ").last?.prefix(while: \.isNumber),
              let rows = Int(trailer) else { throw SeedFailed("the export has no `# rows:` trailer") }
        let figures = ExportFigures(rows: rows, bytes: bytes, seconds: seconds, rowsPerSecond: Double(rows) / seconds, serverMaxRSSMegabytes: sampler.maxRSSMegabytes)
        print(String(data: try JSONEncoder().encode(figures), encoding: .utf8)!)
    }
}

struct ExportFigures: Codable {
    var rows: Int
    var bytes: Int
    var seconds: Double
    var rowsPerSecond: Double
    var serverMaxRSSMegabytes: Double?
}
