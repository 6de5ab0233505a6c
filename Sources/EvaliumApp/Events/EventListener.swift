import EvaliumCore
import EvaliumStorage

/// An in-process consumer of events, published or received. The dispatcher calls `handle` in a
/// transaction scoped to the event's tenant (tenant-wide) and records the event in the listener's inbox in
/// the same transaction, so a listener whose effects are all in the database hears each event once; one
/// with effects outside it (a wake-up, a message) hears it at least once and must not mind a repeat.
public protocol EventListener: Sendable {
    /// Stable: the inbox, the failures and the dead letters are kept under it.
    var name: String { get }
    /// The subjects it hears: each entry a whole subject, or a prefix such as `authoring.block.`.
    var subjects: [String] { get }
    func handle(_ event: EventEnvelope, in transaction: Transaction) async throws
}

extension EventListener {
    func wants(_ subject: EventSubject) -> Bool { subjects.contains { subject.rawValue.hasPrefix($0) } }
}

/// How often a listener's failure is retried before the event becomes a dead letter (seed 003 §6):
/// redelivered after each wait in `backoff`, then given up.
public struct RetryPolicy: Sendable {
    public var backoff: [Duration]

    public init(backoff: [Duration]) { self.backoff = backoff }

    /// Seed 003 §6: five redeliveries, after 1 s, 5 s, 25 s, 2 min and 10 min.
    public static let seed = RetryPolicy(backoff: [.seconds(1), .seconds(5), .seconds(25), .seconds(120), .seconds(600)])

    /// What follows the `attempts`-th failed delivery: the wait before the next one, or nil for the dead letters.
    public func wait(afterFailedAttempts attempts: Int) -> Duration? {
        attempts <= backoff.count ? backoff[attempts - 1] : nil
    }
}
