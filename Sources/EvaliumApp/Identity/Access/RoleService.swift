import EvaliumCore
import EvaliumStorage
import Foundation

/// Roles and who holds them. Two rules keep grants honest: nobody grants (or takes away) a role whose
/// capabilities they do not hold themselves where the grant applies, and every change makes the
/// affected people's tokens out of date at once.
struct RoleService: Sendable {
    let database: Database

    struct RoleDefinition: Decodable, Sendable {
        var name: String?
        var capabilities: [String]?
    }

    struct NewGrant: Decodable, Sendable {
        var roleId: RoleID
        var userId: UserID?
        var groupId: GroupID?
        var orgUnitId: OrgUnitID?
    }

    func roles(for user: UserPrincipal) async throws -> [Role] {
        try await database.transaction(Scope(tenantId: user.tenantId, session: user.session)) { try await $0.listRoles() }
    }

    func createRole(_ input: RoleDefinition, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Role {
        let (name, capabilities) = try validate(input, requireAll: true)
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let role = Role(
                id: .generate(at: now), tenantId: access.user.tenantId, builtIn: false, name: name!, capabilities: capabilities!, version: 1)
            do {
                try await transaction.insertRole(role, at: now)
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a role with this name already exists")
            }
            try await transaction.appendLedgerEvent(roleEvent("role.created", role, actor: access.actor))
            return role
        }
    }

    /// Changes a tenant-defined role. Its version moves on, so every token naming it must be refreshed
    /// before it is honoured again.
    func updateRole(_ id: RoleID, _ input: RoleDefinition, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Role {
        let (name, capabilities) = try validate(input, requireAll: false)
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            guard var role = try await transaction.fetchRoles([id]).first else { throw Problem(.notFound, "no role \(id)") }
            guard !role.builtIn else { throw Problem(.conflict, "built-in roles cannot be changed; define a role of your own") }
            role.name = name ?? role.name
            role.capabilities = capabilities ?? role.capabilities
            do {
                guard try await transaction.updateRole(role, at: now) else { throw Problem(.notFound, "no role \(id)") }
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a role with this name already exists")
            }
            role.version += 1
            try await transaction.bumpAuthzVersion(holdersOf: id)
            try await transaction.appendLedgerEvent(roleEvent("role.updated", role, actor: access.actor))
            return role
        }
    }

    func grant(_ input: NewGrant, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> RoleGrant {
        let grantee: RoleGrant.Grantee
        switch (input.userId, input.groupId) {
        case (let user?, nil): grantee = .user(user)
        case (nil, let group?): grantee = .group(group)
        default:
            throw Problem(.validationFailed, "name exactly one grantee", errors: [.init(pointer: "/userId", detail: "give userId or groupId, not both")])
        }
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            try await Self.grant(
                roleId: input.roleId, to: grantee, orgUnitId: input.orgUnitId, access: access, pointer: "", in: transaction, now: now)
        }
    }

    /// Grants inside the caller's unit of work (also used when a person is created with roles).
    static func grant(
        roleId: RoleID, to grantee: RoleGrant.Grantee, orgUnitId: OrgUnitID?, access: CapabilityAccess, pointer: String,
        in transaction: Transaction, now: Date
    ) async throws -> RoleGrant {
        guard let role = try await transaction.fetchRoles([roleId]).first else {
            throw Problem(.validationFailed, "no such role", errors: [.init(pointer: "\(pointer)/roleId", detail: "no role \(roleId)")])
        }
        try checkNoEscalation(role, in: orgUnitId, access: access)
        switch grantee {
        case .user(let user):
            guard try await transaction.fetchUser(user) != nil else { throw Problem(.notFound, "no person \(user) in your reach") }
        case .group(let group):
            guard try await transaction.fetchGroup(group) != nil else { throw Problem(.notFound, "no group \(group) in your reach") }
        }
        let grant = RoleGrant(id: .generate(at: now), roleId: roleId, grantee: grantee, orgUnitId: orgUnitId, grantedAt: now)
        do {
            try await transaction.insertRoleGrant(grant, tenantId: access.user.tenantId, grantedBy: access.user.userId.rawValue)
        } catch StorageError.uniqueViolation {
            throw Problem(.conflict, "this role is already granted there")
        }
        try await bumpAffected(grantee, in: transaction)
        try await transaction.appendLedgerEvent(IdentityEvents.grant("role.granted", grant, actor: access.actor))
        return grant
    }

