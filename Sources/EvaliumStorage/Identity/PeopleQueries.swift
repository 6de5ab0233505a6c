import EvaliumCore
import Foundation
import NIOCore
import PostgresNIO

/// Filters for listing people; every filter is optional and they combine with AND.
public struct UserFilter: Sendable {
    public var status: MembershipStatus?
    public var orgUnitId: OrgUnitID?
    public var groupId: GroupID?
    /// Matched case-insensitively against email and display name.
    public var text: String?
    public var after: UserID?
    public var limit: Int

    public init(
        status: MembershipStatus? = nil, orgUnitId: OrgUnitID? = nil, groupId: GroupID? = nil, text: String? = nil,
        after: UserID? = nil, limit: Int
    ) {
        self.status = status
        self.orgUnitId = orgUnitId
        self.groupId = groupId
        self.text = text
        self.after = after
        self.limit = limit
    }
}

public struct GroupFilter: Sendable {
    public var status: MembershipStatus?
    public var text: String?
    public var after: GroupID?
    public var limit: Int

    public init(status: MembershipStatus? = nil, text: String? = nil, after: GroupID? = nil, limit: Int) {
        self.status = status
        self.text = text
        self.after = after
        self.limit = limit
    }
}

extension Transaction {
    static let userColumns = "u.id, u.tenant_id, u.email, u.display_name, u.status, u.org_unit_id, u.created_at, u.updated_at"

    public func insertUser(_ user: User) async throws {
        try await run(
            """
            INSERT INTO users (id, tenant_id, org_unit_id, email, display_name, status, created_at, updated_at)
            VALUES (\(user.id.rawValue), \(user.tenantId.rawValue), \(user.homeOrgUnitId.rawValue), \(user.email.normalized),
                    \(user.displayName), \(user.status.rawValue), \(MillisecondTimestamp(user.createdAt)),
                    \(MillisecondTimestamp(user.updatedAt)))
            """)
    }

    public func fetchUser(_ id: UserID) async throws -> User? {
        try await users("SELECT \(unescaped: Self.userColumns) FROM users u WHERE u.id = \(id.rawValue)").first
    }

    public func fetchUser(email: EmailAddress) async throws -> User? {
        try await users("SELECT \(unescaped: Self.userColumns) FROM users u WHERE u.email = \(email.normalized)").first
    }

    /// People visible in the scope, in id (creation) order, after the cursor.
    public func listUsers(_ filter: UserFilter) async throws -> [User] {
        let pattern = filter.text.map { "%" + Self.escapeLike($0.lowercased()) + "%" }
        return try await users(
            """
            SELECT \(unescaped: Self.userColumns) FROM users u
            WHERE (\(filter.status?.rawValue)::text IS NULL OR u.status = \(filter.status?.rawValue))
              AND (\(filter.orgUnitId?.rawValue)::text IS NULL OR u.org_unit_id = \(filter.orgUnitId?.rawValue))
              AND (\(filter.groupId?.rawValue)::text IS NULL
                   OR EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.id AND m.group_id = \(filter.groupId?.rawValue)))
              AND (\(pattern)::text IS NULL OR u.email LIKE \(pattern) OR lower(u.display_name) LIKE \(pattern))
              AND (\(filter.after?.rawValue)::text IS NULL OR u.id > \(filter.after?.rawValue))
            ORDER BY u.id
            LIMIT \(filter.limit)
            """)
    }

    /// Writes the mutable fields of `user`; true if the row was visible and updated.
    @discardableResult
    public func updateUser(_ user: User, accessChanged: Bool) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE users SET email = \(user.email.normalized), display_name = \(user.displayName), status = \(user.status.rawValue),
                   org_unit_id = \(user.homeOrgUnitId.rawValue), updated_at = \(MillisecondTimestamp(user.updatedAt)),
                   authz_version = authz_version + \(accessChanged ? 1 : 0)
            WHERE id = \(user.id.rawValue) RETURNING id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// The current access version of a person (nil: not visible).
    public func authzVersion(of user: UserID) async throws -> Int? {
        for try await version in try await run("SELECT authz_version FROM users WHERE id = \(user.rawValue)").decode(Int.self) {
            return version
        }
        return nil
    }

    /// Makes every access token issued to these people out of date.
    public func bumpAuthzVersion(users ids: [UserID]) async throws {
        guard !ids.isEmpty else { return }
        try await run("UPDATE users SET authz_version = authz_version + 1 WHERE id = ANY(\(ids.map(\.rawValue)))")
    }

