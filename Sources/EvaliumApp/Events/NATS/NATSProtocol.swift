import Foundation
import NIOCore

/// What the server says about itself in INFO; only the fields the client acts on.
struct NATSServerInfo: Sendable, Equatable, Decodable {
    var version: String
    /// The largest message (headers and payload) the server accepts from a client.
    var maximumPayload: Int
    var supportsHeaders: Bool

    private enum CodingKeys: String, CodingKey {
        case version, maximumPayload = "max_payload", supportsHeaders = "headers"
    }

    init(version: String, maximumPayload: Int, supportsHeaders: Bool) {
        self.version = version
        self.maximumPayload = maximumPayload
        self.supportsHeaders = supportsHeaders
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decodeIfPresent(String.self, forKey: .version) ?? ""
        // The server's documented default, for a server too old to say.
        maximumPayload = try container.decodeIfPresent(Int.self, forKey: .maximumPayload) ?? 1024 * 1024
        supportsHeaders = try container.decodeIfPresent(Bool.self, forKey: .supportsHeaders) ?? false
    }
}

/// One operation the server sends.
enum NATSServerOperation: Sendable, Equatable {
    case info(NATSServerInfo)
    /// MSG or HMSG, for the subscription with this id.
    case message(subscription: UInt64, NATSMessage)
    case ping
    case pong
    case ok
    case error(String)
}

/// What the client says about itself in CONNECT.
struct NATSConnectOptions: Sendable, Equatable, Encodable {
    var name: String
    var verbose = false
    var pedantic = false
    var headers = true
    /// A request nobody listens to is answered at once with a 503 status instead of running into its timeout.
    var noResponders = true
    var lang = "swift"
    var version = "evalium"
    /// Protocol 1 lets the server send INFO updates after the handshake and is required for `no_responders`.
    var protocolVersion = 1

    private enum CodingKeys: String, CodingKey {
        case name, verbose, pedantic, headers, noResponders = "no_responders", lang, version, protocolVersion = "protocol"
    }
}

/// One operation the client sends.
enum NATSClientOperation: Sendable, Equatable {
    case connect(NATSConnectOptions)
    /// PUB, or HPUB when there are headers.
    case publish(subject: String, reply: String?, headers: [String: String], payload: [UInt8])
    case subscribe(subject: String, queue: String?, subscription: UInt64)
    case unsubscribe(subscription: UInt64)
    case ping
    case pong

    /// Refuses what would break the framing: a subject, reply or queue with white space in it (the
    /// server would read the rest as another argument), or a header line break (another header or the
    /// payload smuggled in).
    func validate() throws(NATSError) {
        switch self {
        case .publish(let subject, let reply, let headers, _):
            try Self.checkToken(subject, "subject")
            if let reply { try Self.checkToken(reply, "reply subject") }
            for (name, value) in headers {
                guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                    throw .protocolViolation("header name \"\(name)\" is empty or has a colon, white space or a control character")
                }
                guard !value.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
                    throw .protocolViolation("the value of header \(name) contains a line break")
                }
            }
        case .subscribe(let subject, let queue, _):
            try Self.checkToken(subject, "subject")
            if let queue { try Self.checkToken(queue, "queue group") }
        case .connect, .unsubscribe, .ping, .pong:
            break
        }
    }

    /// The bytes of headers and payload a PUB or HPUB carries, which the server bounds by its `max_payload`.
    var messageSize: Int {
        guard case .publish(_, _, let headers, let payload) = self else { return 0 }
        return (headers.isEmpty ? 0 : NATSHeaderBlock.encodedSize(headers)) + payload.count
    }

    private static func checkToken(_ token: String, _ what: String) throws(NATSError) {
        guard !token.isEmpty, !token.utf8.contains(where: { $0 <= 32 || $0 == 127 }) else {
            throw .protocolViolation("\(what) \"\(token)\" is empty or contains white space or a control character")
        }
    }
}

/// The header block of HPUB and HMSG: `NATS/1.0[ status[ description]]`, then `Name: value` lines,
/// then an empty line, every line ending in CRLF.
enum NATSHeaderBlock {
    private static let version = "NATS/1.0"

    static func encodedSize(_ headers: [String: String]) -> Int {
        headers.reduce(version.utf8.count + 4) { $0 + $1.key.utf8.count + 2 + $1.value.utf8.count + 2 }
    }

    /// Sorted by name, so the same headers always make the same bytes.
    static func write(_ headers: [String: String], into buffer: inout ByteBuffer) {
        buffer.writeString(version)
        buffer.writeStaticString("\r\n")
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// The status from the first line and the headers by name; of a name given twice, the first value.
    static func parse(_ bytes: some Collection<UInt8>) throws(NATSError) -> (status: Int?, headers: [String: String]) {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line[...], as: UTF8.self)
        }[...]
        guard let first = lines.popFirst(), first.hasPrefix(version) else {
            throw .protocolViolation("a header block does not start with \(version)")
        }
        let statusText = first.dropFirst(version.count).drop { $0 == " " }.prefix { $0 != " " }
        var status: Int?
        if !statusText.isEmpty {
            guard statusText.count == 3, let code = Int(statusText) else {
                throw .protocolViolation("\"\(first.prefix(100))\" has no three-digit status")
            }
            status = code
        }
        var headers: [String: String] = [:]
        for line in lines {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else {
                throw .protocolViolation("header line \"\(line.prefix(100))\" has no colon")
            }
            let name = String(line[..<colon])
            if headers[name] == nil {
                headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers)
    }
}

