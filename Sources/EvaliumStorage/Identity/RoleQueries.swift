import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    static let roleColumns = "r.id, r.tenant_id, r.builtin_key, r.name, r.capabilities, r.version"

    /// Built-in roles and the tenant's own, built-in first.
    public func listRoles() async throws -> [Role] {
        try await roles("SELECT \(unescaped: Self.roleColumns) FROM roles r ORDER BY r.tenant_id NULLS FIRST, r.id")
    }

    public func fetchRoles(_ ids: [RoleID]) async throws -> [Role] {
        try await roles("SELECT \(unescaped: Self.roleColumns) FROM roles r WHERE r.id = ANY(\(ids.map(\.rawValue)))")
    }

    public func insertRole(_ role: Role, at date: Date) async throws {
        try await run(
            """
            INSERT INTO roles (id, tenant_id, name, capabilities, version, created_at, updated_at)
            VALUES (\(role.id.rawValue), \(role.tenantId?.rawValue), \(role.name), \(role.capabilities.map(\.rawValue)),
                    \(role.version), \(MillisecondTimestamp(date)), \(MillisecondTimestamp(date)))
            """)
    }

    /// Rewrites a tenant-defined role and moves its version on; false if not visible or built in.
    public func updateRole(_ role: Role, at date: Date) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE roles SET name = \(role.name), capabilities = \(role.capabilities.map(\.rawValue)),
                   version = version + 1, updated_at = \(MillisecondTimestamp(date))
            WHERE id = \(role.id.rawValue) AND tenant_id IS NOT NULL RETURNING version
            """)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    private func roles(_ query: PostgresQuery) async throws -> [Role] {
        var roles: [Role] = []
        for try await (id, tenantId, builtinKey, name, capabilities, version) in try await run(query).decode(
            (String, String?, String?, String, [String], Int).self)
        {
            let roleId = RoleID(unchecked: id)
            if let builtinKey, let builtIn = BuiltInRole(rawValue: builtinKey) {
                roles.append(Role(builtIn))
            } else {
                roles.append(
                    Role(
                        id: roleId, tenantId: tenantId.map(TenantID.init(unchecked:)), builtIn: false, name: name,
                        capabilities: capabilities.compactMap(Capability.init(rawValue:)).sorted(), version: version))
            }
        }
        return roles
    }

    // MARK: Grants

    public func insertRoleGrant(_ grant: RoleGrant, tenantId: TenantID, grantedBy: String) async throws {
        let (user, group): (String?, String?) =
            switch grant.grantee {
            case .user(let id): (id.rawValue, nil)
            case .group(let id): (nil, id.rawValue)
            }
        try await run(
            """
            INSERT INTO role_grants (id, tenant_id, role_id, user_id, group_id, org_unit_id, granted_at, granted_by)
            VALUES (\(grant.id.rawValue), \(tenantId.rawValue), \(grant.roleId.rawValue), \(user), \(group),
                    \(grant.orgUnitId?.rawValue), \(MillisecondTimestamp(grant.grantedAt)), \(grantedBy))
            """)
    }

    public func fetchRoleGrant(_ id: RoleGrantID) async throws -> RoleGrant? {
        try await roleGrants(
            "SELECT id, role_id, user_id, group_id, org_unit_id, granted_at FROM role_grants WHERE id = \(id.rawValue)"
        ).first
    }

    public func deleteRoleGrant(_ id: RoleGrantID) async throws -> Bool {
        for try await _ in try await run("DELETE FROM role_grants WHERE id = \(id.rawValue) RETURNING id").decode(String.self) {
            return true
        }
        return false
    }

    /// Grants made directly to a person or a group (visible in the scope), oldest first.
    public func listRoleGrants(for grantee: RoleGrant.Grantee) async throws -> [RoleGrant] {
        let (user, group): (String?, String?) =
            switch grantee {
            case .user(let id): (id.rawValue, nil)
            case .group(let id): (nil, id.rawValue)
            }
        return try await roleGrants(
            """
            SELECT id, role_id, user_id, group_id, org_unit_id, granted_at FROM role_grants
            WHERE (\(user)::text IS NOT NULL AND user_id = \(user)) OR (\(group)::text IS NOT NULL AND group_id = \(group))
            ORDER BY granted_at, id
            """)
    }

    /// What an access token for this person carries: their own grants and those of their active groups,
    /// each with the role's current version. Needs a tenant-wide scope.
    public func effectiveAccessGrants(of user: UserID) async throws -> [AccessGrant] {
        let rows = try await run(
            """
            SELECT DISTINCT g.role_id, g.org_unit_id, r.version
            FROM role_grants g JOIN roles r ON r.id = g.role_id
            WHERE g.user_id = \(user.rawValue)
               OR g.group_id IN (SELECT m.group_id FROM group_members m JOIN groups gr ON gr.id = m.group_id
                                 WHERE m.user_id = \(user.rawValue) AND gr.status = 'active')
            ORDER BY g.role_id, g.org_unit_id NULLS FIRST
            """)
        var grants: [AccessGrant] = []
        for try await (role, orgUnit, version) in rows.decode((String, String?, Int).self) {
            grants.append(
                AccessGrant(roleId: RoleID(unchecked: role), orgUnitId: orgUnit.map(OrgUnitID.init(unchecked:)), roleVersion: version))
        }
        return grants
    }

    /// Makes out of date the tokens of everyone who holds `role`, directly or through a group.
    public func bumpAuthzVersion(holdersOf role: RoleID) async throws {
        try await run(
            """
            UPDATE users SET authz_version = authz_version + 1
            WHERE id IN (SELECT user_id FROM role_grants WHERE role_id = \(role.rawValue) AND user_id IS NOT NULL
                         UNION
                         SELECT m.user_id FROM group_members m JOIN role_grants g ON g.group_id = m.group_id
                         WHERE g.role_id = \(role.rawValue))
            """)
    }

    private func roleGrants(_ query: PostgresQuery) async throws -> [RoleGrant] {
        var grants: [RoleGrant] = []
        for try await (id, role, user, group, orgUnit, grantedAt) in try await run(query).decode(
            (String, String, String?, String?, String?, Date).self)
        {
            let grantee: RoleGrant.Grantee = user.map { .user(UserID(unchecked: $0)) } ?? .group(GroupID(unchecked: group ?? ""))
            grants.append(
                RoleGrant(
                    id: RoleGrantID(unchecked: id), roleId: RoleID(unchecked: role), grantee: grantee,
                    orgUnitId: orgUnit.map(OrgUnitID.init(unchecked:)), grantedAt: grantedAt.roundedToMilliseconds()))
        }
        return grants
    }
}
