import Foundation

/// The server's acknowledgement of a JetStream publish.
struct PublishAck: Sendable, Equatable {
    var stream: String
    var sequence: UInt64
    /// The message id was seen within the stream's duplicate window, so nothing new was stored and
    /// `sequence` is where the first copy is.
    var duplicate: Bool
}

struct StreamState: Sendable, Equatable {
    var messages: UInt64
    var firstSequence: UInt64
    var lastSequence: UInt64
}

/// A message a pull consumer delivered, with what its `$JS.ACK…` reply subject says about it.
struct JetStreamMessage: Sendable {
    var message: NATSMessage
    var streamSequence: UInt64
    /// 1 on the first delivery, 2 on the first redelivery, and so on.
    var deliveries: Int

    init(_ message: NATSMessage) throws(NATSError) {
        // $JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.<consumer seq>.<time>.<pending>, or from a
        // server that knows domains $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.… and a random token.
        let tokens = message.reply?.split(separator: ".", omittingEmptySubsequences: false) ?? []
        let deliveriesToken = tokens.count == 9 ? 4 : tokens.count >= 11 ? 6 : nil
        guard tokens.prefix(2) == ["$JS", "ACK"], let deliveriesToken, let deliveries = Int(tokens[deliveriesToken]),
            let streamSequence = UInt64(tokens[deliveriesToken + 1])
        else {
            throw .protocolViolation("\"\(message.reply ?? "")\" is not a JetStream acknowledgement subject")
        }
        self.message = message
        self.streamSequence = streamSequence
        self.deliveries = deliveries
    }
}

/// JetStream through its request/reply JSON API (`$JS.API.…`). The API's errors arrive as
/// `NATSError.serverError` with the server's description and codes.
struct JetStream: Sendable {
    let client: NATSClient

    /// The server answers API calls in milliseconds unless it is in trouble.
    private static let apiTimeout: Duration = .seconds(5)
    /// JSStreamNameExistErr: the stream exists with another configuration.
    private static let streamNameInUse = 10058

    /// Makes the stream exist with these subjects and duplicate window: creates it, or, when it exists
    /// with others, changes just those two (limits an operator set stay). Safe to call on every start.
    func ensureStream(name: String, subjects: [String], duplicateWindow: Duration = .seconds(120)) async throws {
        let window = duplicateWindow.nanoseconds
        let created = try await call(
            "STREAM.CREATE.\(name)", body: Self.json(StreamConfiguration(name: name, subjects: subjects, duplicateWindow: window)))
        switch created {
        case .success: return
        case .failure(let error) where error.errCode == Self.streamNameInUse: break
        case .failure(let error): throw NATSError.serverError(error.summary)
        }
        let info = try await call("STREAM.INFO.\(name)").mapError { NATSError.serverError($0.summary) }.get()
        let current = try Self.decode(StreamInfo.self, from: info).config
        guard Set(current.subjects ?? []) != Set(subjects) || current.duplicateWindow != window else { return }
        // Edited as untyped JSON, so that fields this client does not know survive the update.
        guard var configuration = (try? JSONSerialization.jsonObject(with: Data(info)) as? [String: Any])?["config"] as? [String: Any] else {
            throw NATSError.protocolViolation("STREAM.INFO for \(name) has no config object")
        }
        configuration["subjects"] = subjects
        configuration["duplicate_window"] = NSNumber(value: window)
        let updated = try JSONSerialization.data(withJSONObject: configuration)
        _ = try await call("STREAM.UPDATE.\(name)", body: Array(updated)).mapError { NATSError.serverError($0.summary) }.get()
    }

    func streamState(_ name: String) async throws -> StreamState {
        let state = try await call("STREAM.INFO.\(name)", as: StreamInfo.self).state
        return StreamState(messages: state.messages, firstSequence: state.firstSeq, lastSequence: state.lastSeq)
    }

