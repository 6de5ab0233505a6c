import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird

/// Sign-in, tokens, sign-out, TOTP enrolment and step-up (`/v1/auth/…`).
struct AuthRoutes {
    let signIn: SignInService
    let stepUp: StepUpService
    let tokens: TokenIssuer
    let limiter: RateLimiter
    let configuration: AppConfiguration

    struct MagicLinkRequest: Decodable { var tenantId: TenantID; var email: String }
    struct TokenExchange: Decodable { var tenantId: TenantID; var token: String }
    struct RefreshRequest: Decodable { var tenantId: TenantID; var refreshToken: String }
    struct SignOutRequest: Decodable { var everywhere: Bool? }
    struct CodeRequest: Decodable { var code: String }
    struct Accepted: Encodable { var status = "accepted"; var detail: String }
    struct SignedOut: Encodable { var sessionsEnded: Int }

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/auth/magic-links", public: requestMagicLink)
        router.on(.post, "/v1/auth/magic-links/consume", public: { request, _ in
            let input = try await decode(TokenExchange.self, request)
            return try JSONBody.response(try await signIn.consumeMagicLink(tenantId: input.tenantId, token: try secret(input.token, "sign-in link")))
        })
        router.on(.post, "/v1/auth/tokens/refresh", public: { request, _ in
            let input = try await decode(RefreshRequest.self, request)
            return try JSONBody.response(try await signIn.refresh(tenantId: input.tenantId, token: try secret(input.refreshToken, "refresh token")))
        })
        router.on(.post, "/v1/auth/logout", signedIn: { request, _, user in
            let input = try await decodeOptional(SignOutRequest.self, request)
            return try JSONBody.response(SignedOut(sessionsEnded: try await signIn.signOut(user, everywhere: input?.everywhere ?? false)))
        })
        router.on(.post, "/v1/auth/totp", signedIn: { _, _, user in
            try JSONBody.response(try await stepUp.beginEnrolment(user), status: .created)
        })
        router.on(.post, "/v1/auth/totp/confirm", signedIn: { request, _, user in
            try await stepUp.confirmEnrolment(user, code: try await decode(CodeRequest.self, request).code)
            return try JSONBody.response(["status": "active"])
        })
        router.on(.delete, "/v1/auth/totp", signedIn: { request, _, user in
            try await StepUp.require(user, request: request, tokens: tokens)
            try await stepUp.removeAuthenticator(user)
            return Response(status: .noContent)
        })
        router.on(.post, "/v1/auth/step-up", signedIn: { request, _, user in
            try JSONBody.response(try await stepUp.stepUp(user, code: try await decode(CodeRequest.self, request).code), status: .created)
        })
    }

    /// Always the same 202 for a well-formed request, whether or not the address has an account.
    @Sendable func requestMagicLink(_ request: Request, context: AppRequestContext) async throws -> Response {
        let input = try await decode(MagicLinkRequest.self, request)
        let email = try EmailAddress.validate(input.email, pointer: "/email").asProblem()
        let clientAddress = context.clientAddress ?? "unknown"
        try limiter.admit("address:\(clientAddress)", under: configuration.auth.magicLinksPerClientAddress, what: "sign-in requests from your address")
        try limiter.admit("email:\(input.tenantId):\(email)", under: configuration.auth.magicLinksPerEmail, what: "sign-in requests for this address")
        try await signIn.requestMagicLink(tenantId: input.tenantId, email: email)
        return try JSONBody.response(
            Accepted(detail: "if this address belongs to an active account, a sign-in link is on its way"), status: .accepted)
    }

    private func decode<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decode(type, from: request, limit: configuration.maxRequestBodyBytes)
    }

    /// A body that may be absent altogether (`POST /v1/auth/logout` with no body).
    private func decodeOptional<Body: Decodable>(_ type: Body.Type, _ request: Request) async throws -> Body? {
        guard request.headers[.contentType] != nil else { return nil }
        return try await decode(type, request)
    }

    private func secret(_ text: String, _ what: String) throws -> SecretToken {
        guard let token = SecretToken(presented: text) else {
            throw Problem(.unauthenticated, "this \(what) is not valid")
        }
        return token
    }
}

extension AppRequestContext {
    /// The peer's IP address (without port), for per-address limits.
    var clientAddress: String? { remoteAddress?.ipAddress }
}
