import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Turns every error that leaves a handler into an RFC 9457 `application/problem+json` response that
/// carries the request id. Unknown errors become a generic 500 whose details go to the log, never to
/// the client.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Self.problem(for: error)
            if problem.kind == .internalError || problem.kind == .serviceUnavailable {
                context.logger.error(
                    "request failed", metadata: ["error": "\(String(reflecting: error))", "request_id": "\(context.requestId)"])
            }
            return Self.response(problem, requestId: context.requestId, instance: request.uri.path)
        }
    }

    static func response(_ problem: Problem, requestId: String, instance: String) -> Response {
        var document: [String: JSONValue] = [
            "type": .string(problem.kind.typeURI),
            "title": .string(problem.kind.title),
            "status": .number(Double(problem.kind.status)),
            "detail": .string(problem.detail),
            "instance": .string(instance),
            "requestId": .string(requestId),
        ]
        if !problem.errors.isEmpty {
            document["errors"] = .array(problem.errors.map { ["pointer": .string($0.pointer), "detail": .string($0.detail)] })
        }
        let body = (try? CanonicalJSON.bytes(.object(document))) ?? []
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter = problem.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
        if problem.kind.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        return Response(
            status: .init(code: problem.kind.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as StorageError:
            return problem(for: error)
        case let error as HTTPError:
            return problem(for: error)
        case let error as MigrationError:
            return Problem(.serviceUnavailable, error.description)
        case EvidenceStoreError.unavailable(let detail):
            return Problem(.serviceUnavailable, "the evidence store is not available: \(detail); try again")
        default:
            return Problem(.internalError, "the server could not complete the request; quote the request id when reporting it")
        }
    }

    private static func problem(for error: StorageError) -> Problem {
        switch error {
        case .uniqueViolation:
            Problem(.conflict, "a resource with the same identity already exists")
        case .foreignKeyViolation:
            Problem(.validationFailed, "the request refers to something that does not exist in this tenant")
        case .invalidValue(let detail):
            Problem(.validationFailed, "the database refused a value: \(detail)")
        case .permissionDenied:
            Problem(.forbidden, "the request reaches outside the caller's tenant or org-unit scope")
        case .guardRejected(let detail):
            Problem(.conflict, detail)
        case .serializationFailure:
            Problem(.conflict, "the request conflicted with a concurrent change; retry it")
        case .sessionEnded:
            Problem(.unauthenticated, "the session has ended (signed out, revoked, expired or suspended); sign in again")
        case .accessOutOfDate:
            Problem(.accessTokenRefreshRequired, "your access changed since this token was issued; refresh the token and retry")
        case .unavailable:
            Problem(.serviceUnavailable, "the database is not reachable right now")
        case .unexpected:
            Problem(.internalError, "the server could not complete the request; quote the request id when reporting it")
        }
    }

    private static func problem(for error: HTTPError) -> Problem {
        let detail = error.body ?? error.status.reasonPhrase
        switch error.status.code {
        case 404: return Problem(.notFound, "no such resource: \(detail == "Not Found" ? "check the path" : detail)")
        case 405: return Problem(.methodNotAllowed, detail)
        case 413: return Problem(.payloadTooLarge, detail)
        case 415: return Problem(.unsupportedMediaType, detail)
        case 400..<500: return Problem(.malformedRequest, detail)
        default: return Problem(.internalError, "the server could not complete the request")
        }
    }
}

extension Problem: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: kind.status) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        ProblemMiddleware.response(self, requestId: context.id, instance: request.uri.path)
    }
}