    /// The streams that capture `subject` (wildcards allowed).
    func streamNames(subject: String) async throws -> [String] {
        var names: [String] = []
        while true {
            let page = try await call("STREAM.NAMES", body: Self.json(NamesRequest(offset: names.count, subject: subject)), as: NamesPage.self)
            let streams = page.streams ?? []
            names += streams
            if streams.isEmpty || names.count >= page.total { return names }
        }
    }

    /// Stores a message in the stream that captures `subject`. The stream keeps one message per
    /// `messageId` within its duplicate window, so a publish retried after a lost acknowledgement
    /// stores nothing twice. Throws `noResponders` when no stream captures the subject.
    func publish(
        _ subject: String, messageId: String, headers: [String: String] = [:], payload: [UInt8], timeout: Duration = .seconds(5)
    ) async throws -> PublishAck {
        var headers = headers
        headers["Nats-Msg-Id"] = messageId
        let reply = try await client.request(subject, headers: headers, payload: payload, timeout: timeout)
        let ack = try Self.decode(PublishAckBody.self, from: Self.checked(reply.payload).mapError { NATSError.serverError($0.summary) }.get())
        return PublishAck(stream: ack.stream, sequence: ack.seq, duplicate: ack.duplicate ?? false)
    }

    /// Makes a durable pull consumer exist that delivers every message of the stream (or those on
    /// `filterSubject`), each to be acknowledged within `ackWait` or delivered again, without limit.
    func ensurePullConsumer(stream: String, durable: String, filterSubject: String?, ackWait: Duration) async throws {
        let request = ConsumerCreateRequest(
            streamName: stream, config: ConsumerConfiguration(durableName: durable, ackWait: ackWait.nanoseconds, filterSubject: filterSubject))
        _ = try await call("CONSUMER.DURABLE.CREATE.\(stream).\(durable)", body: Self.json(request), as: ConsumerInfo.self)
    }

    /// Up to `batch` messages from a pull consumer: what is there at once, then what arrives until the
    /// batch is full or `expires` has passed. Each must then be acknowledged, refused, or terminated.
    func fetch(stream: String, durable: String, batch: Int, expires: Duration) async throws -> [JetStreamMessage] {
        let inbox = client.newInbox()
        let deliveries = try await client.subscribe(inbox)
        // The server ends the pull with a 408 when `expires` passes; this ends the wait should that
        // never come (the connection dropped and the pull with it).
        let deadline = Task {
            do { try await Task.sleep(for: expires + .seconds(1)) } catch { return }
            await deliveries.unsubscribe()
        }
        defer { deadline.cancel() }
        do {
            let pull = try Self.json(PullRequest(batch: batch, expires: expires.nanoseconds))
            try await client.publish("$JS.API.CONSUMER.MSG.NEXT.\(stream).\(durable)", payload: pull, reply: inbox)
            var fetched: [JetStreamMessage] = []
            receiving: for await message in deliveries {
                switch message.status {
                case nil:
                    fetched.append(try JetStreamMessage(message))
                    if fetched.count >= batch { break receiving }
                case 100?:
                    // An idle heartbeat: the pull is still alive.
                    continue
                case 404?, 408?:
                    // No messages, or `expires` passed: the pull is over.
                    break receiving
                case 503?:
                    throw NATSError.noResponders
                case let status?:
                    // 409: the pull was cut short (consumer deleted, too many waiting pulls, …).
                    guard fetched.isEmpty else { break receiving }
                    throw NATSError.serverError("the pull from \(stream) > \(durable) ended with status \(status)")
                }
            }
            await deliveries.unsubscribe()
            return fetched
        } catch {
            await deliveries.unsubscribe()
            throw error
        }
    }

    /// Done with the message: it is not delivered again.
    func ack(_ message: JetStreamMessage) async throws {
        try await acknowledge(message, with: "+ACK")
    }

    /// Not processed: deliver it again, at once or after `delay`.
    func nak(_ message: JetStreamMessage, delay: Duration? = nil) async throws {
        try await acknowledge(message, with: delay.map { "-NAK {\"delay\":\($0.nanoseconds)}" } ?? "-NAK")
    }

