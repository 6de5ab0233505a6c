import EvaliumCore
import Foundation
import JWTKit
import Synchronization

/// The claims of every token Evalium signs. `use` keeps the kinds apart, so a step-up proof or a portal
/// token can never pass as a person's access token.
struct TokenClaims: JWTPayload, Equatable {
    enum Use: String, Codable { case access, portal, stepUp = "step_up" }

    var iss: String
    var aud: [String]
    var sub: String
    var iat: Int
    var exp: Int
    var jti: String
    var use: Use
    var tid: TenantID
    /// The session a person's token belongs to.
    var sid: SessionID?
    /// Role ids with the org unit each is limited to: never capabilities (seed 001 §19.4).
    var roles: [AccessGrant]?
    /// Org units the person reaches through any role: `["*"]` for the whole tenant.
    var orgScope: [String]?
    var homeOrg: OrgUnitID?
    /// The person's access version; a change on the server makes the token out of date.
    var azv: Int?
    var authTime: Int?
    var amr: [AuthenticationMethod]?
    /// What a portal link grants.
    var portal: PortalScope?

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, iat, exp, jti, use, tid, sid, roles, azv, amr, portal
        case orgScope = "org_scope", homeOrg = "home_org", authTime = "auth_time"
    }

    /// Claims are checked by `TokenIssuer.verify` after the signature, where issuer and audience are known.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why a presented token was refused.
enum TokenRejection: Error, Equatable {
    case malformed, unknownKey, badSignature, expired, wrongIssuer, wrongAudience, wrongUse

    var problem: Problem {
        switch self {
        case .expired: Problem(.accessTokenRefreshRequired, "the token has expired; refresh it or sign in again")
        case .malformed: Problem(.unauthenticated, "the bearer token is not a valid token")
        case .unknownKey: Problem(.unauthenticated, "the token was signed with a key this server does not know")
        case .badSignature: Problem(.unauthenticated, "the token's signature does not verify")
        case .wrongIssuer, .wrongAudience: Problem(.unauthenticated, "the token was not issued for this API")
        case .wrongUse: Problem(.unauthenticated, "this kind of token cannot be used here")
        }
    }
}

/// Signs and verifies Evalium's JWTs (EdDSA over Ed25519, RFC 8037).
final class TokenIssuer: Sendable {
    let issuer: String
    let audience: String
    private let keys = JWTKeyCollection()
    private let activeKeyId: JWKIdentifier
    private let knownKeyIds: Set<String>
    private let loaded: Task<Void, any Error>
    /// Tokens whose signature, issuer and audience verified, with their claims. A client sends one token with
    /// every request until it expires, and checking its Ed25519 signature and decoding its claims again was
    /// 4 % of the server's CPU under a load of reads. Use and expiry are checked at every request; whether
    /// the session behind a token still stands is the database's question, asked by every transaction.
    private let verified = Mutex<[String: TokenClaims]>([:])
    static let verifiedCapacity = 4_096

    init(keys signingKeys: SigningKeys, issuer: String, audience: String) {
        self.issuer = issuer
        self.audience = audience
        activeKeyId = JWKIdentifier(string: signingKeys.activeKeyId)
        knownKeyIds = Set(signingKeys.signingKeys.map(\.keyId))
        let collection = keys
        loaded = Task {
            for key in signingKeys.signingKeys {
                let privateKey = try signingKeys.privateKey(key)
                await collection.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: key.keyId))
            }
        }
    }

    func sign(_ claims: TokenClaims) async throws -> String {
        try await loaded.value
        return try await keys.sign(claims, kid: activeKeyId, header: ["typ": "JWT"])
    }

    /// The claims of a token signed by one of our keys, for this issuer and audience, unexpired, of one of `uses`.
    func verify(_ token: String, use uses: TokenClaims.Use..., now: Date = ServerClock.now()) async throws(TokenRejection) -> TokenClaims {
        let claims = try await signedClaims(token)
        guard uses.contains(claims.use) else { throw .wrongUse }
        guard Double(claims.exp) > now.timeIntervalSince1970 else { throw .expired }
        return claims
    }

    /// The claims of a token signed by one of our keys for this issuer and audience, verified once.
    private func signedClaims(_ token: String) async throws(TokenRejection) -> TokenClaims {
        if let known = verified.withLock({ $0[token] }) { return known }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])),
              let header = try? JSONValueDecoder().decode(Header.self, from: JSONValue(parsing: headerBytes))
        else { throw .malformed }
        // jwt-kit falls back to its default key for an unknown key id; an unknown kid is refused here instead.
        guard header.alg == "EdDSA", let keyId = header.kid, knownKeyIds.contains(keyId) else { throw .unknownKey }
        let claims: TokenClaims
        do {
            try await loaded.value
            claims = try await keys.verify(token, as: TokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch {
            throw .malformed
        }
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud.contains(audience) else { throw .wrongAudience }
        verified.withLock { verified in
            // Starting again when full keeps this simple: the tokens in use come back after one check each.
            if verified.count >= Self.verifiedCapacity { verified.removeAll(keepingCapacity: true) }
            verified[token] = claims
        }
        return claims
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
    }
}
