import EvaliumCore
import EvaliumStorage
import Hummingbird

/// Reading a tenant's ledger and verifying its chain: the platform operator for any tenant, and people
/// holding `ledger.read` for their own (within the org units their role reaches).
struct LedgerRoutes {
    let ledger: LedgerService

    func register(on router: Router<AppRequestContext>) {
        router.on(.get, "/v1/tenants/:tenantId/ledger/events", platformOperator: { request, context in
            try await list(request, scope: .tenantWide(try context.tenantIdParameter()))
        })
        router.on(.get, "/v1/tenants/:tenantId/ledger/verification", platformOperator: { _, context in
            try JSONBody.response(try await ledger.verify(tenantId: try context.tenantIdParameter()))
        })
        router.on(.get, "/v1/ledger/events", requires: .ledgerRead) { request, _, access in
            try await list(request, scope: access.scope)
        }
        router.on(.get, "/v1/ledger/verification", requires: .ledgerRead) { _, _, access in
            guard access.reach == .tenantWide else {
                throw Problem(.capabilityMissing, "verifying the whole chain needs `ledger.read` for the whole tenant")
            }
            return try JSONBody.response(try await ledger.verify(tenantId: access.user.tenantId))
        }
    }

    private func list(_ request: Request, scope: Scope) async throws -> Response {
        let cursor = try request.query("cursor", LedgerCursor.init(token:))
        let page = try await ledger.entries(
            scope: scope, aggregateType: request.uri.queryParameters.get("aggregateType"),
            aggregateId: request.uri.queryParameters.get("aggregateId"), cursor: cursor, limit: try request.pageLimit(maximum: 500))
        return try JSONBody.response(page)
    }
}
