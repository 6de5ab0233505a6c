/// The tenant and org-unit scope of one unit of work. The transaction manager injects it into
/// PostgreSQL (`app.tenant_id`, `app.org_unit_ids`, `app.org_scope_all`) and row-level security
/// decides what the unit of work can see and write.
public struct Scope: Sendable, Equatable, CustomStringConvertible {
    public var tenantId: TenantID?
    /// The org units the unit of work may touch when it is not tenant-wide (a principal may hold a
    /// capability in several units).
    public var orgUnitIds: [OrgUnitID]
    /// True only for privileged tenant-wide principals: they see every org unit of their tenant.
    public var orgScopeAll: Bool
    /// The signed-in session the work is done for. The transaction checks, in the same round trip that
    /// sets the scope, that it is still live, so a revoked session or a suspended person stops at once.
    public var session: SessionBinding?

    public init(tenantId: TenantID?, orgUnitIds: [OrgUnitID] = [], orgScopeAll: Bool = false, session: SessionBinding? = nil) {
        self.tenantId = tenantId
        self.orgUnitIds = orgUnitIds
        self.orgScopeAll = orgScopeAll
        self.session = session
    }

    public init(tenantId: TenantID?, orgUnitId: OrgUnitID?, orgScopeAll: Bool = false) {
        self.init(tenantId: tenantId, orgUnitIds: orgUnitId.map { [$0] } ?? [], orgScopeAll: orgScopeAll)
    }

    /// Sees nothing: what a unit of work gets when no scope was established.
    public static let none = Scope(tenantId: nil)

    /// The whole of one tenant, every org unit.
    public static func tenantWide(_ tenantId: TenantID) -> Scope {
        Scope(tenantId: tenantId, orgScopeAll: true)
    }

    public var description: String {
        "tenant=\(tenantId?.rawValue ?? "-") orgUnits=\(orgUnitIds.map(\.rawValue).joined(separator: ",")) orgScopeAll=\(orgScopeAll)"
    }
}

/// The principal behind a unit of work, re-checked by the database on every transaction.
public enum SessionBinding: Sendable, Equatable {
    /// A person's session; `authzVersion` is the person's access version the token was issued with.
    case user(UserID, SessionID, authzVersion: Int)
    /// A client-portal link.
    case portalLink(PortalLinkID)
}
