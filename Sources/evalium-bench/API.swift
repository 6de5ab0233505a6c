import AsyncHTTPClient
import EvaliumCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One request's outcome as the load run needs it.
struct Answer: Sendable {
    var status: Int
    var bytes: ByteBuffer
    var microseconds: UInt64

    /// The body as JSON, decoded only for the callers that read it: the driver shares the server's cores,
    /// and most answers (a recorded answer, a submission read) are only timed.
    var body: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView))) ?? .null }
}

struct RequestFailed: Error, CustomStringConvertible {
    var endpoint: String
    var status: Int
    var body: String
    var description: String { "\(endpoint) answered \(status): \(body.prefix(300))" }
}

/// The server's HTTP API, timing every request and naming it by its route (ids replaced by placeholders),
/// so latencies are grouped per endpoint.
struct API: Sendable {
    let client: HTTPClient
    let base: String

    func send(
        _ method: HTTPMethod, _ path: String, route: String, json: String? = nil, contentType: String = "application/json",
        token: String, idempotencyKey: String? = nil, recorder: Recorder? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: json))
        }
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let microseconds = (ContinuousClock.now - started).microseconds
        let endpoint = "\(method.rawValue) \(route)"
        let status = Int(response.status.code)
        recorder?.record(endpoint, microseconds: microseconds, failed: status >= 400)
        guard status < 400 else { throw RequestFailed(endpoint: endpoint, status: status, body: String(buffer: bytes)) }
        return Answer(status: status, bytes: bytes, microseconds: microseconds)
    }
}

/// Latencies per endpoint and errors, shared by a run's workers.
final class Recorder: Sendable {
    private let state = Mutex<(histograms: [String: LatencyHistogram], errors: [String: Int])>(([:], [:]))

    func record(_ endpoint: String, microseconds: UInt64, failed: Bool) {
        state.withLock { state in
            state.histograms[endpoint, default: LatencyHistogram()].record(microseconds: microseconds)
            if failed { state.errors[endpoint, default: 0] += 1 }
        }
    }

    var histograms: [String: LatencyHistogram] { state.withLock { $0.histograms } }
    var errors: [String: Int] { state.withLock { $0.errors } }

    /// Every endpoint's figures over a run of `seconds`, by name.
    func figures(over seconds: Double) -> [EndpointFigures] {
        let (histograms, errors) = state.withLock { ($0.histograms, $0.errors) }
        return histograms.keys.sorted().map { EndpointFigures($0, histograms[$0]!, seconds: seconds, errors: errors[$0] ?? 0) }
    }
}

extension Duration {
    /// Whole microseconds, as the latency histograms count them.
    var microseconds: UInt64 { UInt64(max(0, components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000)) }
}

extension JSONValue {
    /// The elements of an array; none for anything else.
    var elements: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }
}
