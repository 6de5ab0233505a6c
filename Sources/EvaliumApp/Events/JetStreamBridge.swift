import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import ServiceLifecycle

/// Evalium on NATS JetStream, the scale-out mode (seed 003 "Transport: NATS JetStream stream
/// ASSESSMENT"): the relay publishes the outbox, and dead letters to `ASSESSMENT.dlq`; the inbound
/// consumer takes the subjects Evalium consumes into `inbound_events`. Without a NATS URL neither runs and
/// the dispatcher alone delivers events, in this process.
struct JetStreamBridge: Service {
    let database: Database
    let settings: EventSettings
    let client: NATSClient
    let logger: Logger
    /// Runs after JetStream acknowledged a batch and before the batch is marked relayed: the moment a crash
    /// would make the relay publish the batch again (tests make it fail there).
    let afterPublish: @Sendable ([RelayMessage]) async throws -> Void

    static let consumerName = "evalium"

    init(database: Database, settings: EventSettings, natsURL: String, logger: Logger) {
        self.database = database
        self.settings = settings
        self.client = NATSClient(url: natsURL, name: "evalium", logger: logger)
        self.logger = logger
        self.afterPublish = settings.afterRelayPublish
    }

    var jetStream: JetStream { JetStream(client: client) }
    var deadLetterSubject: String { "\(settings.stream).dlq" }

