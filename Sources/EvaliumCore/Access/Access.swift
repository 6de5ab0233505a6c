/// One role held by a principal, tenant-wide or limited to one org unit, as carried in an access token.
/// `roleVersion` changes whenever a tenant-defined role's capabilities change, so a server never
/// applies a cached capability set the token was not issued against.
public struct AccessGrant: Sendable, Hashable, Codable {
    public var roleId: RoleID
    public var orgUnitId: OrgUnitID?
    public var roleVersion: Int

    public init(roleId: RoleID, orgUnitId: OrgUnitID?, roleVersion: Int) {
        self.roleId = roleId
        self.orgUnitId = orgUnitId
        self.roleVersion = roleVersion
    }

    enum CodingKeys: String, CodingKey {
        case roleId = "role", orgUnitId = "org", roleVersion = "ver"
    }
}

/// Where a capability holds for a principal: nowhere, in some org units, or across the whole tenant.
public enum CapabilityReach: Sendable, Equatable {
    case nowhere
    case orgUnits(Set<OrgUnitID>)
    case tenantWide

    /// Whether an action on something in `orgUnitId` (nil: tenant-level) is within reach.
    public func covers(_ orgUnitId: OrgUnitID?) -> Bool {
        switch self {
        case .nowhere: false
        case .tenantWide: true
        case .orgUnits(let units): orgUnitId.map(units.contains) ?? false
        }
    }
}

/// The capabilities a principal holds, each with the org units it holds in. Built from the grants in
/// a verified token and the role catalogue on the server, never from a list the client sent.
public struct CapabilityMap: Sendable, Equatable {
    public private(set) var reaches: [Capability: CapabilityReach] = [:]

    public init() {}

    /// Adds `capabilities` held through one grant (tenant-wide when `orgUnitId` is nil).
    public mutating func add(_ capabilities: Set<Capability>, in orgUnitId: OrgUnitID?) {
        for capability in capabilities {
            switch (reaches[capability] ?? .nowhere, orgUnitId) {
            case (.tenantWide, _), (_, nil): reaches[capability] = .tenantWide
            case (.nowhere, let unit?): reaches[capability] = .orgUnits([unit])
            case (.orgUnits(let units), let unit?): reaches[capability] = .orgUnits(units.union([unit]))
            }
        }
    }

    public func reach(of capability: Capability) -> CapabilityReach { reaches[capability] ?? .nowhere }

    /// Every capability held somewhere, for `GET /v1/me`.
    public var held: [Capability] { reaches.keys.sorted() }

    /// The row-level security scope of a unit of work done with `capability`: only the org units it holds in.
    public func scope(for capability: Capability, tenantId: TenantID, session: SessionBinding?) -> Scope? {
        switch reach(of: capability) {
        case .nowhere: nil
        case .tenantWide: Scope(tenantId: tenantId, orgScopeAll: true, session: session)
        case .orgUnits(let units): Scope(tenantId: tenantId, orgUnitIds: units.sorted { $0.rawValue < $1.rawValue }, session: session)
        }
    }

    /// Those of `capabilities` this map does not hold at `orgUnitId` (nil: tenant-wide): the rule that
    /// stops anyone granting more than they hold.
    public func missing(_ capabilities: [Capability], in orgUnitId: OrgUnitID?) -> [Capability] {
        capabilities.filter { !reach(of: $0).covers(orgUnitId) }
    }
}
