import EvaliumCore
import EvaliumStorage
import Foundation

/// What a successful sign-in or refresh returns: a short-lived access token and the refresh token that
/// replaces the one presented (seed 001 §17.1, §19.4).
struct IssuedTokens: Codable, Sendable {
    struct SignedInUser: Codable, Sendable {
        var id: UserID
        var tenantId: TenantID
        var email: EmailAddress
        var displayName: String
    }

    var tokenType = "Bearer"
    var accessToken: String
    var expiresIn: Int
    var accessTokenExpiresAt: Date
    var refreshToken: String
    var refreshTokenExpiresAt: Date
    var sessionId: SessionID
    var user: SignedInUser
}

/// A sign-in link made for a person, for the mailer or (bootstrap only) the operator's console.
public struct SignInLink: Sendable, Equatable {
    public var url: String
    public var token: String
    public var expiresAt: Date
}

/// Makes magic links inside a caller's unit of work: sign-in requests, and the first link of a new
/// tenant's administrator. Records that a link was issued, never the token.
public struct MagicLinkIssuer: Sendable {
    let settings: AuthSettings

    public init(settings: AuthSettings) { self.settings = settings }

    public func issue(for user: User, actor: LedgerActor, in transaction: Transaction, now: Date) async throws -> SignInLink {
        let token = SecretToken.generate()
        let expiresAt = now.addingTimeInterval(settings.magicLinkLifetime.seconds)
        try await transaction.insertMagicLink(tokenHash: token.hash, user: user, createdAt: now, expiresAt: expiresAt)
        try await transaction.appendLedgerEvent(
            LedgerEventDraft(
                eventType: "auth.magic_link.issued", aggregateType: "user", aggregateId: user.id.rawValue,
                orgUnitId: user.homeOrgUnitId, actor: actor,
                payload: ["userId": .string(user.id.rawValue), "expiresAt": .string(expiresAt.rfc3339)]))
        return SignInLink(
            url: "\(settings.signInURL)?tenant=\(user.tenantId.rawValue)&token=\(token.text)", token: token.text, expiresAt: expiresAt)
    }
}

/// Passwordless sign-in: magic links, sessions, refresh-token rotation with reuse detection, sign-out.
struct SignInService: Sendable {
    let database: Database
    let tokens: TokenIssuer
    let settings: AuthSettings
    let outbox: MailOutbox

    static let signInActor = LedgerActor(kind: .system, id: "sign-in")

    /// Sends a sign-in link if `email` belongs to an active person of an active tenant, and otherwise
    /// does nothing; the caller answers the same either way, so nobody learns who has an account.
    func requestMagicLink(tenantId: TenantID, email: EmailAddress) async throws {
        let now = ServerClock.now()
        let issued: (User, SignInLink)? = try await database.transaction(.tenantWide(tenantId)) { transaction in
            guard let tenant = try await transaction.fetchTenant(tenantId), tenant.status == .active,
                  let user = try await transaction.fetchUser(email: email), user.status == .active
            else { return nil }
            // The same limit the per-process limiter applies, counted in the database so that every
            // server instance shares it: a person's inbox is not flooded however many instances run.
            let recent = try await transaction.countMagicLinks(
                for: user.id, since: now.addingTimeInterval(-settings.magicLinksPerEmail.window.seconds))
            guard recent < settings.magicLinksPerEmail.limit else { return nil }
            return (user, try await MagicLinkIssuer(settings: settings).issue(for: user, actor: Self.signInActor, in: transaction, now: now))
        }
        guard let (user, link) = issued else { return }
        outbox.enqueue(Self.signInMail(to: user, link: link))
    }

    /// Exchanges a magic-link token for a new session. The link is spent in the same transaction, so
    /// of two concurrent attempts exactly one signs in.
    func consumeMagicLink(tenantId: TenantID, token: SecretToken) async throws -> IssuedTokens {
        let now = ServerClock.now()
        return try await database.transaction(.tenantWide(tenantId)) { transaction in
            guard let userId = try await transaction.consumeMagicLink(tokenHash: token.hash, at: now),
                  let user = try await transaction.fetchUser(userId)
            else { throw Problem(.unauthenticated, "this sign-in link is not valid: it may have expired or been used already") }
            guard user.status == .active, try await transaction.fetchTenant(tenantId)?.status == .active else {
                throw Problem(.forbidden, "this account is suspended; ask an administrator of your organisation")
            }
            let session = AuthSession(
                id: .generate(at: now), tenantId: tenantId, userId: user.id, homeOrgUnitId: user.homeOrgUnitId, methods: [.email],
                authenticatedAt: now, expiresAt: now.addingTimeInterval(settings.sessionLifetime.seconds), revokedAt: nil)
            try await transaction.insertSession(session)
            try await transaction.appendLedgerEvent(
                LedgerEventDraft(
                    eventType: "auth.signed_in", aggregateType: "user", aggregateId: user.id.rawValue, orgUnitId: user.homeOrgUnitId,
                    actor: LedgerActor(kind: .user, id: user.id.rawValue),
                    payload: ["sessionId": .string(session.id.rawValue), "methods": ["email"]]))
            return try await issueTokens(for: user, session: session, in: transaction, now: now)
        }
    }

