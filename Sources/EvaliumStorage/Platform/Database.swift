import EvaliumCore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The connection pool of the application role, and the transaction manager: the only path from
/// Evalium's code to PostgreSQL.
public final class Database: Sendable {
    let client: PostgresClient
    let logger: Logger
    let ledgerAppends: CommitSignal
    let eventsToDispatch: CommitSignal
    let eventsToRelay: CommitSignal
    let frozenContents = FrozenContentCache(capacity: 256)

    /// A pool of at most `maximumConnections`, opened as work needs them; `keepingAllOpen` opens them all at the
    /// start and keeps them, as the server does.
    public init(endpoint: DatabaseEndpoint, maximumConnections: Int = 20, keepingAllOpen: Bool = false, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: endpoint.host, port: endpoint.port, username: endpoint.username, password: endpoint.password,
            database: endpoint.database, tls: endpoint.tls.clientTLS)
        configuration.options.maximumConnections = maximumConnections
        // Each time a connection went back to PostgresNIO's pool, the pool armed two timers for it: one to close it
        // after a while idle (for connections above the minimum) and one to ping it while idle. A timer is a few
        // tasks and a clock sleep that stays scheduled after it is cancelled, and a connection goes back once per
        // request: the timers were a fifth of the server's CPU under reads (1.4 → 1.1 ms a request), and a server
        // went on firing the cancelled ones for a minute after the requests stopped. A pool kept whole needs no
        // idle timers (and no request waits for a new backend to start), and no connection is pinged: one that
        // died fails its next statement, and the pool opens another.
        configuration.options.minimumConnections = keepingAllOpen ? maximumConnections : 0
        configuration.options.keepAliveBehavior = nil
        // JIT compiling a plan costs 10–15 ms, paid again by every statement whose estimate passes
        // jit_above_cost; Evalium's statements are short and many, and its large reads (the policies make a
        // rebuild's pages look expensive) were measured slower with it.
        configuration.options.additionalStartupParameters = [("jit", "off")]
        self.client = PostgresClient(
            configuration: configuration, eventLoopGroup: LoopsInTurn(PostgresClient.defaultEventLoopGroup), backgroundLogger: logger)
        self.logger = logger
        self.ledgerAppends = CommitSignal()
        self.eventsToDispatch = CommitSignal()
        self.eventsToRelay = CommitSignal()
    }

    /// The pool's background service; it must run (in the application's service group) before any query.
    public var service: any Service { client }

    /// Signals after every commit that appended ledger events, so the sealer can start at once.
    public var ledgerAppendSignal: CommitSignal { ledgerAppends }

    /// Signal after every commit that wrote to the outbox, the received events or the dispatch queue, so
    /// the dispatcher and the relay (one signal each) can start at once.
    public var eventDispatchSignal: CommitSignal { eventsToDispatch }
    public var eventRelaySignal: CommitSignal { eventsToRelay }

    /// Runs `work` in one short transaction whose row-level security scope is `scope`.
    ///
    /// The scope is injected with transaction-local `set_config(…, true)`, so it can never leak to the
    /// next borrower of the pooled connection. If `work` throws, everything it wrote is rolled back,
    /// ledger events included. Serialization failures and deadlocks are retried a few times.
    @discardableResult
    public func transaction<Result: Sendable>(
        _ scope: Scope, isolation: IsolationLevel = .readCommitted, _ work: (Transaction) async throws -> Result
    ) async throws -> Result {
        var attempt = 1
        while true {
            do {
                return try await runOnce(scope, isolation, work)
            } catch StorageError.serializationFailure where attempt < 4 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(5 * attempt * attempt))
            }
        }
    }

    /// Checks, without reading anything, that the principal behind `scope` may still act: for requests
    /// that touch no table and so would otherwise skip the check every transaction makes.
    public func confirmLive(_ scope: Scope) async throws {
        try await transaction(scope) { _ in }
    }

    private func runOnce<Result: Sendable>(
        _ scope: Scope, _ isolation: IsolationLevel, _ work: (Transaction) async throws -> Result
    ) async throws -> Result {
        let effects = TransactionEffects()
        let result: Result = try await translatingErrors {
            try await client.withConnection { connection in
                let transaction = Transaction(
                    connection: connection, scope: scope, logger: logger, effects: effects, frozenContents: frozenContents)
                try await connection.query(isolation.begin, logger: logger)
                do {
                    try await transaction.applyScope(scope)
                    let result = try await work(transaction)
                    try await connection.query("COMMIT", logger: logger)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
        if effects.appendedLedgerEvents { ledgerAppends.notify() }
        if effects.queuedEvents { eventsToDispatch.notify() }
        if effects.publishedEvents { eventsToRelay.notify() }
        return result
    }

    /// Fails unless the connected role is one the seeds allow the server to use: not a superuser,
    /// not able to bypass row-level security, and owning no table.
    public func checkApplicationRole() async throws {
        try await transaction(.none) { transaction in try await transaction.checkApplicationRole() }
    }
}

/// An event loop group that hands out its loops in turn, even to a caller already on one of them.
///
/// The pool asks `any()` for each new connection's loop, and a `MultiThreadedEventLoopGroup` answers the
/// loop it is called on, so every connection would sit on one loop. A request continues on the loop of the
/// connection that answered its last statement (NIO's loops are the global executor), so one thread would
/// encode every response while the other waited.
private final class LoopsInTurn: EventLoopGroup {
    let base: any EventLoopGroup

    init(_ base: any EventLoopGroup) { self.base = base }

    func next() -> any EventLoop { base.next() }
    func any() -> any EventLoop { base.next() }
    func makeIterator() -> EventLoopIterator { base.makeIterator() }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        base.shutdownGracefully(queue: queue, callback)
    }
}

/// How much of other transactions' work a unit of work may see while it runs.
public enum IsolationLevel: Sendable {
    /// Each statement sees what was committed before it started: the default for short writes.
    case readCommitted
    /// Every statement sees one snapshot: for reports that must be consistent with themselves, such as
    /// a ledger verification running while the sealer works.
    case repeatableRead

    var begin: PostgresQuery {
        switch self {
        case .readCommitted: "BEGIN"
        case .repeatableRead: "BEGIN ISOLATION LEVEL REPEATABLE READ"
        }
    }
}

extension DatabaseEndpoint.TLSMode {
    var clientTLS: PostgresClient.Configuration.TLS {
        switch self {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }
}

/// What a transaction did that matters after it commits.
final class TransactionEffects: Sendable {
    private let ledgerAppended = Mutex(false)
    private let eventPublished = Mutex(false)
    private let eventQueued = Mutex(false)
    func noteLedgerAppend() { ledgerAppended.withLock { $0 = true } }
    /// Something for the relay: an outbox row or a dead letter to send to the bus.
    func noteEventPublished() { eventPublished.withLock { $0 = true } }
    /// Something for the dispatcher: an event in the queue for a listener.
    func noteEventQueued() { eventQueued.withLock { $0 = true } }
    var appendedLedgerEvents: Bool { ledgerAppended.withLock { $0 } }
    var publishedEvents: Bool { eventPublished.withLock { $0 } }
    var queuedEvents: Bool { eventQueued.withLock { $0 } }
}

/// Tells a worker (the ledger sealer, the event dispatcher, the relay) that work was committed since it last
/// looked. Many commits between two looks collapse into one, and a worker waiting for one sleeps until it comes.
/// The workers had looked every 20 or 50 ms instead: some seventy timers a second, each a hand-off from the timer
/// thread to an event loop and back. With the pool's timers (`init`), they kept an idle server at 4 % of a core; it
/// is now 0.5 %.
public final class CommitSignal: Sendable {
    private struct State {
        var pending = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    init() {}

    func notify() {
        let waiters = state.withLock { state in
            defer { state.waiters.removeAll() }
            if state.waiters.isEmpty { state.pending = true }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// True (once) if work was committed since the previous look.
    private func takePending() -> Bool {
        state.withLock { state in
            defer { state.pending = false }
            return state.pending
        }
    }

    /// Returns once work was committed since the previous look (at once if it already was), after `timeout`
    /// without any, or when the task is cancelled; in any case no sooner than `spacing` from now, so that a
    /// stream of commits wakes the worker once per `spacing`, not once per commit.
    public func wait(atMost timeout: Duration, spacedBy spacing: Duration) async {
        let earliest = ContinuousClock.now + spacing
        if !takePending() {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.untilNotified() }
                group.addTask { try? await Task.sleep(for: timeout) }
                await group.next()
                group.cancelAll()
            }
        }
        if ContinuousClock.now < earliest { try? await Task.sleep(until: earliest, clock: .continuous) }
    }

    private func untilNotified() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Runs `body`, turning PostgreSQL errors into `StorageError` so callers never see driver types.
func translatingErrors<Result>(_ body: () async throws -> Result) async throws -> Result {
    do {
        return try await body()
    } catch let error as PSQLError {
        throw StorageError(error)
    }
}

extension StorageError {
    init(_ error: PSQLError) {
        let message = error.serverInfo?[.message] ?? ""
        let constraint = error.serverInfo?[.constraintName] ?? ""
        switch error.serverInfo?[.sqlState] {
        case "23505": self = .uniqueViolation(constraint: constraint)
        case "23503": self = .foreignKeyViolation(constraint: constraint)
        case "42501": self = .permissionDenied(detail: message)
        case "40001", "40P01": self = .serializationFailure
        case "P0001": self = .guardRejected(detail: message)
        // Raised by apply_scope (migration 0019).
        case "EV001": self = .accessOutOfDate
        case "EV002": self = .sessionEnded
        case let state? where state.hasPrefix("22") || state.hasPrefix("23"): self = .invalidValue(detail: message)
        case let state? where ["08", "53", "57"].contains(String(state.prefix(2))):
            self = .unavailable(detail: "SQLSTATE \(state): \(message)")
        case let state?: self = .unexpected(detail: "SQLSTATE \(state): \(message)")
        case nil: self = .unavailable(detail: String(reflecting: error))
        }
    }
}

extension Database {
    /// Runs the pool for the duration of `body`: for commands that use the database without serving.
    public func whileRunning<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}
