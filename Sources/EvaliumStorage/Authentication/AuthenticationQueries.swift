import EvaliumCore
import Foundation
import NIOCore
import PostgresNIO

extension Transaction {
    // MARK: Magic links

    public func insertMagicLink(
        tokenHash: [UInt8], user: User, createdAt: Date, expiresAt: Date
    ) async throws {
        try await run(
            """
            INSERT INTO magic_links (token_hash, tenant_id, org_unit_id, user_id, created_at, expires_at)
            VALUES (\(ByteBuffer(bytes: tokenHash)), \(user.tenantId.rawValue), \(user.homeOrgUnitId.rawValue),
                    \(user.id.rawValue), \(MillisecondTimestamp(createdAt)), \(MillisecondTimestamp(expiresAt)))
            """)
    }

    /// Marks the link used and returns its person, or nil if it is unknown, used or expired. One
    /// conditional UPDATE: of two concurrent consumers, the second finds `consumed_at` already set.
    public func consumeMagicLink(tokenHash: [UInt8], at date: Date) async throws -> UserID? {
        let rows = try await run(
            """
            UPDATE magic_links SET consumed_at = \(MillisecondTimestamp(date))
            WHERE token_hash = \(ByteBuffer(bytes: tokenHash)) AND consumed_at IS NULL AND expires_at > \(MillisecondTimestamp(date))
            RETURNING user_id
            """)
        for try await user in rows.decode(String.self) { return UserID(unchecked: user) }
        return nil
    }

