import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One SMTP reply: its code, and its text with one entry per line of a multi-line (`250-…`) reply.
struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    var code: Int
    var lines: [String]

    /// The reply as the server wrote it, for logs and error messages.
    var description: String { lines.map { "\(code) \($0)" }.joined(separator: " / ") }
}

/// A connection to an SMTP server that sends one command at a time and waits for its reply, each
/// wait bounded by the step timeout.
struct SMTPConnection: Sendable {
    private let channel: any Channel
    private let greetingReceived: EventLoopPromise<SMTPReply>
    private let stepTimeout: TimeAmount
    private let logger: Logger

    static func open(
        host: String, port: Int, implicitTLS: NIOSSLContext?, serverHostname: String?, stepTimeout: Duration, logger: Logger
    ) async throws -> SMTPConnection {
        // One loop for the connection and the callbacks on its future, so the greeting waiter is in place in time.
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .connectTimeout(TimeAmount(stepTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: implicitTLS, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                }
            }
        do {
            let (channel, greeting) = try await bootstrap.connect(host: host, port: port).flatMapThrowing { channel in
                // In the same event-loop turn as the connection completes, before anything can be
                // read, so the greeting or a failed TLS handshake always finds someone waiting.
                let greeting = channel.eventLoop.makePromise(of: SMTPReply.self)
                try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self).waitForReply(greeting)
                return (channel, greeting)
            }.get()
            return SMTPConnection(channel: channel, greetingReceived: greeting, stepTimeout: TimeAmount(stepTimeout), logger: logger)
        } catch {
            throw SMTPMailerError.connectionFailed(server: "\(host):\(port)", reason: "\(error)")
        }
    }

    /// This end's address in the form EHLO takes (`[192.0.2.1]`, `[IPv6:2001:db8::1]`), which every
    /// server accepts, unlike a host name that does not resolve back to us.
    var clientAddressLiteral: String {
        guard let address = channel.localAddress, let ip = address.ipAddress else { return "[127.0.0.1]" }
        if case .v6 = address { return "[IPv6:\(ip)]" }
        return "[\(ip)]"
    }

    /// Waits for the server's 220 greeting.
    func expectGreeting() async throws {
        _ = try check(try await wait(for: greetingReceived, step: "greeting"), codes: [220], step: "greeting")
    }

    /// Sends `command` and returns the server's reply to it.
    func reply(to command: String, step: String) async throws -> SMTPReply {
        try await exchange(ByteBuffer(string: command + "\r\n"), step: step)
    }

    /// Sends `command` and returns the reply, which must have one of `codes`.
    @discardableResult
    func expect(_ codes: Int..., replyTo command: String, step: String) async throws -> SMTPReply {
        try check(try await reply(to: command, step: step), codes: codes, step: step)
    }

    /// Sends raw bytes (the message after DATA) and returns the reply, which must have `code`.
    @discardableResult
    func expect(_ code: Int, sending payload: ByteBuffer, step: String) async throws -> SMTPReply {
        try check(try await exchange(payload, step: step), codes: [code], step: step)
    }

    /// Puts TLS under the conversation after the server's 220 to STARTTLS, and waits for the
    /// handshake, so a certificate that fails verification is reported as what it is.
    func startTLS(_ context: NIOSSLContext, serverHostname: String?) async throws {
        let handshake = try await channel.eventLoop.submit { [channel] in
            let pipeline = channel.pipeline.syncOperations
            let replies = try pipeline.handler(type: SMTPReplyHandler.self)
            // Anything the server sent after its 220 came in clear and could be an attacker's
            // injected replies, which would otherwise be read as if they came over TLS.
            guard !replies.hasUnreadInput else {
                throw SMTPMailerError.protocolViolation("the server sent more after its reply to STARTTLS")
            }
            let handshake = channel.eventLoop.makePromise(of: Void.self)
            replies.waitForHandshake(handshake)
            try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname), position: .first)
            return handshake
        }.get()
        try await wait(for: handshake, step: "TLS handshake")
    }

    func close() async {
        // Closing an already closed connection fails, and either way the connection is gone.
        try? await channel.close()
    }

    private func check(_ reply: SMTPReply, codes: [Int], step: String) throws -> SMTPReply {
        guard codes.contains(reply.code) else { throw SMTPMailerError.unexpectedReply(step: step, reply: reply.description) }
        return reply
    }

    private func exchange(_ bytes: ByteBuffer, step: String) async throws -> SMTPReply {
        let reply = channel.eventLoop.makePromise(of: SMTPReply.self)
        // A write that never reaches the handler (the channel is already closed) fails here instead.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { reply.fail($0) }
        channel.writeAndFlush(SMTPReplyHandler.Command(line: bytes, reply: reply), promise: written)
        let answer = try await wait(for: reply, step: step)
        logger.trace("SMTP reply", metadata: ["step": "\(step)", "reply": "\(answer)"])
        return answer
    }

    private func wait<Value: Sendable>(for promise: EventLoopPromise<Value>, step: String) async throws -> Value {
        let timeout = channel.eventLoop.scheduleTask(in: stepTimeout) {
            promise.fail(SMTPMailerError.timedOut(step: step))
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        do {
            return try await promise.futureResult.get()
        } catch let error as SMTPMailerError {
            throw error
        } catch ChannelError.ioOnClosedChannel {
            throw SMTPMailerError.connectionLost(step: step, reason: SMTPReplyHandler.ConnectionClosed().description)
        } catch {
            throw SMTPMailerError.connectionLost(step: step, reason: "\(error)")
        }
    }
}

