import Foundation

/// An email address in the one form Evalium stores and compares: trimmed, Unicode NFC, lower case.
/// Two spellings of one mailbox (`Ada@Example.org `, `ada@example.org`) are the same person.
public struct EmailAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    public let normalized: String

    public static func validate(_ raw: String, pointer: String) -> Result<EmailAddress, Problem.FieldError> {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping.lowercased()
        let invalid = Problem.FieldError(pointer: pointer, detail: "must be an email address like name@example.org")
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard text.utf8.count <= 254, parts.count == 2 else { return .failure(invalid) }
        let (local, domain) = (parts[0], parts[1])
        let forbidden = CharacterSet.whitespacesAndNewlines.union(.controlCharacters).union(CharacterSet(charactersIn: "<>()[]\\,;:\""))
        guard (1...64).contains(local.utf8.count), local.unicodeScalars.allSatisfy({ !forbidden.contains($0) }),
              !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
        else { return .failure(invalid) }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ label in
            (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" }
        }) else { return .failure(invalid) }
        return .success(EmailAddress(normalized: text))
    }

    private init(normalized: String) { self.normalized = normalized }

    /// An address read back from storage, where only normalised addresses are written.
    public init(stored: String) { normalized = stored }

    public var description: String { normalized }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        switch Self.validate(try container.decode(String.self), pointer: "") {
        case .success(let address): self = address
        case .failure(let problem): throw DecodingError.dataCorruptedError(in: container, debugDescription: problem.detail)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(normalized)
    }
}

/// Active, or suspended: a suspended person or group keeps their history but confers no access.
public enum MembershipStatus: String, Sendable, Codable, CaseIterable {
    case active, suspended
}

/// A person known to one tenant. Ledger events name people by id only, so the personal data here can
/// be corrected without touching the ledger.
public struct User: Sendable, Equatable, Codable {
    public var id: UserID
    public var tenantId: TenantID
    public var email: EmailAddress
    public var displayName: String
    public var status: MembershipStatus
    public var homeOrgUnitId: OrgUnitID
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UserID, tenantId: TenantID, email: EmailAddress, displayName: String, status: MembershipStatus,
        homeOrgUnitId: OrgUnitID, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantId = tenantId
        self.email = email
        self.displayName = displayName
        self.status = status
        self.homeOrgUnitId = homeOrgUnitId
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct Group: Sendable, Equatable, Codable {
    public var id: GroupID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var name: String
    public var status: MembershipStatus
    public var memberCount: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: GroupID, tenantId: TenantID, orgUnitId: OrgUnitID, name: String, status: MembershipStatus, memberCount: Int,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.name = name
        self.status = status
        self.memberCount = memberCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A named set of capabilities. Built-in roles (no tenant) take their capabilities from the code
/// catalogue; tenant-defined roles store theirs and bump `version` whenever they change.
public struct Role: Sendable, Equatable, Codable {
    public var id: RoleID
    public var tenantId: TenantID?
    public var builtIn: Bool
    public var name: String
    public var capabilities: [Capability]
    public var version: Int

    public init(id: RoleID, tenantId: TenantID?, builtIn: Bool, name: String, capabilities: [Capability], version: Int) {
        self.id = id
        self.tenantId = tenantId
        self.builtIn = builtIn
        self.name = name
        self.capabilities = capabilities
        self.version = version
    }

    public init(_ builtIn: BuiltInRole) {
        self.init(
            id: builtIn.id, tenantId: nil, builtIn: true, name: builtIn.name, capabilities: builtIn.capabilities.sorted(),
            version: 0)
    }
}

/// A role given to a person or to every active member of a group, tenant-wide or in one org unit.
public struct RoleGrant: Sendable, Equatable, Codable {
    public enum Grantee: Sendable, Equatable {
        case user(UserID)
        case group(GroupID)
    }

    public var id: RoleGrantID
    public var roleId: RoleID
    public var grantee: Grantee
    public var orgUnitId: OrgUnitID?
    public var grantedAt: Date

    public init(id: RoleGrantID, roleId: RoleID, grantee: Grantee, orgUnitId: OrgUnitID?, grantedAt: Date) {
        self.id = id
        self.roleId = roleId
        self.grantee = grantee
        self.orgUnitId = orgUnitId
        self.grantedAt = grantedAt
    }

    enum CodingKeys: String, CodingKey { case id, roleId, userId, groupId, orgUnitId, grantedAt }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(RoleGrantID.self, forKey: .id)
        roleId = try container.decode(RoleID.self, forKey: .roleId)
        if let user = try container.decodeIfPresent(UserID.self, forKey: .userId) {
            grantee = .user(user)
        } else {
            grantee = .group(try container.decode(GroupID.self, forKey: .groupId))
        }
        orgUnitId = try container.decodeIfPresent(OrgUnitID.self, forKey: .orgUnitId)
        grantedAt = try container.decode(Date.self, forKey: .grantedAt)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(roleId, forKey: .roleId)
        switch grantee {
        case .user(let user): try container.encode(user, forKey: .userId)
        case .group(let group): try container.encode(group, forKey: .groupId)
        }
        try container.encode(orgUnitId, forKey: .orgUnitId)
        try container.encode(grantedAt, forKey: .grantedAt)
    }
}
