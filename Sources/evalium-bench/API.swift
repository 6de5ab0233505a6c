import AsyncHTTPClient
import EvaliumCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One request's outcome as the load run needs it.
struct Answer: Sendable {
    var status: Int
    var body: JSONValue
    var microseconds: UInt64
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
        let elapsed = ContinuousClock.now - started
        let microseconds = UInt64(max(0, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
        let endpoint = "\(method.rawValue) \(route)"
        let status = Int(response.status.code)
        recorder?.record(endpoint, microseconds: microseconds, failed: status >= 400)
        let body = (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView))) ?? .null
        guard status < 400 else { throw RequestFailed(endpoint: endpoint, status: status, body: String(buffer: bytes)) }
        return Answer(status: status, body: body, microseconds: microseconds)
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
}

extension JSONValue {
    /// The elements of an array; none for anything else.
    var elements: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }
}