/// Turns the server's bytes into operations, however the reads split them.
struct NATSServerOperationDecoder: ByteToMessageDecoder {
    typealias InboundOut = NATSServerOperation

    /// Beyond anything a server is configured to carry; the bound until INFO names the real one.
    static let payloadCeiling = 64 * 1024 * 1024
    /// Control lines are short; INFO, the longest, lists a cluster's URLs.
    static let maximumControlLineLength = 64 * 1024

    /// The most header and payload bytes one MSG or HMSG may announce before the connection is dropped.
    /// Twice the server's `max_payload`: what a client publishes is bounded by it, but a JetStream API
    /// reply carrying a stored message (STREAM.MSG.GET) holds it base64-encoded inside JSON, a third larger.
    private(set) var maximumMessageSize = payloadCeiling

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let operation = try next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(operation))
        return .continue
    }

    /// The next complete operation, consumed from `buffer`, or nil (nothing consumed) until more bytes arrive.
    mutating func next(from buffer: inout ByteBuffer) throws(NATSError) -> NATSServerOperation? {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            guard view.count <= Self.maximumControlLineLength else {
                throw .protocolViolation("a control line is longer than \(Self.maximumControlLineLength) bytes")
            }
            return nil
        }
        guard newline - view.startIndex <= Self.maximumControlLineLength else {
            throw .protocolViolation("a control line is longer than \(Self.maximumControlLineLength) bytes")
        }
        var lineBytes = view[view.startIndex..<newline]
        if lineBytes.last == UInt8(ascii: "\r") { lineBytes = lineBytes.dropLast() }
        let line = String(decoding: lineBytes, as: UTF8.self)
        let lineLength = newline - view.startIndex + 1
        let keyword = line.prefix { $0 != " " && $0 != "\t" }.uppercased()
        let rest = line.dropFirst(keyword.count).drop { $0 == " " || $0 == "\t" }

        switch keyword {
        case "MSG", "HMSG":
            let arguments = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let withHeaders = keyword == "HMSG"
            let sizeCount = withHeaders ? 2 : 1
            guard arguments.count == 2 + sizeCount || arguments.count == 3 + sizeCount,
                let subscription = UInt64(arguments[1]),
                let total = Int(arguments[arguments.count - 1]), total >= 0
            else {
                throw .protocolViolation("malformed \(keyword) line \"\(line.prefix(200))\"")
            }
            let headerLength = withHeaders ? Int(arguments[arguments.count - 2]) ?? -1 : 0
            guard headerLength >= 0, headerLength <= total else {
                throw .protocolViolation("malformed \(keyword) line \"\(line.prefix(200))\"")
            }
            guard total <= maximumMessageSize else {
                throw .protocolViolation("a \(total)-byte message is larger than the \(maximumMessageSize) bytes allowed")
            }
            guard buffer.readableBytes >= lineLength + total + 2 else { return nil }
            buffer.moveReaderIndex(forwardBy: lineLength)
            let headerBytes = buffer.readBytes(length: headerLength) ?? []
            let payload = buffer.readBytes(length: total - headerLength) ?? []
            guard buffer.readBytes(length: 2) == Array("\r\n".utf8) else {
                throw .protocolViolation("a \(keyword) payload is not followed by CRLF")
            }
            let (status, headers) = withHeaders ? try NATSHeaderBlock.parse(headerBytes) : (nil, [:])
            let reply = arguments.count == 3 + sizeCount ? arguments[2] : nil
            return .message(
                subscription: subscription,
                NATSMessage(subject: arguments[0], reply: reply, headers: headers, status: status, payload: payload))
        case "INFO":
            let info: NATSServerInfo
            do {
                info = try JSONDecoder().decode(NATSServerInfo.self, from: Data(rest.utf8))
            } catch {
                throw .protocolViolation("INFO is not valid JSON: \(error)")
            }
            if info.maximumPayload > 0 { maximumMessageSize = min(Self.payloadCeiling, 2 * info.maximumPayload) }
            buffer.moveReaderIndex(forwardBy: lineLength)
            return .info(info)
        case "PING", "PONG", "+OK":
            buffer.moveReaderIndex(forwardBy: lineLength)
            return keyword == "PING" ? .ping : keyword == "PONG" ? .pong : .ok
        case "-ERR":
            buffer.moveReaderIndex(forwardBy: lineLength)
            let quoted = rest.trimmingCharacters(in: .whitespaces)
            let unquoted = quoted.count >= 2 && quoted.hasPrefix("'") && quoted.hasSuffix("'") ? quoted.dropFirst().dropLast() : quoted[...]
            return .error(String(unquoted))
        default:
            throw .protocolViolation("unknown operation \"\(line.prefix(200))\"")
        }
    }
}

