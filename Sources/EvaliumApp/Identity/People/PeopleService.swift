import EvaliumCore
import EvaliumStorage
import Foundation

/// One page of a keyset-paged list; `nextCursor` is passed back as `after` for the next page.
struct Page<Item: Codable & Sendable>: Codable, Sendable {
    var items: [Item]
    var nextCursor: String?
}

/// People and groups of a tenant. Every change is one transaction with its ledger event; ledger
/// payloads name people by id only, never by email or name.
struct PeopleService: Sendable {
    let database: Database

    struct NewUser: Decodable, Sendable {
        var email: String
        var displayName: String
        var homeOrgUnitId: OrgUnitID?
        var roles: [NewGrant]?

        struct NewGrant: Decodable, Sendable {
            var roleId: RoleID
            var orgUnitId: OrgUnitID?
        }
    }

    struct UserChanges: Decodable, Sendable {
        var email: String?
        var displayName: String?
        var homeOrgUnitId: OrgUnitID?
    }

    struct NewGroup: Decodable, Sendable {
        var name: String
        var orgUnitId: OrgUnitID?
    }

    struct GroupChanges: Decodable, Sendable {
        var name: String?
    }

    // MARK: People

    func createUser(_ input: NewUser, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> User {
        var errors: [Problem.FieldError] = []
        let email = collect(EmailAddress.validate(input.email, pointer: "/email"), into: &errors)
        let name = collect(DisplayName.validate(input.displayName, pointer: "/displayName"), into: &errors)
        guard let email, let name, errors.isEmpty else { throw Problem(.validationFailed, "the request has invalid fields", errors: errors) }
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let home = try await access.orgUnit(input.homeOrgUnitId, pointer: "/homeOrgUnitId", in: transaction)
            let user = User(
                id: .generate(at: now), tenantId: access.user.tenantId, email: email, displayName: name, status: .active,
                homeOrgUnitId: home, createdAt: now, updatedAt: now)
            do {
                try await transaction.insertUser(user)
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a person with this email address already exists in this tenant")
            }
            try await transaction.appendLedgerEvent(
                IdentityEvents.user("user.created", user, actor: access.actor, payload: ["homeOrgUnitId": .string(home.rawValue)]))
            for (index, grant) in (input.roles ?? []).enumerated() {
                _ = try await RoleService.grant(
                    roleId: grant.roleId, to: .user(user.id), orgUnitId: grant.orgUnitId, access: access, pointer: "/roles/\(index)",
                    in: transaction, now: now)
            }
            return user
        }
    }

    func user(_ id: UserID, access: CapabilityAccess) async throws -> User {
        let user = try await database.transaction(access.scope) { try await $0.fetchUser(id) }
        guard let user else { throw Problem(.notFound, "no person \(id) in your reach") }
        return user
    }

    func listUsers(_ filter: UserFilter, access: CapabilityAccess) async throws -> Page<User> {
        let users = try await database.transaction(access.scope) { try await $0.listUsers(filter) }
        return Page(items: users, nextCursor: users.count == filter.limit ? users.last?.id.rawValue : nil)
    }

