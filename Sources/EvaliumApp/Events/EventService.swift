import EvaliumCore
import EvaliumStorage
import Foundation

/// The operator's tools for events: dead letters (list, replay) and replaying a tenant's events from a
/// sequence number or a time (seed 003 §6, §8). Everything runs in the tenant's tenant-wide scope.
public struct EventService: Sendable {
    let database: Database
    let listeners: [any EventListener]

    public init(database: Database, listeners: [any EventListener]) {
        self.database = database
        self.listeners = listeners
    }

    public func deadLetters(of tenant: TenantID, includeReplayed: Bool, limit: Int = 100) async throws -> [DeadLetter] {
        try await database.transaction(.tenantWide(tenant)) { try await $0.listDeadLetters(includeReplayed: includeReplayed, limit: limit) }
    }

    /// Hands a dead letter's event to its listener again, now. On success the event is in the listener's
    /// inbox and the dead letter is marked replayed; on failure nothing changes and the reason is given.
    public func replay(_ id: DeadLetterID, of tenant: TenantID, runner: some UnitOfWorkRunner) async throws -> DeadLetter {
        try await runner.run(.tenantWide(tenant)) { transaction in
            guard let (letter, event) = try await transaction.deadLetter(id) else {
                throw Problem(.notFound, "no dead letter \(id) in tenant \(tenant)")
            }
            guard letter.replayedAt == nil else { return letter }
            guard let listener = listeners.first(where: { $0.name == letter.consumer }) else {
                throw Problem(.conflict, "the listener \(letter.consumer) does not run in this server; replay it where it does")
            }
            do {
                try await EventDispatcher.handle(event, by: listener, checkingInbox: true, in: transaction)
            } catch {
                throw Problem(.conflict, "\(letter.consumer) failed again: \(EventDispatcher.describe(error)); the dead letter stays")
            }
            try await transaction.markDeadLetterReplayed(id)
            var replayed = letter
            replayed.replayedAt = ServerClock.now()
            return replayed
        }
    }

    /// Queues the tenant's events from `sequence` (or from `time`) again: listeners hear those they have
    /// not handled, and skip, by their inbox, those they have. Answers how many were queued.
    public func replayEvents(of tenant: TenantID, fromSequence sequence: Int64?, since time: Date?, runner: some UnitOfWorkRunner) async throws
        -> ReplayedEvents
    {
        guard sequence != nil || time != nil else {
            throw Problem(.validationFailed, "say where to replay from", errors: [.init(pointer: "/fromSequence", detail: "give fromSequence or since")])
        }
        return try await runner.run(.tenantWide(tenant)) { transaction in
            ReplayedEvents(queued: try await transaction.requeueEvents(fromSequence: sequence, since: time))
        }
    }

    public struct ReplayedEvents: Codable, Sendable { public var queued: Int }
}
