import EvaliumCore
import Logging
import PostgresNIO

/// One open, scoped transaction. Every query of every domain runs through one of these; the
/// domain's SQL lives in `extension Transaction` files beside this one.
public struct Transaction: Sendable {
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

    /// The tenant of the scope, or a refusal: tenant data is never touched without one.
    func requireTenant() throws -> TenantID {
        guard let tenantId = scope.tenantId else {
            throw StorageError.permissionDenied(detail: "this unit of work has no tenant scope")
        }
        return tenantId
    }

    /// Sets the row-level security scope (tenant, org units, the signed-in person as `app.user_id`, which
    /// lets people reach their own work outside their org scope, and a portal link as `app.link_id`, which
    /// narrows a client's view to the link's one record) and, in the same round trip, asks
    /// the database whether the session behind the work is still live. Planned once per connection: every
    /// transaction begins with it.
    func applyScope(_ scope: Scope) async throws {
        let tenant = scope.tenantId?.rawValue ?? ""
        let orgUnits = scope.orgUnitIds.map(\.rawValue).joined(separator: ",")
        let orgScopeAll = scope.orgScopeAll ? "true" : "false"
        let (kind, principal, session, authzVersion): (String?, String?, String?, Int?) =
            switch scope.session {
            case nil: (nil, nil, nil, nil)
            case .user(let user, let session, let version): ("user", user.rawValue, session.rawValue, version)
            case .portalLink(let link): ("link", link.rawValue, nil, nil)
            }
        let rows = try await run(
            """
            SELECT set_config('app.tenant_id', \(tenant), true),
                   set_config('app.org_unit_ids', \(orgUnits), true),
                   set_config('app.org_scope_all', \(orgScopeAll), true),
                   set_config('app.user_id', \(kind == "user" ? principal ?? "" : ""), true),
                   set_config('app.link_id', \(kind == "link" ? principal ?? "" : ""), true),
                   CASE WHEN \(nullable: kind) IS NULL THEN NULL
                        ELSE auth_principal_state(\(tenant), \(nullable: kind), \(nullable: principal), \(nullable: session),
                                                  \(nullable: authzVersion)::integer) END
            """, plannedAs: ScopeAndSessionState.self)
        for try await row in rows {
            // Only the principal's state is read; the five settings the statement made are not.
            switch try row.makeRandomAccess()[5].decode(String?.self) {
            case nil, "live": return
            case "stale": throw StorageError.accessOutOfDate
            default: throw StorageError.sessionEnded
            }
        }
    }

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

private enum ScopeAndSessionState: PlannedStatement {}
