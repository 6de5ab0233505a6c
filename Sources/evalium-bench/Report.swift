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
    var finalisations: [FinalisationResult]
    var fixedRate: [FixedRateResult]
    var baseline: [Int: Baseline]
    var machine: Machine
    var levels: [Int]

    /// One table a person can read: the whole flows per scenario and level; the finalisations alone beside
    /// pgbench's transactions for the same rows, with their ratio; latencies per endpoint; the fixed-rate runs.
    func table() -> String {
        var lines = [
            "Evalium benchmark, \(machine.date), \(machine.cores) cores, \(format(machine.memoryGigabytes)) GiB, \(machine.versions)",
            "",
            "Whole flows (assignment, session, every answer, submit, a read, a review)",
            row(("scenario", 34), ("ops", 5), ("flows/s", 9), ("req/s", 8), ("ledger ev/s", 12), ("seal lag p99", 13), ("RSS MB", 8), ("CPU %", 7), ("errors", 0)),
        ]
        for result in results {
            lines.append(row(
                (result.scenario.title, 34), ("\(result.operators)", 5), (format(result.flowsPerSecond, digits: 1), 9), (format(result.requestsPerSecond), 8),
                (result.ledgerEventsPerSecond.map { format($0) } ?? "-", 12), (result.sealerLag.map { format($0.p99, digits: 2) + " s" } ?? "-", 13),
                (result.serverMaxRSSMegabytes.map { format($0) } ?? "-", 8), (result.serverCPUPercent.map { format($0) } ?? "-", 7), ("\(result.errors)", 0)))
        }
        lines += [
            "", "Finalisations alone (prepared sessions submitted back to back) beside pgbench writing the same rows",
            row(("ops", 5), ("submits/s", 11), ("pgbench tps", 12), ("ratio", 7), ("p50 ms", 8), ("pgbench p50", 12), ("p99 ms", 8), ("pgbench p99", 12), ("errors", 0)),
        ]
        for result in finalisations {
            let base = baseline[result.operators]
            lines.append(row(
                ("\(result.operators)", 5), (format(result.perSecond, digits: 1), 11), (base.map { format($0.tps, digits: 1) } ?? "-", 12),
                (base.map { format(result.perSecond / $0.tps, digits: 2) } ?? "-", 7), (format(result.submit?.p50 ?? 0, digits: 1), 8),
                (base.map { format($0.latency_ms.p50, digits: 1) } ?? "-", 12), (format(result.submit?.p99 ?? 0, digits: 1), 8),
                (base.map { format($0.latency_ms.p99, digits: 1) } ?? "-", 12), ("\(result.errors)", 0)))
        }
        lines += ["", "Latency (ms) by endpoint, whole flows", endpointHeader()]
        for result in results {
            lines.append("  \(result.scenario.title), \(result.operators) operator\(result.operators == 1 ? "" : "s")")
            lines += result.endpoints.map(endpointRow)
        }
        lines += ["", "At a fixed rate (an open loop: requests start on schedule, answered or not)", endpointHeader()]
        for run in fixedRate {
            var title = "  \(run.name): \(run.askedPerSecond)/s asked, \(format(run.answeredPerSecond))/s answered"
            if let events = run.ledgerEventsPerSecond { title += ", \(format(events)) ledger events/s" }
            if let lag = run.sealerLag { title += ", sealer lag p99 \(format(lag.p99, digits: 2)) s" }
            lines.append(title)
            if let cpu = run.cpu {
                lines.append(
                    "    CPU per answered request: server \(format(cpu.serverMillisecondsPerRequest, digits: 2)) ms, PostgreSQL "
                        + "\(format(cpu.postgresMillisecondsPerRequest, digits: 2)) ms, bench \(format(cpu.clientMillisecondsPerRequest, digits: 2)) ms, "
                        + "machine \(format(cpu.machineMillisecondsPerRequest, digits: 2)) ms; machine idle \(format(cpu.idlePercent)) %, "
                        + "steal \(format(cpu.stealPercent, digits: 1)) %")
            }
            lines += run.endpoints.map(endpointRow)
        }
        return lines.joined(separator: "\n")
    }

    private func endpointHeader() -> String {
        row(("", 52), ("req/s", 8), ("p50", 8), ("p95", 8), ("p99", 8), ("max", 8), ("errors", 0))
    }

    private func endpointRow(_ endpoint: EndpointFigures) -> String {
        row(
            ("    " + endpoint.endpoint, 52), (format(endpoint.perSecond), 8), (format(endpoint.p50, digits: 1), 8), (format(endpoint.p95, digits: 1), 8),
            (format(endpoint.p99, digits: 1), 8), (format(endpoint.max, digits: 1), 8), ("\(endpoint.errors)", 0))
    }

    func write(to path: String) throws {
        let encoder = WireJSON.makeEncoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    enum CodingKeys: String, CodingKey { case machine, results, finalisations, fixedRate, baseline }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(machine, forKey: .machine)
        try container.encode(results.map { var result = $0; result.submissions = []; return result }, forKey: .results)
        try container.encode(finalisations, forKey: .finalisations)
        try container.encode(fixedRate, forKey: .fixedRate)
        try container.encode(baseline.values.sorted { $0.clients < $1.clients }, forKey: .baseline)
    }

    /// Columns padded to their widths (the last one unpadded).
    private func row(_ columns: (String, Int)...) -> String {
        columns.map { text, width in text.count >= width ? text + (width == 0 ? "" : " ") : text + String(repeating: " ", count: width - text.count) }
            .joined()
    }

    private func format(_ value: Double, digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
}
