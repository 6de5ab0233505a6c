import EvaliumCore
import Foundation

/// A pgbench run of one finalisation's rows at one concurrency (scripts/lib/pgbench_baseline.sh).
struct Baseline: Codable, Sendable {
    struct Latency: Codable, Sendable { var p50: Double; var p95: Double; var p99: Double; var max: Double }
    var clients: Int
    var tps: Double
    var latency_ms: Latency
}

struct Machine: Codable, Sendable {
    var cores: Int
    var memoryGigabytes: Double
    var kernel: String
    var versions: String
    var date: String

    static func current(versions: String) -> Machine {
        let info = ProcessInfo.processInfo
        return Machine(
            cores: info.activeProcessorCount, memoryGigabytes: Double(info.physicalMemory) / 1_073_741_824,
            kernel: info.operatingSystemVersionString, versions: versions, date: ServerClock.now().rfc3339)
    }
}

struct Report: Encodable {
    var results: [LevelResult]
    var reads: EndpointFigures?
    var baseline: [Int: Baseline]
    var machine: Machine
    var levels: [Int]

    /// One table a person can read: per scenario and level, flows/s beside pgbench's transactions/s for the
    /// same rows and their ratio, then latencies per endpoint.
    func table() -> String {
        var lines = [
            "Evalium benchmark, \(machine.date), \(machine.cores) cores, \(String(format: "%.0f", machine.memoryGigabytes)) GiB, \(machine.versions)",
            "",
            pad("scenario", 34) + pad("ops", 5) + pad("flows/s", 9) + pad("pgbench tps", 12) + pad("ratio", 7) + pad("req/s", 8)
                + pad("ledger ev/s", 12) + pad("seal lag p99", 13) + pad("RSS MB", 8) + pad("CPU %", 7) + "errors",
        ]
        for result in results {
            let base = baseline[result.operators]
            lines.append(
                pad(result.scenario.title, 34) + pad("\(result.operators)", 5) + pad(format(result.flowsPerSecond, digits: 1), 9)
                    + pad(base.map { format($0.tps, digits: 1) } ?? "-", 12) + pad(base.map { format(result.flowsPerSecond / $0.tps, digits: 2) } ?? "-", 7)
                    + pad(format(result.requestsPerSecond), 8) + pad(result.ledgerEventsPerSecond.map { format($0) } ?? "-", 12)
                    + pad(result.sealerLag.map { format($0.p99, digits: 2) + " s" } ?? "-", 13)
                    + pad(result.serverMaxRSSMegabytes.map { format($0) } ?? "-", 8) + pad(result.serverCPUPercent.map { format($0) } ?? "-", 7)
                    + "\(result.errors)")
        }
        lines += ["", pad("latency (ms) by endpoint", 52) + pad("ops", 5) + pad("req/s", 8) + pad("p50", 8) + pad("p95", 8) + pad("p99", 8) + pad("max", 8)
            + pad("pgbench p99", 12) + "errors"]
        for result in results {
            lines.append("  \(result.scenario.title)")
            for endpoint in result.endpoints {
                lines.append(
                    pad("    " + endpoint.endpoint, 52) + pad("\(result.operators)", 5) + pad(format(endpoint.perSecond), 8)
                        + pad(format(endpoint.p50, digits: 1), 8) + pad(format(endpoint.p95, digits: 1), 8) + pad(format(endpoint.p99, digits: 1), 8)
                        + pad(format(endpoint.max, digits: 1), 8)
                        + pad(endpoint.endpoint.hasSuffix("/submit") ? baseline[result.operators].map { format($0.latency_ms.p99, digits: 1) } ?? "-" : "", 12)
                        + "\(endpoint.errors)")
            }
        }
        if let reads {
            lines += ["", "fixed-rate indexed reads: \(reads.endpoint): \(format(reads.perSecond)) req/s, p50 \(format(reads.p50, digits: 1)) ms, p95 \(format(reads.p95, digits: 1)) ms, p99 \(format(reads.p99, digits: 1)) ms, max \(format(reads.max, digits: 1)) ms, \(reads.errors) errors"]
        }
        return lines.joined(separator: "\n")
    }

    func write(to path: String) throws {
        let encoder = WireJSON.makeEncoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    enum CodingKeys: String, CodingKey { case machine, results, reads, baseline }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(machine, forKey: .machine)
        try container.encode(results.map { var result = $0; result.submissions = []; return result }, forKey: .results)
        try container.encodeIfPresent(reads, forKey: .reads)
        try container.encode(baseline.values.sorted { $0.clients < $1.clients }, forKey: .baseline)
    }

    private func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count) }
    private func format(_ value: Double, digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
}
