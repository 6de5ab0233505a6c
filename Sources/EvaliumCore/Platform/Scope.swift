/// The tenant and org-unit scope of one unit of work. The transaction manager injects it into
/// PostgreSQL (`app.tenant_id`, `app.org_unit_id`, `app.org_scope_all`) and row-level security
/// decides what the unit of work can see and write.
public struct Scope: Sendable, Equatable, CustomStringConvertible {
    public var tenantId: TenantID?
    public var orgUnitId: OrgUnitID?
    /// True only for privileged tenant-wide principals: they see every org unit of their tenant.
    public var orgScopeAll: Bool

    public init(tenantId: TenantID?, orgUnitId: OrgUnitID? = nil, orgScopeAll: Bool = false) {
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.orgScopeAll = orgScopeAll
    }

    /// Sees nothing: what a unit of work gets when no scope was established.
    public static let none = Scope(tenantId: nil)

    /// The whole of one tenant, every org unit.
    public static func tenantWide(_ tenantId: TenantID) -> Scope {
        Scope(tenantId: tenantId, orgUnitId: nil, orgScopeAll: true)
    }

    public var description: String {
        "tenant=\(tenantId?.rawValue ?? "-") orgUnit=\(orgUnitId?.rawValue ?? "-") orgScopeAll=\(orgScopeAll)"
    }
}
