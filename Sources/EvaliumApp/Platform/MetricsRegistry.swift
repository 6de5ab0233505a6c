import Foundation
import Synchronization

/// The server's counters and histograms, rendered in the Prometheus text exposition format at
/// `/metrics`. Kept in-process and small on purpose: a handful of series, no client library.
public final class MetricsRegistry: Sendable {
    private struct RequestKey: Hashable { var method: String; var route: String; var status: Int }
    private struct RouteKey: Hashable { var method: String; var route: String }
    private struct Histogram { var buckets: [Int]; var sum: Double = 0; var count = 0 }
    private struct State {
        var requests: [RequestKey: Int] = [:]
        var durations: [RouteKey: Histogram] = [:]
        var sealedEvents = 0
        var sealPasses = 0
        var sealFailures = 0
    }

    private static let durationBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    private let state = Mutex(State())

    public init() {}

    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        let seconds = duration.milliseconds / 1000
        state.withLock { state in
            state.requests[RequestKey(method: method, route: route, status: status), default: 0] += 1
            let key = RouteKey(method: method, route: route)
            var histogram = state.durations[key] ?? Histogram(buckets: Array(repeating: 0, count: Self.durationBuckets.count))
            for (index, bound) in Self.durationBuckets.enumerated() where seconds <= bound { histogram.buckets[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.durations[key] = histogram
        }
    }

    func recordSealPass(sealed: Int) {
        state.withLock { state in
            state.sealPasses += 1
            state.sealedEvents += sealed
        }
    }

    func recordSealFailure() { state.withLock { $0.sealFailures += 1 } }

    public func render() -> String {
        state.withLock { state in
            var lines = [
                "# HELP evalium_http_requests_total HTTP requests by method, route template and status.",
                "# TYPE evalium_http_requests_total counter",
            ]
            for (key, count) in state.requests.sorted(by: { "\($0.key)" < "\($1.key)" }) {
                lines.append("evalium_http_requests_total{method=\"\(key.method)\",route=\"\(key.route)\",status=\"\(key.status)\"} \(count)")
            }
            lines += [
                "# HELP evalium_http_request_duration_seconds Time to produce a response.",
                "# TYPE evalium_http_request_duration_seconds histogram",
            ]
            for (key, histogram) in state.durations.sorted(by: { "\($0.key)" < "\($1.key)" }) {
                let labels = "method=\"\(key.method)\",route=\"\(key.route)\""
                for (index, bound) in Self.durationBuckets.enumerated() {
                    lines.append("evalium_http_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(histogram.buckets[index])")
                }
                lines.append("evalium_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(histogram.count)")
                lines.append("evalium_http_request_duration_seconds_sum{\(labels)} \(histogram.sum)")
                lines.append("evalium_http_request_duration_seconds_count{\(labels)} \(histogram.count)")
            }
            lines += [
                "# HELP evalium_ledger_events_sealed_total Ledger events given a sequence number and chain hash.",
                "# TYPE evalium_ledger_events_sealed_total counter",
                "evalium_ledger_events_sealed_total \(state.sealedEvents)",
                "# HELP evalium_ledger_seal_passes_total Sealer passes over tenants with pending events.",
                "# TYPE evalium_ledger_seal_passes_total counter",
                "evalium_ledger_seal_passes_total \(state.sealPasses)",
                "# HELP evalium_ledger_seal_failures_total Sealer passes that failed and will be retried.",
                "# TYPE evalium_ledger_seal_failures_total counter",
                "evalium_ledger_seal_failures_total \(state.sealFailures)",
            ]
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
