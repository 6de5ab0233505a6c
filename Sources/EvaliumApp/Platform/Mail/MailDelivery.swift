import Logging
import ServiceLifecycle

/// Sends mail off the request path: a handler enqueues and answers at once, so how long a mail relay
/// takes (or whether a message was sent at all) never shows in a response's timing.
final class MailOutbox: Sendable {
    let messages: AsyncStream<MailMessage>
    private let continuation: AsyncStream<MailMessage>.Continuation

    init() {
        (messages, continuation) = AsyncStream.makeStream(of: MailMessage.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    func enqueue(_ message: MailMessage) { continuation.yield(message) }
}

/// Drains the outbox through the configured mailer, retrying a failed message a few times.
struct MailDeliveryService: Service {
    let outbox: MailOutbox
    let mailer: any Mailer
    let logger: Logger

    func run() async throws {
        for await message in outbox.messages.cancelOnGracefulShutdown() {
            await deliver(message)
        }
    }

    private func deliver(_ message: MailMessage) async {
        for attempt in 1...3 {
            do {
                try await mailer.send(message)
                return
            } catch {
                logger.warning(
                    "mail delivery failed", metadata: ["attempt": "\(attempt)", "subject": "\(message.subject)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(attempt * 2))
            }
        }
        logger.error("mail dropped after 3 attempts", metadata: ["subject": "\(message.subject)"])
    }
}
