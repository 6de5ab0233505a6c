import EvaliumCore
import Foundation

/// A read the fixed-rate runs send: a GET of `path`, timed under `route`, as the holder of `token`.
struct ReadTarget: Codable, Sendable {
    var path: String
    var route: String
    var token: String
}

struct FixedRateResult: Codable, Sendable {
    var name: String
    var askedPerSecond: Int
    var seconds: Double
    var answeredPerSecond: Double
    var endpoints: [EndpointFigures]
    var errors: Int
    /// For the runs whose reads append `viewed` events: how many the ledger took, and the sealer's lag.
    var ledgerEventsPerSecond: Double?
    var sealerLag: Lag?
    var cpu: CPUShare?

    /// Requests answered over the whole run, every endpoint together.
    var answered: Int { Int(endpoints.reduce(0) { $0 + $1.requests }) }
}

/// GETs of `targets`, taken in turn, at `rate` per second for `seconds` through the reader's open loop.
struct FixedRateRun: Sendable {
    let reader: LoopbackReader
    let name: String
    let targets: [ReadTarget]
    let rate: Int
    let seconds: Int

    func run() async -> FixedRateResult {
        let recorder = Recorder()
        let started = ContinuousClock.now
        await reader.run(targets, rate: rate, seconds: seconds, recorder: recorder)
        let elapsed = (ContinuousClock.now - started).seconds
        let endpoints = recorder.figures(over: elapsed)
        var result = FixedRateResult(
            name: name, askedPerSecond: rate, seconds: elapsed, answeredPerSecond: 0, endpoints: endpoints,
            errors: endpoints.reduce(0) { $0 + $1.errors })
        result.answeredPerSecond = Double(result.answered) / elapsed
        return result
    }
}

/// One fixed-rate phase: its reads, taken in turn, and how many a second.
struct ReadPhase: Codable, Sendable {
    /// What `evalium-bench read --phase` calls it.
    var key: String
    var name: String
    var targets: [ReadTarget]
    var rate: Int
    /// Whether each read appends a `viewed` event, so the sealer's lag is measured after it.
    var appends: Bool

    /// Runs the phase once the server's background work has caught up, with where the machine's CPU went and,
    /// for appending reads, how late the sealer was.
    func measure(
        with reader: LoopbackReader, seconds: Int, database: BenchDatabase?, serverPid: Int32?, postmasterPid: Int32?
    ) async throws -> FixedRateResult {
        try await database?.settle()
        say("\(name) at a fixed \(rate)/s for \(seconds) s …")
        let startedAt = ServerClock.now()
        let counters = CPUCounters.read(serverPid: serverPid, postmasterPid: postmasterPid)
        var result = await FixedRateRun(reader: reader, name: name, targets: targets, rate: rate, seconds: seconds).run()
        result.cpu = CPUCounters.read(serverPid: serverPid, postmasterPid: postmasterPid)
            .share(since: counters, requests: result.answered)
        if appends, let lag = try await database?.sealerLag(since: startedAt) {
            result.sealerLag = lag
            result.ledgerEventsPerSecond = Double(lag.events) / result.seconds
        }
        return result
    }
}