/// Turns the server's bytes into replies and hands each to the command waiting for it, in order.
final class SMTPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Command
    typealias OutboundOut = ByteBuffer

    /// A line to write and where its reply goes.
    struct Command: Sendable {
        var line: ByteBuffer
        var reply: EventLoopPromise<SMTPReply>
    }

    struct ConnectionClosed: Error, CustomStringConvertible {
        var description: String { "the server closed the connection" }
    }

    /// RFC 5321 allows 512 bytes a line; these bounds leave room for sloppy servers while keeping a
    /// hostile one from filling memory.
    private static let maximumLineLength = 4096
    private static let maximumLinesPerReply = 100

    private var unparsed = ByteBuffer()
    private var partialReply: SMTPReply?
    private var unclaimedReplies = CircularBuffer<SMTPReply>()
    private var waiting = CircularBuffer<EventLoopPromise<SMTPReply>>()
    private var handshake: EventLoopPromise<Void>?
    private var failure: (any Error)?

    /// Whether the server sent anything no command has taken yet.
    var hasUnreadInput: Bool { unparsed.readableBytes > 0 || partialReply != nil || !unclaimedReplies.isEmpty }

    /// Hands the next reply to `reply`, for one the server sends unasked (the greeting).
    func waitForReply(_ reply: EventLoopPromise<SMTPReply>) {
        if let failure {
            reply.fail(failure)
        } else if let early = unclaimedReplies.popFirst() {
            reply.succeed(early)
        } else {
            waiting.append(reply)
        }
    }

    /// Completes `done` when a TLS handler added in front of this one finishes its handshake.
    func waitForHandshake(_ done: EventLoopPromise<Void>) {
        handshake = done
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        if let failure {
            command.reply.fail(failure)
            promise?.fail(failure)
            return
        }
        waitForReply(command.reply)
        context.write(wrapOutboundOut(command.line), promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            handshake?.succeed()
            handshake = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        unparsed.writeBuffer(&bytes)
        do {
            while let line = try nextLine() {
                try take(line)
            }
        } catch {
            fail(with: error, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(with: error, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failWaiters(with: failure ?? ConnectionClosed())
        context.fireChannelInactive()
    }

    private func fail(with error: any Error, context: ChannelHandlerContext) {
        guard failure == nil else { return }
        failWaiters(with: error)
        context.close(promise: nil)
    }

    private func failWaiters(with error: any Error) {
        failure = error
        while let waiter = waiting.popFirst() { waiter.fail(error) }
        handshake?.fail(error)
        handshake = nil
    }

    private func nextLine() throws(SMTPMailerError) -> String? {
        guard let newline = unparsed.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            guard unparsed.readableBytes <= Self.maximumLineLength else {
                throw .protocolViolation("a reply line is longer than \(Self.maximumLineLength) bytes")
            }
            return nil
        }
        var line = unparsed.readBytes(length: newline - unparsed.readerIndex) ?? []
        unparsed.moveReaderIndex(forwardBy: 1)
        unparsed.discardReadBytes()
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard line.count <= Self.maximumLineLength else {
            throw .protocolViolation("a reply line is longer than \(Self.maximumLineLength) bytes")
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Adds one line to the reply being read: `250-text` continues it, `250 text` (or a bare `250`) ends it.
    private func take(_ line: String) throws(SMTPMailerError) {
        let bytes = Array(line.utf8)
        let digits = bytes.prefix(3)
        let separator = bytes.count > 3 ? bytes[3] : UInt8(ascii: " ")
        guard digits.count == 3, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-")
        else {
            throw .protocolViolation("\"\(line.prefix(200))\" is not an SMTP reply line")
        }
        let code = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        var reply = partialReply ?? SMTPReply(code: code, lines: [])
        guard reply.code == code else {
            throw .protocolViolation("a multi-line reply changed its code from \(reply.code) to \(code)")
        }
        guard reply.lines.count < Self.maximumLinesPerReply else {
            throw .protocolViolation("a reply has more than \(Self.maximumLinesPerReply) lines")
        }
        reply.lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
        if separator == UInt8(ascii: "-") {
            partialReply = reply
        } else {
            partialReply = nil
            if let waiter = waiting.popFirst() {
                waiter.succeed(reply)
            } else {
                unclaimedReplies.append(reply)
            }
        }
    }
}

extension SMTPConnection {
    /// The message as DATA sends it: every line break as CRLF (a bare CR or LF is how SMTP smuggling
    /// hides a second message), a dot doubled at the start of a line (so a line with a single dot
    /// cannot end the message early), and the closing `.` line.
    static func dataPayload(_ text: String) -> ByteBuffer {
        var payload = ByteBuffer()
        payload.reserveCapacity(text.utf8.count + text.utf8.count / 32 + 5)
        var atLineStart = true
        var afterCR = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\r"):
                payload.writeStaticString("\r\n")
                atLineStart = true
            case UInt8(ascii: "\n"):
                if !afterCR { payload.writeStaticString("\r\n") }
                atLineStart = true
            default:
                if atLineStart && byte == UInt8(ascii: ".") { payload.writeInteger(UInt8(ascii: ".")) }
                payload.writeInteger(byte)
                atLineStart = false
            }
            afterCR = byte == UInt8(ascii: "\r")
        }
        if !atLineStart { payload.writeStaticString("\r\n") }
        payload.writeStaticString(".\r\n")
        return payload
    }
}
