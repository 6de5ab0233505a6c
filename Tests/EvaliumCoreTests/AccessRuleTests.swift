import EvaliumCore
import Foundation
import Testing

@Suite("Access rules: capabilities, email addresses, one-time codes")
struct AccessRuleTests {
    @Test("RFC 6238 test vectors (SHA-1) give the published codes")
    func totpVectors() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        // Appendix B of RFC 6238 lists 8 digits; the 6-digit code is their last six.
        let vectors: [(TimeInterval, String)] = [
            (59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"),
            (2_000_000_000, "279037"), (20_000_000_000, "353130"),
        ]
        for (time, code) in vectors {
            #expect(totp.code(step: TOTP.step(at: Date(timeIntervalSince1970: time))) == code)
        }
    }

    @Test("a code is accepted one step either side of now, never twice, and a wrong code never")
    func totpWindowAndReplay() {
        let totp = TOTP(secret: TOTP.generateSecret())
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        let step = TOTP.step(at: now)
        #expect(totp.acceptedStep(for: totp.code(step: step), at: now, after: nil) == step)
        #expect(totp.acceptedStep(for: totp.code(step: step - 1), at: now, after: nil) == step - 1)
        #expect(totp.acceptedStep(for: totp.code(step: step - 2), at: now, after: nil) == nil)
        #expect(totp.acceptedStep(for: totp.code(step: step), at: now, after: step) == nil, "replay of a used step")
        #expect(totp.acceptedStep(for: "12345", at: now, after: nil) == nil)
        #expect(totp.acceptedStep(for: "abcdef", at: now, after: nil) == nil)
    }

    @Test("base32 round-trips and the otpauth URI carries the secret and issuer")
    func base32AndProvisioning() throws {
        let secret = Array("12345678901234567890".utf8)
        #expect(Base32.encode(secret) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        #expect(Base32.decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == secret)
        let uri = TOTP(secret: secret).provisioningURI(issuer: "Evalium", account: "ada@example.org")
        #expect(uri.hasPrefix("otpauth://totp/Evalium:ada@example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Evalium"))
    }

    @Test("email addresses are normalised so two spellings are one person", arguments: [
        ("Ada@Example.ORG ", "ada@example.org"), ("  bob.smith@sub.example.co.uk", "bob.smith@sub.example.co.uk"),
    ])
    func emailNormalisation(raw: String, normalized: String) throws {
        #expect(try EmailAddress.validate(raw, pointer: "/email").get().normalized == normalized)
    }

    @Test("malformed email addresses are refused", arguments: ["", "ada", "ada@", "@example.org", "a b@example.org", "ada@localhost", "a..b@example.org", "ada@example..org", "ada@-x.org"])
    func emailRefused(raw: String) {
        #expect((try? EmailAddress.validate(raw, pointer: "/email").get()) == nil)
    }

    @Test("capability reach: tenant-wide wins, org-unit grants add up, and scope follows reach")
    func capabilityMap() {
        let tenant = TenantID.generate()
        let north = OrgUnitID.generate(), south = OrgUnitID.generate()
        var map = CapabilityMap()
        map.add(BuiltInRole.reviewer.capabilities, in: north)
        map.add([.submissionsReview], in: south)
        map.add(BuiltInRole.analyst.capabilities, in: nil)
        #expect(map.reach(of: .submissionsReview) == .orgUnits([north, south]))
        #expect(map.reach(of: .submissionsApprove) == .orgUnits([north]))
        #expect(map.reach(of: .reportingRead) == .tenantWide)
        #expect(map.reach(of: .usersManage) == .nowhere)
        #expect(map.scope(for: .usersManage, tenantId: tenant, session: nil) == nil)
        let scope = map.scope(for: .submissionsApprove, tenantId: tenant, session: nil)
        #expect(scope?.orgUnitIds == [north] && scope?.orgScopeAll == false)
        #expect(map.scope(for: .ledgerRead, tenantId: tenant, session: nil)?.orgScopeAll == true)
        #expect(map.missing([.submissionsApprove], in: north).isEmpty)
        #expect(map.missing([.submissionsApprove, .reportingRead], in: south) == [.submissionsApprove])
        #expect(map.missing([.submissionsApprove], in: nil) == [.submissionsApprove])
    }

    @Test("built-in roles have fixed, valid, distinct ids and admin holds every capability")
    func builtInRoles() {
        let ids = BuiltInRole.allCases.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { RoleID($0.rawValue) != nil })
        #expect(BuiltInRole.allCases.allSatisfy { BuiltInRole(id: $0.id) == $0 })
        #expect(BuiltInRole.admin.capabilities == Set(Capability.allCases))
    }

    @Test("secret tokens carry 256 bits, differ every time, and only well-formed ones are accepted")
    func secretTokens() {
        let first = SecretToken.generate(), second = SecretToken.generate()
        #expect(first.text.count == 43 && first != second)
        #expect(Base64URL.decode(first.text)?.count == 32)
        #expect(SecretToken(presented: first.text) == first)
        #expect(SecretToken(presented: first.text + "A") == nil)
        #expect(SecretToken(presented: String(first.text.dropLast()) + "+") == nil)
    }
}
