import EvaliumCore
import EvaliumStorage
import Hummingbird

/// Platform-operator endpoints for tenants and their org units.
struct TenantRoutes {
    let database: Database
    let configuration: AppConfiguration
    let tenants = TenantService()

    struct NewTenant: Decodable { var name: String }
    struct NewOrgUnit: Decodable { var name: String; var parentId: OrgUnitID? }
    struct OrgUnitList: Encodable { var items: [OrgUnit] }

    func register(on router: Router<AppRequestContext>) {
        router.post("/v1/tenants", use: create)
        router.get("/v1/tenants/:tenantId", use: show)
        router.post("/v1/tenants/:tenantId/org-units", use: createOrgUnit)
        router.get("/v1/tenants/:tenantId/org-units", use: listOrgUnits)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePlatformOperator()
        let input = try await JSONBody.decode(NewTenant.self, from: request, limit: configuration.maxRequestBodyBytes)
        let created = try await tenants.createTenant(
            name: input.name, actor: principal.ledgerActor, runner: context.write(database, status: .created))
        context.noteTenant(created.tenant.id)
        return try JSONBody.response(created, status: .created)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requirePlatformOperator()
        let tenantId = try context.tenantIdParameter()
        return try JSONBody.response(try await tenants.tenant(tenantId, database: database))
    }

    @Sendable func createOrgUnit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePlatformOperator()
        let tenantId = try context.tenantIdParameter()
        let input = try await JSONBody.decode(NewOrgUnit.self, from: request, limit: configuration.maxRequestBodyBytes)
        let unit = try await tenants.createOrgUnit(
            tenantId: tenantId, name: input.name, parentId: input.parentId, actor: principal.ledgerActor,
            runner: context.write(database, status: .created))
        return try JSONBody.response(unit, status: .created)
    }

    @Sendable func listOrgUnits(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requirePlatformOperator()
        let tenantId = try context.tenantIdParameter()
        return try JSONBody.response(OrgUnitList(items: try await tenants.orgUnits(of: tenantId, database: database)))
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
