import EvaliumCore
import Logging
import PostgresNIO
import Synchronization

/// Statements outside a transaction block, each of which applies the row-level security scope itself and
/// commits on its own: the transaction manager's second path, for the hottest reads.
///
/// A unit of work in `Database.transaction` costs four round trips before its own statements have done
/// anything useful twice (BEGIN, the scope, COMMIT), and a read that appends its `viewed` event is five. Here
/// each statement calls a `scoped_*` function (migration 0019) that applies the scope with `apply_scope` and
/// then does its one piece of work, so a subject or submission read with its event is two round trips. The scope
/// stays transaction-local: PostgreSQL runs each statement in an implicit transaction of its own, and the settings
/// end with it, so nothing can leak to the next statement or the next borrower of the connection. The first
/// statement also checks that the session or link may still act, and the later ones do not: once per unit of
/// work, as a transaction checks once at its start (a failed first statement fails the unit of work).
///
/// Two statements here are two transactions. That suits a read followed by the event recording it (the read
/// writes nothing to undo, and at read committed two statements of one transaction would not share a snapshot
/// either), and nothing else: a write with its ledger event stays one transaction in `Database.transaction`.
public struct ScopedStatements: ScopedConnection {
    let connection: PostgresConnection
    let scope: Scope
    let logger: Logger
    let effects: TransactionEffects
    let frozenContents: FrozenContentCache
    private let principalCheck = FirstTime()

    /// Binds the scope as the first parameters of a `scoped_*` statement (`Scope.parameters`), asking for the
    /// principal's check the first time.
    func bindScope(into binds: inout PostgresBindings) {
        scope.bind(into: &binds, checkingPrincipal: principalCheck.take())
    }
}

/// True the first time it is asked, false afterwards.
private final class FirstTime: Sendable {
    private let taken = Mutex(false)

    func take() -> Bool {
        taken.withLock { taken in
            defer { taken = true }
            return !taken
        }
    }
}

/// A connection lent to work in one scope: a transaction, or scoped statements outside one.
protocol ScopedConnection: Sendable {
    var connection: PostgresConnection { get }
    var scope: Scope { get }
    var logger: Logger { get }

    /// The content stored under `hash` in the scope's tenant.
    func frozenContent(_ hash: String) async throws -> FrozenContent?
}

extension ScopedConnection {
    /// The tenant of the scope, or a refusal: tenant data is never touched without one.
    func requireTenant() throws -> TenantID {
        guard let tenantId = scope.tenantId else {
            throw StorageError.permissionDenied(detail: "this unit of work has no tenant scope")
        }
        return tenantId
    }
}

extension Database {
    /// Runs `work`, whose statements each apply `scope` themselves and commit on their own (see
    /// `ScopedStatements`), on one pooled connection.
    public func scopedStatements<Result: Sendable>(_ scope: Scope, _ work: (ScopedStatements) async throws -> Result) async throws -> Result {
        let effects = TransactionEffects()
        defer { if effects.appendedLedgerEvents { ledgerAppends.notify() } }
        return try await translatingErrors {
            try await client.withConnection { connection in
                try await work(
                    ScopedStatements(connection: connection, scope: scope, logger: logger, effects: effects, frozenContents: frozenContents))
            }
        }
    }
}

extension Scope {
    /// The parameters `bind(into:checkingPrincipal:)` binds, as the one `unit_scope` (migration 0019) that
    /// `apply_scope` takes and every `scoped_*` function takes first. The principal's may be NULL and are cast, so a
    /// statement prepared with NULLs there keeps their types.
    static let parameters = "ROW($1, $2, $3, $4::text, $5::text, $6::text, $7::integer, $8)::unit_scope"

    /// Binds the scope as the first parameters of a statement (`parameters`); `checkingPrincipal` asks the
    /// database to check that the session or link behind it may still act.
    func bind(into binds: inout PostgresBindings, checkingPrincipal: Bool) {
        precondition(binds.count == 0, "the scope's parameters come first")
        let (kind, principal, session, authzVersion): (String?, String?, String?, Int32?) =
            switch session {
            case nil: (nil, nil, nil, nil)
            case .user(let user, let session, let version): ("user", user.rawValue, session.rawValue, Int32(clamping: version))
            case .portalLink(let link): ("link", link.rawValue, nil, nil)
            }
        binds.append(tenantId?.rawValue ?? "")
        binds.append(orgUnitIds.map(\.rawValue).joined(separator: ","))
        binds.append(orgScopeAll ? "true" : "false")
        binds.append(kind)
        binds.append(principal)
        binds.append(session)
        binds.append(authzVersion)
        binds.append(checkingPrincipal)
    }
}
