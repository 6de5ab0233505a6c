import Crypto
import EvaliumCore
import Foundation
import HTTPTypes
import Hummingbird

/// Establishes the principal from `Authorization: Bearer …`. No header: anonymous (routes decide).
/// A header that does not verify: 401, so a mistyped token is never silently anonymous.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let platformTokenHash: [UInt8]?

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let authorization = request.headers[.authorization] else { return try await next(request, context) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem(.unauthenticated, "use `Authorization: Bearer <token>`")
        }
        guard let platformTokenHash, Self.constantTimeEqual(AppConfiguration.hashToken(String(parts[1])), platformTokenHash) else {
            throw Problem(.unauthenticated, "the bearer token is not valid")
        }
        var context = context
        context.principal = .platformOperator
        return try await next(request, context)
    }

    static func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
