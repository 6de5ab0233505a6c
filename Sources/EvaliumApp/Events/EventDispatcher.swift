import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers queued events, published and received, to the in-process listeners (seed 000 §3 "notify
/// downstream workers"): at least once, in order within a partition key, with an inbox per listener, the
/// retry policy's backoff and then a dead letter. A failing event holds back only the later events of its
/// own partition for that listener; everything else goes on.
struct EventDispatcher: Sendable {
    let database: Database
    let listeners: [any EventListener]
    let retry: RetryPolicy
    let liveness: Duration
    let logger: Logger

    static let batchSize = 200

    var consumers: [(name: String, subjects: [String])] { listeners.map { ($0.name, $0.subjects) } }

    /// One pass over the tenant's queue, in one transaction (each listener's work in a savepoint of its
    /// own); answers whether it should go on at once: it read a whole batch and delivered some of it (a
    /// batch of events all waiting for their retry is left for a later pass). Skips the tenant if another
    /// server is on it.
    func dispatch(_ tenant: TenantID) async throws -> Bool {
        try await database.transaction(.tenantWide(tenant)) { transaction in
            guard try await transaction.tryLockEventDispatch() else { return false }
            var delivered = 0
            let now = ServerClock.now()
            var heldPartitions = Set<String>()
            let events = try await transaction.pendingEvents(for: consumers, limit: Self.batchSize)
            for event in events {
                for listener in listeners where listener.wants(event.subject) {
                    guard !event.handledBy.contains(listener.name), !event.deadFor.contains(listener.name) else { continue }
                    let partition = "\(listener.name)\u{0}\(event.partitionKey)"
                    let failure = event.failures[listener.name]
                    if heldPartitions.contains(partition) || (failure.map { $0.nextAttemptAt > now } ?? false) {
                        heldPartitions.insert(partition)
                        continue
                    }
                    if try await deliver(event, to: listener, failedBefore: failure?.attempts ?? 0, in: transaction) {
                        delivered += 1
                    } else {
                        heldPartitions.insert(partition)
                    }
                }
            }
            try await transaction.dequeueFinishedEvents(liveness: liveness)
            return events.count == Self.batchSize && delivered > 0
        }
    }

    /// Hands the event to the listener; false when it failed and waits to be tried again. A failure past
    /// the retry policy becomes a dead letter (and so counts as delivered: the partition goes on).
    private func deliver(_ event: PendingEvent, to listener: any EventListener, failedBefore: Int, in transaction: Transaction) async throws -> Bool {
        do {
            try await Self.handle(event, by: listener, in: transaction)
            return true
        } catch {
            let attempts = failedBefore + 1
            let reason = Self.describe(error)
            if let wait = retry.wait(afterFailedAttempts: attempts) {
                try await transaction.recordDeliveryFailure(
                    consumer: listener.name, event: event, attempts: attempts, nextAttemptAt: ServerClock.now().addingTimeInterval(wait.seconds),
                    error: reason)
                logger.warning(
                    "event listener failed; will retry",
                    metadata: ["listener": "\(listener.name)", "event": "\(event.eventId)", "attempt": "\(attempts)", "error": "\(reason)"])
                return false
            }
            let letter = try await transaction.recordDeadLetter(consumer: listener.name, event: event, attempts: attempts, error: reason)
            logger.error(
                "event listener gave up; the event is a dead letter",
                metadata: ["listener": "\(listener.name)", "event": "\(event.eventId)", "deadLetter": "\(letter.rawValue)", "error": "\(reason)"])
            return true
        }
    }

    /// The listener's work and its inbox record, both or neither. `checkingInbox` for a caller that does not
    /// hold the tenant's dispatch lock (a replay), which may meet an event handled in the meantime; a pass
    /// under the lock read the inbox with the event.
    static func handle(_ event: PendingEvent, by listener: any EventListener, checkingInbox: Bool = false, in transaction: Transaction) async throws {
        try await transaction.savepoint { transaction in
            if checkingInbox, try await transaction.isHandled(consumer: listener.name, eventId: event.eventId) { return }
            guard case .success(let envelope) = EventEnvelope.parse(Array(event.envelope.utf8)) else {
                throw EventListenerError("the stored envelope of \(event.eventId) cannot be read")
            }
            try await listener.handle(envelope, in: transaction)
            try await transaction.recordHandled(consumer: listener.name, eventId: event.eventId)
        }
    }

    static func describe(_ error: any Error) -> String {
        String(String(describing: error).prefix(2000))
    }
}

/// A listener's refusal of an event, with the reason the dead letter keeps.
struct EventListenerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The dispatcher as a background worker, woken by commits that queue events and looking on its own every
/// `idleInterval` (other servers' commits, retries coming due). It visits only tenants with events its own
/// listeners still have to hear. Four times per liveness period (not every pass: every server renews the
/// same rows) it names its listeners in `event_consumers` and sweeps what no live listener still wants.
struct EventDispatchWorker: Service {
    let dispatcher: EventDispatcher
    let idleInterval: Duration

    func run() async {
        let registered = Mutex<ContinuousClock.Instant?>(nil)
        await repeatUntilShutdown(name: "event dispatch", logger: dispatcher.logger) {
            let now = ContinuousClock.now
            let renew = registered.withLock { last in last.map { now - $0 > dispatcher.liveness / 4 } ?? true }
            if renew {
                let database = dispatcher.database
                try await database.transaction(.none) { try await $0.registerEventConsumers(dispatcher.consumers, freshness: dispatcher.liveness / 4) }
                // Events only other servers' listeners wanted, once those are done or gone.
                try await database.transaction(.none) { try await $0.sweepEventQueue(liveness: dispatcher.liveness) }
            }
            let tenants = try await dispatcher.database.transaction(.none) { try await $0.eventTenantsToDispatch(for: dispatcher.consumers) }
            if renew { registered.withLock { $0 = now } }
            for tenant in tenants {
                while !Task.isCancelled, try await dispatcher.dispatch(tenant) {}
                if Task.isCancelled { return }
            }
        } pause: {
            await dispatcher.database.eventDispatchSignal.wait(atMost: idleInterval, spacedBy: .milliseconds(20))
        }
    }
}

