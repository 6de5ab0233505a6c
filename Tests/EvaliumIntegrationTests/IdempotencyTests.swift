import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Idempotency-Key on mutating endpoints", .timeLimit(.minutes(2)))
struct IdempotencyTests {
    static func key() -> HTTPFields { [HTTPField.Name("Idempotency-Key")!: "key-\(ULID().text)"] }

    static func tenantsNamed(_ name: String) async throws -> Int {
        let rows = try await TestEnvironment.sql(
            "SELECT count(*)::text FROM tenants WHERE name = '\(name)'", as: TestEnvironment.superuser)
        return Int(rows.first?.first.flatMap { $0 } ?? "") ?? -1
    }

    @Test("a retry with the same key and request replays the stored response, marked as replayed")
    func replay() async throws {
        try await TestEnvironment.withServer { client, _ in
            let name = "Replay \(ULID().text)"
            let key = Self.key()
            let first = try await client.send(.post, "/v1/tenants", json: #"{"name":"\#(name)"}"#, headers: key)
            #expect(first.status == .created)
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            // Same document, other spacing and key order: still the same request.
            let retry = try await client.send(.post, "/v1/tenants", json: #"{ "name" : "\#(name)" }"#, headers: key)
            #expect(retry.status == .created)
            #expect(retry.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(retry.text == first.text)
            #expect(try await Self.tenantsNamed(name) == 1)
        }
    }

    @Test("a retry answers what the first request answered, also where that is more than the record made (an asset's upload instructions)")
    func replayIsTheFirstAnswer() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let body = #"{"contentType":"image/jpeg","byteSize":3,"sha256":"\#(EvidenceTests.sha256([1, 2, 3]))"}"#
            let key = Self.key()
            let first = try await client.send(.post, "/v1/assets", json: body, as: tenant.admin, headers: key)
            #expect(first.status == .created)
            #expect(try first.json()["upload"]?["url"]?.stringValue != nil, "\(first.text)")
            let retry = try await client.send(.post, "/v1/assets", json: body, as: tenant.admin, headers: key)
            #expect(retry.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(retry.status == first.status)
            #expect(retry.text == first.text, "the same bytes")
        }
    }

    @Test("the same key with a different request gets 422 and changes nothing")
    func differentRequest() async throws {
        try await TestEnvironment.withServer { client, _ in
            let key = Self.key()
            let name = "First \(ULID().text)"
            _ = try await client.send(.post, "/v1/tenants", json: #"{"name":"\#(name)"}"#, headers: key)
            let other = "Other \(ULID().text)"
            let reused = try await client.send(.post, "/v1/tenants", json: #"{"name":"\#(other)"}"#, headers: key)
            #expect(reused.status == .unprocessableContent)
            #expect(reused.headers[.contentType] == "application/problem+json")
            #expect(try reused.json()["type"] == "urn:evalium:problem:idempotency-key-reused")
            #expect(try await Self.tenantsNamed(other) == 0)
        }
    }

    @Test("a retry while the first request is still in flight gets 409; once the first died without completing, the key is free")
    func inFlight() async throws {
        try await TestEnvironment.withServer { client, server in
            let keyText = "key-\(ULID().text)"
            let name = "In flight \(ULID().text)"
            let body = #"{"name":"\#(name)"}"#
            let claim = IdempotencyClaim(
                tenantId: .platform, callerId: "platform-operator", key: IdempotencyKey(keyText)!,
                fingerprint: RequestFingerprint(method: "POST", path: "/v1/tenants", body: Array(body.utf8)))
            // Another server is working on the first request with this key: its unit of work holds the claim.
            let (claimed, claimedNow) = AsyncStream.makeStream(of: Void.self)
            let (released, release) = AsyncStream.makeStream(of: Void.self)
            let first = Task {
                try await server.database.transaction(Scope(tenantId: .platform)) { transaction in
                    #expect(try await transaction.claimIdempotencyKey(claim) == .claimed)
                    claimedNow.yield()
                    for await _ in released { break }
                    throw CancellationError()
                }
            }
            for await _ in claimed { break }
            let retry = try await client.send(.post, "/v1/tenants", json: body, headers: [HTTPField.Name("Idempotency-Key")!: keyText])
            #expect(retry.status == .conflict)
            #expect(try retry.json()["type"] == "urn:evalium:problem:idempotency-request-in-flight")
            release.yield()
            _ = await first.result
            let after = try await client.send(.post, "/v1/tenants", json: body, headers: [HTTPField.Name("Idempotency-Key")!: keyText])
            #expect(after.status == .created, "the first request died: \(after.text)")
            #expect(try await Self.tenantsNamed(name) == 1)
        }
    }

    @Test("twenty parallel duplicates produce exactly one tenant")
    func parallelDuplicates() async throws {
        try await TestEnvironment.withServer { client, _ in
            let name = "Parallel \(ULID().text)"
            let key = Self.key()
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, Bool).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let response = try await client.send(.post, "/v1/tenants", json: #"{"name":"\#(name)"}"#, headers: key)
                        return (response.status, response.headers[HTTPField.Name("Idempotent-Replayed")!] != nil)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == .created && !$0.1 }.count == 1)
            #expect(statuses.allSatisfy { $0.0 == .created || $0.0 == .conflict })
            #expect(try await Self.tenantsNamed(name) == 1)
        }
    }

    @Test("a failed request releases its key, so a corrected retry can use it")
    func failureReleasesKey() async throws {
        try await TestEnvironment.withServer { client, _ in
            let key = Self.key()
            let invalid = try await client.send(.post, "/v1/tenants", json: #"{"name":"   "}"#, headers: key)
            #expect(invalid.status == .unprocessableContent)
            let name = "Corrected \(ULID().text)"
            let corrected = try await client.send(.post, "/v1/tenants", json: #"{"name":"\#(name)"}"#, headers: key)
            #expect(corrected.status == .created)
            #expect(try await Self.tenantsNamed(name) == 1)
        }
    }
}