    /// Makes out of date the access tokens of every active member of a group.
    public func bumpAuthzVersion(membersOf group: GroupID) async throws {
        try await run(
            """
            UPDATE users SET authz_version = authz_version + 1
            WHERE id IN (SELECT user_id FROM group_members WHERE group_id = \(group.rawValue))
            """)
    }

    private func users(_ query: PostgresQuery) async throws -> [User] {
        var users: [User] = []
        for try await (id, tenantId, email, name, status, orgUnit, createdAt, updatedAt) in try await run(query).decode(
            (String, String, String, String, String, String, Date, Date).self)
        {
            users.append(
                User(
                    id: UserID(unchecked: id), tenantId: TenantID(unchecked: tenantId), email: EmailAddress(stored: email),
                    displayName: name, status: MembershipStatus(rawValue: status) ?? .suspended,
                    homeOrgUnitId: OrgUnitID(unchecked: orgUnit), createdAt: createdAt.roundedToMilliseconds(),
                    updatedAt: updatedAt.roundedToMilliseconds()))
        }
        return users
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    // MARK: Groups

    static let groupColumns = """
        g.id, g.tenant_id, g.org_unit_id, g.name, g.status,
        (SELECT count(*) FROM group_members m WHERE m.group_id = g.id)::int, g.created_at, g.updated_at
        """

    public func insertGroup(_ group: Group) async throws {
        try await run(
            """
            INSERT INTO groups (id, tenant_id, org_unit_id, name, status, created_at, updated_at)
            VALUES (\(group.id.rawValue), \(group.tenantId.rawValue), \(group.orgUnitId.rawValue), \(group.name),
                    \(group.status.rawValue), \(MillisecondTimestamp(group.createdAt)), \(MillisecondTimestamp(group.updatedAt)))
            """)
    }

    public func fetchGroup(_ id: GroupID) async throws -> Group? {
        try await groups("SELECT \(unescaped: Self.groupColumns) FROM groups g WHERE g.id = \(id.rawValue)").first
    }

    public func listGroups(_ filter: GroupFilter) async throws -> [Group] {
        let pattern = filter.text.map { "%" + Self.escapeLike($0.lowercased()) + "%" }
        return try await groups(
            """
            SELECT \(unescaped: Self.groupColumns) FROM groups g
            WHERE (\(filter.status?.rawValue)::text IS NULL OR g.status = \(filter.status?.rawValue))
              AND (\(pattern)::text IS NULL OR lower(g.name) LIKE \(pattern))
              AND (\(filter.after?.rawValue)::text IS NULL OR g.id > \(filter.after?.rawValue))
            ORDER BY g.id
            LIMIT \(filter.limit)
            """)
    }

    @discardableResult
    public func updateGroup(_ group: Group) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE groups SET name = \(group.name), status = \(group.status.rawValue), updated_at = \(MillisecondTimestamp(group.updatedAt))
            WHERE id = \(group.id.rawValue) RETURNING id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Adds a member; false if they already were one.
    public func addGroupMember(_ group: Group, user: UserID, at date: Date) async throws -> Bool {
        let rows = try await run(
            """
            INSERT INTO group_members (tenant_id, org_unit_id, group_id, user_id, added_at)
            VALUES (\(group.tenantId.rawValue), \(group.orgUnitId.rawValue), \(group.id.rawValue), \(user.rawValue),
                    \(MillisecondTimestamp(date)))
            ON CONFLICT (group_id, user_id) DO NOTHING RETURNING user_id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Removes a member; false if they were not one.
    public func removeGroupMember(_ group: GroupID, user: UserID) async throws -> Bool {
        let rows = try await run(
            "DELETE FROM group_members WHERE group_id = \(group.rawValue) AND user_id = \(user.rawValue) RETURNING user_id")
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    private func groups(_ query: PostgresQuery) async throws -> [Group] {
        var groups: [Group] = []
        for try await (id, tenantId, orgUnit, name, status, members, createdAt, updatedAt) in try await run(query).decode(
            (String, String, String, String, String, Int, Date, Date).self)
        {
            groups.append(
                Group(
                    id: GroupID(unchecked: id), tenantId: TenantID(unchecked: tenantId), orgUnitId: OrgUnitID(unchecked: orgUnit),
                    name: name, status: MembershipStatus(rawValue: status) ?? .suspended, memberCount: members,
                    createdAt: createdAt.roundedToMilliseconds(), updatedAt: updatedAt.roundedToMilliseconds()))
        }
        return groups
    }
}
