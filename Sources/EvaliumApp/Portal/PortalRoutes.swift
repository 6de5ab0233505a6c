import EvaliumCore
import EvaliumStorage
import Hummingbird

/// Client-portal links: managed by people with `portal.links.manage`, opened by external viewers.
struct PortalRoutes {
    let links: PortalLinkService
    let submissions: PortalSubmissionService
    let database: Database
    let configuration: AppConfiguration

    struct OpenRequest: Decodable { var tenantId: TenantID; var token: String; var email: String? }
    struct Timeline: Encodable { var scope: PortalScope; var items: [LedgerEntryView] }

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/portal-links", requires: .portalLinksManage) { request, context, access in
            let input = try await JSONBody.decode(PortalLinkService.NewLink.self, from: request, limit: configuration.maxRequestBodyBytes)
            return try context.response(
                try await links.create(input, by: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/portal-links", requires: .portalLinksManage) { request, _, access in
            let kind = try request.query("scopeType", PortalScope.Kind.init(rawValue:))
            let scope = kind.flatMap { kind in request.uri.queryParameters.get("scopeId").map { PortalScope(kind: kind, id: String($0)) } }
            return try JSONBody.response(ItemList(items: try await links.list(scope: scope, access: access)))
        }
        router.on(.post, "/v1/portal-links/:linkId/revoke", requires: .portalLinksManage) { request, context, access in
            let id = try request.pathId("linkId", context, as: PortalLinkID.self)
            return try context.response(try await links.revoke(id, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/portal/sessions", public: { request, _ in
            let input = try await JSONBody.decode(OpenRequest.self, from: request, limit: configuration.maxRequestBodyBytes)
            guard let token = SecretToken(presented: input.token) else { throw Problem(.unauthenticated, "this portal link is not valid") }
            return try JSONBody.response(try await links.openSession(tenantId: input.tenantId, token: token, email: input.email), status: .created)
        })
        router.on(.get, "/v1/portal/context", portalLink: { _, _, link in
            try await database.confirmLive(link.scope)
            return try JSONBody.response(["linkId": link.linkId.rawValue, "scopeType": link.portalScope.kind.rawValue, "scopeId": link.portalScope.id])
        })
        router.on(.get, "/v1/portal/timeline/:scopeType/:scopeId", portalLink: { _, context, link in
            guard let kind = context.parameters.get("scopeType").flatMap(PortalScope.Kind.init(rawValue:)),
                  let id = context.parameters.get("scopeId")
            else { throw Problem(.notFound, "no such scope type (engagement, submission or programme_enrolment)") }
            let scope = PortalScope(kind: kind, id: id)
            let entries = try await links.timeline(of: scope, for: link)
            return try JSONBody.response(Timeline(scope: scope, items: entries.map(LedgerEntryView.init)))
        })
        router.on(.get, "/v1/portal/submissions", portalLink: { _, _, link in
            try JSONBody.response(try await submissions.list(for: link))
        })
        router.on(.get, "/v1/portal/submissions/:submissionId", portalLink: { request, context, link in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            return try JSONBody.response(try await submissions.glassBox(id, for: link), localizedFor: request)
        })
    }
}