    func updateUser(_ id: UserID, _ changes: UserChanges, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> User {
        var errors: [Problem.FieldError] = []
        let email = changes.email.flatMap { collect(EmailAddress.validate($0, pointer: "/email"), into: &errors) }
        let name = changes.displayName.flatMap { collect(DisplayName.validate($0, pointer: "/displayName"), into: &errors) }
        guard errors.isEmpty else { throw Problem(.validationFailed, "the request has invalid fields", errors: errors) }
        return try await runner.run(access.scope) { transaction in
            guard var user = try await transaction.fetchUser(id) else { throw Problem(.notFound, "no person \(id) in your reach") }
            var changed: [JSONValue] = []
            if let email, email != user.email { user.email = email; changed.append("email") }
            if let name, name != user.displayName { user.displayName = name; changed.append("displayName") }
            let moved = changes.homeOrgUnitId.map { $0 != user.homeOrgUnitId } ?? false
            if let home = changes.homeOrgUnitId, moved {
                guard access.reach.covers(home) else {
                    throw Problem(.capabilityMissing, "you may not move people into org unit \(home)")
                }
                user.homeOrgUnitId = home
                changed.append("homeOrgUnitId")
            }
            guard !changed.isEmpty else { return user }
            user.updatedAt = ServerClock.now()
            do {
                try await transaction.updateUser(user, accessChanged: moved)
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a person with this email address already exists in this tenant")
            }
            try await transaction.appendLedgerEvent(IdentityEvents.user("user.updated", user, actor: access.actor, payload: ["changed": .array(changed)]))
            return user
        }
    }

    /// Suspends or reactivates a person. Suspension ends every session at once; the person's past
    /// ledger entries stay exactly as they were.
    func setStatus(
        _ id: UserID, to status: MembershipStatus, reason: String?, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> User {
        if status == .suspended, id == access.user.userId {
            throw Problem(.conflict, "you cannot suspend yourself; ask another administrator")
        }
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            guard var user = try await transaction.fetchUser(id) else { throw Problem(.notFound, "no person \(id) in your reach") }
            guard user.status != status else { return user }
            user.status = status
            user.updatedAt = now
            try await transaction.updateUser(user, accessChanged: true)
            var payload: [String: JSONValue] = ["reason": reason.map(JSONValue.string) ?? .null]
            if status == .suspended {
                payload["sessionsEnded"] = .number(Double(try await transaction.revokeSessions(of: id, reason: "suspended", at: now)))
            }
            try await transaction.appendLedgerEvent(
                IdentityEvents.user(status == .suspended ? "user.suspended" : "user.reactivated", user, actor: access.actor, payload: payload))
            return user
        }
    }

    // MARK: Groups

    func createGroup(_ input: NewGroup, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Group {
        let name = try DisplayName.validate(input.name, pointer: "/name").asProblem()
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let orgUnit = try await access.orgUnit(input.orgUnitId, pointer: "/orgUnitId", in: transaction)
            let group = Group(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnit, name: name, status: .active,
                memberCount: 0, createdAt: now, updatedAt: now)
            do {
                try await transaction.insertGroup(group)
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a group with this name already exists in this tenant")
            }
            try await transaction.appendLedgerEvent(groupEvent("group.created", group, actor: access.actor, payload: [:]))
            return group
        }
    }

    func group(_ id: GroupID, access: CapabilityAccess) async throws -> Group {
        let group = try await database.transaction(access.scope) { try await $0.fetchGroup(id) }
        guard let group else { throw Problem(.notFound, "no group \(id) in your reach") }
        return group
    }

    func listGroups(_ filter: GroupFilter, access: CapabilityAccess) async throws -> Page<Group> {
        let groups = try await database.transaction(access.scope) { try await $0.listGroups(filter) }
        return Page(items: groups, nextCursor: groups.count == filter.limit ? groups.last?.id.rawValue : nil)
    }

    /// Renames, suspends or reactivates a group. A suspended group confers no roles, so its members'
    /// tokens are made out of date.
    func updateGroup(
        _ id: GroupID, name rawName: String?, status: MembershipStatus?, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> Group {
        let name = try rawName.map { try DisplayName.validate($0, pointer: "/name").asProblem() }
        return try await runner.run(access.scope) { transaction in
            guard var group = try await transaction.fetchGroup(id) else { throw Problem(.notFound, "no group \(id) in your reach") }
            let eventType: LedgerEventType
            if let status, status != group.status {
                group.status = status
                eventType = status == .suspended ? "group.suspended" : "group.reactivated"
            } else if let name, name != group.name {
                group.name = name
                eventType = "group.updated"
            } else {
                return group
            }
            group.updatedAt = ServerClock.now()
            do {
                try await transaction.updateGroup(group)
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a group with this name already exists in this tenant")
            }
            if status != nil { try await transaction.bumpAuthzVersion(membersOf: id) }
            try await transaction.appendLedgerEvent(groupEvent(eventType, group, actor: access.actor, payload: [:]))
            return group
        }
    }

    func changeMembership(
        _ id: GroupID, user userId: UserID, add: Bool, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> Group {
        try await runner.run(access.scope) { transaction in
            guard let group = try await transaction.fetchGroup(id) else { throw Problem(.notFound, "no group \(id) in your reach") }
            guard try await transaction.fetchUser(userId) != nil else { throw Problem(.notFound, "no person \(userId) in your reach") }
            let changed =
                add
                ? try await transaction.addGroupMember(group, user: userId, at: ServerClock.now())
                : try await transaction.removeGroupMember(id, user: userId)
            guard changed else { return group }
            try await transaction.bumpAuthzVersion(users: [userId])
            try await transaction.appendLedgerEvent(
                groupEvent(add ? "group.member.added" : "group.member.removed", group, actor: access.actor,
                           payload: ["userId": .string(userId.rawValue)]))
            return try await transaction.fetchGroup(id) ?? group
        }
    }

    // MARK: Shared

    private func collect<Value>(_ result: Result<Value, Problem.FieldError>, into errors: inout [Problem.FieldError]) -> Value? {
        switch result {
        case .success(let value): return value
        case .failure(let error):
            errors.append(error)
            return nil
        }
    }

    private func groupEvent(_ type: LedgerEventType, _ group: Group, actor: LedgerActor, payload: [String: JSONValue]) -> LedgerEventDraft {
        var payload = payload
        payload["groupId"] = .string(group.id.rawValue)
        return LedgerEventDraft(
            eventType: type, aggregateType: "group", aggregateId: group.id.rawValue, orgUnitId: group.orgUnitId, actor: actor,
            payload: .object(payload))
    }
}
