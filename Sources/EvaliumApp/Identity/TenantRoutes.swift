import EvaliumCore
import EvaliumStorage
import Hummingbird

/// Platform-operator endpoints for tenants and their org units.
struct TenantRoutes {
    let database: Database
    let configuration: AppConfiguration
    let outbox: MailOutbox
    let tenants = TenantService()

    struct NewTenant: Decodable {
        var name: String
        var adminEmail: String?
        var adminName: String?
    }

    struct NewOrgUnit: Decodable { var name: String; var parentId: OrgUnitID? }
    struct OrgUnitList: Encodable { var items: [OrgUnit] }

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/tenants", platformOperator: create)
        router.on(.get, "/v1/tenants/:tenantId", platformOperator: { _, context in
            try JSONBody.response(try await tenants.tenant(try context.tenantIdParameter(), database: database))
        })
        router.on(.post, "/v1/tenants/:tenantId/org-units", platformOperator: createOrgUnit)
        router.on(.get, "/v1/tenants/:tenantId/org-units", platformOperator: { _, context in
            let tenantId = try context.tenantIdParameter()
            return try JSONBody.response(OrgUnitList(items: try await tenants.orgUnits(of: tenantId, database: database)))
        })
    }

    /// Creates a tenant; with `adminEmail`, also its first administrator, whose sign-in link is mailed.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let input = try await JSONBody.decode(NewTenant.self, from: request, limit: configuration.maxRequestBodyBytes)
        let admin = input.adminEmail.map {
            TenantService.FirstAdministrator(email: $0, displayName: input.adminName, links: MagicLinkIssuer(settings: configuration.auth))
        }
        let created = try await tenants.createTenant(
            name: input.name, admin: admin, actor: .platformOperator, runner: context.write(database, status: .created))
        context.noteTenant(created.tenant.id)
        if let user = created.admin, let link = created.adminSignInLink {
            outbox.enqueue(SignInService.signInMail(to: user, link: link))
        }
        return try context.response(created, status: .created)
    }

    @Sendable func createOrgUnit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenantId = try context.tenantIdParameter()
        let input = try await JSONBody.decode(NewOrgUnit.self, from: request, limit: configuration.maxRequestBodyBytes)
        let unit = try await tenants.createOrgUnit(
            tenantId: tenantId, name: input.name, parentId: input.parentId, actor: .platformOperator,
            runner: context.write(database, status: .created))
        return try context.response(unit, status: .created)
    }
}

extension AppRequestContext {
    /// The `:tenantId` path parameter; a malformed id is a 404 like any unknown tenant.
    func tenantIdParameter() throws -> TenantID {
        guard let text = parameters.get("tenantId"), let tenantId = TenantID(text) else {
            throw Problem(.notFound, "no such tenant (tenant ids look like tnt_01HN…)")
        }
        noteTenant(tenantId)
        return tenantId
    }
}
