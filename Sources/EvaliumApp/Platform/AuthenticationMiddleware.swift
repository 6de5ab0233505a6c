import EvaliumCore
import Foundation
import HTTPTypes
import Hummingbird

/// Establishes the principal from `Authorization: Bearer …`: the platform operator's token, a person's
/// access token, or a portal token. No header: anonymous (routes decide). A credential that does not
/// verify is a 401, so a mistyped or forged token is never silently anonymous.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let platformTokenHash: [UInt8]?
    let tokens: TokenIssuer
    let access: AccessResolver

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let authorization = request.headers[.authorization] else { return try await next(request, context) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem(.unauthenticated, "use `Authorization: Bearer <token>`")
        }
        var context = context
        context.principal = try await principal(for: String(parts[1]))
        if let tenantId = context.principal?.tenantId { context.noteTenant(tenantId) }
        return try await next(request, context)
    }

    private func principal(for token: String) async throws -> Principal {
        if let platformTokenHash, constantTimeEqual(AppConfiguration.hashToken(token), platformTokenHash) {
            return .platformOperator
        }
        let claims: TokenClaims
        do throws(TokenRejection) {
            claims = try await tokens.verify(token, use: .access, .portal)
        } catch {
            throw error.problem
        }
        switch claims.use {
        case .portal:
            guard let linkId = PortalLinkID(claims.sub), let portal = claims.portal, let orgUnit = claims.homeOrg else {
                throw Problem(.unauthenticated, "the portal token is incomplete")
            }
            return .portalLink(LinkPrincipal(tenantId: claims.tid, linkId: linkId, orgUnitId: orgUnit, portalScope: portal))
        case .stepUp:
            throw Problem(.unauthenticated, "a step-up proof is not an access token; send it in Evalium-Step-Up")
        case .access:
            guard let userId = UserID(claims.sub), let sessionId = claims.sid, let homeOrg = claims.homeOrg,
                  let authzVersion = claims.azv, let authTime = claims.authTime
            else { throw Problem(.unauthenticated, "the access token is incomplete") }
            let grants = claims.roles ?? []
            let session = SessionBinding.user(userId, sessionId, authzVersion: authzVersion)
            return .user(
                UserPrincipal(
                    tenantId: claims.tid, userId: userId, sessionId: sessionId, homeOrgUnitId: homeOrg, grants: grants,
                    authzVersion: authzVersion, authenticatedAt: Date(timeIntervalSince1970: TimeInterval(authTime)),
                    methods: claims.amr ?? [],
                    capabilities: try await access.capabilities(for: grants, tenantId: claims.tid, session: session)))
        }
    }
}
