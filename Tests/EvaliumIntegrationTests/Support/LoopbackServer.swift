import AsyncHTTPClient
import EvaliumApp
import Foundation
import HTTPTypes
import Hummingbird
@testable import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// The real server on an ephemeral loopback port, driven by AsyncHTTPClient over many connections.
///
/// HummingbirdTesting's `.ahc` framework stalled about one full run in five: a request that never
/// completed (its deadline and the test's time limit notwithstanding), then a client shutdown that waited
/// for it forever. Here the client talks to 127.0.0.1 (no dual-stack `localhost` race), holds enough
/// connections that parallel tests never queue for one, and every request and the shutdown are bounded
/// by a timer of our own: a stuck request fails its test with a clear error instead of stalling the run.
/// Starting and stopping the server are bounded the same way: a server that does not stop within a minute
/// is logged and left behind rather than holding the run.
enum LoopbackServer {
    /// How long AsyncHTTPClient gives one request. At the start of a test pass some 250 tests start their servers
    /// at once, and on a machine running at half its usual speed twenty parallel tenant creations went past the
    /// 30 s this was (and had taken 30.6 s in a run that passed); a stuck request still fails within the pass.
    static let clientDeadline: TimeAmount = .seconds(90)
    /// Our own bound on the same request, past the client's deadline: the backstop for a request that stalls
    /// inside the client.
    static let requestLimit: Duration = .seconds(105)

    static func run<Result: Sendable>(
        _ server: EvaliumServer, logger: Logger, _ body: @Sendable (any TestClientProtocol) async throws -> Result
    ) async throws -> Result {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = server.buildApplication { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        }
        let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
        // Not a child task: a service that does not stop must fail loudly, not hold its test forever.
        let running = Task { try await services.run() }
        Task {
            _ = try? await running.value
            portContinuation.finish()
        }
        let port = try await bounded(.seconds(30), "starting the server") {
            var bound = ports.makeAsyncIterator()
            return await bound.next()
        }
        guard let port else { throw Stalled(what: "the server (it stopped before listening)") }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let outcome = await Swift.Result { try await body(Client(http: http, port: port)) }
        await services.triggerGracefulShutdown()
        try? await bounded(.seconds(10), "shutting the test client down") { try await http.shutdown() }
        do {
            try await bounded(.seconds(60), "stopping the server") { try await running.value }
        } catch {
            // Slow under the load of a whole suite at once, or stuck: either way the test's own verdict
            // stands, and the run goes on instead of waiting for it.
            running.cancel()
            logger.warning("the test server did not stop cleanly", metadata: ["error": "\(error)"])
        }
        return try outcome.get()
    }

    struct Client: TestClientProtocol {
        let http: HTTPClient
        let port: Int?

        init(http: HTTPClient, port: Int) {
            self.http = http
            self.port = port
        }

        func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port ?? 0)\(uri.hasPrefix("/") ? "" : "/")\(uri)")
            request.method = HTTPMethod(rawValue: method.rawValue)
            for field in headers { request.headers.add(name: field.name.rawName, value: field.value) }
            request.body = body.map { .bytes($0) }
            let (http, prepared) = (http, request)
            return try await LoopbackServer.bounded(LoopbackServer.requestLimit, "\(method) \(uri)") {
                let response = try await http.execute(prepared, timeout: LoopbackServer.clientDeadline)
                var fields = HTTPFields()
                for (name, value) in response.headers { if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) } }
                let head = HTTPResponse(status: .init(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase), headerFields: fields)
                return TestResponse(head: head, body: try await response.body.collect(upTo: .max), trailerHeaders: nil)
            }
        }
    }

    struct Stalled: Error, CustomStringConvertible {
        var what: String
        var description: String { "stalled: \(what) did not finish in time" }
    }

    /// `work`'s result, or `Stalled` once `limit` has passed; work that never finishes is left behind.
    static func bounded<Value: Sendable>(
        _ limit: Duration, _ what: String, _ work: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let waiting = Waiting<Value>()
        return try await withCheckedThrowingContinuation { continuation in
            waiting.continuation.withLock { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(for: limit)
                waiting.resume(with: .failure(Stalled(what: what)))
            }
            Task {
                waiting.resume(with: await Swift.Result { try await work() })
                timer.cancel()
            }
        }
    }

    /// Whichever of the work and its timer finishes first resumes the waiter; the other finds nothing to resume.
    private final class Waiting<Value: Sendable>: Sendable {
        let continuation = Mutex<CheckedContinuation<Value, any Error>?>(nil)

        func resume(with result: Swift.Result<Value, any Error>) {
            continuation.withLock { $0.take() }?.resume(with: result)
        }
    }
}

extension Swift.Result where Failure == any Error {
    init(_ work: () async throws -> Success) async {
        do { self = .success(try await work()) } catch { self = .failure(error) }
    }
}
