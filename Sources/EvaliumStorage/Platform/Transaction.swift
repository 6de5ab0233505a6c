import EvaliumCore
import Logging
import PostgresNIO

/// One open, scoped transaction. Every query of every domain runs through one of these; the
/// domain's SQL lives in `extension Transaction` files beside this one.
public struct Transaction: ScopedConnection {
    let connection: PostgresConnection
    public let scope: Scope
    let logger: Logger
    let effects: TransactionEffects
    let frozenContents: FrozenContentCache

    @discardableResult
    func run(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger)
    }

    /// Whether `query` answers any row.
    func exists(_ query: PostgresQuery) async throws -> Bool {
        for try await _ in try await run(query) { return true }
        return false
    }

    /// Sets the row-level security scope (tenant, org units, the signed-in person as `app.user_id`, which
    /// lets people reach their own work outside their org scope, and a portal link as `app.link_id`, which
    /// narrows a client's view to the link's one record) and, in the same round trip, has the database check
    /// that the session behind the work is still live (`apply_scope`, migration 0019, raises if not). Planned
    /// once per connection: every transaction begins with it.
    func applyScope(_ scope: Scope) async throws {
        var binds = PostgresBindings()
        scope.bind(into: &binds, checkingPrincipal: true)
        let rows = try await run(PostgresQuery(unsafeSQL: Self.applyScope, binds: binds), plannedAs: ApplyScope.self)
        // A refusal arrives with the rows, not before them.
        for try await _ in rows {}
    }

    private static let applyScope = "SELECT apply_scope(\(Scope.parameters))"

    func checkApplicationRole() async throws {
        let rows = try await run(
            """
            SELECT r.rolsuper, r.rolbypassrls,
                   (SELECT count(*) FROM pg_class c
                    WHERE pg_has_role(current_user, c.relowner, 'MEMBER') AND c.relkind IN ('r', 'p')
                      AND c.relnamespace = 'public'::regnamespace)::int
            FROM pg_roles r WHERE r.rolname = current_user
            """)
        for try await (isSuperuser, bypassesRLS, ownedTables) in rows.decode((Bool, Bool, Int).self) {
            if isSuperuser || bypassesRLS || ownedTables > 0 {
                throw StorageError.permissionDenied(
                    detail: "the application must connect as a role that is not a superuser, cannot bypass "
                        + "row-level security and neither owns a table nor is a member of a role that does "
                        + "(this one: superuser=\(isSuperuser), bypassrls=\(bypassesRLS), owned tables=\(ownedTables))")
            }
        }
    }
}

private enum ApplyScope: PlannedStatement {}