    /// Rotates a refresh token. Presenting one that was already used revokes its whole session: one of
    /// the two holders is not the person it was issued to.
    func refresh(tenantId: TenantID, token: SecretToken) async throws -> IssuedTokens {
        let now = ServerClock.now()
        enum Outcome: Sendable { case issued(IssuedTokens), reuseDetected }
        let outcome: Outcome = try await database.transaction(.tenantWide(tenantId)) { transaction in
            switch try await transaction.useRefreshToken(tokenHash: token.hash, at: now) {
            case .invalid:
                throw Problem(.unauthenticated, "the refresh token is not valid; sign in again")
            case .reused(let sessionId):
                if try await transaction.revokeSession(sessionId, reason: "refresh_token_reuse", at: now),
                   let session = try await transaction.fetchSession(sessionId)
                {
                    try await transaction.appendLedgerEvent(
                        sessionEvent("auth.session.revoked", session, actor: Self.signInActor, reason: "refresh_token_reuse"))
                }
                return .reuseDetected
            case .rotated(let sessionId):
                guard let session = try await transaction.fetchSession(sessionId), session.revokedAt == nil, session.expiresAt > now,
                      let user = try await transaction.fetchUser(session.userId), user.status == .active,
                      try await transaction.fetchTenant(tenantId)?.status == .active
                else { throw Problem(.unauthenticated, "the session has ended; sign in again") }
                return .issued(try await issueTokens(for: user, session: session, in: transaction, now: now))
            }
        }
        switch outcome {
        case .issued(let tokens): return tokens
        case .reuseDetected:
            throw Problem(.unauthenticated, "this refresh token was already used, so the session has been revoked; sign in again")
        }
    }

    /// Ends the caller's session (or every session of theirs) at once: the next request with any token
    /// of it is refused by the database's liveness check.
    func signOut(_ user: UserPrincipal, everywhere: Bool) async throws -> Int {
        let now = ServerClock.now()
        return try await database.transaction(user.ownScope) { transaction in
            let ended: Int
            if everywhere {
                ended = try await transaction.revokeSessions(of: user.userId, reason: "signed_out_everywhere", at: now)
            } else {
                ended = try await transaction.revokeSession(user.sessionId, reason: "signed_out", at: now) ? 1 : 0
            }
            try await transaction.appendLedgerEvent(
                LedgerEventDraft(
                    eventType: "auth.signed_out", aggregateType: "user", aggregateId: user.userId.rawValue,
                    orgUnitId: user.homeOrgUnitId, actor: user.ledgerActor,
                    payload: ["sessionId": .string(user.sessionId.rawValue), "everywhere": .bool(everywhere)]))
            return ended
        }
    }

    /// A new access token and the next refresh token of `session`, carrying the person's grants as they
    /// are now.
    private func issueTokens(for user: User, session: AuthSession, in transaction: Transaction, now: Date) async throws -> IssuedTokens {
        let refresh = SecretToken.generate()
        let refreshExpiry = min(now.addingTimeInterval(settings.refreshTokenLifetime.seconds), session.expiresAt)
        try await transaction.insertRefreshToken(tokenHash: refresh.hash, session: session, issuedAt: now, expiresAt: refreshExpiry)
        let grants = try await transaction.effectiveAccessGrants(of: user.id)
        let authzVersion = try await transaction.authzVersion(of: user.id) ?? 0
        let accessExpiry = min(now.addingTimeInterval(settings.accessTokenLifetime.seconds), session.expiresAt)
        let claims = TokenClaims(
            iss: settings.issuer, aud: [settings.audience], sub: user.id.rawValue, iat: Int(now.timeIntervalSince1970),
            exp: Int(accessExpiry.timeIntervalSince1970), jti: ULID(date: now).text, use: .access, tid: user.tenantId,
            sid: session.id, roles: grants, orgScope: Self.orgScope(of: grants), homeOrg: user.homeOrgUnitId, azv: authzVersion,
            authTime: Int(session.authenticatedAt.timeIntervalSince1970), amr: session.methods, portal: nil)
        return IssuedTokens(
            accessToken: try await tokens.sign(claims), expiresIn: Int(accessExpiry.timeIntervalSince(now)),
            accessTokenExpiresAt: accessExpiry, refreshToken: refresh.text, refreshTokenExpiresAt: refreshExpiry, sessionId: session.id,
            user: .init(id: user.id, tenantId: user.tenantId, email: user.email, displayName: user.displayName))
    }

    /// The org units a person's roles reach, for the token's `org_scope` claim: `*` is the whole tenant.
    static func orgScope(of grants: [AccessGrant]) -> [String] {
        if grants.contains(where: { $0.orgUnitId == nil }) { return ["*"] }
        return Array(Set(grants.compactMap(\.orgUnitId?.rawValue))).sorted()
    }

    func sessionEvent(_ type: LedgerEventType, _ session: AuthSession, actor: LedgerActor, reason: String) -> LedgerEventDraft {
        LedgerEventDraft(
            eventType: type, aggregateType: "user", aggregateId: session.userId.rawValue, orgUnitId: session.homeOrgUnitId,
            actor: actor, payload: ["sessionId": .string(session.id.rawValue), "reason": .string(reason)])
    }

    static func signInMail(to user: User, link: SignInLink) -> MailMessage {
        MailMessage(
            to: user.email.normalized, subject: "Your Evalium sign-in link",
            body: """
                Hello \(user.displayName),

                Use this link to sign in to Evalium. It works once and expires at \(link.expiresAt.rfc3339).

                \(link.url)

                Sign-in token (for API clients): \(link.token)

                If you did not ask to sign in, you can ignore this message.
                """)
    }
}
