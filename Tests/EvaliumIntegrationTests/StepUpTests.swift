@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("TOTP enrolment and step-up proofs", .timeLimit(.minutes(2)))
struct StepUpTests {
    @Test("enrol with a current code; a replayed or wrong code is refused; a fresh code gives a bound proof")
    func enrolmentAndStepUp() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let person = tenant.admin
            let enrolment = try await client.send(.post, "/v1/auth/totp", as: person)
            #expect(enrolment.status == .created)
            let secret = try #require(Base32.decode(try enrolment.json()["secret"]?.stringValue ?? ""))
            #expect(try enrolment.json()["otpauthUri"]?.stringValue?.hasPrefix("otpauth://totp/Evalium:") == true)
            let totp = TOTP(secret: secret)
            let step = TOTP.step(at: Date())

            let stepUpBeforeConfirm = try await client.send(.post, "/v1/auth/step-up", json: code(totp, step), as: person)
            #expect(stepUpBeforeConfirm.status == .conflict)
            #expect(try await client.send(.post, "/v1/auth/totp/confirm", json: code(totp, step), as: person).status == .ok)
            #expect(try await client.send(.post, "/v1/auth/totp", as: person).status == .conflict, "already active")

            let replay = try await client.send(.post, "/v1/auth/step-up", json: code(totp, step), as: person)
            #expect(replay.status == .forbidden)
            let wrong = try await client.send(.post, "/v1/auth/step-up", json: #"{"code":"\#(wrongCode(totp, step + 1))"}"#, as: person)
            #expect(wrong.status == .forbidden)

            let proof = try await client.send(.post, "/v1/auth/step-up", json: code(totp, step + 1), as: person)
            #expect(proof.status == .created)
            let stepUpToken = try #require(try proof.json()["stepUpToken"]?.stringValue)

            // The proof is not an access token, and a high-stakes action demands it.
            #expect(try await client.send(.get, "/v1/me", headers: [.authorization: "Bearer \(stepUpToken)"], authenticated: false).status == .unauthorized)
            let withoutProof = try await client.send(.delete, "/v1/auth/totp", as: person)
            #expect(withoutProof.status == .forbidden)
            #expect(try withoutProof.json()["type"]?.stringValue == "urn:evalium:problem:step-up-required")

            // Bound to this person and session: another session of the same person cannot use it.
            let otherSession = try await TestEnvironment.signIn(client, server, tenantId: tenant.tenantId, userId: person.userId)
            let stolen = try await client.send(.delete, "/v1/auth/totp", as: otherSession, headers: [HTTPField.Name("Evalium-Step-Up")!: stepUpToken])
            #expect(stolen.status == .forbidden)
            let removed = try await client.send(.delete, "/v1/auth/totp", as: person, headers: [HTTPField.Name("Evalium-Step-Up")!: stepUpToken])
            #expect(removed.status == .noContent)

            let events = try await server.database.transaction(.tenantWide(tenant.tenantId)) {
                try await $0.listLedgerEntries(aggregateType: "user", aggregateId: person.userId.rawValue, limit: 100)
            }
            let types = events.map(\.event.draft.eventType.rawValue)
            #expect(types.contains("auth.totp.enrolled") && types.contains("auth.step_up.verified") && types.contains("auth.totp.removed"))
            let everything = events.map { String(decoding: (try? $0.event.canonicalBytes()) ?? [], as: UTF8.self) }.joined()
            #expect(!everything.contains(Base32.encode(secret)) && !everything.contains(totp.code(step: step + 1)))
        }
    }

    @Test("guessing codes is rate-limited per person")
    func codeGuessingIsLimited() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let enrolment = try await client.send(.post, "/v1/auth/totp", as: tenant.admin)
            let totp = TOTP(secret: try #require(Base32.decode(try enrolment.json()["secret"]?.stringValue ?? "")))
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<6 {
                statuses.append(
                    try await client.send(
                        .post, "/v1/auth/totp/confirm", json: #"{"code":"\#(wrongCode(totp, TOTP.step(at: Date())))"}"#, as: tenant.admin
                    ).status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .forbidden })
            #expect(statuses.last == .tooManyRequests)
        }
    }

    private func code(_ totp: TOTP, _ step: Int64) -> String { #"{"code":"\#(totp.code(step: step))"}"# }

    /// A six-digit code that is valid at none of the accepted steps around `step`.
    private func wrongCode(_ totp: TOTP, _ step: Int64) -> String {
        let valid = Set(((step - 2)...(step + 2)).map { totp.code(step: $0) })
        return (0..<1_000_000).lazy.map { String(format: "%06d", $0) }.first { !valid.contains($0) }!
    }
}
