import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `Idempotency-Key` handling (IETF httpapi idempotency-key draft) for every mutating request.
///
/// Before the handler runs, the key is claimed in a short transaction of its own. A retry of a completed
/// request gets the stored response again (marked `Idempotent-Replayed: true`), a key reused for another
/// request gets 422, and a retry while the first is still running gets 409. The handler's unit of work
/// completes the claim in its own transaction (see `IdempotentWrite`); a failed request releases it.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let database: Database
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
        let outcome = try await database.transaction(Scope(tenantId: owner.tenantId)) { transaction in
            try await transaction.claimIdempotencyKey(
                callerId: owner.callerId, key: key, fingerprint: fingerprint, lease: configuration.idempotencyLease,
                retention: configuration.idempotencyRetention)
        }
        switch outcome {
        case .existing(let record):
            let decision = IdempotencyDecision.decide(existing: record, fingerprint: fingerprint)
            if let problem = decision.problem { throw problem }
            guard case .replay(let stored) = decision else { throw Problem(.internalError, "unreachable idempotency state") }
            return Self.replay(stored)
        case .claimed(let claim):
            let holder = IdempotencyClaimHolder(claim: claim)
            var context = context
            context.idempotency = holder
            do {
                let response = try await next(request, context)
                if !holder.completed { try await release(claim) }
                return response
            } catch {
                try? await release(claim)
                throw error
            }
        }
    }

    private func release(_ claim: IdempotencyClaim) async throws {
        try await database.transaction(Scope(tenantId: claim.tenantId)) { transaction in
            try await transaction.releaseIdempotencyClaim(claim)
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

/// The unit-of-work runner of one HTTP request: the durable write, its ledger events and the stored
/// idempotent response commit together or not at all.
struct IdempotentWrite: UnitOfWorkRunner {
    let database: Database
    let holder: IdempotencyClaimHolder?
    let status: HTTPResponse.Status

    func run<Output: Encodable & Sendable>(
        _ scope: Scope, _ work: (Transaction) async throws -> Output
    ) async throws -> Output {
        let output = try await database.transaction(scope) { transaction in
            let output = try await work(transaction)
            if let holder {
                let body = try WireJSON.makeEncoder().encode(output)
                try await transaction.completeIdempotencyClaim(
                    holder.claim,
                    response: StoredResponse(
                        status: ((output as? any DecidesResponseStatus)?.responseStatus ?? status).code, contentType: "application/json",
                        location: nil, body: Array(body)))
            }
            return output
        }
        holder?.completed = true
        return output
    }
}

extension AppRequestContext {
    /// The runner for this request's durable write, answered with `status`.
    func write(_ database: Database, status: HTTPResponse.Status) -> IdempotentWrite {
        IdempotentWrite(database: database, holder: idempotency, status: status)
    }
}
