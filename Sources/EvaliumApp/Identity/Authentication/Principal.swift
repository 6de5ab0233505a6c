import EvaliumCore
import Foundation

/// Who is calling, established only from a verified credential: the platform operator's token, a
/// person's access token, or a portal link's token. Never from a header or body field.
public enum Principal: Sendable {
    case platformOperator
    case user(UserPrincipal)
    case portalLink(LinkPrincipal)

    /// Where this principal's idempotency keys live, and under which caller id.
    var idempotencyOwner: (tenantId: TenantID, callerId: String) {
        switch self {
        case .platformOperator: (TenantID.platform, "platform-operator")
        case .user(let user): (user.tenantId, user.userId.rawValue)
        case .portalLink(let link): (link.tenantId, link.linkId.rawValue)
        }
    }

    var ledgerActor: LedgerActor {
        switch self {
        case .platformOperator: .platformOperator
        case .user(let user): user.ledgerActor
        case .portalLink(let link): LedgerActor(kind: .link, id: link.linkId.rawValue)
        }
    }

    var tenantId: TenantID? {
        switch self {
        case .platformOperator: nil
        case .user(let user): user.tenantId
        case .portalLink(let link): link.tenantId
        }
    }
}

/// A signed-in person, as their verified access token and the server's role catalogue describe them.
public struct UserPrincipal: Sendable {
    public var tenantId: TenantID
    public var userId: UserID
    public var sessionId: SessionID
    public var homeOrgUnitId: OrgUnitID
    public var grants: [AccessGrant]
    public var authzVersion: Int
    public var authenticatedAt: Date
    public var methods: [AuthenticationMethod]
    /// Resolved on the server from the role ids in `grants`.
    public var capabilities: CapabilityMap

    var session: SessionBinding { .user(userId, sessionId, authzVersion: authzVersion) }
    var ledgerActor: LedgerActor { LedgerActor(kind: .user, id: userId.rawValue) }

    /// The scope of work done with `capability`, or a 403 naming what is missing.
    func scope(for capability: Capability) throws -> Scope {
        guard let scope = capabilities.scope(for: capability, tenantId: tenantId, session: session) else {
            throw Problem(.capabilityMissing, "this action needs the capability `\(capability.rawValue)`, which none of your roles grants")
        }
        return scope
    }

    /// The scope of work on the person's own records (profile, sessions, authenticator): their home org
    /// unit plus every unit any role reaches.
    var ownScope: Scope {
        var units: Set<OrgUnitID> = [homeOrgUnitId]
        for capability in capabilities.held {
            switch capabilities.reach(of: capability) {
            case .tenantWide: return Scope(tenantId: tenantId, orgScopeAll: true, session: session)
            case .orgUnits(let reached): units.formUnion(reached)
            case .nowhere: break
            }
        }
        return Scope(tenantId: tenantId, orgUnitIds: units.sorted { $0.rawValue < $1.rawValue }, session: session)
    }
}

/// An external viewer holding a client-portal link (seed 001 §12).
public struct LinkPrincipal: Sendable {
    public var tenantId: TenantID
    public var linkId: PortalLinkID
    public var orgUnitId: OrgUnitID
    public var portalScope: PortalScope

    var scope: Scope { Scope(tenantId: tenantId, orgUnitIds: [orgUnitId], session: .portalLink(linkId)) }
}
