import Foundation
import Logging
import NIOCore
import NIOPosix

/// A message as a subscriber or a requester receives it.
struct NATSMessage: Sendable, Equatable {
    var subject: String
    var reply: String?
    /// By name as sent; of a name given twice, the first value.
    var headers: [String: String]
    /// The status of a status message (`NATS/1.0 404 No Messages` gives 404); nil for an ordinary message.
    var status: Int?
    var payload: [UInt8]
}

enum NATSError: Error, Equatable {
    /// There is no connection now: before `connect()`, or while reconnecting. Worth retrying.
    case notConnected
    case timeout
    /// `close()` was called.
    case closed
    /// The server's `-ERR`, or a JetStream API error.
    case serverError(String)
    /// Nobody subscribes to the subject a request went to.
    case noResponders
    /// Bytes that break the protocol, from the server or (refused before sending) from a caller.
    case protocolViolation(String)
    /// The URL is not `nats://host[:port]`.
    case invalidURL(String)
}

/// A connection to one NATS server that outlives the server going away: it reconnects in the background,
/// forever until `close()`, and subscribes again to everything it was subscribed to.
///
/// While it is disconnected, `publish` and `request` fail at once with `NATSError.notConnected` rather
/// than queueing, so each caller decides whether to retry; requests in flight when the connection drops
/// fail the same way. Call `close()` when done: the client keeps itself alive until then.
actor NATSClient {
    /// Answers to requests all arrive on one wildcard subscription, told apart by their last subject token.
    private static let responseSubscription: UInt64 = 1
    /// Messages a subscriber may fall behind by; newer ones are dropped beyond it, as a NATS server does
    /// for a slow consumer, rather than memory growing without bound.
    private static let pendingMessageLimit = 65_536

    private let url: String
    private let name: String
    private let logger: Logger
    private let pingInterval: Duration
    private let responsePrefix: String
    private var connectTimeout: Duration = .seconds(5)
    private var state = State.idle
    private var subscriptions: [UInt64: Subscriber] = [:]
    private var nextSubscription = responseSubscription + 1
    private var pendingRequests: [String: PendingRequest] = [:]
    private var nextRequestToken: UInt64 = 0
    private var maintenance: Task<Void, Never>?

    private enum State {
        case idle
        case connecting
        case connected(Connection)
        case reconnecting
        case closed
    }

    private struct Connection {
        let channel: any Channel
        var info: NATSServerInfo
    }

    private struct Subscriber {
        var subject: String
        var queue: String?
        var messages: AsyncStream<NATSMessage>.Continuation
    }

    private struct PendingRequest {
        var reply: CheckedContinuation<NATSMessage, any Error>
        var timer: Task<Void, Never>
    }

    private typealias Operations = AsyncThrowingStream<NATSServerOperation, any Error>

    /// `pingInterval` is how often the client checks that the server still answers; two unanswered
    /// PINGs in a row drop the connection (and start reconnecting).
    init(url: String, name: String, logger: Logger, pingInterval: Duration = .seconds(10)) {
        self.url = url
        self.name = name
        self.logger = logger
        self.pingInterval = pingInterval
        responsePrefix = "_INBOX.\(Self.randomToken())."
    }

    /// Connects for the first time, and throws if that fails within `timeout` (which then also bounds
    /// each reconnection attempt). Later calls return at once.
    func connect(timeout: Duration = .seconds(5)) async throws {
        switch state {
        case .idle: break
        case .closed: throw NATSError.closed
        case .connecting, .connected, .reconnecting: return
        }
        connectTimeout = timeout
        state = .connecting
        let (connection, operations): (Connection, Operations)
        do {
            (connection, operations) = try await establish()
        } catch {
            if case .connecting = state { state = .idle }
            throw error
        }
        guard case .connecting = state else {
            connection.channel.close(promise: nil)
            throw NATSError.closed
        }
        adopt(connection)
        logger.info("NATS connected", metadata: ["server": "\(url)", "version": "\(connection.info.version)"])
        maintenance = Task { await maintain(operations) }
    }

    var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    /// Sends a message; done when it is written to the connection (NATS does not confirm delivery).
    func publish(_ subject: String, headers: [String: String] = [:], payload: [UInt8], reply: String? = nil) async throws {
        let connection = try currentConnection()
        let operation = NATSClientOperation.publish(subject: subject, reply: reply, headers: headers, payload: payload)
        try check(operation, for: connection)
        let written = connection.channel.eventLoop.makePromise(of: Void.self)
        connection.channel.writeAndFlush(operation, promise: written)
        do {
            try await written.futureResult.get()
        } catch {
            throw NATSError.notConnected
        }
    }

    /// Sends a message and returns the first reply to it. Throws `noResponders` at once when nobody
    /// subscribes to `subject`, `timeout` when no reply comes in time.
    func request(_ subject: String, headers: [String: String] = [:], payload: [UInt8], timeout: Duration) async throws -> NATSMessage {
        let connection = try currentConnection()
        nextRequestToken += 1
        let token = String(nextRequestToken, radix: 36)
        let operation = NATSClientOperation.publish(subject: subject, reply: responsePrefix + token, headers: headers, payload: payload)
        try check(operation, for: connection)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { reply in
                guard !Task.isCancelled else {
                    reply.resume(throwing: CancellationError())
                    return
                }
                let timer = Task { [weak self] in
                    do { try await Task.sleep(for: timeout) } catch { return }
                    await self?.finishRequest(token, with: .failure(NATSError.timeout))
                }
                pendingRequests[token] = PendingRequest(reply: reply, timer: timer)
                let written = connection.channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { [weak self] _ in
                    Task { await self?.finishRequest(token, with: .failure(NATSError.notConnected)) }
                }
                connection.channel.writeAndFlush(operation, promise: written)
            }
        } onCancel: {
            Task { [weak self] in await self?.finishRequest(token, with: .failure(CancellationError())) }
        }
    }

    /// Messages on `subject` (wildcards allowed); with a queue group, each message goes to one member of
    /// the group. The subscription survives reconnection; while reconnecting it is made, and sent once
    /// the connection is back.
    func subscribe(_ subject: String, queue: String? = nil) async throws -> NATSSubscription {
        switch state {
        case .closed: throw NATSError.closed
        case .idle, .connecting: throw NATSError.notConnected
        case .connected, .reconnecting: break
        }
        let operation = NATSClientOperation.subscribe(subject: subject, queue: queue, subscription: nextSubscription)
        try operation.validate()
        let id = nextSubscription
        nextSubscription += 1
        let (messages, continuation) = AsyncStream.makeStream(of: NATSMessage.self, bufferingPolicy: .bufferingOldest(Self.pendingMessageLimit))
        // A consumer that stops listening (its task cancelled) should not keep the server sending.
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id: id) }
        }
        subscriptions[id] = Subscriber(subject: subject, queue: queue, messages: continuation)
        if case .connected(let connection) = state {
            connection.channel.writeAndFlush(operation, promise: nil)
        }
        return NATSSubscription(messages: messages, id: id, client: self)
    }

    /// A subject no one else will use, for replies.
    nonisolated func newInbox() -> String {
        "_INBOX.\(Self.randomToken())"
    }

    /// Ends the connection and everything on it: subscriptions finish, requests fail with `closed`,
    /// and there is no reconnecting.
    func close() async {
        let previous = state
        state = .closed
        maintenance?.cancel()
        failPendingRequests(with: .closed)
        for subscriber in subscriptions.values { subscriber.messages.finish() }
        subscriptions.removeAll()
        if case .connected(let connection) = previous {
            // Closing an already closed connection fails, and either way the connection is gone.
            try? await connection.channel.close()
        }
    }

    func unsubscribe(id: UInt64) {
        guard let subscriber = subscriptions.removeValue(forKey: id) else { return }
        if case .connected(let connection) = state {
            connection.channel.writeAndFlush(NATSClientOperation.unsubscribe(subscription: id), promise: nil)
        }
        subscriber.messages.finish()
    }

    private func currentConnection() throws(NATSError) -> Connection {
        switch state {
        case .connected(let connection): return connection
        case .closed: throw .closed
        case .idle, .connecting, .reconnecting: throw .notConnected
        }
    }

    /// The server drops the connection on a message over its `max_payload`, so it is refused here instead.
    private func check(_ operation: NATSClientOperation, for connection: Connection) throws(NATSError) {
        try operation.validate()
        guard operation.messageSize <= connection.info.maximumPayload else {
            throw .protocolViolation(
                "a \(operation.messageSize)-byte message is larger than the server's max_payload of \(connection.info.maximumPayload)")
        }
    }

    /// Opens a connection and completes the handshake, both within the connect timeout.
    private func establish() async throws -> (Connection, Operations) {
        let (host, port) = try Self.endpoint(of: url)
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let established = eventLoop.makePromise(of: NATSServerInfo.self)
        let (operations, sink) = Operations.makeStream()
        let options = NATSConnectOptions(name: name)
        let pingInterval = TimeAmount(pingInterval)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(NATSServerOperationDecoder()))
                    try pipeline.addHandler(MessageToByteHandler(NATSClientOperationEncoder()))
                    try pipeline.addHandler(
                        NATSConnectionHandler(options: options, established: established, operations: sink, pingInterval: pingInterval))
                }
            }
        let deadline = eventLoop.scheduleTask(in: TimeAmount(connectTimeout)) { established.fail(NATSError.timeout) }
        defer { deadline.cancel() }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            established.fail(error)
            throw error
        }
        do {
            return (Connection(channel: channel, info: try await established.futureResult.get()), operations)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Makes `connection` the current one and subscribes on it to everything subscribed so far.
    private func adopt(_ connection: Connection) {
        state = .connected(connection)
        let channel = connection.channel
        let responses = NATSClientOperation.subscribe(subject: responsePrefix + "*", queue: nil, subscription: Self.responseSubscription)
        channel.write(responses, promise: nil)
        for (id, subscriber) in subscriptions {
            channel.write(NATSClientOperation.subscribe(subject: subscriber.subject, queue: subscriber.queue, subscription: id), promise: nil)
        }
        channel.flush()
    }

    /// Reads the connection until it drops, then reconnects, over and over until `close()`.
    private func maintain(_ first: Operations) async {
        var operations = first
        while true {
            let reason: String
            do {
                for try await operation in operations { handle(operation) }
                reason = NATSConnectionHandler.ConnectionClosed().description
            } catch {
                reason = "\(error)"
            }
            guard case .connected(let lost) = state else { return }
            lost.channel.close(promise: nil)
            state = .reconnecting
            failPendingRequests(with: .notConnected)
            logger.warning("NATS connection lost; reconnecting", metadata: ["server": "\(url)", "reason": "\(reason)"])
            guard let restored = await reconnect() else { return }
            operations = restored
        }
    }

    /// Tries again and again, with a growing pause between attempts, until connected or closed.
    private func reconnect() async -> Operations? {
        var attempts = 0
        while case .reconnecting = state {
            // Cancelled by `close()`, which the state check after it notices.
            try? await Task.sleep(for: Self.pause(afterFailures: attempts))
            guard case .reconnecting = state else { return nil }
            attempts += 1
            do {
                let (connection, operations) = try await establish()
                guard case .reconnecting = state else {
                    connection.channel.close(promise: nil)
                    return nil
                }
                adopt(connection)
                logger.info("NATS connection restored", metadata: ["server": "\(url)", "attempts": "\(attempts)"])
                return operations
            } catch {
                logger.debug("NATS reconnection attempt failed", metadata: ["server": "\(url)", "attempt": "\(attempts)", "error": "\(error)"])
            }
        }
        return nil
    }

    /// 100 ms, doubling to at most 2 s, each somewhere in its upper half so that many clients of one
    /// restarted server do not all come back at the same instant.
    private static func pause(afterFailures failures: Int) -> Duration {
        let ceiling = min(2_000, 100 << min(failures, 5))
        return .milliseconds(Int.random(in: ceiling / 2...ceiling))
    }

    private func handle(_ operation: NATSServerOperation) {
        switch operation {
        case .message(let id, let message):
            deliver(message, to: id)
        case .info(let info):
            if case .connected(var connection) = state {
                connection.info = info
                state = .connected(connection)
            }
        case .error(let message):
            // A fatal one is followed by the server closing the connection, which reconnecting answers.
            logger.warning("NATS server error", metadata: ["server": "\(url)", "error": "\(message)"])
        case .ping, .pong, .ok:
            break
        }
    }

    private func deliver(_ message: NATSMessage, to id: UInt64) {
        if id == Self.responseSubscription {
            guard message.subject.hasPrefix(responsePrefix) else { return }
            let token = String(message.subject.dropFirst(responsePrefix.count))
            finishRequest(token, with: message.status == 503 ? .failure(NATSError.noResponders) : .success(message))
        } else if let subscriber = subscriptions[id], case .dropped = subscriber.messages.yield(message) {
            logger.warning("NATS subscriber too slow; message dropped", metadata: ["subject": "\(subscriber.subject)"])
        }
    }

    private func finishRequest(_ token: String, with result: Result<NATSMessage, any Error>) {
        guard let pending = pendingRequests.removeValue(forKey: token) else { return }
        pending.timer.cancel()
        pending.reply.resume(with: result)
    }

    private func failPendingRequests(with error: NATSError) {
        let failed = pendingRequests
        pendingRequests.removeAll()
        for pending in failed.values {
            pending.timer.cancel()
            pending.reply.resume(throwing: error)
        }
    }

    private static func endpoint(of url: String) throws(NATSError) -> (host: String, port: Int) {
        guard let components = URLComponents(string: url), components.scheme == "nats", var host = components.host, !host.isEmpty,
            components.user == nil, components.path.isEmpty || components.path == "/", components.query == nil
        else {
            throw .invalidURL(url)
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, components.port ?? 4222)
    }

    /// 22 characters from 62, about 131 random bits.
    private static func randomToken() -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        return String(decoding: (0..<22).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] }, as: UTF8.self)
    }
}

/// The messages of one subscription, in the order the server sent them; one consumer may iterate it.
/// The sequence ends on `unsubscribe()` or when the client closes.
struct NATSSubscription: AsyncSequence, Sendable {
    typealias Element = NATSMessage

    private let messages: AsyncStream<NATSMessage>
    private let id: UInt64
    private let client: NATSClient

    init(messages: AsyncStream<NATSMessage>, id: UInt64, client: NATSClient) {
        self.messages = messages
        self.id = id
        self.client = client
    }

    func makeAsyncIterator() -> AsyncStream<NATSMessage>.Iterator {
        messages.makeAsyncIterator()
    }

    func unsubscribe() async {
        await client.unsubscribe(id: id)
    }
}
