import EvaliumCore
import EvaliumStorage
import Hummingbird

/// Reading a tenant's ledger and verifying its chain (platform operator for now; auditors with
/// `ledger.read` once identity exists).
struct LedgerRoutes {
    let ledger: LedgerService

    func register(on router: Router<AppRequestContext>) {
        router.get("/v1/tenants/:tenantId/ledger/events", use: list)
        router.get("/v1/tenants/:tenantId/ledger/verification", use: verify)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requirePlatformOperator()
        let tenantId = try context.tenantIdParameter()
        let query = request.uri.queryParameters
        var cursor: LedgerCursor?
        if let token = query.get("cursor") {
            guard let parsed = LedgerCursor(token: token) else {
                throw Problem(.validationFailed, "the cursor is not one this server issued", errors: [.init(pointer: "cursor", detail: "invalid")])
            }
            cursor = parsed
        }
        var limit = 50
        if let text = query.get("limit") {
            guard let value = Int(text), (1...500).contains(value) else {
                throw Problem(.validationFailed, "limit must be an integer from 1 to 500", errors: [.init(pointer: "limit", detail: "out of range")])
            }
            limit = value
        }
        let page = try await ledger.entries(
            tenantId: tenantId, aggregateType: query.get("aggregateType"), aggregateId: query.get("aggregateId"),
            cursor: cursor, limit: limit)
        return try JSONBody.response(page)
    }

    @Sendable func verify(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requirePlatformOperator()
        let tenantId = try context.tenantIdParameter()
        return try JSONBody.response(try await ledger.verify(tenantId: tenantId))
    }
}
