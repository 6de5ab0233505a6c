import EvaliumCore
import Foundation
import NIOHTTP1
import Synchronization

enum Scenario: String, CaseIterable, Codable, Sendable {
    case tenTenants = "ten_tenants"
    case hotTenant = "hot_tenant"

    var title: String { self == .tenTenants ? "operators spread over 10 tenants" : "every operator in one hot tenant" }
}

struct Lag: Codable, Sendable {
    var p50: Double
    var p99: Double
    var max: Double
    var events: Int
    var stillQueued: Int
}

struct EndpointFigures: Codable, Sendable {
    var endpoint: String
    var requests: UInt64
    var perSecond: Double
    var p50: Double
    var p95: Double
    var p99: Double
    var max: Double
    var errors: Int
}

struct LevelResult: Codable, Sendable {
    var scenario: Scenario = .tenTenants
    var operators: Int
    var startedAt: Date
    var seconds: Double
    var flows: Int
    var flowsPerSecond: Double
    var requestsPerSecond: Double
    /// Counted in the database after the run (every answer, view and decision appends one).
    var ledgerEventsPerSecond: Double?
    var errors: Int
    var firstError: String?
    var endpoints: [EndpointFigures]
    var serverMaxRSSMegabytes: Double?
    var serverCPUPercent: Double?
    var sealerLag: Lag?
    var submissions: [SubmissionRef]

    var summary: String {
        var line = String(format: "%.1f flows/s, %.0f requests/s, %d errors", flowsPerSecond, requestsPerSecond, errors)
        if let events = ledgerEventsPerSecond { line += String(format: ", %.0f ledger events/s", events) }
        if let lag = sealerLag { line += String(format: ", sealer lag p99 %.2f s", lag.p99) }
        if let rss = serverMaxRSSMegabytes { line += String(format: ", server RSS %.0f MB", rss) }
        if let cpu = serverCPUPercent { line += String(format: ", CPU %.0f%%", cpu) }
        if let firstError { line += "\n  first error: \(firstError)" }
        return line
    }
}

extension EndpointFigures {
    init(_ endpoint: String, _ histogram: LatencyHistogram, seconds: Double, errors: Int) {
        self.init(
            endpoint: endpoint, requests: histogram.total, perSecond: Double(histogram.total) / seconds, p50: histogram.percentile(0.5),
            p95: histogram.percentile(0.95), p99: histogram.percentile(0.99), max: histogram.maximumMilliseconds, errors: errors)
    }
}

struct SubmissionRef: Codable, Sendable {
    var tenant: Int
    var id: String
}

/// N simulated operators, each repeating the whole flow for `duration`: an assignment, a session, every
/// answer (one in ten a failed check with its comment, raising a finding), the submission with an
/// Idempotency-Key; then a reader fetches it (a `viewed` event) and, for observations, the tenant's
/// reviewer approves it. Observations and quizzes alternate.
struct LoadRun: Sendable {
    let api: API
    let workers: [SeededTenant]
    let duration: Duration
    let serverPid: Int32?

    func run() async throws -> LevelResult {
        let recorder = Recorder()
        let outcome = Outcome()
        let sampler = ProcessSampler(pid: serverPid)
        let startedAt = ServerClock.now()
        let started = ContinuousClock.now
        let deadline = started + duration
        let sampling = Task { await sampler.sample(until: deadline) }
        await withTaskGroup(of: Void.self) { group in
            for (number, tenant) in workers.enumerated() {
                group.addTask {
                    var round = number
                    while ContinuousClock.now < deadline {
                        round += 1
                        let observation = round % 2 == 0
                        do {
                            let submission = try await flow(tenant, observation: observation, round: round, recorder: recorder)
                            outcome.completed(SubmissionRef(tenant: tenant.number, id: submission))
                        } catch {
                            outcome.failed(error)
                        }
                    }
                }
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        await sampling.value
        let errors = recorder.errors
        let result = outcome.state.withLock { $0 }
        let endpoints = recorder.figures(over: seconds)
        let requests = endpoints.reduce(0) { $0 + $1.requests }
        return LevelResult(
            operators: workers.count, startedAt: startedAt, seconds: seconds, flows: result.flows, flowsPerSecond: Double(result.flows) / seconds,
            requestsPerSecond: Double(requests) / seconds, ledgerEventsPerSecond: nil,
            errors: errors.values.reduce(0, +) + (result.firstError != nil && errors.isEmpty ? 1 : 0), firstError: result.firstError,
            endpoints: endpoints, serverMaxRSSMegabytes: sampler.maxRSSMegabytes, serverCPUPercent: sampler.cpuPercent(over: seconds),
            sealerLag: nil, submissions: result.submissions)
    }

    private func flow(_ tenant: SeededTenant, observation: Bool, round: Int, recorder: Recorder) async throws -> String {
        let person = Operator(api: api, tenant: tenant, recorder: recorder)
        let submission = try await person.submit(try await person.prepareSession(observation: observation, round: round))
        try await person.read(submission)
        if observation { try await person.approve(submission) }
        return submission
    }
}

/// What a run's workers completed, and the first error one met.
final class Outcome: Sendable {
    let state = Mutex<(flows: Int, firstError: String?, submissions: [SubmissionRef])>((0, nil, []))

    func completed(_ submission: SubmissionRef) {
        state.withLock {
            $0.flows += 1
            if $0.submissions.count < 5000 { $0.submissions.append(submission) }
        }
    }

    func failed(_ error: any Error) {
        state.withLock { if $0.firstError == nil { $0.firstError = "\(error)" } }
    }
}

/// The server process's resident memory (highest seen) and CPU time, from /proc.
final class ProcessSampler: Sendable {
    let pid: Int32?
    private let state = Mutex<(maxRSS: Double, startTicks: Double?, endTicks: Double?)>((0, nil, nil))

    init(pid: Int32?) { self.pid = pid }

    func sample(until deadline: ContinuousClock.Instant) async {
        guard pid != nil else { return }
        let first = cpuTicks()
        state.withLock { $0.startTicks = first }
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let rss = residentMegabytes() ?? 0
            state.withLock { $0.maxRSS = max($0.maxRSS, rss) }
            try? await Task.sleep(for: .milliseconds(250))
        }
        let last = cpuTicks()
        state.withLock { $0.endTicks = last }
    }

    var maxRSSMegabytes: Double? { pid == nil ? nil : state.withLock { $0.maxRSS } }

    func cpuPercent(over seconds: Double) -> Double? {
        state.withLock { state in
            guard let start = state.startTicks, let end = state.endTicks else { return nil }
            return (end - start) / Double(sysconf(Int32(_SC_CLK_TCK))) / seconds * 100
        }
    }

    private func residentMegabytes() -> Double? {
        guard let pid, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return Double(line.split(separator: " ").dropFirst().first ?? "").map { $0 / 1024 }
    }

    private func cpuTicks() -> Double? {
        pid.flatMap(ProcessStat.init(pid:))?.ownTicks
    }
}
