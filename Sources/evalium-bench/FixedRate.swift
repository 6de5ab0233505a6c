import EvaliumCore
import Foundation

/// A read the fixed-rate runs send: a GET of `path`, timed under `route`, as the holder of `token`.
struct ReadTarget: Sendable {
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
        return FixedRateResult(
            name: name, askedPerSecond: rate, seconds: elapsed, answeredPerSecond: Double(endpoints.reduce(0) { $0 + $1.requests }) / elapsed,
            endpoints: endpoints, errors: endpoints.reduce(0) { $0 + $1.errors })
    }
}
