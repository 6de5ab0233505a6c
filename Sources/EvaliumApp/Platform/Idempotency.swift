import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `Idempotency-Key` handling (IETF httpapi idempotency-key draft) for every mutating request.
///
/// The middleware checks the key and fingerprints the request; the handler's unit of work claims the key
/// in its own transaction (see `IdempotentWrite`), so the effect, its ledger events and the stored response
/// commit together, with no round trips of their own before the work. A retry of a completed request gets
/// the stored response again (marked `Idempotent-Replayed: true`), a key reused for another request gets
/// 422, and a retry while the first is still running gets 409. A request that fails leaves nothing behind,
/// so a corrected retry can use its key.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let configuration: AppConfiguration

    /// TUS requests: the protocol's offsets already make a retried chunk safe, and a chunk is no JSON body to
    /// keep for replay.
    static func retriesByOffset(_ request: Request) -> Bool { request.headers[HTTPField.Name("Tus-Resumable")!] != nil }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard [.post, .put, .patch, .delete].contains(request.method), !Self.retriesByOffset(request),
              let header = request.headers[.idempotencyKey],
              let principal = context.principal
        else { return try await next(request, context) }
        guard let key = IdempotencyKey(header) else {
            throw Problem(.invalidIdempotencyKey, "Idempotency-Key must be 1–255 visible ASCII characters")
        }
        var request = request
        let body = try await JSONBody.collect(&request, limit: configuration.maxRequestBodyBytes)
        let fingerprint = RequestFingerprint(
            method: request.method.rawValue, path: request.uri.description, body: Array(buffer: body))
        let owner = principal.idempotencyOwner
        var context = context
        context.idempotency = IdempotentRequest(
            claim: IdempotencyClaim(tenantId: owner.tenantId, callerId: owner.callerId, key: key, fingerprint: fingerprint),
            retention: configuration.idempotencyRetention)
        do {
            return try await next(request, context)
        } catch let replay as IdempotentReplay {
            return Self.replay(replay.response)
        }
    }

    static func replay(_ stored: StoredResponse) -> Response {
        var headers: HTTPFields = [.idempotentReplayed: "true"]
        if let contentType = stored.contentType { headers[.contentType] = contentType }
        if let location = stored.location { headers[.location] = location }
        return Response(
            status: .init(code: stored.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: stored.body)))
    }
}

/// Thrown by a unit of work whose key an earlier request completed: the middleware answers with the
/// stored response instead, and the transaction rolls back having changed nothing.
struct IdempotentReplay: Error {
    let response: StoredResponse
}

/// Runs a unit of work in one scoped transaction. The one implementation used by HTTP handlers also
/// completes the request's idempotency claim in that same transaction; the CLI uses `Database` directly.
public protocol UnitOfWorkRunner: Sendable {
    func run<Output: Encodable & Sendable>(_ scope: Scope, _ work: (Transaction) async throws -> Output) async throws -> Output
}

extension Database: UnitOfWorkRunner {
    public func run<Output: Encodable & Sendable>(
        _ scope: Scope, _ work: (Transaction) async throws -> Output
    ) async throws -> Output {
        try await transaction(scope, work)
    }
}

/// A unit of work's output that decides its own response status (201 when it created something, 200
/// when it found it already made), so a replay answers exactly as the first request did.
protocol DecidesResponseStatus {
    var responseStatus: HTTPResponse.Status { get }
}

/// The unit-of-work runner of one HTTP request: the claim of its `Idempotency-Key`, the durable write, its
/// ledger events and the stored idempotent response commit together or not at all.
struct IdempotentWrite: UnitOfWorkRunner {
    let database: Database
    let request: IdempotentRequest?
    let status: HTTPResponse.Status

    func run<Output: Encodable & Sendable>(
        _ scope: Scope, _ work: (Transaction) async throws -> Output
    ) async throws -> Output {
        try await database.transaction(scope) { transaction in
            guard let request else { return try await work(transaction) }
            if case .existing(let record) = try await transaction.claimIdempotencyKey(request.claim) {
                switch IdempotencyDecision.decide(existing: record, fingerprint: request.claim.fingerprint) {
                case .replay(let stored): throw IdempotentReplay(response: stored)
                case let refusal: throw refusal.problem ?? Problem(.internalError, "unreachable idempotency state")
                }
            }
            let output = try await work(transaction)
            let body = try JSONBody.wireBytes(output)
            try await transaction.completeIdempotencyClaim(
                request.claim,
                response: StoredResponse(
                    status: ((output as? any DecidesResponseStatus)?.responseStatus ?? status).code, contentType: "application/json",
                    location: nil, body: body),
                retention: request.retention)
            request.storedBody.keep(body)
            return output
        }
    }
}

extension AppRequestContext {
    /// The runner for this request's durable write, answered with `status`.
    func write(_ database: Database, status: HTTPResponse.Status) -> IdempotentWrite {
        IdempotentWrite(database: database, request: idempotency, status: status)
    }

    /// The answer to a write: `output`, which must be what the request's unit of work returned, as the
    /// bytes its idempotency key stored (encoded once), or encoded now when the request has no key.
    func response(_ output: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let body = idempotency?.storedBody.body else { return try JSONBody.response(output, status: status) }
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
