import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The fixed-rate runs' HTTP client: GETs over keep-alive HTTP/1.1 connections to the server, one request at a
/// time on each, reading only the answer's status.
///
/// The bench shares the machine's two cores with the server and PostgreSQL, so its own cost per request is
/// taken from theirs. AsyncHTTPClient, which the flows keep for its generality, spent 0.21 ms of CPU per subject
/// read at 1,500 a second (its per-request state machines and tracing); this, sending the same requests over the
/// same protocol through NIO's own HTTP/1.1 codec, 0.14 ms. Most of what is left is the open loop's scheduling:
/// a timer and a task per request, each a hand-off between threads.
final class LoopbackReader: Sendable {
    private let host: String
    private let port: Int
    private let maximumConnections: Int
    private let state = Mutex(Pool())

    private struct Pool {
        var idle: [any Channel] = []
        var opened: [any Channel] = []
        var waiting: [CheckedContinuation<any Channel, any Error>] = []
        var inUseOrOpening = 0
    }

    /// A reader of the server at `base` (`http://host:port`), with up to `maximumConnections` connections.
    init(base: String, maximumConnections: Int = 512) throws {
        guard let url = URL(string: base), let host = url.host, let port = url.port else {
            throw ReaderError(description: "\(base) is not an http://host:port address")
        }
        self.host = host
        self.port = port
        self.maximumConnections = maximumConnections
    }

    /// GETs `path` as the holder of `token` and answers the status; throws if the connection fails.
    func get(_ path: String, token: String) async throws -> Int {
        let channel = try await lease()
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Authorization", value: "Bearer \(token)")
        let answered = channel.eventLoop.makePromise(of: Int.self)
        channel.writeAndFlush(StatusRequest(head: head, answered: answered), promise: nil)
        do {
            let status = try await answered.futureResult.get()
            giveBack(channel)
            return status
        } catch {
            discard(channel, failure: error)
            throw error
        }
    }

    /// Closes every connection.
    func close() async {
        let channels = state.withLock { pool in
            defer { pool.opened = [] }
            return pool.opened
        }
        for channel in channels { try? await channel.close() }
    }

    private enum Lease {
        case ready(any Channel)
        case open
        case wait
    }

    private func lease() async throws -> any Channel {
        let lease: Lease = state.withLock { pool in
            if let channel = pool.idle.popLast() {
                pool.inUseOrOpening += 1
                return .ready(channel)
            }
            guard pool.inUseOrOpening < maximumConnections else { return .wait }
            pool.inUseOrOpening += 1
            return .open
        }
        switch lease {
        case .ready(let channel):
            return channel
        case .open:
            do {
                let channel = try await connect()
                state.withLock { $0.opened.append(channel) }
                return channel
            } catch {
                state.withLock { $0.inUseOrOpening -= 1 }
                throw error
            }
        case .wait:
            return try await withCheckedThrowingContinuation { waiter in
                // A connection may have come back between the two looks at the pool.
                let channel: (any Channel)? = state.withLock { pool in
                    if let channel = pool.idle.popLast() {
                        pool.inUseOrOpening += 1
                        return channel
                    }
                    pool.waiting.append(waiter)
                    return nil
                }
                if let channel { waiter.resume(returning: channel) }
            }
        }
    }

    private func giveBack(_ channel: any Channel) {
        let waiter: CheckedContinuation<any Channel, any Error>? = state.withLock { pool in
            if !pool.waiting.isEmpty { return pool.waiting.removeFirst() }
            pool.idle.append(channel)
            pool.inUseOrOpening -= 1
            return nil
        }
        waiter?.resume(returning: channel)
    }

    /// Closes a connection that failed; a request waiting for a connection fails with it rather than wait
    /// for one that may never come back.
    private func discard(_ channel: any Channel, failure: any Error) {
        channel.close(promise: nil)
        let waiter: CheckedContinuation<any Channel, any Error>? = state.withLock { pool in
            pool.inUseOrOpening -= 1
            pool.opened.removeAll { $0 === channel }
            return pool.waiting.isEmpty ? nil : pool.waiting.removeFirst()
        }
        waiter?.resume(throwing: failure)
    }

    private func connect() async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusReader())
                }
            }
            .connect(host: host, port: port).get()
    }
}

struct ReaderError: Error, CustomStringConvertible {
    var description: String
}

/// A GET to send, and the promise its status completes.
private struct StatusRequest: Sendable {
    var head: HTTPRequestHead
    var answered: EventLoopPromise<Int>
}

/// Sends each `StatusRequest` and completes its promise with the answer's status once the whole answer has
/// arrived (its body is read and dropped), so the connection is ready for the next one.
private final class StatusReader: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = StatusRequest
    typealias OutboundOut = HTTPClientRequestPart

    private var awaiting: EventLoopPromise<Int>?
    private var status = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        awaiting = request.answered
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body: break
        case .end:
            let answered = awaiting
            awaiting = nil
            answered?.succeed(status)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(with: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(with: ReaderError(description: "the server closed the connection"))
        context.fireChannelInactive()
    }

    private func fail(with error: any Error) {
        let answered = awaiting
        awaiting = nil
        answered?.fail(error)
    }
}
