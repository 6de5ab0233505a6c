import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    public func insertTenant(_ tenant: Tenant) async throws {
        try await run(
            """
            INSERT INTO tenants (id, name, status, created_at)
            VALUES (\(tenant.id.rawValue), \(tenant.name), \(tenant.status.rawValue), \(MillisecondTimestamp(tenant.createdAt)))
            """)
    }

    public func insertOrgUnit(_ unit: OrgUnit) async throws {
        try await run(
            """
            INSERT INTO org_units (id, tenant_id, parent_id, name, is_root, created_at)
            VALUES (\(unit.id.rawValue), \(unit.tenantId.rawValue), \(unit.parentId?.rawValue), \(unit.name),
                    \(unit.isRoot), \(MillisecondTimestamp(unit.createdAt)))
            """)
    }

    /// The tenant with this id if the scope can see it.
    public func fetchTenant(_ id: TenantID) async throws -> Tenant? {
        let rows = try await run("SELECT id, name, status, created_at FROM tenants WHERE id = \(id.rawValue)")
        for try await (id, name, status, createdAt) in rows.decode((String, String, String, Date).self) {
            return Tenant(id: TenantID(unchecked: id), name: name, status: Tenant.Status(rawValue: status) ?? .suspended, createdAt: createdAt.roundedToMilliseconds())
        }
        return nil
    }

    /// The org unit with this id if the scope can see it.
    public func fetchOrgUnit(_ id: OrgUnitID) async throws -> OrgUnit? {
        try await orgUnits("SELECT \(unescaped: Self.orgUnitColumns) FROM org_units WHERE id = \(id.rawValue)").first
    }

    /// The tenant's root org unit, if the scope can see it.
    public func fetchRootOrgUnit() async throws -> OrgUnit? {
        try await orgUnits("SELECT \(unescaped: Self.orgUnitColumns) FROM org_units WHERE is_root").first
    }

    /// The org units the scope can see, oldest first. No tenant filter: row-level security applies it.
    public func listOrgUnits() async throws -> [OrgUnit] {
        try await orgUnits("SELECT \(unescaped: Self.orgUnitColumns) FROM org_units ORDER BY created_at, id")
    }

    static let orgUnitColumns = "id, tenant_id, parent_id, name, is_root, created_at"

    private func orgUnits(_ query: PostgresQuery) async throws -> [OrgUnit] {
        var units: [OrgUnit] = []
        for try await (id, tenantId, parentId, name, isRoot, createdAt) in try await run(query).decode(
            (String, String, String?, String, Bool, Date).self)
        {
            units.append(
                OrgUnit(
                    id: OrgUnitID(unchecked: id), tenantId: TenantID(unchecked: tenantId),
                    parentId: parentId.map(OrgUnitID.init(unchecked:)), name: name, isRoot: isRoot, createdAt: createdAt.roundedToMilliseconds()))
        }
        return units
    }

    /// Every tenant id, for platform-wide work (the ledger verifier); reveals ids only.
    public func platformTenantIds() async throws -> [TenantID] {
        try await tenantIds("SELECT id FROM platform_tenant_ids() AS t(id)")
    }

    /// The single text column of `query`, as tenant ids.
    func tenantIds(_ query: PostgresQuery) async throws -> [TenantID] {
        var ids: [TenantID] = []
        for try await id in try await run(query).decode(String.self) { ids.append(TenantID(unchecked: id)) }
        return ids
    }
}