    /// How many links were sent to this person since `date`: the per-person rate limit, shared by every
    /// server instance.
    public func countMagicLinks(for user: UserID, since date: Date) async throws -> Int {
        let rows = try await run(
            "SELECT count(*)::int FROM magic_links WHERE user_id = \(user.rawValue) AND created_at > \(MillisecondTimestamp(date))")
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    // MARK: Sessions and refresh tokens

    public func insertSession(_ session: AuthSession) async throws {
        try await run(
            """
            INSERT INTO auth_sessions (id, tenant_id, org_unit_id, user_id, auth_methods, authenticated_at, expires_at)
            VALUES (\(session.id.rawValue), \(session.tenantId.rawValue), \(session.homeOrgUnitId.rawValue),
                    \(session.userId.rawValue), \(session.methods.map(\.rawValue)), \(MillisecondTimestamp(session.authenticatedAt)),
                    \(MillisecondTimestamp(session.expiresAt)))
            """)
    }

    public func fetchSession(_ id: SessionID) async throws -> AuthSession? {
        let rows = try await run(
            """
            SELECT id, tenant_id, user_id, org_unit_id, auth_methods, authenticated_at, expires_at, revoked_at
            FROM auth_sessions WHERE id = \(id.rawValue)
            """)
        for try await (id, tenant, user, orgUnit, methods, authenticatedAt, expiresAt, revokedAt) in rows.decode(
            (String, String, String, String, [String], Date, Date, Date?).self)
        {
            return AuthSession(
                id: SessionID(unchecked: id), tenantId: TenantID(unchecked: tenant), userId: UserID(unchecked: user),
                homeOrgUnitId: OrgUnitID(unchecked: orgUnit), methods: methods.compactMap(AuthenticationMethod.init(rawValue:)),
                authenticatedAt: authenticatedAt.roundedToMilliseconds(), expiresAt: expiresAt.roundedToMilliseconds(),
                revokedAt: revokedAt?.roundedToMilliseconds())
        }
        return nil
    }

    /// Revokes one session; false if it was already revoked or is not visible.
    @discardableResult
    public func revokeSession(_ id: SessionID, reason: String, at date: Date) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE auth_sessions SET revoked_at = \(MillisecondTimestamp(date)), revoke_reason = \(reason)
            WHERE id = \(id.rawValue) AND revoked_at IS NULL RETURNING id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    /// Revokes every live session of a person (suspension); returns how many.
    public func revokeSessions(of user: UserID, reason: String, at date: Date) async throws -> Int {
        let rows = try await run(
            """
            UPDATE auth_sessions SET revoked_at = \(MillisecondTimestamp(date)), revoke_reason = \(reason)
            WHERE user_id = \(user.rawValue) AND revoked_at IS NULL RETURNING id
            """)
        var count = 0
        for try await _ in rows.decode(String.self) { count += 1 }
        return count
    }

    public func insertRefreshToken(
        tokenHash: [UInt8], session: AuthSession, issuedAt: Date, expiresAt: Date
    ) async throws {
        try await run(
            """
            INSERT INTO refresh_tokens (token_hash, tenant_id, org_unit_id, session_id, issued_at, expires_at)
            VALUES (\(ByteBuffer(bytes: tokenHash)), \(session.tenantId.rawValue), \(session.homeOrgUnitId.rawValue),
                    \(session.id.rawValue), \(MillisecondTimestamp(issuedAt)), \(MillisecondTimestamp(expiresAt)))
            """)
    }

    /// Uses a refresh token once. A token that was already used is evidence of a copy (RFC 9700 §4.14.2).
    public func useRefreshToken(tokenHash: [UInt8], at date: Date) async throws -> RefreshTokenUse {
        let hash = ByteBuffer(bytes: tokenHash)
        let fresh = try await run(
            """
            UPDATE refresh_tokens SET used_at = \(MillisecondTimestamp(date))
            WHERE token_hash = \(hash) AND used_at IS NULL AND expires_at > \(MillisecondTimestamp(date))
            RETURNING session_id
            """)
        for try await session in fresh.decode(String.self) { return .rotated(SessionID(unchecked: session)) }
        let earlier = try await run("SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = \(hash)")
        for try await (session, usedAt) in earlier.decode((String, Date?).self) where usedAt != nil {
            return .reused(SessionID(unchecked: session))
        }
        return .invalid
    }

    // MARK: TOTP authenticators

    /// Starts (or restarts) enrolment with a new sealed secret; an active authenticator is left alone.
    public func beginTOTPEnrolment(user: User, sealedSecret: [UInt8], at date: Date) async throws -> Bool {
        let rows = try await run(
            """
            INSERT INTO totp_authenticators (user_id, tenant_id, org_unit_id, sealed_secret, status, created_at)
            VALUES (\(user.id.rawValue), \(user.tenantId.rawValue), \(user.homeOrgUnitId.rawValue),
                    \(ByteBuffer(bytes: sealedSecret)), 'pending', \(MillisecondTimestamp(date)))
            ON CONFLICT (user_id) DO UPDATE SET sealed_secret = EXCLUDED.sealed_secret, created_at = EXCLUDED.created_at,
                                                last_used_step = NULL
            WHERE totp_authenticators.status = 'pending'
            RETURNING user_id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func fetchTOTPAuthenticator(_ user: UserID) async throws -> TOTPAuthenticatorRecord? {
        let rows = try await run(
            "SELECT sealed_secret, status, last_used_step FROM totp_authenticators WHERE user_id = \(user.rawValue)")
        for try await (secret, status, lastUsedStep) in rows.decode((ByteBuffer, String, Int64?).self) {
            return TOTPAuthenticatorRecord(
                userId: user, sealedSecret: Array(buffer: secret), status: .init(rawValue: status) ?? .pending,
                lastUsedStep: lastUsedStep)
        }
        return nil
    }

    /// Records that the code of `step` was used, activating a pending authenticator. False if that step
    /// (or a later one) was already used: a concurrent replay loses here even if both codes checked out.
    public func recordTOTPStep(_ user: UserID, step: Int64, at date: Date) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE totp_authenticators
            SET last_used_step = \(step), status = 'active', confirmed_at = coalesce(confirmed_at, \(MillisecondTimestamp(date)))
            WHERE user_id = \(user.rawValue) AND (last_used_step IS NULL OR last_used_step < \(step))
            RETURNING user_id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func deleteTOTPAuthenticator(_ user: UserID) async throws -> Bool {
        for try await _ in try await run("DELETE FROM totp_authenticators WHERE user_id = \(user.rawValue) RETURNING user_id")
            .decode(String.self)
        {
            return true
        }
        return false
    }

    // MARK: Portal links

    static let portalLinkColumns = """
        id, tenant_id, org_unit_id, scope_type, scope_id, recipient_email, label, created_at, created_by, expires_at,
        revoked_at, last_used_at, use_count
        """

    public func insertPortalLink(_ link: PortalLink, tokenHash: [UInt8]) async throws {
        try await run(
            """
            INSERT INTO portal_links (id, tenant_id, org_unit_id, scope_type, scope_id, recipient_email, label, token_hash,
                                      created_at, created_by, expires_at)
            VALUES (\(link.id.rawValue), \(link.tenantId.rawValue), \(link.orgUnitId.rawValue), \(link.scope.kind.rawValue),
                    \(link.scope.id), \(link.recipientEmail?.normalized), \(link.label), \(ByteBuffer(bytes: tokenHash)),
                    \(MillisecondTimestamp(link.createdAt)), \(link.createdBy), \(MillisecondTimestamp(link.expiresAt)))
            """)
    }

    public func fetchPortalLink(_ id: PortalLinkID) async throws -> PortalLink? {
        try await portalLinks("SELECT \(unescaped: Self.portalLinkColumns) FROM portal_links WHERE id = \(id.rawValue)").first
    }

    public func fetchPortalLink(tokenHash: [UInt8]) async throws -> PortalLink? {
        try await portalLinks(
            "SELECT \(unescaped: Self.portalLinkColumns) FROM portal_links WHERE token_hash = \(ByteBuffer(bytes: tokenHash))"
        ).first
    }

    /// Links visible in the scope, newest first, optionally for one scope.
    public func listPortalLinks(scope: PortalScope?, limit: Int) async throws -> [PortalLink] {
        try await portalLinks(
            """
            SELECT \(unescaped: Self.portalLinkColumns) FROM portal_links
            WHERE (\(scope?.kind.rawValue)::text IS NULL OR (scope_type = \(scope?.kind.rawValue) AND scope_id = \(scope?.id)))
            ORDER BY id DESC LIMIT \(limit)
            """)
    }

    public func revokePortalLink(_ id: PortalLinkID, by actor: String, at date: Date) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE portal_links SET revoked_at = \(MillisecondTimestamp(date)), revoked_by = \(actor)
            WHERE id = \(id.rawValue) AND revoked_at IS NULL RETURNING id
            """)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func notePortalLinkUse(_ id: PortalLinkID, at date: Date) async throws {
        try await run(
            "UPDATE portal_links SET last_used_at = \(MillisecondTimestamp(date)), use_count = use_count + 1 WHERE id = \(id.rawValue)")
    }

    private func portalLinks(_ query: PostgresQuery) async throws -> [PortalLink] {
        var links: [PortalLink] = []
        for try await (id, tenant, orgUnit, scopeType, scopeId, recipient, label, createdAt, createdBy, expiresAt, revokedAt,
                       lastUsedAt, useCount) in try await run(query).decode(
            (String, String, String, String, String, String?, String?, Date, String, Date, Date?, Date?, Int).self)
        {
            links.append(
                PortalLink(
                    id: PortalLinkID(unchecked: id), tenantId: TenantID(unchecked: tenant), orgUnitId: OrgUnitID(unchecked: orgUnit),
                    scope: PortalScope(kind: PortalScope.Kind(rawValue: scopeType) ?? .submission, id: scopeId),
                    recipientEmail: recipient.map(EmailAddress.init(stored:)), label: label,
                    createdAt: createdAt.roundedToMilliseconds(), createdBy: createdBy, expiresAt: expiresAt.roundedToMilliseconds(),
                    revokedAt: revokedAt?.roundedToMilliseconds(), lastUsedAt: lastUsedAt?.roundedToMilliseconds(), useCount: useCount))
        }
        return links
    }
}
