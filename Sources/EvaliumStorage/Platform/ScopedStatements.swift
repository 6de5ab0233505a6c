import EvaliumCore
import Logging
import PostgresNIO

/// Statements outside a transaction block, each of which applies the row-level security scope itself and
/// commits on its own: the transaction manager's second path, for the hottest reads.
///
/// A unit of work in `Database.transaction` costs four round trips before its own statements have done
/// anything useful twice (BEGIN, the scope, COMMIT), and a read that appends its `viewed` event is five. Here
/// each statement calls a `scoped_*` function (migration 0019) that applies the scope with `apply_scope` and
/// then does its one piece of work, so a subject read with its event is two round trips. The scope stays
/// transaction-local: PostgreSQL runs each statement in an implicit transaction of its own, and the settings end
/// with it, so nothing can leak to the next statement or the next borrower of the connection.
///
/// Two statements here are two transactions. That suits a read followed by the event recording it (the read
/// writes nothing to undo, and at read committed two statements of one transaction would not share a snapshot
/// either), and nothing else: a write with its ledger event stays one transaction in `Database.transaction`.
public struct ScopedStatements: ScopedConnection {
    let connection: PostgresConnection
    let scope: Scope
    let logger: Logger
    let effects: TransactionEffects
}

/// A connection lent to work in one scope: a transaction, or scoped statements outside one.
protocol ScopedConnection: Sendable {
    var connection: PostgresConnection { get }
    var scope: Scope { get }
    var logger: Logger { get }
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
                try await work(ScopedStatements(connection: connection, scope: scope, logger: logger, effects: effects))
            }
        }
    }
}

extension Scope {
    /// Binds the scope as the first seven arguments of `apply_scope` and of every `scoped_*` function, after the
    /// bindings already in `binds`, and answers them as SQL (`$1, $2, $3, $4::TEXT, …`). The principal's
    /// arguments may be NULL and are cast, so a statement prepared with NULLs there keeps their types.
    func bindArguments(into binds: inout PostgresBindings) -> String {
        let (kind, principal, session, authzVersion): (String?, String?, String?, Int32?) =
            switch session {
            case nil: (nil, nil, nil, nil)
            case .user(let user, let session, let version): ("user", user.rawValue, session.rawValue, Int32(clamping: version))
            case .portalLink(let link): ("link", link.rawValue, nil, nil)
            }
        let first = binds.count + 1
        binds.append(tenantId?.rawValue ?? "")
        binds.append(orgUnitIds.map(\.rawValue).joined(separator: ","))
        binds.append(orgScopeAll ? "true" : "false")
        binds.append(kind)
        binds.append(principal)
        binds.append(session)
        binds.append(authzVersion)
        let casts = ["", "", "", "::text", "::text", "::text", "::integer"]
        return casts.enumerated().map { "$\(first + $0.offset)\($0.element)" }.joined(separator: ", ")
    }
}
