import EvaliumCore
import Foundation
import NIOCore
import PostgresNIO

/// The outcome of trying to claim an idempotency key.
public enum IdempotencyClaimOutcome: Sendable, Equatable {
    case claimed(IdempotencyClaim)
    case existing(IdempotencyRecord)
}

extension Transaction {
    /// Claims `key` for the caller, or returns what an earlier request left. A key whose record has
    /// expired, or whose in-flight lease ran out (its request never committed), is taken over.
    public func claimIdempotencyKey(
        callerId: String, key: IdempotencyKey, fingerprint: RequestFingerprint, lease: Duration, retention: Duration
    ) async throws -> IdempotencyClaimOutcome {
        let tenantId = try requireTenant()
        let token = ULID().text
        let now = ServerClock.now()
        let claimed = try await run(
            """
            INSERT INTO idempotency_keys (tenant_id, caller_id, idempotency_key, fingerprint, claim_token, status,
                                          locked_until, expires_at, created_at)
            VALUES (\(tenantId.rawValue), \(callerId), \(key.value), \(ByteBuffer(bytes: fingerprint.bytes)), \(token),
                    'in_flight', \(MillisecondTimestamp(now.addingTimeInterval(lease.seconds))),
                    \(MillisecondTimestamp(now.addingTimeInterval(retention.seconds))), \(MillisecondTimestamp(now)))
            ON CONFLICT (tenant_id, caller_id, idempotency_key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, claim_token = EXCLUDED.claim_token, status = 'in_flight',
                    locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at,
                    created_at = EXCLUDED.created_at, response_status = NULL, response_content_type = NULL,
                    response_location = NULL, response_body = NULL
                WHERE idempotency_keys.expires_at <= \(MillisecondTimestamp(now))
                   OR (idempotency_keys.status = 'in_flight' AND idempotency_keys.locked_until <= \(MillisecondTimestamp(now)))
            RETURNING claim_token
            """)
        for try await claimedToken in claimed.decode(String.self) where claimedToken == token {
            return .claimed(IdempotencyClaim(tenantId: tenantId, callerId: callerId, key: key, token: token))
        }
        let existing = try await run(
            """
            SELECT fingerprint, status, response_status, response_content_type, response_location, response_body
            FROM idempotency_keys
            WHERE tenant_id = \(tenantId.rawValue) AND caller_id = \(callerId) AND idempotency_key = \(key.value)
            """)
        for try await (storedFingerprint, status, responseStatus, contentType, location, body) in existing.decode(
            (ByteBuffer, String, Int?, String?, String?, ByteBuffer?).self)
        {
            let fingerprint = RequestFingerprint(bytes: Array(buffer: storedFingerprint))
            if status == "completed", let responseStatus {
                let response = StoredResponse(
                    status: responseStatus, contentType: contentType, location: location,
                    body: body.map { Array(buffer: $0) } ?? [])
                return .existing(IdempotencyRecord(fingerprint: fingerprint, state: .completed(response)))
            }
            return .existing(IdempotencyRecord(fingerprint: fingerprint, state: .inFlight))
        }
        // The competing claim was released between our two statements: report it as in flight so the
        // client retries, rather than guessing.
        return .existing(IdempotencyRecord(fingerprint: fingerprint, state: .inFlight))
    }

    /// Stores the response of a claimed key in this (the request's own) transaction, so the effect and
    /// its replayable response commit together. Fails if the claim was lost (its lease ran out and another
    /// request took the key over): the caller's writes then roll back rather than happen twice.
    public func completeIdempotencyClaim(_ claim: IdempotencyClaim, response: StoredResponse) async throws {
        try await withTenantScope(claim.tenantId) {
            let updated = try await run(
                """
                UPDATE idempotency_keys
                SET status = 'completed', response_status = \(response.status),
                    response_content_type = \(response.contentType), response_location = \(response.location),
                    response_body = \(ByteBuffer(bytes: response.body))
                WHERE tenant_id = \(claim.tenantId.rawValue) AND caller_id = \(claim.callerId)
                  AND idempotency_key = \(claim.key.value) AND claim_token = \(claim.token) AND status = 'in_flight'
                RETURNING 1
                """)
            var stillOwned = false
            for try await _ in updated { stillOwned = true }
            guard stillOwned else { throw StorageError.idempotencyClaimLost }
        }
    }

    /// Gives a claimed key back after its request failed, so a corrected retry can use it.
    public func releaseIdempotencyClaim(_ claim: IdempotencyClaim) async throws {
        try await run(
            """
            DELETE FROM idempotency_keys
            WHERE tenant_id = \(claim.tenantId.rawValue) AND caller_id = \(claim.callerId)
              AND idempotency_key = \(claim.key.value) AND claim_token = \(claim.token) AND status = 'in_flight'
            """)
    }

    /// Removes expired keys of every tenant; returns how many.
    public func purgeExpiredIdempotencyKeys() async throws -> Int {
        let rows = try await run("SELECT purge_expired_idempotency_keys()::int")
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Runs `body` with the tenant scope switched to `tenantId`, then restores this transaction's scope.
    /// Used only where a request writes records of two tenants (a platform call creating a tenant).
    private func withTenantScope(_ tenantId: TenantID, _ body: () async throws -> Void) async throws {
        guard tenantId != scope.tenantId else { return try await body() }
        try await applyScope(Scope(tenantId: tenantId, orgUnitIds: scope.orgUnitIds, orgScopeAll: scope.orgScopeAll))
        try await body()
        try await applyScope(scope)
    }
}