    func revoke(_ id: RoleGrantID, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> RoleGrant {
        try await runner.run(access.scope) { transaction in
            guard let grant = try await transaction.fetchRoleGrant(id), let role = try await transaction.fetchRoles([grant.roleId]).first else {
                throw Problem(.notFound, "no role grant \(id) in your reach")
            }
            try Self.checkNoEscalation(role, in: grant.orgUnitId, access: access)
            guard try await transaction.deleteRoleGrant(id) else { throw Problem(.notFound, "no role grant \(id) in your reach") }
            try await Self.bumpAffected(grant.grantee, in: transaction)
            try await transaction.appendLedgerEvent(IdentityEvents.grant("role.revoked", grant, actor: access.actor))
            return grant
        }
    }

    func grants(of grantee: RoleGrant.Grantee, access: CapabilityAccess) async throws -> [RoleGrant] {
        try await database.transaction(access.scope) { try await $0.listRoleGrants(for: grantee) }
    }

    /// Nobody hands out more than they hold: every capability of the role must be theirs where the grant
    /// applies (tenant-wide grants need it tenant-wide).
    static func checkNoEscalation(_ role: Role, in orgUnitId: OrgUnitID?, access: CapabilityAccess) throws {
        guard access.reach.covers(orgUnitId) else {
            throw Problem(.capabilityMissing, "your `\(access.capability.rawValue)` does not reach \(orgUnitId.map { "org unit \($0)" } ?? "the whole tenant")")
        }
        let missing = access.user.capabilities.missing(role.capabilities, in: orgUnitId)
        guard missing.isEmpty else {
            throw Problem(
                .capabilityMissing,
                "you cannot grant \(role.name): it carries capabilities you do not hold there (\(missing.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    private static func bumpAffected(_ grantee: RoleGrant.Grantee, in transaction: Transaction) async throws {
        switch grantee {
        case .user(let user): try await transaction.bumpAuthzVersion(users: [user])
        case .group(let group): try await transaction.bumpAuthzVersion(membersOf: group)
        }
    }

    private func validate(_ input: RoleDefinition, requireAll: Bool) throws -> (String?, [Capability]?) {
        var errors: [Problem.FieldError] = []
        var name: String?
        if let raw = input.name {
            switch DisplayName.validate(raw, pointer: "/name") {
            case .success(let valid): name = valid
            case .failure(let error): errors.append(error)
            }
        } else if requireAll {
            errors.append(.init(pointer: "/name", detail: "required"))
        }
        var capabilities: [Capability]?
        if let raw = input.capabilities {
            var parsed: Set<Capability> = []
            for (index, text) in raw.enumerated() {
                if let capability = Capability(rawValue: text) {
                    parsed.insert(capability)
                } else {
                    errors.append(.init(pointer: "/capabilities/\(index)", detail: "unknown capability `\(text)` (see GET /v1/capabilities)"))
                }
            }
            if raw.isEmpty { errors.append(.init(pointer: "/capabilities", detail: "a role needs at least one capability")) }
            capabilities = parsed.sorted()
        } else if requireAll {
            errors.append(.init(pointer: "/capabilities", detail: "required"))
        }
        guard errors.isEmpty else { throw Problem(.validationFailed, "the role definition has invalid fields", errors: errors) }
        return (name, capabilities)
    }

    private func roleEvent(_ type: LedgerEventType, _ role: Role, actor: LedgerActor) -> LedgerEventDraft {
        LedgerEventDraft(
            eventType: type, aggregateType: "role", aggregateId: role.id.rawValue, orgUnitId: nil, actor: actor,
            payload: [
                "roleId": .string(role.id.rawValue), "name": .string(role.name), "version": .number(Double(role.version)),
                "capabilities": .array(role.capabilities.map { .string($0.rawValue) }),
            ])
    }
}