    func run() async {
        await cancelWhenGracefulShutdown {
            guard await prepare() else { return }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await repeatUntilShutdown(name: "relaying events to JetStream", logger: logger) {
                        for tenant in try await database.transaction(.none, { try await $0.eventTenantsToRelay() }) {
                            while !Task.isCancelled, try await relay(tenant) == Self.relayBatch {}
                        }
                    } pause: {
                        await database.eventRelaySignal.wait(atMost: settings.idleInterval, spacedBy: .milliseconds(20))
                    }
                }
                group.addTask {
                    await repeatUntilShutdown(name: "consuming events from JetStream", logger: logger) {
                        try await consumeInbound()
                    } pause: {}
                }
            }
        }
        await client.close()
    }

    /// Connects and makes sure the streams and the durable consumer exist, retrying until it can or the
    /// server stops; false when it stopped first.
    private func prepare() async -> Bool {
        var wait = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                try await client.connect()
                try await jetStream.ensureStream(name: settings.stream, subjects: ["assessment.>", deadLetterSubject])
                try await jetStream.ensureStream(name: settings.inboundStream, subjects: ConsumedEvents.subjects.map(\.rawValue))
                try await jetStream.ensurePullConsumer(
                    stream: settings.inboundStream, durable: Self.consumerName, filterSubject: nil, ackWait: .seconds(30))
                logger.info("events go to JetStream", metadata: ["stream": "\(settings.stream)", "inbound": "\(settings.inboundStream)"])
                return true
            } catch {
                logger.error("JetStream is not ready; retrying", metadata: ["error": "\(String(reflecting: error))", "retryIn": "\(wait)"])
                try? await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(10))
            }
        }
        return false
    }

    static let relayBatch = 500

    /// Publishes the tenant's unrelayed outbox rows and dead letters, then marks what JetStream acknowledged.
    /// Each partition's messages go one after another, in order; partitions go side by side. A message
    /// published twice (a crash before the marking) is stored once: its id is the `Nats-Msg-Id`.
    ///
    /// The reading, the publishing and the marking are one transaction holding the tenant's relay lock, so
    /// relays of several servers take turns instead of publishing the same rows side by side; a server busy
    /// with the tenant makes this one skip it.
    func relay(_ tenant: TenantID) async throws -> Int {
        let (read, acknowledged) = try await database.transaction(.tenantWide(tenant)) { transaction -> (Int, Int) in
            guard try await transaction.tryLockEventRelay() else { return (0, 0) }
            let messages = try await transaction.messagesToRelay(limit: Self.relayBatch)
            guard !messages.isEmpty else { return (0, 0) }
            let acknowledged = await publishInOrder(messages)
            try await afterPublish(acknowledged)
            try await transaction.markRelayed(acknowledged.map(\.id))
            return (messages.count, acknowledged.count)
        }
        if acknowledged < read { throw NATSError.notConnected }
        return read
    }

    /// Publishes each partition's messages in order, partitions side by side; answers those acknowledged. A
    /// partition stops at its first failure, so its order holds; the next pass retries the rest.
    private func publishInOrder(_ messages: [RelayMessage]) async -> [RelayMessage] {
        await withTaskGroup(of: [RelayMessage].self) { group in
            for partition in Dictionary(grouping: messages, by: \.partitionKey).values {
                group.addTask {
                    var acknowledged: [RelayMessage] = []
                    for message in partition {
                        do {
                            try await publish(message)
                            acknowledged.append(message)
                        } catch {
                            logger.warning("publishing to JetStream failed", metadata: ["id": "\(message.id)", "error": "\(error)"])
                            break
                        }
                    }
                    return acknowledged
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
    }

    private func publish(_ message: RelayMessage) async throws {
        var headers = ["Evalium-Partition-Key": Self.headerValue(message.partitionKey)]
        if let sequence = message.sequence { headers["Evalium-Sequence"] = "\(sequence)" }
        var subject = message.subject
        if let letter = message.deadLetter {
            subject = deadLetterSubject
            headers["Evalium-Consumer"] = letter.consumer
            headers["Evalium-Original-Subject"] = letter.subject
            headers["Evalium-Event-Id"] = Self.headerValue(letter.eventId)
            headers["Evalium-Attempts"] = "\(letter.attempts)"
            headers["Evalium-Error"] = Self.headerValue(letter.lastError)
        }
        _ = try await jetStream.publish(subject, messageId: message.id, headers: headers, payload: Array(message.envelope.utf8))
    }

    /// Takes what arrived on the consumed subjects into `inbound_events` and acknowledges it after the
    /// commit; a message that is not an event of a known tenant goes to the dead-letter subject at once.
    private func consumeInbound() async throws {
        let messages = try await jetStream.fetch(stream: settings.inboundStream, durable: Self.consumerName, batch: 100, expires: .seconds(1))
        for message in messages {
            switch EventEnvelope.parse(message.message.payload) {
            case .failure(let problem):
                try await reject(message, reason: problem.description)
            case .success(let envelope) where envelope.subject.rawValue != message.message.subject:
                try await reject(message, reason: "the envelope's subject \(envelope.subject.rawValue) is not the subject it came on")
            case .success(let envelope):
                do {
                    try await database.transaction(.tenantWide(envelope.tenantId)) { _ = try await $0.receive(envelope, bytes: message.message.payload) }
                    try await jetStream.ack(message)
                } catch StorageError.foreignKeyViolation {
                    try await reject(message, reason: "no tenant \(envelope.tenantId)")
                } catch {
                    logger.warning("keeping a received event failed; JetStream redelivers it", metadata: ["error": "\(error)"])
                    try await jetStream.nak(message, delay: .seconds(1))
                }
            }
        }
    }

    private func reject(_ message: JetStreamMessage, reason: String) async throws {
        logger.error("refused a received message", metadata: ["subject": "\(message.message.subject)", "reason": "\(reason)"])
        _ = try await jetStream.publish(
            deadLetterSubject, messageId: "refused-\(settings.inboundStream)-\(message.streamSequence)",
            headers: ["Evalium-Original-Subject": Self.headerValue(message.message.subject), "Evalium-Error": Self.headerValue(reason)],
            payload: message.message.payload)
        try await jetStream.term(message)
    }

    /// Header values are one line of printable ASCII.
    static func headerValue(_ text: String) -> String {
        String(String(text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }).prefix(500))
    }
}

/// `evalium events watch`: every event as it arrives on NATS, one line each, for a person to watch.
public enum EventWatch {
    public static func watch(natsURL: String, subject: String, logger: Logger, show: @Sendable (String) -> Void) async throws {
        let client = NATSClient(url: natsURL, name: "evalium-watch", logger: logger)
        try await client.connect()
        for await message in try await client.subscribe(subject) {
            let body = String(decoding: message.payload, as: UTF8.self)
            switch EventEnvelope.parse(message.payload) {
            case .success(let event):
                let sequence = message.headers["Evalium-Sequence"].map { "  seq \($0)" } ?? ""
                show("\(event.occurredAt.rfc3339)  \(message.subject)  \(event.eventId)  \(event.tenantId)  key \(event.partitionKey)\(sequence)")
                show("    \(String(decoding: (try? CanonicalJSON.bytes(event.payload)) ?? [], as: UTF8.self))")
            case .failure(let problem):
                show("\(message.subject)  (\(problem)): \(body.prefix(500))")
            }
            if let error = message.headers["Evalium-Error"] { show("    dead letter of \(message.headers["Evalium-Consumer"] ?? "?"): \(error)") }
        }
        await client.close()
    }
}
