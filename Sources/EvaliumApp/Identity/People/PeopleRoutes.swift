import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird

/// People, groups, roles and grants of the caller's tenant. Each route names the capability it needs
/// on the line that registers it; the tenant always comes from the caller's token.
struct PeopleRoutes {
    let database: Database
    let people: PeopleService
    let roles: RoleService
    let configuration: AppConfiguration

    struct StatusChange: Decodable { var reason: String? }
    struct GroupUpdate: Decodable { var name: String? }
    struct Membership: Decodable { var userId: UserID }

    struct Me: Encodable {
        var user: User
        var sessionId: SessionID
        var roles: [AccessGrant]
        var capabilities: [CapabilityView]
        var authenticatedAt: Date
        var methods: [AuthenticationMethod]
    }

    struct CapabilityView: Encodable {
        var capability: Capability
        /// `["*"]` for the whole tenant, else the org units.
        var orgUnits: [String]
    }

    struct CatalogueEntry: Encodable { var name: Capability; var summary: String }

    func register(on router: Router<AppRequestContext>) {
        router.on(.get, "/v1/me", signedIn: me)
        router.on(.get, "/v1/capabilities", signedIn: { _, _, user in
            try await database.confirmLive(user.ownScope)
            return try JSONBody.response(ItemList(items: Capability.allCases.map { CatalogueEntry(name: $0, summary: $0.summary) }))
        })

        router.on(.post, "/v1/users", requires: .usersManage) { request, context, access in
            let input = try await decode(PeopleService.NewUser.self, request)
            return try context.response(
                try await people.createUser(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/users", requires: .usersManage) { request, _, access in
            let filter = UserFilter(
                status: try request.query("status", MembershipStatus.init(rawValue:)),
                orgUnitId: try request.query("orgUnitId", { OrgUnitID($0) }), groupId: try request.query("groupId", { GroupID($0) }),
                text: request.uri.queryParameters.get("q").map { String($0) }, after: try request.query("after", { UserID($0) }),
                limit: try request.pageLimit())
            return try JSONBody.response(try await people.listUsers(filter, access: access))
        }
        router.on(.get, "/v1/users/:userId", requires: .usersManage) { request, context, access in
            try JSONBody.response(try await people.user(try request.pathId("userId", context, as: UserID.self), access: access))
        }
        router.on(.patch, "/v1/users/:userId", requires: .usersManage) { request, context, access in
            let id = try request.pathId("userId", context, as: UserID.self)
            let changes = try await decode(PeopleService.UserChanges.self, request)
            return try context.response(try await people.updateUser(id, changes, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/users/:userId/suspend", requires: .usersManage) { request, context, access in
            try await setStatus(.suspended, request, context, access)
        }
        router.on(.post, "/v1/users/:userId/reactivate", requires: .usersManage) { request, context, access in
            try await setStatus(.active, request, context, access)
        }
        router.on(.get, "/v1/users/:userId/role-grants", requires: .usersManage) { request, context, access in
            let id = try request.pathId("userId", context, as: UserID.self)
            return try JSONBody.response(ItemList(items: try await roles.grants(of: .user(id), access: access)))
        }

        router.on(.post, "/v1/groups", requires: .usersManage) { request, context, access in
            let input = try await decode(PeopleService.NewGroup.self, request)
            return try context.response(
                try await people.createGroup(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/groups", requires: .usersManage) { request, _, access in
            let filter = GroupFilter(
                status: try request.query("status", MembershipStatus.init(rawValue:)), text: request.uri.queryParameters.get("q").map { String($0) },
                after: try request.query("after", { GroupID($0) }), limit: try request.pageLimit())
            return try JSONBody.response(try await people.listGroups(filter, access: access))
        }
        router.on(.get, "/v1/groups/:groupId", requires: .usersManage) { request, context, access in
            try JSONBody.response(try await people.group(try request.pathId("groupId", context, as: GroupID.self), access: access))
        }
        router.on(.patch, "/v1/groups/:groupId", requires: .usersManage) { request, context, access in
            let id = try request.pathId("groupId", context, as: GroupID.self)
            let input = try await decode(GroupUpdate.self, request)
            return try context.response(
                try await people.updateGroup(id, name: input.name, status: nil, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/groups/:groupId/suspend", requires: .usersManage) { request, context, access in
            let id = try request.pathId("groupId", context, as: GroupID.self)
            return try context.response(
                try await people.updateGroup(id, name: nil, status: .suspended, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/groups/:groupId/reactivate", requires: .usersManage) { request, context, access in
            let id = try request.pathId("groupId", context, as: GroupID.self)
            return try context.response(
                try await people.updateGroup(id, name: nil, status: .active, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/groups/:groupId/members", requires: .usersManage) { request, context, access in
            let id = try request.pathId("groupId", context, as: GroupID.self)
            let member = try await decode(Membership.self, request)
            return try context.response(
                try await people.changeMembership(id, user: member.userId, add: true, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.delete, "/v1/groups/:groupId/members/:userId", requires: .usersManage) { request, context, access in
            let id = try request.pathId("groupId", context, as: GroupID.self)
            let user = try request.pathId("userId", context, as: UserID.self)
            return try context.response(
                try await people.changeMembership(id, user: user, add: false, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.get, "/v1/groups/:groupId/role-grants", requires: .usersManage) { request, context, access in
            let id = try request.pathId("groupId", context, as: GroupID.self)
            return try JSONBody.response(ItemList(items: try await roles.grants(of: .group(id), access: access)))
        }

        router.on(.get, "/v1/roles", signedIn: { _, _, user in
            try JSONBody.response(ItemList(items: try await roles.roles(for: user)))
        })
        router.on(.post, "/v1/roles", requires: .tenantAdmin) { request, context, access in
            let input = try await decode(RoleService.RoleDefinition.self, request)
            return try context.response(
                try await roles.createRole(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.patch, "/v1/roles/:roleId", requires: .tenantAdmin) { request, context, access in
            let id = try request.pathId("roleId", context, as: RoleID.self)
            let input = try await decode(RoleService.RoleDefinition.self, request)
            return try context.response(try await roles.updateRole(id, input, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/role-grants", requires: .usersManage) { request, context, access in
            let input = try await decode(RoleService.NewGrant.self, request)
            return try context.response(
                try await roles.grant(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.delete, "/v1/role-grants/:grantId", requires: .usersManage) { request, context, access in
            let id = try request.pathId("grantId", context, as: RoleGrantID.self)
            return try context.response(try await roles.revoke(id, access: access, runner: context.write(database, status: .ok)))
        }
    }

    @Sendable func me(_ request: Request, context: AppRequestContext, user: UserPrincipal) async throws -> Response {
        let person = try await database.transaction(user.ownScope) { try await $0.fetchUser(user.userId) }
        guard let person else { throw Problem(.notFound, "your account is not visible") }
        let capabilities = user.capabilities.held.map { capability in
            switch user.capabilities.reach(of: capability) {
            case .tenantWide: CapabilityView(capability: capability, orgUnits: ["*"])
            case .orgUnits(let units): CapabilityView(capability: capability, orgUnits: units.map(\.rawValue).sorted())
            case .nowhere: CapabilityView(capability: capability, orgUnits: [])
            }
        }
        return try JSONBody.response(
            Me(user: person, sessionId: user.sessionId, roles: user.grants, capabilities: capabilities,
               authenticatedAt: user.authenticatedAt, methods: user.methods))
    }

    private func setStatus(
        _ status: MembershipStatus, _ request: Request, _ context: AppRequestContext, _ access: CapabilityAccess
    ) async throws -> Response {
        let id = try request.pathId("userId", context, as: UserID.self)
        let reason = request.headers[.contentType] == nil ? nil : try await decode(StatusChange.self, request).reason
        return try context.response(
            try await people.setStatus(id, to: status, reason: reason, access: access, runner: context.write(database, status: .ok)))
    }

    private func decode<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decode(type, from: request, limit: configuration.maxRequestBodyBytes)
    }
}