/// Writes client operations as the protocol spells them.
struct NATSClientOperationEncoder: MessageToByteEncoder {
    typealias OutboundIn = NATSClientOperation

    func encode(data operation: NATSClientOperation, out: inout ByteBuffer) throws {
        switch operation {
        case .connect(let options):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            out.writeStaticString("CONNECT ")
            out.writeBytes(try encoder.encode(options))
            out.writeStaticString("\r\n")
        case .publish(let subject, let reply, let headers, let payload):
            out.writeString(headers.isEmpty ? "PUB " : "HPUB ")
            out.writeString(subject)
            if let reply {
                out.writeStaticString(" ")
                out.writeString(reply)
            }
            if headers.isEmpty {
                out.writeString(" \(payload.count)\r\n")
            } else {
                let headerSize = NATSHeaderBlock.encodedSize(headers)
                out.writeString(" \(headerSize) \(headerSize + payload.count)\r\n")
                NATSHeaderBlock.write(headers, into: &out)
            }
            out.writeBytes(payload)
            out.writeStaticString("\r\n")
        case .subscribe(let subject, let queue, let subscription):
            out.writeString("SUB \(subject) \(queue.map { "\($0) " } ?? "")\(subscription)\r\n")
        case .unsubscribe(let subscription):
            out.writeString("UNSUB \(subscription)\r\n")
        case .ping:
            out.writeStaticString("PING\r\n")
        case .pong:
            out.writeStaticString("PONG\r\n")
        }
    }
}

/// Carries a connection through the handshake (INFO in, CONNECT and PING out, PONG in) and reports
/// its outcome through `established`; then hands the server's operations to the client in order. It keeps
/// the connection alive on the event loop: it answers the server's PINGs itself, and closes a connection
/// whose server stopped answering ours.
final class NATSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NATSServerOperation
    typealias OutboundOut = NATSClientOperation

    /// PINGs sent without a PONG before the server counts as gone.
    static let maximumUnansweredPings = 2

    struct ServerUnresponsive: Error, CustomStringConvertible {
        var description: String { "the server did not answer \(NATSConnectionHandler.maximumUnansweredPings) PINGs in a row" }
    }

    struct ConnectionClosed: Error, CustomStringConvertible {
        var description: String { "the server closed the connection" }
    }

    private enum Phase {
        case awaitingInfo
        case awaitingPong(NATSServerInfo)
        case established
    }

    private let options: NATSConnectOptions
    private let established: EventLoopPromise<NATSServerInfo>
    private let operations: AsyncThrowingStream<NATSServerOperation, any Error>.Continuation
    private let pingInterval: TimeAmount
    private var phase = Phase.awaitingInfo
    private var unansweredPings = 0
    private var nextPing: Scheduled<Void>?
    private var failure: (any Error)?

    init(
        options: NATSConnectOptions, established: EventLoopPromise<NATSServerInfo>,
        operations: AsyncThrowingStream<NATSServerOperation, any Error>.Continuation, pingInterval: TimeAmount
    ) {
        self.options = options
        self.established = established
        self.operations = operations
        self.pingInterval = pingInterval
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let operation = unwrapInboundIn(data)
        switch (phase, operation) {
        case (_, .ping):
            context.writeAndFlush(wrapOutboundOut(.pong), promise: nil)
        case (.awaitingInfo, .info(let info)):
            guard info.supportsHeaders else {
                fail(NATSError.protocolViolation("the server does not support headers (NATS 2.2 and later do)"), context: context)
                return
            }
            phase = .awaitingPong(info)
            context.write(wrapOutboundOut(.connect(options)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.ping), promise: nil)
        case (.awaitingInfo, _):
            fail(NATSError.protocolViolation("the server did not start with INFO"), context: context)
        case (.awaitingPong, .info(let info)):
            phase = .awaitingPong(info)
        case (.awaitingPong(let info), .pong):
            // The server has accepted CONNECT, so our own PINGs may start.
            phase = .established
            established.succeed(info)
            schedulePing(context: context)
        case (.awaitingPong, .error(let message)):
            fail(NATSError.serverError(message), context: context)
        case (.awaitingPong, _):
            break
        case (.established, .pong):
            unansweredPings = 0
        case (.established, _):
            operations.yield(operation)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        nextPing?.cancel()
        established.fail(failure ?? ConnectionClosed())
        operations.finish(throwing: failure)
        context.fireChannelInactive()
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        // After the handshake succeeded this does nothing.
        established.fail(error)
        context.close(promise: nil)
    }

    private func schedulePing(context: ChannelHandlerContext) {
        nextPing = context.eventLoop.assumeIsolated().scheduleTask(in: pingInterval) { [self] in
            guard unansweredPings < Self.maximumUnansweredPings else {
                fail(ServerUnresponsive(), context: context)
                return
            }
            unansweredPings += 1
            context.writeAndFlush(wrapOutboundOut(.ping), promise: nil)
            schedulePing(context: context)
        }
    }
}
