@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Magic-link sign-in, sessions and refresh-token rotation", .timeLimit(.minutes(2)))
struct SignInTests {
    @Test("a sign-in link arrives by mail, signs in once, and the access token reaches /v1/me")
    func mailedLinkSignsInOnce() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let email = tenant.created.admin!.email.normalized
            let request = try await client.send(
                .post, "/v1/auth/magic-links", json: #"{"tenantId":"\#(tenant.tenantId)","email":"\#(email.uppercased())"}"#,
                authenticated: false)
            #expect(request.status == .accepted)
            let message = try await server.waitForMail(to: email)
            let token = try #require(signInToken(in: message))
            let person = try await TestEnvironment.consume(client, tenantId: tenant.tenantId, token: token)
            let me = try await client.send(.get, "/v1/me", as: person)
            #expect(me.status == .ok)
            #expect(try me.json()["user"]?["email"]?.stringValue == email)

            let again = try await client.send(
                .post, "/v1/auth/magic-links/consume", json: #"{"tenantId":"\#(tenant.tenantId)","token":"\#(token)"}"#, authenticated: false)
            #expect(again.status == .unauthorized)
        }
    }

    @Test("two concurrent consumptions of one link: exactly one signs in")
    func concurrentConsumption() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let link = try await TestEnvironment.issueLink(server, tenantId: tenant.tenantId, userId: tenant.admin.userId)
            let body = #"{"tenantId":"\#(tenant.tenantId)","token":"\#(link.token)"}"#
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await client.send(.post, "/v1/auth/magic-links/consume", json: body, authenticated: false).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1)
            #expect(statuses.filter { $0 == .unauthorized }.count == 7)
        }
    }

    @Test("an expired link is refused")
    func expiredLink() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let link = try await TestEnvironment.issueLink(
                server, tenantId: tenant.tenantId, userId: tenant.admin.userId, issuedAt: ServerClock.now().addingTimeInterval(-3600))
            let response = try await client.send(
                .post, "/v1/auth/magic-links/consume", json: #"{"tenantId":"\#(tenant.tenantId)","token":"\#(link.token)"}"#,
                authenticated: false)
            #expect(response.status == .unauthorized)
        }
    }

    @Test("a link presented to another tenant is refused, and stays usable in its own")
    func wrongTenant() async throws {
        try await TestEnvironment.withServer { client, server in
            let mine = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let link = try await TestEnvironment.issueLink(server, tenantId: mine.tenantId, userId: mine.admin.userId)
            let response = try await client.send(
                .post, "/v1/auth/magic-links/consume", json: #"{"tenantId":"\#(other.tenantId)","token":"\#(link.token)"}"#,
                authenticated: false)
            #expect(response.status == .unauthorized)
            _ = try await TestEnvironment.consume(client, tenantId: mine.tenantId, token: link.token)
        }
    }

    @Test("an unknown email gets the very same answer as a known one, and no mail")
    func noAccountEnumeration() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let known = tenant.created.admin!.email.normalized
            let unknown = TestEnvironment.email()
            let answers = try await [known, unknown].asyncMap { email in
                try await client.send(
                    .post, "/v1/auth/magic-links", json: #"{"tenantId":"\#(tenant.tenantId)","email":"\#(email)"}"#, authenticated: false)
            }
            #expect(answers[0].status == answers[1].status)
            #expect(answers[0].text == answers[1].text)
            #expect(answers[0].headers[.contentType] == answers[1].headers[.contentType])
            _ = try await server.waitForMail(to: known)
            #expect(server.mail(to: unknown).isEmpty)
            // An unknown tenant answers the same too: tenants are not enumerable either.
            let noTenant = try await client.send(
                .post, "/v1/auth/magic-links", json: #"{"tenantId":"\#(TenantID.generate())","email":"\#(known)"}"#, authenticated: false)
            #expect(noTenant.status == .accepted && noTenant.text == answers[0].text)
        }
    }

    @Test("requests are rate-limited per email address and per client address, with Retry-After")
    func rateLimits() async throws {
        try await TestEnvironment.withServer(configure: { configuration in
            configuration.auth.magicLinksPerEmail = RateLimit(limit: 2, window: .seconds(600))
            configuration.auth.magicLinksPerClientAddress = RateLimit(limit: 5, window: .seconds(600))
        }) { client, server in
            let tenant = TenantID.generate()
            let email = TestEnvironment.email()
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<3 {
                statuses.append(
                    try await client.send(
                        .post, "/v1/auth/magic-links", json: #"{"tenantId":"\#(tenant)","email":"\#(email)"}"#, authenticated: false
                    ).status)
            }
            #expect(statuses == [.accepted, .accepted, .tooManyRequests])
            var last: TestResponse?
            for _ in 0..<3 {
                last = try await client.send(
                    .post, "/v1/auth/magic-links", json: #"{"tenantId":"\#(tenant)","email":"\#(TestEnvironment.email())"}"#,
                    authenticated: false)
            }
            #expect(last?.status == .tooManyRequests)
            #expect(Int(last?.headers[.retryAfter] ?? "") ?? 0 > 0)
            #expect(try last?.json()["type"]?.stringValue == "urn:evalium:problem:rate-limited")
        }
    }

    @Test("a refresh token rotates; presenting a used one revokes the whole session")
    func refreshRotationAndReuse() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let first = tenant.admin
            let rotated = try await refresh(client, tenant.tenantId, first.refreshToken)
            #expect(rotated.status == .ok)
            let second = try rotated.json()
            let secondRefresh = try #require(second["refreshToken"]?.stringValue)
            #expect(secondRefresh != first.refreshToken)

            let replay = try await refresh(client, tenant.tenantId, first.refreshToken)
            #expect(replay.status == .unauthorized)
            // The family is revoked: the new refresh token and every access token of the session stop working.
            #expect(try await refresh(client, tenant.tenantId, secondRefresh).status == .unauthorized)
            let newAccess = SignedIn(
                tenantId: tenant.tenantId, userId: first.userId, accessToken: second["accessToken"]?.stringValue ?? "", refreshToken: "")
            #expect(try await client.send(.get, "/v1/me", as: newAccess).status == .unauthorized)
            let events = try await server.database.transaction(.tenantWide(tenant.tenantId)) {
                try await $0.listLedgerEntries(aggregateType: "user", aggregateId: first.userId.rawValue, limit: 50)
            }
            #expect(events.contains { $0.event.draft.eventType == "auth.session.revoked" })
        }
    }

    @Test("a suspended person cannot sign in or refresh, and their live token stops at once")
    func suspension() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let person = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            #expect(try await client.send(.get, "/v1/ledger/events", as: person).status == .ok)

            let suspend = try await client.send(
                .post, "/v1/users/\(person.userId)/suspend", json: #"{"reason":"left the company"}"#, as: tenant.admin)
            #expect(suspend.status == .ok)
            #expect(try suspend.json()["status"]?.stringValue == "suspended")

            #expect(try await client.send(.get, "/v1/ledger/events", as: person).status == .unauthorized)
            #expect(try await refresh(client, tenant.tenantId, person.refreshToken).status == .unauthorized)
            let link = try await TestEnvironment.issueLink(server, tenantId: tenant.tenantId, userId: person.userId)
            let signIn = try await client.send(
                .post, "/v1/auth/magic-links/consume", json: #"{"tenantId":"\#(tenant.tenantId)","token":"\#(link.token)"}"#,
                authenticated: false)
            #expect(signIn.status == .forbidden)
            // Their history stays attributed to them.
            let history = try await server.database.transaction(.tenantWide(tenant.tenantId)) {
                try await $0.listLedgerEntries(aggregateType: "user", aggregateId: person.userId.rawValue, limit: 50)
            }
            #expect(history.contains { $0.event.draft.eventType == "auth.signed_in" && $0.event.draft.actor.id == person.userId.rawValue })
        }
    }

    @Test("signing out ends the session at once; the refresh token dies with it")
    func signOut() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let logout = try await client.send(.post, "/v1/auth/logout", as: tenant.admin)
            #expect(logout.status == .ok)
            #expect(try await client.send(.get, "/v1/me", as: tenant.admin).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/capabilities", as: tenant.admin).status == .unauthorized, "even a read of no table")
            #expect(try await refresh(client, tenant.tenantId, tenant.admin.refreshToken).status == .unauthorized)
        }
    }

    private func refresh(_ client: some TestClientProtocol, _ tenant: TenantID, _ token: String) async throws -> TestResponse {
        try await client.send(
            .post, "/v1/auth/tokens/refresh", json: #"{"tenantId":"\#(tenant)","refreshToken":"\#(token)"}"#, authenticated: false)
    }
}

extension Array where Element: Sendable {
    /// Maps in order, one element at a time.
    func asyncMap<Mapped>(_ transform: (Element) async throws -> Mapped) async rethrows -> [Mapped] {
        var mapped: [Mapped] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
