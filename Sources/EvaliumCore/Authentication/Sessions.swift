import Foundation

/// How a person proved who they are, as the `amr` claim names it (RFC 8176).
public enum AuthenticationMethod: String, Sendable, Codable {
    /// A link sent to the person's email address.
    case email
    /// A one-time password from their authenticator.
    case otp
}

/// One sign-in and the refresh tokens rotated from it.
public struct AuthSession: Sendable, Equatable {
    public var id: SessionID
    public var tenantId: TenantID
    public var userId: UserID
    public var homeOrgUnitId: OrgUnitID
    public var methods: [AuthenticationMethod]
    public var authenticatedAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(
        id: SessionID, tenantId: TenantID, userId: UserID, homeOrgUnitId: OrgUnitID, methods: [AuthenticationMethod],
        authenticatedAt: Date, expiresAt: Date, revokedAt: Date?
    ) {
        self.id = id
        self.tenantId = tenantId
        self.userId = userId
        self.homeOrgUnitId = homeOrgUnitId
        self.methods = methods
        self.authenticatedAt = authenticatedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// What presenting a refresh token led to.
public enum RefreshTokenUse: Sendable, Equatable {
    /// The token was current and is now used: issue its successor.
    case rotated(SessionID)
    /// The token had been used before: someone holds a copy, so the session is revoked.
    case reused(SessionID)
    /// Unknown or expired.
    case invalid
}

/// A TOTP authenticator as stored: the secret stays sealed until a code is checked.
public struct TOTPAuthenticatorRecord: Sendable, Equatable {
    public enum Status: String, Sendable, Codable { case pending, active }

    public var userId: UserID
    public var sealedSecret: [UInt8]
    public var status: Status
    public var lastUsedStep: Int64?

    public init(userId: UserID, sealedSecret: [UInt8], status: Status, lastUsedStep: Int64?) {
        self.userId = userId
        self.sealedSecret = sealedSecret
        self.status = status
        self.lastUsedStep = lastUsedStep
    }
}

/// What a client-portal link grants: read access to one engagement, submission or programme enrolment.
public struct PortalScope: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case engagement
        case submission
        case programmeEnrolment = "programme_enrolment"
    }

    public var kind: Kind
    public var id: String

    public init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }

    enum CodingKeys: String, CodingKey { case kind = "type", id }
}

/// A client-portal link principal (seed 001 §12): scoped, revocable, expiring.
public struct PortalLink: Sendable, Equatable, Codable {
    public var id: PortalLinkID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var scope: PortalScope
    public var recipientEmail: EmailAddress?
    public var label: String?
    public var createdAt: Date
    public var createdBy: String
    public var expiresAt: Date
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    public var useCount: Int

    public init(
        id: PortalLinkID, tenantId: TenantID, orgUnitId: OrgUnitID, scope: PortalScope, recipientEmail: EmailAddress?,
        label: String?, createdAt: Date, createdBy: String, expiresAt: Date, revokedAt: Date?, lastUsedAt: Date?, useCount: Int
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.scope = scope
        self.recipientEmail = recipientEmail
        self.label = label
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.useCount = useCount
    }

    public func isUsable(at date: Date) -> Bool { revokedAt == nil && expiresAt > date }
}
