@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Client-portal link principals", .timeLimit(.minutes(2)))
struct PortalLinkTests {
    @Test("a link opens its one scope, is recorded at every step, and reaches nothing else")
    func scopedLink() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let created = try await client.send(
                .post, "/v1/portal-links", json: #"{"scope":{"type":"submission","id":"sub_one"},"label":"Inspection 42"}"#,
                as: tenant.admin)
            #expect(created.status == .created)
            let token = try #require(try created.json()["token"]?.stringValue)
            let linkId = try #require(try created.json()["link"]?["id"]?.stringValue)

            let session = try await open(client, tenant.tenantId, token)
            #expect(session.status == .created)
            let portal = try #require(try session.json()["accessToken"]?.stringValue)
            let bearer: HTTPFields = [.authorization: "Bearer \(portal)"]

            #expect(try await client.send(.get, "/v1/portal/timeline/submission/sub_one", headers: bearer, authenticated: false).status == .ok)
            #expect(try await client.send(.get, "/v1/portal/timeline/submission/sub_two", headers: bearer, authenticated: false).status == .forbidden)
            #expect(try await client.send(.get, "/v1/portal/timeline/engagement/sub_one", headers: bearer, authenticated: false).status == .forbidden)
            // Not a person: no admin, ledger or profile endpoints.
            #expect(try await client.send(.get, "/v1/users", headers: bearer, authenticated: false).status == .forbidden)
            #expect(try await client.send(.get, "/v1/ledger/events", headers: bearer, authenticated: false).status == .forbidden)
            #expect(try await client.send(.get, "/v1/me", headers: bearer, authenticated: false).status == .forbidden)
            // A person's token is not a portal token.
            #expect(try await client.send(.get, "/v1/portal/context", as: tenant.admin).status == .forbidden)
            // Another tenant cannot open it.
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await open(client, other.tenantId, token).status == .unauthorized)

            let events = try await server.database.transaction(.tenantWide(tenant.tenantId)) { try await $0.listLedgerEntries(limit: 500) }
            let types = events.map(\.event.draft.eventType.rawValue)
            #expect(types.contains("portal_link.created") && types.contains("portal_link.used") && types.contains("portal.viewed"))
            #expect(events.contains { $0.event.draft.eventType == "portal.viewed" && $0.event.draft.actor == LedgerActor(kind: .link, id: linkId) })
        }
    }

    @Test("revoking a link stops its live portal token at once and refuses new sessions")
    func revokedLink() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let created = try await client.send(
                .post, "/v1/portal-links", json: #"{"scope":{"type":"engagement","id":"eng_1"}}"#, as: tenant.admin)
            let token = try #require(try created.json()["token"]?.stringValue)
            let linkId = try #require(try created.json()["link"]?["id"]?.stringValue)
            let portal = try #require(try await open(client, tenant.tenantId, token).json()["accessToken"]?.stringValue)
            let bearer: HTTPFields = [.authorization: "Bearer \(portal)"]
            #expect(try await client.send(.get, "/v1/portal/context", headers: bearer, authenticated: false).status == .ok)

            #expect(try await client.send(.post, "/v1/portal-links/\(linkId)/revoke", as: tenant.admin).status == .ok)
            #expect(try await client.send(.get, "/v1/portal/timeline/engagement/eng_1", headers: bearer, authenticated: false).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/portal/context", headers: bearer, authenticated: false).status == .unauthorized)
            #expect(try await open(client, tenant.tenantId, token).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/portal-links/\(linkId)/revoke", as: tenant.admin).status == .conflict)
        }
    }

    @Test("an expired link is refused")
    func expiredLink() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let created = try await client.send(
                .post, "/v1/portal-links", json: #"{"scope":{"type":"programme_enrolment","id":"enr_1"},"expiresInHours":1}"#,
                as: tenant.admin)
            let token = try #require(try created.json()["token"]?.stringValue)
            let linkId = try #require(try created.json()["link"]?["id"]?.stringValue)
            try await TestEnvironment.sql(
                "UPDATE portal_links SET expires_at = now() - interval '1 minute' WHERE id = '\(linkId)'", as: TestEnvironment.superuser)
            #expect(try await open(client, tenant.tenantId, token).status == .unauthorized)
            #expect(try await client.send(.post, "/v1/portal-links", json: #"{"scope":{"type":"submission","id":"x"},"expiresInHours":100000}"#, as: tenant.admin).status == .unprocessableContent)
        }
    }

    @Test("a link for one recipient opens only with that recipient's address, and is mailed to them")
    func recipientRestricted() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let recipient = TestEnvironment.email()
            let created = try await client.send(
                .post, "/v1/portal-links", json: #"{"scope":{"type":"submission","id":"sub_9"},"recipientEmail":"\#(recipient)"}"#,
                as: tenant.admin)
            let token = try #require(try created.json()["token"]?.stringValue)
            #expect(try await server.waitForMail(to: recipient).contains(token))
            #expect(try await open(client, tenant.tenantId, token).status == .forbidden)
            #expect(try await open(client, tenant.tenantId, token, email: TestEnvironment.email()).status == .forbidden)
            #expect(try await open(client, tenant.tenantId, token, email: recipient.uppercased()).status == .created)
        }
    }

    @Test("without portal.links.manage nobody creates links")
    func creationNeedsCapability() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let analyst = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            let refused = try await client.send(.post, "/v1/portal-links", json: #"{"scope":{"type":"submission","id":"s"}}"#, as: analyst)
            #expect(refused.status == .forbidden)
        }
    }

    private func open(_ client: some TestClientProtocol, _ tenant: TenantID, _ token: String, email: String? = nil) async throws -> TestResponse {
        let emailField = email.map { #","email":"\#($0)""# } ?? ""
        return try await client.send(
            .post, "/v1/portal/sessions", json: #"{"tenantId":"\#(tenant)","token":"\#(token)"\#(emailField)}"#, authenticated: false)
    }
}
