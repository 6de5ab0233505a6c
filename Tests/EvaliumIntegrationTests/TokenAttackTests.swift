@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Access tokens as an attacker would try them", .timeLimit(.minutes(2)))
struct TokenAttackTests {
    @Test("expired, wrong issuer, wrong audience, unknown key, foreign key, alg none, tampered claims: all refused")
    func forgedAndBrokenTokens() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let auth = server.configuration.auth
            let genuine = try await server.tokens.verify(tenant.admin.accessToken, use: .access)
            let now = Int(Date().timeIntervalSince1970)

            var expired = genuine
            expired.iat = now - 3600
            expired.exp = now - 60
            let sameKeys = TokenIssuer(keys: auth.keys, issuer: auth.issuer, audience: auth.audience)
            try await expectRefused(client, try await sameKeys.sign(expired), type: "access-token-refresh-required")

            let otherIssuer = TokenIssuer(keys: auth.keys, issuer: "someone-else", audience: auth.audience)
            var foreignIssuer = genuine
            foreignIssuer.iss = "someone-else"
            try await expectRefused(client, try await otherIssuer.sign(foreignIssuer))

            var foreignAudience = genuine
            foreignAudience.aud = ["another-api"]
            try await expectRefused(client, try await sameKeys.sign(foreignAudience))

            // A key this server never had, under a key id it does not know, and under the real key id.
            let attackerKeys = SigningKeys.generate()
            try await expectRefused(client, try await TokenIssuer(keys: attackerKeys, issuer: auth.issuer, audience: auth.audience).sign(genuine))
            var impostorKeys = attackerKeys
            impostorKeys.signingKeys[0].keyId = auth.keys.activeKeyId
            impostorKeys.activeKeyId = auth.keys.activeKeyId
            try await expectRefused(client, try await TokenIssuer(keys: impostorKeys, issuer: auth.issuer, audience: auth.audience).sign(genuine))

            let parts = tenant.admin.accessToken.split(separator: ".").map(String.init)
            let noneHeader = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
            try await expectRefused(client, "\(noneHeader).\(parts[1]).")

            // Tampering with the payload (more roles, another tenant) breaks the signature.
            let roleTampered = try payload(of: parts[1]).replacingOccurrences(
                of: #""roles":["#, with: #""roles":[{"role":"\#(BuiltInRole.admin.id)","ver":0},"#)
            try await expectRefused(client, "\(parts[0]).\(Base64URL.encode(Array(roleTampered.utf8))).\(parts[2])")
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let tenantTampered = try payload(of: parts[1]).replacingOccurrences(of: tenant.tenantId.rawValue, with: other.tenantId.rawValue)
            try await expectRefused(client, "\(parts[0]).\(Base64URL.encode(Array(tenantTampered.utf8))).\(parts[2])")
            var flipped = Array(parts[2].utf8)
            flipped[10] = flipped[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            try await expectRefused(client, "\(parts[0]).\(parts[1]).\(String(decoding: flipped, as: UTF8.self))")
            try await expectRefused(client, "not-a-token")

            // The genuine token still works: the refusals were about the tokens, not the person.
            #expect(try await client.send(.get, "/v1/me", as: tenant.admin).status == .ok)
        }
    }

    @Test("a token verified once is remembered for its signature only: its use and its expiry are checked every time")
    func rememberedTokensAreStillChecked() async throws {
        let issuer = TokenIssuer(keys: SigningKeys.generate(), issuer: "evalium-test", audience: "evalium-api")
        let now = Int(Date().timeIntervalSince1970)
        let claims = TokenClaims(
            iss: "evalium-test", aud: ["evalium-api"], sub: "usr_01M94R59GBTXRAMGXVRHRJSXQZ", iat: now, exp: now + 60, jti: "jti-1", use: .access,
            tid: TenantID(unchecked: "tnt_01M94R59GBTXRAMGXVRHRJSXQZ"))
        let token = try await issuer.sign(claims)
        #expect(try await issuer.verify(token, use: .access) == claims)
        #expect(try await issuer.verify(token, use: .access) == claims, "the second time from memory")
        await #expect(throws: TokenRejection.wrongUse) { try await issuer.verify(token, use: .portal) }
        await #expect(throws: TokenRejection.expired) { try await issuer.verify(token, use: .access, now: Date().addingTimeInterval(61)) }
        var flipped = Array(token.utf8)
        flipped[flipped.count - 5] = flipped[flipped.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        await #expect(throws: TokenRejection.badSignature) { try await issuer.verify(String(decoding: flipped, as: UTF8.self), use: .access) }
    }

    @Test("a token signed by the old key still works after rotation; one signed by a removed key does not")
    func keyRotation() async throws {
        let old = SigningKeys.generate()
        var newer = SigningKeys.generate()
        newer.signingKeys.append(old.signingKeys[0])
        let rotated = newer
        try await TestEnvironment.withServer(configure: { $0.auth.keys = old }) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            try await TestEnvironment.withServer(configure: { $0.auth.keys = rotated }) { client, _ in
                let status = try await client.send(.get, "/v1/me", as: tenant.admin).status
                #expect(status == .ok)
            }
            try await TestEnvironment.withServer(configure: { $0.auth.keys = SigningKeys.generate() }) { client, _ in
                let status = try await client.send(.get, "/v1/me", as: tenant.admin).status
                #expect(status == .unauthorized)
            }
        }
    }

    @Test("a step-up proof or a portal token is not an access token")
    func tokenKindsDoNotMix() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            var stepUp = try await server.tokens.verify(tenant.admin.accessToken, use: .access)
            stepUp.use = .stepUp
            try await expectRefused(client, try await server.tokens.sign(stepUp))
        }
    }

    private func payload(of segment: String) throws -> String {
        String(decoding: try #require(Base64URL.decode(segment)), as: UTF8.self)
    }

    private func expectRefused(
        _ client: some TestClientProtocol, _ token: String, type: String = "unauthenticated", sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let response = try await client.send(.get, "/v1/me", headers: [.authorization: "Bearer \(token)"], authenticated: false)
        #expect(response.status == .unauthorized, sourceLocation: sourceLocation)
        let problemType = try response.json()["type"]?.stringValue
        #expect(problemType == "urn:evalium:problem:\(type)", sourceLocation: sourceLocation)
    }
}
