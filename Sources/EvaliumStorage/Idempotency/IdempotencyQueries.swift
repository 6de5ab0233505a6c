import EvaliumCore
import Foundation
import NIOCore
import PostgresNIO

/// The outcome of claiming an idempotency key.
public enum IdempotencyClaimOutcome: Sendable, Equatable {
    /// This request is the first with the key (or the earlier one's record expired): it goes ahead.
    case claimed
    /// An earlier request completed under the key, or one is in flight with it right now.
    case existing(IdempotencyRecord)
}

extension Transaction {
    /// Claims the key for this transaction, the request's own unit of work, so that its effect and its
    /// stored response commit together. The key's advisory lock, held until this transaction ends, is what
    /// "in flight" means: another request with the key meets the lock and is told so at once, and a request
    /// that dies (its transaction rolled back) leaves nothing behind. Answers what an earlier request
    /// completed under the key, unless it expired.
    public func claimIdempotencyKey(_ claim: IdempotencyClaim) async throws -> IdempotencyClaimOutcome {
        try await withTenantScope(claim.tenantId) {
            let lockKey = "evalium.idempotency:\(claim.tenantId.rawValue):\(claim.callerId):\(claim.key.value)"
            let rows = try await run(
                """
                SELECT pg_try_advisory_xact_lock(hashtextextended(\(lockKey), 0)), k.fingerprint, k.response_status,
                       k.response_content_type, k.response_location, k.response_body
                FROM (SELECT 1) AS one
                LEFT JOIN idempotency_keys k
                       ON k.tenant_id = \(claim.tenantId.rawValue) AND k.caller_id = \(claim.callerId)
                      AND k.idempotency_key = \(claim.key.value) AND k.status = 'completed' AND k.expires_at > now()
                """, plannedAs: ClaimIdempotencyKey.self)
            for try await row in rows {
                let (locked, fingerprint, status, contentType, location, body) = try row.decode(
                    (Bool, ByteBuffer?, Int?, String?, String?, ByteBuffer?).self)
                guard locked else { return .existing(IdempotencyRecord(fingerprint: claim.fingerprint, state: .inFlight)) }
                guard let fingerprint, let status else { return .claimed }
                let response = StoredResponse(
                    status: status, contentType: contentType, location: location, body: body.map { Array(buffer: $0) } ?? [])
                return .existing(IdempotencyRecord(fingerprint: RequestFingerprint(bytes: Array(buffer: fingerprint)), state: .completed(response)))
            }
            return .claimed
        }
    }

    /// Stores the response of the key this transaction claimed, to be replayed for `retention`.
    public func completeIdempotencyClaim(_ claim: IdempotencyClaim, response: StoredResponse, retention: Duration) async throws {
        let now = ServerClock.now()
        _ = try await withTenantScope(claim.tenantId) {
            try await run(
                """
                INSERT INTO idempotency_keys (tenant_id, caller_id, idempotency_key, fingerprint, claim_token, status, locked_until,
                                              expires_at, response_status, response_content_type, response_location, response_body,
                                              created_at)
                VALUES (\(claim.tenantId.rawValue), \(claim.callerId), \(claim.key.value), \(ByteBuffer(bytes: claim.fingerprint.bytes)),
                        '', 'completed', \(MillisecondTimestamp(now)), \(MillisecondTimestamp(now.addingTimeInterval(retention.seconds))),
                        \(response.status), \(nullable: response.contentType), \(nullable: response.location), \(ByteBuffer(bytes: response.body)),
                        \(MillisecondTimestamp(now)))
                ON CONFLICT (tenant_id, caller_id, idempotency_key) DO UPDATE
                    SET fingerprint = excluded.fingerprint, claim_token = excluded.claim_token, status = excluded.status,
                        locked_until = excluded.locked_until, expires_at = excluded.expires_at,
                        response_status = excluded.response_status, response_content_type = excluded.response_content_type,
                        response_location = excluded.response_location, response_body = excluded.response_body,
                        created_at = excluded.created_at
                """, plannedAs: CompleteIdempotencyClaim.self)
        }
    }

    /// Removes expired keys of every tenant; returns how many.
    public func purgeExpiredIdempotencyKeys() async throws -> Int {
        let rows = try await run("SELECT purge_expired_idempotency_keys()::int")
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Runs `body` with the tenant scope switched to `tenantId`, then restores this transaction's scope.
    /// Used only where a request writes records of two tenants (a platform call creating a tenant).
    private func withTenantScope<Result>(_ tenantId: TenantID, _ body: () async throws -> Result) async throws -> Result {
        guard tenantId != scope.tenantId else { return try await body() }
        try await applyScope(Scope(tenantId: tenantId, orgUnitIds: scope.orgUnitIds, orgScopeAll: scope.orgScopeAll))
        let result = try await body()
        try await applyScope(scope)
        return result
    }
}

private enum ClaimIdempotencyKey: PlannedStatement {}
private enum CompleteIdempotencyClaim: PlannedStatement {}
