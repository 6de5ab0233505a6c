import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The fixed-rate runs' HTTP client: an open loop of GETs over keep-alive HTTP/1.1 connections to the server,
/// one request at a time on each, reading only the answer's status, all of it on one event loop thread of its own.
///
/// The bench shares the machine's two cores with the server and PostgreSQL, so its own cost per request is
/// taken from theirs, and its own delays are counted in the latencies it reports. AsyncHTTPClient, which the
/// flows keep for its generality, spent 0.21 ms of CPU per subject read at 1,500 a second (its per-request state
/// machines and tracing). A task and a timer per request on top of NIO's HTTP/1.1 codec spent 0.14 ms, and each
/// answer then waited for a concurrency thread to resume the task that timed it. Here the schedule is a timer on
/// the loop that sends whatever is due when it fires, and the answer is timed by the handler that reads it.
final class LoopbackReader: Sendable {
    private let host: String
    private let port: Int
    private let maximumConnections: Int
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let loop: any EventLoop
    /// The open connections not carrying a request, kept between runs.
    private let idle: NIOLoopBoundBox<[Connection]>
    /// Every connection opened, for `close()`.
    private let opened: NIOLoopBoundBox<[any Channel]>

    /// A reader of the server at `base` (`http://host:port`), with up to `maximumConnections` connections.
    init(base: String, maximumConnections: Int = 512) throws {
        guard let url = URL(string: base), let host = url.host, let port = url.port else {
            throw ReaderError(description: "\(base) is not an http://host:port address")
        }
        self.host = host
        self.port = port
        self.maximumConnections = maximumConnections
        loop = group.next()
        idle = .makeBoxSendingValue([], eventLoop: loop)
        opened = .makeBoxSendingValue([], eventLoop: loop)
    }

    /// Starts `rate × seconds` GETs, taking `targets` in turn, the nth `n / rate` seconds after the first whether or
    /// not earlier ones have answered (an open loop, so a slow answer cannot hide the queue behind it), and records
    /// each one in `recorder` once its whole answer has arrived, timed from the moment it was due (a request waiting
    /// for a connection waits on the clock). A request that gets no answer (its connection failed) counts as an
    /// error. Returns once every request has been answered or failed.
    func run(_ targets: [ReadTarget], rate: Int, seconds: Int, recorder: Recorder) async {
        guard !targets.isEmpty, rate > 0, seconds > 0 else { return }
        let finished = loop.makePromise(of: Void.self)
        loop.execute { [self] in
            OpenLoop(reader: self, targets: targets, rate: rate, total: rate * seconds, recorder: recorder, finished: finished).start()
        }
        try? await finished.futureResult.get()
    }

    /// Closes every connection.
    func close() async {
        let channels = try? await loop.submit { [opened, idle] in
            defer {
                opened.value = []
                idle.value = []
            }
            return opened.value
        }.get()
        for channel in channels ?? [] { try? await channel.close() }
        try? await group.shutdownGracefully()
    }

    /// One run's schedule and its requests in flight, on the reader's loop.
    private final class OpenLoop {
        let reader: LoopbackReader
        let targets: [ReadTarget]
        let interval: Int64
        let total: Int
        let recorder: Recorder
        let finished: EventLoopPromise<Void>
        var started = NIODeadline.now()
        var sent = 0
        var settled = 0
        var connectionsInUseOrOpening = 0
        /// Requests due while every connection was busy and no more may be opened, oldest first. Thousands wait when
        /// the open loop asks more than the server answers, so taking the oldest must not shift the rest.
        var waiting = CircularBuffer<(target: ReadTarget, due: NIODeadline)>()

        init(reader: LoopbackReader, targets: [ReadTarget], rate: Int, total: Int, recorder: Recorder, finished: EventLoopPromise<Void>) {
            self.reader = reader
            self.targets = targets
            interval = 1_000_000_000 / Int64(rate)
            self.total = total
            self.recorder = recorder
            self.finished = finished
        }

        func start() {
            started = .now()
            sendWhatIsDue()
        }

