@testable import EvaliumApp
import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// The client and JetStream against a real nats-server, one fresh server per test.
@Suite(
    "NATS client and JetStream against a real nats-server", .timeLimit(.minutes(2)), .serialized,
    .enabled(if: NATSTestServer.isAvailable, "needs nats-server (EVALIUM_TEST_NATS_SERVER, /usr/sbin or PATH)"))
struct NATSClientTests {
    @Test("a published message reaches a subscriber with its subject, reply, headers and payload")
    func publishAndSubscribe() async throws {
        try await withClient { client, _ in
            let received = Collector(try await client.subscribe("evalium.test.>"))
            let headers = ["Evalium-Kind": "submission.created", "Evalium-Note": "spaces and: colons"]
            try await client.publish("evalium.test.one", headers: headers, payload: Array("hello".utf8), reply: "answers.here")
            try await client.publish("evalium.test.two", payload: [])
            let messages = try await received.first(2)
            #expect(messages[0] == NATSMessage(subject: "evalium.test.one", reply: "answers.here", headers: headers, status: nil, payload: Array("hello".utf8)))
            #expect(messages[1] == NATSMessage(subject: "evalium.test.two", reply: nil, headers: [:], status: nil, payload: []))
        }
    }

    @Test("two hundred concurrent requests each get their own reply")
    func concurrentRequests() async throws {
        try await withClient { client, _ in
            let requests = try await client.subscribe("evalium.echo", queue: "echoes")
            let responder = Task {
                for await request in requests {
                    guard let reply = request.reply else { continue }
                    try await client.publish(reply, headers: request.headers, payload: Array("echo:".utf8) + request.payload)
                }
            }
            defer { responder.cancel() }
            // A minute, not ten seconds: in a clean clone's CI pass this test runs while some fifty test servers
            // start on two cores, and it once timed out at ten. A reply that is lost still fails it.
            let answers = try await withThrowingTaskGroup(of: (Int, NATSMessage).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        (index, try await client.request("evalium.echo", headers: ["Index": "\(index)"], payload: Array("\(index)".utf8), timeout: .seconds(60)))
                    }
                }
                return try await group.reduce(into: [Int: NATSMessage]()) { $0[$1.0] = $1.1 }
            }
            #expect(answers.count == 200)
            for (index, answer) in answers {
                #expect(answer.payload == Array("echo:\(index)".utf8) && answer.headers["Index"] == "\(index)")
            }
        }
    }

    @Test("a request nobody listens to fails at once with noResponders; one nobody answers times out")
    func noRespondersAndTimeout() async throws {
        try await withClient { client, _ in
            let started = ContinuousClock.now
            await #expect(throws: NATSError.noResponders) {
                try await client.request("evalium.nobody", payload: [], timeout: .seconds(30))
            }
            #expect(ContinuousClock.now - started < .seconds(5))
            let silent = try await client.subscribe("evalium.silent")
            await #expect(throws: NATSError.timeout) {
                try await client.request("evalium.silent", payload: [], timeout: .milliseconds(300))
            }
            await silent.unsubscribe()
            await #expect(throws: NATSError.noResponders, "unsubscribing reached the server") {
                try await client.request("evalium.silent", payload: [], timeout: .seconds(30))
            }
        }
    }

    @Test("ensureStream is idempotent and updates the subjects; a repeated Nats-Msg-Id is stored once and acknowledged as a duplicate")
    func streamsAndDeduplication() async throws {
        try await withClient { client, _ in
            let jetStream = JetStream(client: client)
            try await jetStream.ensureStream(name: "EVENTS", subjects: ["events.>"], duplicateWindow: .seconds(60))
            try await jetStream.ensureStream(name: "EVENTS", subjects: ["events.>"], duplicateWindow: .seconds(60))
            #expect(try await jetStream.streamNames(subject: "events.submission.created") == ["EVENTS"])
            #expect(try await jetStream.streamNames(subject: "audit.x").isEmpty)

            let payload = Array(#"{"submission":"s-1"}"#.utf8)
            let first = try await jetStream.publish("events.submission.created", messageId: "m-1", headers: ["Evalium-Tenant": "t-1"], payload: payload)
            let again = try await jetStream.publish("events.submission.created", messageId: "m-1", headers: ["Evalium-Tenant": "t-1"], payload: payload)
            #expect(first == PublishAck(stream: "EVENTS", sequence: 1, duplicate: false))
            #expect(again == PublishAck(stream: "EVENTS", sequence: 1, duplicate: true))
            #expect(try await jetStream.streamState("EVENTS") == StreamState(messages: 1, firstSequence: 1, lastSequence: 1))
            let stored = try await jetStream.getMessage(stream: "EVENTS", sequence: 1)
            #expect(stored == NATSMessage(
                subject: "events.submission.created", reply: nil, headers: ["Nats-Msg-Id": "m-1", "Evalium-Tenant": "t-1"], status: nil, payload: payload))

            try await jetStream.ensureStream(name: "EVENTS", subjects: ["events.>", "audit.>"], duplicateWindow: .seconds(60))
            #expect(try await jetStream.streamNames(subject: "audit.x") == ["EVENTS"])
            #expect(try await jetStream.streamState("EVENTS").messages == 1, "updating kept the messages")
            #expect(try await jetStream.publish("audit.x", messageId: "m-1", payload: payload).duplicate, "and the duplicate window")

            await #expect(throws: NATSError.noResponders, "no stream captures the subject") {
                try await jetStream.publish("unstreamed.x", messageId: "m-2", payload: payload)
            }
            let missing = await #expect(throws: NATSError.self) { try await jetStream.streamState("MISSING") }
            guard case .serverError(let description) = missing else {
                Issue.record("expected a server error, got \(String(describing: missing))")
                return
            }
            #expect(description.contains("stream not found") && description.contains("10059"), "\(description)")
        }
    }

    @Test("three hundred JetStream publishes at once are each stored once and acknowledged with their own sequence")
    func concurrentJetStreamPublishes() async throws {
        try await withClient { client, _ in
            let jetStream = JetStream(client: client)
            try await jetStream.ensureStream(name: "BULK", subjects: ["bulk.>"])
            let acks = try await withThrowingTaskGroup(of: PublishAck.self) { group in
                for index in 0..<300 {
                    group.addTask { try await jetStream.publish("bulk.item", messageId: "b-\(index)", payload: Array("\(index)".utf8)) }
                }
                return try await group.reduce(into: [PublishAck]()) { $0.append($1) }
            }
            #expect(Set(acks.map(\.sequence)) == Set(1...300) && acks.allSatisfy { $0.stream == "BULK" && !$0.duplicate })
            #expect(try await jetStream.streamState("BULK") == StreamState(messages: 300, firstSequence: 1, lastSequence: 300))
        }
    }

    @Test("a pull consumer fetches in batches; ack ends a message, nak delivers it again, term never")
    func pullConsumer() async throws {
        try await withClient { client, _ in
            let jetStream = JetStream(client: client)
            try await jetStream.ensureStream(name: "WORK", subjects: ["work.>"])
            try await jetStream.ensurePullConsumer(stream: "WORK", durable: "relay", filterSubject: "work.>", ackWait: .seconds(2))
            try await jetStream.ensurePullConsumer(stream: "WORK", durable: "relay", filterSubject: "work.>", ackWait: .seconds(2))
            for n in 1...3 {
                _ = try await jetStream.publish("work.item", messageId: "w-\(n)", payload: Array("\(n)".utf8))
            }

            let started = ContinuousClock.now
            let firstTwo = try await jetStream.fetch(stream: "WORK", durable: "relay", batch: 2, expires: .seconds(10))
            #expect(ContinuousClock.now - started < .seconds(5), "a full batch does not wait for expiry")
            let third = try await jetStream.fetch(stream: "WORK", durable: "relay", batch: 10, expires: .milliseconds(500))
            let fetched = firstTwo + third
            #expect(fetched.map(\.streamSequence) == [1, 2, 3] && fetched.allSatisfy { $0.deliveries == 1 })
            #expect(fetched.map { String(decoding: $0.message.payload, as: UTF8.self) } == ["1", "2", "3"])

            try await jetStream.ack(fetched[0])
            try await jetStream.nak(fetched[1])
            try await jetStream.term(fetched[2])
            let redelivered = try await jetStream.fetch(stream: "WORK", durable: "relay", batch: 10, expires: .seconds(1))
            #expect(redelivered.map(\.streamSequence) == [2] && redelivered.first?.deliveries == 2)
            try await jetStream.ack(try #require(redelivered.first))
            let afterAckWait = try await jetStream.fetch(stream: "WORK", durable: "relay", batch: 10, expires: .seconds(3))
            #expect(afterAckWait.isEmpty, "acknowledged and terminated messages are not delivered again after the ack wait")
        }
    }

    @Test("a nak with a delay holds the message back for that long")
    func delayedNak() async throws {
        try await withClient { client, _ in
            let jetStream = JetStream(client: client)
            try await jetStream.ensureStream(name: "RETRY", subjects: ["retry.>"])
            try await jetStream.ensurePullConsumer(stream: "RETRY", durable: "relay", filterSubject: nil, ackWait: .seconds(30))
            _ = try await jetStream.publish("retry.item", messageId: "r-1", payload: [1])
            let first = try await jetStream.fetch(stream: "RETRY", durable: "relay", batch: 1, expires: .seconds(1))
            try await jetStream.nak(try #require(first.first), delay: .seconds(2))
            let tooSoon = try await jetStream.fetch(stream: "RETRY", durable: "relay", batch: 1, expires: .milliseconds(500))
            #expect(tooSoon.isEmpty)
            let later = try await jetStream.fetch(stream: "RETRY", durable: "relay", batch: 1, expires: .seconds(5))
            #expect(later.map(\.streamSequence) == [1] && later.first?.deliveries == 2)
        }
    }

    @Test("across a server restart the client reconnects by itself; meanwhile it refuses work, then subscriptions and JetStream carry on")
    func serverRestart() async throws {
        try await withClient { client, server in
            let jetStream = JetStream(client: client)
            try await jetStream.ensureStream(name: "DURABLE", subjects: ["durable.>"])
            _ = try await jetStream.publish("durable.a", messageId: "d-1", payload: [1])
            let live = Collector(try await client.subscribe("live.>"))
            try await client.publish("live.before", payload: [1])
            _ = try await live.first(1)
            let unanswered = Collector(try await client.subscribe("unanswered"))
            let inFlight = Task { try await client.request("unanswered", payload: [], timeout: .seconds(60)) }
            _ = try await unanswered.first(1)

            try await server.restart {
                try await eventually { await !client.isConnected }
                await #expect(throws: NATSError.notConnected, "a request in flight when the connection dropped") { try await inFlight.value }
                await #expect(throws: NATSError.notConnected) { try await client.publish("live.during", payload: [2]) }
                await #expect(throws: NATSError.notConnected) { try await client.request("live.during", payload: [2], timeout: .seconds(1)) }
            }
            try await eventually { await client.isConnected }
            try await client.publish("live.after", payload: [3])
            #expect(try await live.first(2).map(\.subject) == ["live.before", "live.after"])
            #expect(try await jetStream.streamState("DURABLE").messages == 1)
            #expect(try await jetStream.publish("durable.a", messageId: "d-2", payload: [2]).sequence == 2)
        }
    }

    @Test("a server that stops answering is noticed by its missed PONGs, and reconnected to when it recovers")
    func unresponsiveServer() async throws {
        try await withClient(pingInterval: .milliseconds(200)) { client, server in
            let live = Collector(try await client.subscribe("live.>"))
            server.pause()
            try await eventually { await !client.isConnected }
            server.resume()
            try await eventually { await client.isConnected }
            try await client.publish("live.after", payload: [1])
            #expect(try await live.first(1).map(\.subject) == ["live.after"])
        }
    }

    @Test("close ends subscriptions and refuses further work")
    func closing() async throws {
        try await withClient { client, _ in
            let subscription = try await client.subscribe("evalium.>")
            let ended = Task { for await _ in subscription {} }
            await client.close()
            await ended.value
            await #expect(throws: NATSError.closed) { try await client.publish("evalium.x", payload: []) }
            await #expect(throws: NATSError.closed) { try await client.subscribe("evalium.>") }
        }
    }

    /// A fresh server and a client connected to it, both gone afterwards whatever happens.
    private func withClient(
        pingInterval: Duration = .seconds(10), _ body: (NATSClient, NATSTestServer) async throws -> Void
    ) async throws {
        let server = try await NATSTestServer.start()
        let client = NATSClient(url: server.url, name: "evalium-tests", logger: TestEnvironment.logger, pingInterval: pingInterval)
        do {
            try await client.connect()
            try await body(client, server)
        } catch {
            await client.close()
            await server.stop()
            throw error
        }
        await client.close()
        await server.stop()
    }

    /// Waits (10 s at most) until `condition` holds.
    private func eventually(_ condition: () async -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !(await condition()) {
            guard ContinuousClock.now < deadline else { throw WaitedTooLong(what: "the condition to hold", sourceLocation: sourceLocation) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

private struct WaitedTooLong: Error, CustomStringConvertible {
    var what: String
    var sourceLocation: SourceLocation?
    var description: String { "waited 10 s for \(what)\(sourceLocation.map { " at \($0)" } ?? "")" }
}

/// Everything a subscription receives, gathered in the background until it ends.
private final class Collector: Sendable {
    private let messages = Mutex<[NATSMessage]>([])

    init(_ subscription: NATSSubscription) {
        Task { [self] in
            for await message in subscription { append(message) }
        }
    }

    /// The first `count` messages, waiting 10 s at most for them.
    func first(_ count: Int) async throws -> [NATSMessage] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let received = messages.withLock { $0 }
            if received.count >= count { return Array(received.prefix(count)) }
            guard ContinuousClock.now < deadline else {
                throw WaitedTooLong(what: "\(count) messages (\(received.count) came: \(received.map(\.subject)))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func append(_ message: NATSMessage) {
        messages.withLock { $0.append(message) }
    }
}

@Suite("NATS wire protocol")
struct NATSProtocolTests {
    /// One of each server operation, as the server writes them.
    static let serverBytes = Array(
        ("INFO {\"server_id\":\"S1\",\"version\":\"2.9.10\",\"max_payload\":1048576,\"headers\":true}\r\n"
            + "MSG events.a 7 5\r\nhello\r\n"
            + "MSG events.b 7 _INBOX.x.1 0\r\n\r\n"
            + "HMSG _INBOX.x.2 1 _INBOX.r 34 39\r\nNATS/1.0\r\nA: one\r\nB-C:  t w o \r\n\r\nworld\r\n"
            + "HMSG _INBOX.x.3 1 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n"
            + "HMSG _INBOX.x.4 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
            + "PING\r\nPONG\r\n+OK\r\n-ERR 'Unknown Protocol Operation'\r\n").utf8)

    static let serverOperations: [NATSServerOperation] = [
        .info(NATSServerInfo(version: "2.9.10", maximumPayload: 1_048_576, supportsHeaders: true)),
        .message(subscription: 7, NATSMessage(subject: "events.a", reply: nil, headers: [:], status: nil, payload: Array("hello".utf8))),
        .message(subscription: 7, NATSMessage(subject: "events.b", reply: "_INBOX.x.1", headers: [:], status: nil, payload: [])),
        .message(
            subscription: 1,
            NATSMessage(subject: "_INBOX.x.2", reply: "_INBOX.r", headers: ["A": "one", "B-C": "t w o"], status: nil, payload: Array("world".utf8))),
        .message(subscription: 1, NATSMessage(subject: "_INBOX.x.3", reply: nil, headers: [:], status: 404, payload: [])),
        .message(subscription: 1, NATSMessage(subject: "_INBOX.x.4", reply: nil, headers: [:], status: 503, payload: [])),
        .ping, .pong, .ok, .error("Unknown Protocol Operation"),
    ]

    @Test("every operation decodes the same however the reads split it, at each byte boundary or byte by byte")
    func splitReads() throws {
        for split in 0...Self.serverBytes.count {
            let decoded = try decode([Array(Self.serverBytes[..<split]), Array(Self.serverBytes[split...])])
            #expect(decoded == Self.serverOperations, "split at byte \(split)")
        }
        #expect(try decode(Self.serverBytes.map { [$0] }) == Self.serverOperations)
    }

    @Test("a message larger than the server's max_payload allows, or than 64 MiB before INFO, is refused before it is read")
    func oversizedMessages() throws {
        let info = "INFO {\"max_payload\":1024,\"headers\":true}\r\n"
        #expect(throws: NATSError.protocolViolation("a 4096-byte message is larger than the 2048 bytes allowed")) {
            try decode([Array((info + "MSG a 1 4096\r\n").utf8)])
        }
        #expect(throws: NATSError.protocolViolation("a 67108865-byte message is larger than the 67108864 bytes allowed")) {
            try decode([Array("MSG a 1 67108865\r\n".utf8)])
        }
        #expect(throws: NATSError.self, "a control line without end") {
            try decode([Array(repeating: UInt8(ascii: "M"), count: NATSServerOperationDecoder.maximumControlLineLength + 1)])
        }
        #expect(throws: NATSError.self, "a payload not followed by CRLF") { try decode([Array("MSG a 1 2\r\nhiXX".utf8)]) }
        #expect(throws: NATSError.self, "an unknown operation") { try decode([Array("HELLO\r\n".utf8)]) }
    }

    @Test("client operations are written as the protocol spells them")
    func encoding() throws {
        #expect(try encode(.publish(subject: "a.b", reply: nil, headers: [:], payload: Array("hi".utf8))) == "PUB a.b 2\r\nhi\r\n")
        #expect(try encode(.publish(subject: "a.b", reply: "r.1", headers: ["B": "2", "A": "1"], payload: Array("hi".utf8)))
            == "HPUB a.b r.1 24 26\r\nNATS/1.0\r\nA: 1\r\nB: 2\r\n\r\nhi\r\n")
        #expect(try encode(.subscribe(subject: "a.>", queue: "workers", subscription: 9)) == "SUB a.> workers 9\r\n")
        #expect(try encode(.subscribe(subject: "a.>", queue: nil, subscription: 9)) == "SUB a.> 9\r\n")
        #expect(try encode(.unsubscribe(subscription: 9)) == "UNSUB 9\r\n")
        #expect(try encode(.ping) == "PING\r\n" && encode(.pong) == "PONG\r\n")
        #expect(try encode(.connect(NATSConnectOptions(name: "relay"))) == "CONNECT "
            + #"{"headers":true,"lang":"swift","name":"relay","no_responders":true,"pedantic":false,"protocol":1,"verbose":false,"version":"evalium"}"#
            + "\r\n")
    }

    @Test("subjects, queue groups and headers that would break the framing are refused")
    func framingGuards() {
        let refused: [NATSClientOperation] = [
            .publish(subject: "a b", reply: nil, headers: [:], payload: []),
            .publish(subject: "", reply: nil, headers: [:], payload: []),
            .publish(subject: "a", reply: "r\r\nPUB x 0", headers: [:], payload: []),
            .publish(subject: "a", reply: nil, headers: ["A:B": "1"], payload: []),
            .publish(subject: "a", reply: nil, headers: ["A": "1\r\nB: 2"], payload: []),
            .subscribe(subject: "a", queue: "q 1", subscription: 2),
        ]
        for operation in refused {
            #expect(throws: NATSError.self, "\(operation)") { try operation.validate() }
        }
    }

    @Test("JetStream acknowledgement subjects give the stream sequence and deliveries, in the old form and the one with a domain")
    func acknowledgementSubjects() throws {
        func message(reply: String?) -> NATSMessage { NATSMessage(subject: "work.item", reply: reply, headers: [:], status: nil, payload: []) }
        let old = try JetStreamMessage(message(reply: "$JS.ACK.WORK.relay.3.42.40.1700000000000000000.7"))
        #expect(old.streamSequence == 42 && old.deliveries == 3)
        let withDomain = try JetStreamMessage(message(reply: "$JS.ACK._.ACCHASH.WORK.relay.2.43.41.1700000000000000000.6.xyz"))
        #expect(withDomain.streamSequence == 43 && withDomain.deliveries == 2)
        #expect(throws: NATSError.self) { try JetStreamMessage(message(reply: "_INBOX.abc")) }
        #expect(throws: NATSError.self) { try JetStreamMessage(message(reply: nil)) }
    }

    private func decode(_ reads: [[UInt8]]) throws -> [NATSServerOperation] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(NATSServerOperationDecoder()))
        var operations: [NATSServerOperation] = []
        for read in reads {
            try channel.writeInbound(ByteBuffer(bytes: read))
            while let operation = try channel.readInbound(as: NATSServerOperation.self) { operations.append(operation) }
        }
        return operations
    }

    private func encode(_ operation: NATSClientOperation) throws -> String {
        var buffer = ByteBuffer()
        try NATSClientOperationEncoder().encode(data: operation, out: &buffer)
        return String(buffer: buffer)
    }
}
