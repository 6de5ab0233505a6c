import EvaliumCore
import EvaliumStorage
import Foundation

/// Client-portal link principals (seed 001 §12): a scoped, revocable, expiring link for an external
/// viewer. Creating, using and revoking one are ledger events, and so is every view.
struct PortalLinkService: Sendable {
    let database: Database
    let tokens: TokenIssuer
    let settings: AuthSettings
    let outbox: MailOutbox

    static let maximumLifetime: TimeInterval = 90 * 24 * 3600

    struct NewLink: Decodable, Sendable {
        var scope: PortalScope
        var orgUnitId: OrgUnitID?
        var recipientEmail: String?
        var label: String?
        var expiresInHours: Int?
    }

    struct CreatedLink: Codable, Sendable {
        var link: PortalLink
        /// Shown once; only its hash is kept.
        var token: String
        var url: String
    }

    struct PortalSession: Codable, Sendable {
        var tokenType = "Bearer"
        var accessToken: String
        var expiresAt: Date
        var scope: PortalScope
    }

    func create(_ input: NewLink, by access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> CreatedLink {
        var errors: [Problem.FieldError] = []
        let hours = input.expiresInHours ?? 7 * 24
        if hours < 1 || Double(hours) * 3600 > Self.maximumLifetime {
            errors.append(.init(pointer: "/expiresInHours", detail: "must be between 1 and \(Int(Self.maximumLifetime / 3600))"))
        }
        if input.scope.id.isEmpty || input.scope.id.count > 64 {
            errors.append(.init(pointer: "/scope/id", detail: "must be 1–64 characters"))
        }
        var recipient: EmailAddress?
        if let raw = input.recipientEmail {
            switch EmailAddress.validate(raw, pointer: "/recipientEmail") {
            case .success(let address): recipient = address
            case .failure(let error): errors.append(error)
            }
        }
        if let label = input.label, label.count > 200 { errors.append(.init(pointer: "/label", detail: "must be at most 200 characters")) }
        guard errors.isEmpty else { throw Problem(.validationFailed, "the request has invalid fields", errors: errors) }

        let now = ServerClock.now()
        let token = SecretToken.generate()
        let created = try await runner.run(access.scope) { transaction in
            let orgUnit = try await access.orgUnit(input.orgUnitId, pointer: "/orgUnitId", in: transaction)
            let link = PortalLink(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnit, scope: input.scope,
                recipientEmail: recipient, label: input.label, createdAt: now, createdBy: access.user.userId.rawValue,
                expiresAt: now.addingTimeInterval(Double(hours) * 3600), revokedAt: nil, lastUsedAt: nil, useCount: 0)
            try await transaction.insertPortalLink(link, tokenHash: token.hash)
            var payload: [String: JSONValue] = [
                "linkId": .string(link.id.rawValue), "scopeType": .string(link.scope.kind.rawValue),
                "scopeId": .string(link.scope.id), "expiresAt": .string(link.expiresAt.rfc3339),
                "recipientRestricted": .bool(recipient != nil),
            ]
            payload["label"] = link.label.map(JSONValue.string) ?? .null
            try await transaction.appendLedgerEvent(event("portal_link.created", link, actor: access.actor, payload: .object(payload)))
            return CreatedLink(
                link: link, token: token.text, url: "\(settings.portalURL)?tenant=\(link.tenantId.rawValue)&token=\(token.text)")
        }
        if let recipient {
            outbox.enqueue(
                MailMessage(
                    to: recipient.normalized, subject: "A view of your records in Evalium",
                    body: """
                        You have been given read-only access to \(input.label ?? "a record") in Evalium.
                        The link expires at \(created.link.expiresAt.rfc3339).

                        \(created.url)
                        """))
        }
        return created
    }

    func list(scope: PortalScope?, access: CapabilityAccess) async throws -> [PortalLink] {
        try await database.transaction(access.scope) { try await $0.listPortalLinks(scope: scope, limit: 200) }
    }

    func revoke(_ id: PortalLinkID, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> PortalLink {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            guard try await transaction.revokePortalLink(id, by: access.user.userId.rawValue, at: now),
                  let link = try await transaction.fetchPortalLink(id)
            else {
                guard try await transaction.fetchPortalLink(id) != nil else { throw Problem(.notFound, "no portal link \(id)") }
                throw Problem(.conflict, "the portal link \(id) is already revoked")
            }
            try await transaction.appendLedgerEvent(
                event("portal_link.revoked", link, actor: access.actor, payload: ["linkId": .string(link.id.rawValue)]))
            return link
        }
    }

    /// Exchanges a portal link's token for a short-lived portal access token, recording the use.
    func openSession(tenantId: TenantID, token: SecretToken, email: String?) async throws -> PortalSession {
        let now = ServerClock.now()
        let link: PortalLink = try await database.transaction(.tenantWide(tenantId)) { transaction in
            guard let link = try await transaction.fetchPortalLink(tokenHash: token.hash), link.isUsable(at: now) else {
                throw Problem(.unauthenticated, "this portal link is not valid: it may have expired or been revoked")
            }
            if let recipient = link.recipientEmail {
                let presented = email.flatMap { try? EmailAddress.validate($0, pointer: "/email").get() }
                guard presented == recipient else {
                    throw Problem(.forbidden, "this link was issued to one recipient; give the email address it was sent to")
                }
            }
            try await transaction.notePortalLinkUse(link.id, at: now)
            try await transaction.appendLedgerEvent(
                event("portal_link.used", link, actor: LedgerActor(kind: .link, id: link.id.rawValue),
                      payload: ["linkId": .string(link.id.rawValue)]))
            return link
        }
        let expiresAt = min(now.addingTimeInterval(settings.portalTokenLifetime.seconds), link.expiresAt)
        let claims = TokenClaims(
            iss: settings.issuer, aud: [settings.audience], sub: link.id.rawValue, iat: Int(now.timeIntervalSince1970),
            exp: Int(expiresAt.timeIntervalSince1970), jti: ULID(date: now).text, use: .portal, tid: tenantId, sid: nil, roles: nil,
            orgScope: [link.orgUnitId.rawValue], homeOrg: link.orgUnitId, azv: nil, authTime: Int(now.timeIntervalSince1970),
            amr: nil, portal: link.scope)
        return PortalSession(accessToken: try await tokens.sign(claims), expiresAt: expiresAt, scope: link.scope)
    }

    /// The ledger timeline of the link's one scope, recorded as a view (seed 001 §12: every view is an
    /// auditable event). Anything outside the link's scope is refused.
    func timeline(of requested: PortalScope, for link: LinkPrincipal) async throws -> [LedgerEntry] {
        guard requested == link.portalScope else {
            throw Problem(.forbidden, "this portal link grants access to one \(link.portalScope.kind.rawValue) only")
        }
        return try await database.transaction(link.scope) { transaction in
            let entries = try await transaction.listLedgerEntries(
                aggregateType: requested.kind.rawValue, aggregateId: requested.id, limit: 1000)
            try await transaction.appendLedgerEvent(
                LedgerEventDraft(
                    eventType: "portal.viewed", aggregateType: requested.kind.rawValue, aggregateId: requested.id,
                    orgUnitId: link.orgUnitId, actor: LedgerActor(kind: .link, id: link.linkId.rawValue),
                    payload: ["linkId": .string(link.linkId.rawValue), "view": "timeline"]))
            return entries
        }
    }

    private func event(_ type: LedgerEventType, _ link: PortalLink, actor: LedgerActor, payload: JSONValue) -> LedgerEventDraft {
        LedgerEventDraft(
            eventType: type, aggregateType: "portal_link", aggregateId: link.id.rawValue, orgUnitId: link.orgUnitId, actor: actor,
            payload: payload)
    }
}
