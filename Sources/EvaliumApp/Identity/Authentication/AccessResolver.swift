import EvaliumCore
import EvaliumStorage
import Synchronization

/// Turns the role ids of a verified token into capabilities. Built-in roles resolve from code;
/// tenant-defined roles are read once per (role, version) and cached, so a cached answer can never be
/// stale: an edited role has a new version, and tokens naming the old one are refused as out of date.
final class AccessResolver: Sendable {
    private let database: Database
    private let cache = Mutex<[CacheKey: Set<Capability>]>([:])

    private struct CacheKey: Hashable {
        var roleId: RoleID
        var version: Int
    }

    init(database: Database) { self.database = database }

    func capabilities(for grants: [AccessGrant], tenantId: TenantID, session: SessionBinding) async throws -> CapabilityMap {
        var map = CapabilityMap()
        var missing: [AccessGrant] = []
        for grant in grants {
            if let builtIn = BuiltInRole(id: grant.roleId) {
                map.add(builtIn.capabilities, in: grant.orgUnitId)
            } else if let cached = cache.withLock({ $0[CacheKey(roleId: grant.roleId, version: grant.roleVersion)] }) {
                map.add(cached, in: grant.orgUnitId)
            } else {
                missing.append(grant)
            }
        }
        guard !missing.isEmpty else { return map }
        let roles = try await database.transaction(Scope(tenantId: tenantId, session: session)) { transaction in
            try await transaction.fetchRoles(missing.map(\.roleId))
        }
        for grant in missing {
            guard let role = roles.first(where: { $0.id == grant.roleId }), role.version == grant.roleVersion else {
                throw Problem(.accessTokenRefreshRequired, "a role in this token has changed since it was issued; refresh the token")
            }
            let capabilities = Set(role.capabilities)
            cache.withLock { $0[CacheKey(roleId: role.id, version: role.version)] = capabilities }
            map.add(capabilities, in: grant.orgUnitId)
        }
        return map
    }
}
