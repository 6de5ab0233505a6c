import EvaliumCore
import HTTPTypes
import Hummingbird

/// Route registration that states, on the line that registers a route, what the caller must be or
/// hold. A handler never runs for a caller that does not qualify.
extension Router where Context == AppRequestContext {
    /// A route for a signed-in person who holds `capability` somewhere; anyone else gets 401 or 403.
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, requires capability: Capability,
        use handler: @escaping @Sendable (Request, Context, CapabilityAccess) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in
            let user = try context.requireUser()
            let access = CapabilityAccess(user: user, capability: capability, scope: try user.scope(for: capability))
            return try await handler(request, context, access)
        }
    }

    /// A route for any signed-in person, acting on their own records.
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, signedIn handler: @escaping @Sendable (Request, Context, UserPrincipal) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in try await handler(request, context, try context.requireUser()) }
    }

    /// A route for the platform operator only.
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, platformOperator handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in
            guard let principal = context.principal else {
                throw Problem(.unauthenticated, "this endpoint needs the platform operator's bearer token")
            }
            guard case .platformOperator = principal else {
                throw Problem(.forbidden, "only the platform operator may call this endpoint")
            }
            return try await handler(request, context)
        }
    }

    /// A route for a client-portal link principal only.
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, portalLink handler: @escaping @Sendable (Request, Context, LinkPrincipal) async throws -> Response
    ) -> Self {
        on(path, method: method) { request, context in
            guard case .portalLink(let link) = context.principal else {
                throw context.principal == nil
                    ? Problem(.unauthenticated, "this endpoint needs a portal token (POST /v1/portal/sessions)")
                    : Problem(.forbidden, "only a client-portal link may call this endpoint")
            }
            return try await handler(request, context, link)
        }
    }

    /// A route anyone may call (sign-in itself, health).
    @discardableResult
    func on(
        _ method: HTTPRequest.Method, _ path: RouterPath, public handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> Self {
        on(path, method: method, use: handler)
    }
}

extension AppRequestContext {
    /// The signed-in person, or 401 (nobody) / 403 (a principal that is not a person).
    func requireUser() throws -> UserPrincipal {
        switch principal {
        case .user(let user): return user
        case nil: throw Problem(.unauthenticated, "sign in first: send `Authorization: Bearer <access token>`")
        case .platformOperator, .portalLink: throw Problem(.forbidden, "only a signed-in person of a tenant may call this endpoint")
        }
    }
}