    /// Never to be processed: it is not delivered again, however often it was tried.
    func term(_ message: JetStreamMessage) async throws {
        try await acknowledge(message, with: "+TERM")
    }

    /// The message stored at `sequence`, with its headers.
    func getMessage(stream: String, sequence: UInt64) async throws -> NATSMessage {
        let stored = try await call("STREAM.MSG.GET.\(stream)", body: Self.json(MessageGetRequest(seq: sequence)), as: StoredMessageReply.self).message
        let headers = try stored.hdrs.map { try NATSHeaderBlock.parse($0).headers } ?? [:]
        return NATSMessage(subject: stored.subject, reply: nil, headers: headers, status: nil, payload: Array(stored.data ?? Data()))
    }

    private func acknowledge(_ message: JetStreamMessage, with text: String) async throws {
        guard let reply = message.message.reply else { throw NATSError.protocolViolation("the message has no reply subject to acknowledge") }
        try await client.publish(reply, payload: Array(text.utf8))
    }

    private func call<Response: Decodable>(_ api: String, body: [UInt8] = [], as response: Response.Type) async throws -> Response {
        try Self.decode(response, from: try await call(api, body: body).mapError { NATSError.serverError($0.summary) }.get())
    }

    /// The reply's JSON, or the API error it holds.
    private func call(_ api: String, body: [UInt8] = []) async throws -> Result<[UInt8], APIError> {
        try Self.checked(try await client.request("$JS.API.\(api)", payload: body, timeout: Self.apiTimeout).payload)
    }

    private static func checked(_ payload: [UInt8]) throws -> Result<[UInt8], APIError> {
        if let error = try decode(ErrorEnvelope.self, from: payload).error { return .failure(error) }
        return .success(payload)
    }

    private static func json(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return Array(try encoder.encode(value))
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, from payload: [UInt8]) throws -> Value {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: Data(payload))
        } catch {
            throw NATSError.protocolViolation("unexpected JetStream reply \(String(decoding: payload.prefix(300), as: UTF8.self)): \(error)")
        }
    }
}

// The API's JSON, in its own names (snake_case on the wire).

private struct APIError: Error, Decodable {
    var code: Int
    var errCode: Int?
    var description: String?

    var summary: String { "\(description ?? "JetStream error") (code \(code)\(errCode.map { ", err_code \($0)" } ?? ""))" }
}

private struct ErrorEnvelope: Decodable {
    var error: APIError?
}

private struct StreamConfiguration: Encodable {
    var name: String
    var subjects: [String]
    var duplicateWindow: Int64
    var storage = "file"
    var retention = "limits"
    var discard = "old"
    var numReplicas = 1
}

private struct StreamInfo: Decodable {
    struct Configuration: Decodable {
        var subjects: [String]?
        var duplicateWindow: Int64?
    }

    struct State: Decodable {
        var messages: UInt64
        var firstSeq: UInt64
        var lastSeq: UInt64
    }

    var config: Configuration
    var state: State
}

private struct NamesRequest: Encodable {
    var offset: Int
    var subject: String
}

private struct NamesPage: Decodable {
    var total: Int
    var streams: [String]?
}

private struct PublishAckBody: Decodable {
    var stream: String
    var seq: UInt64
    var duplicate: Bool?
}

private struct ConsumerCreateRequest: Encodable {
    var streamName: String
    var config: ConsumerConfiguration
}

private struct ConsumerConfiguration: Encodable {
    var durableName: String
    var ackPolicy = "explicit"
    var ackWait: Int64
    var deliverPolicy = "all"
    var filterSubject: String?
    var maxDeliver = -1
    var replayPolicy = "instant"
}

private struct ConsumerInfo: Decodable {
    var name: String
}

private struct PullRequest: Encodable {
    var batch: Int
    var expires: Int64
}

private struct MessageGetRequest: Encodable {
    var seq: UInt64
}

private struct StoredMessageReply: Decodable {
    struct Message: Decodable {
        var subject: String
        var hdrs: Data?
        var data: Data?
    }

    var message: Message
}

extension Duration {
    /// As JetStream's JSON writes durations.
    fileprivate var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
