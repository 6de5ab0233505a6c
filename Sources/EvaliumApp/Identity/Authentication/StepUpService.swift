import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird

/// TOTP authenticators and step-up proofs (seed 001 §10, §17.1): a second factor a person shows just
/// before a high-stakes action. Ledger events record enrolment and each step-up, never secret or code.
struct StepUpService: Sendable {
    let database: Database
    let tokens: TokenIssuer
    let settings: AuthSettings
    let limiter: RateLimiter

    struct Enrolment: Codable, Sendable {
        var secret: String
        var otpauthUri: String
        var status = "pending"
    }

    struct StepUpProof: Codable, Sendable {
        var stepUpToken: String
        var expiresAt: Date
        /// Send the token in this header with the action that demands it.
        var header = StepUp.header
    }

    /// Starts enrolment: a new secret, shown this once. Confirming with a code activates it.
    func beginEnrolment(_ user: UserPrincipal) async throws -> Enrolment {
        let secret = TOTP.generateSecret()
        let sealed = try settings.keys.seal(secret)
        let email: EmailAddress = try await database.transaction(user.ownScope) { transaction in
            guard let person = try await transaction.fetchUser(user.userId) else { throw Problem(.notFound, "no such person") }
            guard try await transaction.beginTOTPEnrolment(user: person, sealedSecret: sealed, at: ServerClock.now()) else {
                throw Problem(.conflict, "an authenticator is already active; remove it (with a step-up proof) before enrolling another")
            }
            return person.email
        }
        return Enrolment(
            secret: Base32.encode(secret), otpauthUri: TOTP(secret: secret).provisioningURI(issuer: "Evalium", account: email.normalized))
    }

    /// Activates a pending authenticator with its first code.
    func confirmEnrolment(_ user: UserPrincipal, code: String) async throws {
        try await database.transaction(user.ownScope) { transaction in
            let step = try await acceptCode(code, for: user, requiring: .pending, in: transaction)
            try await transaction.appendLedgerEvent(
                event("auth.totp.enrolled", user, payload: ["method": "totp", "step": .number(Double(step))]))
        }
    }

    /// Checks a current code and returns a proof bound to this person and this session.
    func stepUp(_ user: UserPrincipal, code: String) async throws -> StepUpProof {
        let now = ServerClock.now()
        try await database.transaction(user.ownScope) { transaction in
            _ = try await acceptCode(code, for: user, requiring: .active, in: transaction)
            try await transaction.appendLedgerEvent(
                event("auth.step_up.verified", user, payload: ["method": "totp", "sessionId": .string(user.sessionId.rawValue)]))
        }
        let expiresAt = now.addingTimeInterval(settings.stepUpLifetime.seconds)
        let claims = TokenClaims(
            iss: settings.issuer, aud: [settings.audience], sub: user.userId.rawValue, iat: Int(now.timeIntervalSince1970),
            exp: Int(expiresAt.timeIntervalSince1970), jti: ULID(date: now).text, use: .stepUp, tid: user.tenantId,
            sid: user.sessionId, roles: nil, orgScope: nil, homeOrg: user.homeOrgUnitId, azv: nil,
            authTime: Int(now.timeIntervalSince1970), amr: [.otp], portal: nil)
        return StepUpProof(stepUpToken: try await tokens.sign(claims), expiresAt: expiresAt)
    }

    /// Removes the authenticator; a high-stakes action, so the caller must have stepped up.
    func removeAuthenticator(_ user: UserPrincipal) async throws {
        try await database.transaction(user.ownScope) { transaction in
            guard try await transaction.deleteTOTPAuthenticator(user.userId) else {
                throw Problem(.notFound, "no authenticator is enrolled")
            }
            try await transaction.appendLedgerEvent(event("auth.totp.removed", user, payload: ["method": "totp"]))
        }
    }

    /// Verifies `code` against the person's authenticator and spends its time step, so the same code
    /// never works twice, even when two requests race with it.
    private func acceptCode(
        _ code: String, for user: UserPrincipal, requiring status: TOTPAuthenticatorRecord.Status, in transaction: Transaction
    ) async throws -> Int64 {
        try limiter.admit("code:\(user.userId)", under: settings.codeAttemptsPerUser, what: "one-time code attempts")
        guard let record = try await transaction.fetchTOTPAuthenticator(user.userId), record.status == status else {
            throw status == .active
                ? Problem(.conflict, "no active authenticator: enrol one with POST /v1/auth/totp first")
                : Problem(.conflict, "no authenticator is waiting for confirmation")
        }
        let now = ServerClock.now()
        guard let step = TOTP(secret: try settings.keys.open(record.sealedSecret)).acceptedStep(for: code, at: now, after: record.lastUsedStep),
              try await transaction.recordTOTPStep(user.userId, step: step, at: now)
        else { throw Problem(.forbidden, "the code is wrong, expired or already used") }
        return step
    }

    private func event(_ type: LedgerEventType, _ user: UserPrincipal, payload: [String: JSONValue]) -> LedgerEventDraft {
        LedgerEventDraft(
            eventType: type, aggregateType: "user", aggregateId: user.userId.rawValue, orgUnitId: user.homeOrgUnitId,
            actor: user.ledgerActor, payload: .object(payload))
    }
}

/// The check a high-stakes action makes: a step-up proof for this very person and session, fresh.
enum StepUp {
    static let header = "Evalium-Step-Up"

    /// The proof's record for the ledger: the method and the proof's id, never the code.
    @discardableResult
    static func require(_ user: UserPrincipal, request: Request, tokens: TokenIssuer) async throws -> StepUpRecord {
        guard let proof = request.headers[HTTPField.Name(header)!] else {
            throw Problem(.stepUpRequired, "this action needs a step-up proof: POST /v1/auth/step-up with a current code, then send it in \(header)")
        }
        let claims: TokenClaims
        do throws(TokenRejection) {
            claims = try await tokens.verify(proof, use: .stepUp)
        } catch {
            throw Problem(.stepUpRequired, "the step-up proof is not valid or has expired; step up again")
        }
        guard claims.sub == user.userId.rawValue, claims.sid == user.sessionId, claims.tid == user.tenantId else {
            throw Problem(.stepUpRequired, "the step-up proof belongs to another person or session")
        }
        let method = (claims.amr ?? []).contains(.otp) ? "totp" : "unknown"
        return StepUpRecord(method: method, proofId: claims.jti, verifiedAt: Date(timeIntervalSince1970: TimeInterval(claims.authTime ?? claims.iat)))
    }
}
