import EvaliumCore
import EvaliumStorage
import Foundation

/// Creating and reading tenants and their org units. The API and `evalium tenant create` both come
/// here, so a tenant made either way has the same rows and the same ledger events.
public struct TenantService: Sendable {
    public init() {}

    public struct CreatedTenant: Codable, Sendable, Equatable {
        public var tenant: Tenant
        public var rootOrgUnit: OrgUnit
        /// The first administrator, when one was asked for.
        public var admin: User?
        /// The administrator's first sign-in link. Never part of an API response (nor of a stored
        /// idempotent replay): the API mails it, the CLI prints it.
        public var adminSignInLink: SignInLink?

        enum CodingKeys: String, CodingKey { case tenant, rootOrgUnit, admin }
    }

    /// Who administers a new tenant, and how their first sign-in link is made.
    public struct FirstAdministrator: Sendable {
        public var email: String
        public var displayName: String?
        public var links: MagicLinkIssuer

        public init(email: String, displayName: String?, links: MagicLinkIssuer) {
            self.email = email
            self.displayName = displayName
            self.links = links
        }
    }

    /// Creates a tenant with its root org unit and appends `tenant.created` and `org_unit.created`,
    /// all in one transaction; with `admin`, also the first administrator (the built-in admin role,
    /// tenant-wide) and their first sign-in link.
    public func createTenant(
        name rawName: String, admin: FirstAdministrator? = nil, actor: LedgerActor, runner: some UnitOfWorkRunner
    ) async throws -> CreatedTenant {
        let name = try DisplayName.validate(rawName, pointer: "/name").asProblem()
        let adminEmail = try admin.map { try EmailAddress.validate($0.email, pointer: "/adminEmail").asProblem() }
        let adminName = try admin.map { try DisplayName.validate($0.displayName ?? "Administrator", pointer: "/adminName").asProblem() }
        let now = ServerClock.now()
        let tenant = Tenant(id: .generate(), name: name, status: .active, createdAt: now)
        let root = OrgUnit(id: .generate(), tenantId: tenant.id, parentId: nil, name: name, isRoot: true, createdAt: now)
        return try await runner.run(.tenantWide(tenant.id)) { transaction in
            try await transaction.insertTenant(tenant)
            try await transaction.insertOrgUnit(root)
            try await transaction.appendLedgerEvent(
                LedgerEventDraft(
                    eventType: .tenantCreated, aggregateType: "tenant", aggregateId: tenant.id.rawValue, orgUnitId: nil,
                    actor: actor, payload: ["tenantId": .string(tenant.id.rawValue), "rootOrgUnitId": .string(root.id.rawValue)]))
            try await transaction.appendLedgerEvent(orgUnitCreated(root, actor: actor))
            var created = CreatedTenant(tenant: tenant, rootOrgUnit: root)
            if let admin, let adminEmail, let adminName {
                let user = User(
                    id: .generate(at: now), tenantId: tenant.id, email: adminEmail, displayName: adminName, status: .active,
                    homeOrgUnitId: root.id, createdAt: now, updatedAt: now)
                try await transaction.insertUser(user)
                try await transaction.appendLedgerEvent(
                    IdentityEvents.user("user.created", user, actor: actor, payload: ["homeOrgUnitId": .string(root.id.rawValue)]))
                let grant = RoleGrant(id: .generate(at: now), roleId: BuiltInRole.admin.id, grantee: .user(user.id), orgUnitId: nil, grantedAt: now)
                try await transaction.insertRoleGrant(grant, tenantId: tenant.id, grantedBy: actor.id)
                try await transaction.appendLedgerEvent(IdentityEvents.grant("role.granted", grant, actor: actor))
                created.admin = user
                created.adminSignInLink = try await admin.links.issue(for: user, actor: actor, in: transaction, now: now)
            }
            return created
        }
    }

    /// Creates an org unit under `parentId` (the root unit when nil) and appends `org_unit.created`.
    public func createOrgUnit(
        tenantId: TenantID, name rawName: String, parentId: OrgUnitID?, actor: LedgerActor, runner: some UnitOfWorkRunner
    ) async throws -> OrgUnit {
        let name = try DisplayName.validate(rawName, pointer: "/name").asProblem()
        return try await runner.run(.tenantWide(tenantId)) { transaction in
            guard try await transaction.fetchTenant(tenantId) != nil else { throw Problem(.notFound, "no tenant \(tenantId)") }
            let parent: OrgUnitID
            if let parentId {
                parent = parentId
            } else if let root = try await transaction.fetchRootOrgUnit() {
                parent = root.id
            } else {
                throw Problem(.notFound, "tenant \(tenantId) has no root org unit")
            }
            let unit = OrgUnit(
                id: .generate(), tenantId: tenantId, parentId: parent, name: name, isRoot: false, createdAt: ServerClock.now())
            try await transaction.insertOrgUnit(unit)
            try await transaction.appendLedgerEvent(orgUnitCreated(unit, actor: actor))
            return unit
        }
    }

    public func tenant(_ tenantId: TenantID, database: Database) async throws -> Tenant {
        let tenant = try await database.transaction(.tenantWide(tenantId)) { try await $0.fetchTenant(tenantId) }
        guard let tenant else { throw Problem(.notFound, "no tenant \(tenantId)") }
        return tenant
    }

    public func orgUnits(of tenantId: TenantID, database: Database) async throws -> [OrgUnit] {
        try await database.transaction(.tenantWide(tenantId)) { transaction in
            guard try await transaction.fetchTenant(tenantId) != nil else { throw Problem(.notFound, "no tenant \(tenantId)") }
            return try await transaction.listOrgUnits()
        }
    }

    private func orgUnitCreated(_ unit: OrgUnit, actor: LedgerActor) -> LedgerEventDraft {
        var payload: [String: JSONValue] = ["orgUnitId": .string(unit.id.rawValue), "isRoot": .bool(unit.isRoot)]
        payload["parentId"] = unit.parentId.map { .string($0.rawValue) } ?? .null
        return LedgerEventDraft(
            eventType: .orgUnitCreated, aggregateType: "org_unit", aggregateId: unit.id.rawValue, orgUnitId: unit.id,
            actor: actor, payload: .object(payload))
    }
}

extension Result where Failure == Problem.FieldError {
    /// The value, or a 422 problem naming the field.
    func asProblem() throws -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let field): throw Problem(.validationFailed, "the request has invalid fields", errors: [field])
        }
    }
}