        private func due(_ index: Int) -> NIODeadline { started + .nanoseconds(interval * Int64(index)) }

        /// Sends every request due by now, then sleeps until the next one is.
        private func sendWhatIsDue() {
            let now = NIODeadline.now()
            while sent < total, due(sent) <= now {
                send(targets[sent % targets.count], due: due(sent))
                sent += 1
            }
            guard sent < total else { return }
            reader.loop.assumeIsolated().scheduleTask(deadline: due(sent)) { self.sendWhatIsDue() }
        }

        private func send(_ target: ReadTarget, due: NIODeadline) {
            // The server may have closed a connection while it sat idle between runs.
            while let connection = reader.idle.value.popLast() {
                guard connection.channel.isActive else {
                    reader.opened.value.removeAll { $0 === connection.channel }
                    continue
                }
                connectionsInUseOrOpening += 1
                return request(target, due: due, on: connection)
            }
            if connectionsInUseOrOpening < reader.maximumConnections {
                connectionsInUseOrOpening += 1
                reader.connect().assumeIsolated().whenComplete { result in
                    switch result {
                    case .success(let connection):
                        self.reader.opened.value.append(connection.channel)
                        self.request(target, due: due, on: connection)
                    case .failure:
                        self.settle(target, due: due, status: nil)
                        self.connectionLost()
                    }
                }
            } else {
                waiting.append((target, due))
            }
        }

        private func request(_ target: ReadTarget, due: NIODeadline, on connection: Connection) {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.path)
            head.headers.add(name: "Host", value: "\(reader.host):\(reader.port)")
            head.headers.add(name: "Authorization", value: "Bearer \(target.token)")
            connection.handler.send(head) { status in
                self.settle(target, due: due, status: status)
                if status != nil {
                    self.giveBack(connection)
                } else {
                    connection.channel.close(promise: nil)
                    self.reader.opened.value.removeAll { $0 === connection.channel }
                    self.connectionLost()
                }
            }
        }

        private func giveBack(_ connection: Connection) {
            guard waiting.isEmpty else {
                let next = waiting.removeFirst()
                return request(next.target, due: next.due, on: connection)
            }
            connectionsInUseOrOpening -= 1
            reader.idle.value.append(connection)
        }

        /// A connection failed or could not be opened: one fewer in use, so a waiting request may open another.
        private func connectionLost() {
            connectionsInUseOrOpening -= 1
            guard !waiting.isEmpty else { return }
            let next = waiting.removeFirst()
            send(next.target, due: next.due)
        }

        private func settle(_ target: ReadTarget, due: NIODeadline, status: Int?) {
            let microseconds = UInt64(max(0, (NIODeadline.now() - due).nanoseconds / 1000))
            recorder.record("GET \(target.route)", microseconds: microseconds, failed: !(200..<400).contains(status ?? 0))
            settled += 1
            if settled == total { finished.succeed() }
        }
    }

    /// A connection and the handler that sends on it.
    private struct Connection {
        var channel: any Channel
        var handler: StatusReader
    }

    private func connect() -> EventLoopFuture<Connection> {
        ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusReader())
                }
            }
            .connect(host: host, port: port)
            .assumeIsolated()
            .flatMapThrowing { channel in Connection(channel: channel, handler: try channel.pipeline.syncOperations.handler(type: StatusReader.self)) }
            .nonisolated()
    }
}

struct ReaderError: Error, CustomStringConvertible {
    var description: String
}

/// Sends a GET and hands its answer's status to the sender once the whole answer has arrived (its body is read
/// and dropped), so the connection is ready for the next one; nil when the connection failed first.
private final class StatusReader: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var context: ChannelHandlerContext?
    private var answered: ((Int?) -> Void)?
    private var status = 0

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func send(_ head: HTTPRequestHead, answered: @escaping (Int?) -> Void) {
        guard let context else { return answered(nil) }
        self.answered = answered
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body: break
        case .end: answer(status)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        answer(nil)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer(nil)
        context.fireChannelInactive()
    }

    private func answer(_ status: Int?) {
        let answered = self.answered
        self.answered = nil
        answered?(status)
    }
}
