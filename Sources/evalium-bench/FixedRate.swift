import EvaliumCore
import Foundation
import NIOHTTP1

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
}

/// Requests started on schedule at `rate` per second, whether or not earlier ones have answered (an open
/// loop), so a slow answer cannot hide the queue behind it; `targets` are taken in turn. A request that gets
/// no answer (its connection failed) counts as an error.
struct FixedRateRun: Sendable {
    let reader: LoopbackReader
    let name: String
    let targets: [ReadTarget]
    let rate: Int
    let seconds: Int

    func run() async -> FixedRateResult {
        let recorder = Recorder()
        let interval = Duration.seconds(1) / rate
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for tick in 0..<(rate * seconds) where !targets.isEmpty {
                try? await Task.sleep(until: started + interval * tick, clock: .continuous)
                let target = targets[tick % targets.count]
                group.addTask {
                    let sent = ContinuousClock.now
                    let status = (try? await reader.get(target.path, token: target.token)) ?? 0
                    recorder.record("GET \(target.route)", microseconds: (ContinuousClock.now - sent).microseconds, failed: !(200..<400).contains(status))
                }
            }
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let endpoints = recorder.figures(over: elapsed)
        return FixedRateResult(
            name: name, askedPerSecond: rate, seconds: elapsed, answeredPerSecond: Double(endpoints.reduce(0) { $0 + $1.requests }) / elapsed,
            endpoints: endpoints, errors: endpoints.reduce(0) { $0 + $1.errors })
    }
}
