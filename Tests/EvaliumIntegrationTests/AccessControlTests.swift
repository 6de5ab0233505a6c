@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Roles, capabilities and org-unit reach", .timeLimit(.minutes(2)))
struct AccessControlTests {
    /// Each capability-guarded endpoint, called by someone without the capability and by someone with it.
    static let guarded: [(capability: Capability, role: BuiltInRole, method: HTTPRequest.Method, path: String, json: String?)] = [
        (.usersManage, .admin, .get, "/v1/users", nil),
        (.usersManage, .admin, .get, "/v1/groups", nil),
        (.usersManage, .admin, .post, "/v1/groups", #"{"name":"Group NAME"}"#),
        (.tenantAdmin, .admin, .post, "/v1/roles", #"{"name":"Role NAME","capabilities":["reporting.read"]}"#),
        (.ledgerRead, .analyst, .get, "/v1/ledger/events", nil),
        (.portalLinksManage, .admin, .get, "/v1/portal-links", nil),
    ]

    @Test("without the capability: 403 capability-missing; with it: success", arguments: 0..<guarded.count)
    func capabilityChecks(index: Int) async throws {
        let endpoint = Self.guarded[index]
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let lacking = BuiltInRole.allCases.first { !$0.capabilities.contains(endpoint.capability) }!
            let without = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(lacking.id, nil)])
            let with = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(endpoint.role.id, nil)])
            let json = endpoint.json?.replacingOccurrences(of: "NAME", with: ULID().text)

            let refused = try await client.send(endpoint.method, endpoint.path, json: json, as: without)
            #expect(refused.status == .forbidden, "\(endpoint.path) without \(endpoint.capability)")
            #expect(try refused.json()["type"]?.stringValue == "urn:evalium:problem:capability-missing")
            #expect(try refused.json()["detail"]?.stringValue?.contains(endpoint.capability.rawValue) == true)

            let allowed = try await client.send(endpoint.method, endpoint.path, json: json, as: with)
            #expect((200..<300).contains(allowed.status.code), "\(endpoint.path) with \(endpoint.capability): \(allowed.text)")
        }
    }

    @Test("no token: 401; the platform operator's token is not a tenant person: 403")
    func anonymousAndPlatform() async throws {
        try await TestEnvironment.withServer { client, _ in
            let anonymous = try await client.send(.get, "/v1/users", authenticated: false)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
            #expect(try await client.send(.get, "/v1/users").status == .forbidden)
        }
    }

    @Test("a role limited to one org unit reaches that unit only")
    func orgUnitLimitedRole() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let north = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "North")
            let south = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "South")
            let northManager = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.admin.id, north)], homeOrgUnit: north)
            let southPerson = try await TestEnvironment.makeUser(client, server, in: tenant, homeOrgUnit: south)
            let northPerson = try await TestEnvironment.makeUser(client, server, in: tenant, homeOrgUnit: north)

            let listed = try await client.send(.get, "/v1/users", as: northManager)
            let ids = try listed.json()["items"]?.arrayValue.compactMap { $0["id"]?.stringValue } ?? []
            #expect(ids.contains(northPerson.userId.rawValue) && ids.contains(northManager.userId.rawValue))
            #expect(!ids.contains(southPerson.userId.rawValue) && !ids.contains(tenant.admin.userId.rawValue))

            #expect(try await client.send(.get, "/v1/users/\(southPerson.userId)", as: northManager).status == .notFound)
            #expect(try await client.send(.post, "/v1/users/\(southPerson.userId)/suspend", as: northManager).status == .notFound)
            let intoSouth = try await client.send(
                .post, "/v1/users", json: #"{"email":"\#(TestEnvironment.email())","displayName":"X","homeOrgUnitId":"\#(south)"}"#,
                as: northManager)
            #expect(intoSouth.status == .forbidden)
            let intoNorth = try await client.send(
                .post, "/v1/users", json: #"{"email":"\#(TestEnvironment.email())","displayName":"X"}"#, as: northManager)
            #expect(intoNorth.status == .created)
            #expect(try intoNorth.json()["homeOrgUnitId"]?.stringValue == north.rawValue)
            // Tenant-wide things stay out of reach of an org-unit administrator.
            #expect(try await client.send(.get, "/v1/ledger/verification", as: northManager).status == .forbidden)
            let tenantWideGrant = try await client.send(
                .post, "/v1/role-grants", json: #"{"roleId":"\#(BuiltInRole.analyst.id)","userId":"\#(northPerson.userId)"}"#,
                as: northManager)
            #expect(tenantWideGrant.status == .forbidden)
        }
    }

    @Test("nobody grants a role carrying capabilities they do not hold")
    func noPrivilegeEscalation() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let managerRole = try await client.send(
                .post, "/v1/roles", json: #"{"name":"People manager","capabilities":["users.manage"]}"#, as: tenant.admin)
            #expect(managerRole.status == .created)
            let roleId = try #require(RoleID(try managerRole.json()["id"]?.stringValue ?? ""))
            let manager = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(roleId, nil)])
            let target = try await TestEnvironment.makeUser(client, server, in: tenant)

            let escalate = try await client.send(
                .post, "/v1/role-grants", json: #"{"roleId":"\#(BuiltInRole.admin.id)","userId":"\#(manager.userId)"}"#, as: manager)
            #expect(escalate.status == .forbidden)
            let allowed = try await client.send(
                .post, "/v1/role-grants", json: #"{"roleId":"\#(roleId)","userId":"\#(target.userId)"}"#, as: manager)
            #expect(allowed.status == .created)
        }
    }

    @Test("a grant or a role change makes older tokens out of date; refreshing picks up the new access")
    func grantsTakeEffectAtOnce() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let person = try await TestEnvironment.makeUser(client, server, in: tenant)
            #expect(try await client.send(.get, "/v1/ledger/events", as: person).status == .forbidden)

            let grant = try await client.send(
                .post, "/v1/role-grants", json: #"{"roleId":"\#(BuiltInRole.analyst.id)","userId":"\#(person.userId)"}"#,
                as: tenant.admin)
            #expect(grant.status == .created)
            let stale = try await client.send(.get, "/v1/me", as: person)
            #expect(stale.status == .unauthorized)
            #expect(try stale.json()["type"]?.stringValue == "urn:evalium:problem:access-token-refresh-required")

            let refreshed = try await client.send(
                .post, "/v1/auth/tokens/refresh", json: #"{"tenantId":"\#(tenant.tenantId)","refreshToken":"\#(person.refreshToken)"}"#,
                authenticated: false)
            let fresh = SignedIn(
                tenantId: tenant.tenantId, userId: person.userId, accessToken: try refreshed.json()["accessToken"]?.stringValue ?? "",
                refreshToken: try refreshed.json()["refreshToken"]?.stringValue ?? "")
            #expect(try await client.send(.get, "/v1/ledger/events", as: fresh).status == .ok)

            let grantId = try grant.json()["id"]?.stringValue ?? ""
            #expect(try await client.send(.delete, "/v1/role-grants/\(grantId)", as: tenant.admin).status == .ok)
            #expect(try await client.send(.get, "/v1/ledger/events", as: fresh).status == .unauthorized)
        }
    }

    @Test("a group's role reaches its active members only")
    func groupGrants() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let group = try await client.send(.post, "/v1/groups", json: #"{"name":"Auditors \#(ULID().text)"}"#, as: tenant.admin)
            let groupId = try #require(try group.json()["id"]?.stringValue)
            let person = try await TestEnvironment.makeUser(client, server, in: tenant)
            #expect(
                try await client.send(.post, "/v1/groups/\(groupId)/members", json: #"{"userId":"\#(person.userId)"}"#, as: tenant.admin)
                    .status == .ok)
            #expect(
                try await client.send(
                    .post, "/v1/role-grants", json: #"{"roleId":"\#(BuiltInRole.analyst.id)","groupId":"\#(groupId)"}"#, as: tenant.admin
                ).status == .created)
            let member = try await TestEnvironment.signIn(client, server, tenantId: tenant.tenantId, userId: person.userId)
            #expect(try await client.send(.get, "/v1/ledger/events", as: member).status == .ok)

            #expect(try await client.send(.post, "/v1/groups/\(groupId)/suspend", as: tenant.admin).status == .ok)
            let again = try await TestEnvironment.signIn(client, server, tenantId: tenant.tenantId, userId: person.userId)
            #expect(try await client.send(.get, "/v1/ledger/events", as: again).status == .forbidden)
            let listed = try await client.send(.get, "/v1/users?groupId=\(groupId)", as: tenant.admin)
            #expect(try listed.json()["items"]?.arrayValue.count == 1)
        }
    }

    @Test("people: create, read, update, filter, page; bad input is a 4xx naming the field")
    func peopleAPI() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let marker = ULID().text.lowercased()
            for index in 0..<5 {
                let created = try await client.send(
                    .post, "/v1/users", json: #"{"email":"p\#(index)-\#(marker)@Example.org","displayName":"Person \#(index)"}"#,
                    as: tenant.admin)
                #expect(created.status == .created)
                #expect(try created.json()["email"]?.stringValue == "p\(index)-\(marker)@example.org")
            }
            let duplicate = try await client.send(
                .post, "/v1/users", json: #"{"email":"P0-\#(marker)@example.org","displayName":"Again"}"#, as: tenant.admin)
            #expect(duplicate.status == .conflict)
            let invalid = try await client.send(.post, "/v1/users", json: #"{"email":"nope","displayName":" "}"#, as: tenant.admin)
            #expect(invalid.status == .unprocessableContent)
            #expect(Set(try invalid.json()["errors"]?.arrayValue.compactMap { $0["pointer"]?.stringValue } ?? []) == ["/email", "/displayName"])

            let firstPage = try await client.send(.get, "/v1/users?q=\(marker)&limit=3", as: tenant.admin)
            let cursor = try #require(try firstPage.json()["nextCursor"]?.stringValue)
            #expect(try firstPage.json()["items"]?.arrayValue.count == 3)
            let secondPage = try await client.send(.get, "/v1/users?q=\(marker)&limit=3&after=\(cursor)", as: tenant.admin)
            #expect(try secondPage.json()["items"]?.arrayValue.count == 2)
            #expect(try await client.send(.get, "/v1/users?limit=0", as: tenant.admin).status == .unprocessableContent)
            #expect(try await client.send(.get, "/v1/users?status=gone", as: tenant.admin).status == .unprocessableContent)

            let someone = try #require(try firstPage.json()["items"]?.arrayValue.first?["id"]?.stringValue)
            let renamed = try await client.send(.patch, "/v1/users/\(someone)", json: #"{"displayName":"Renamed"}"#, as: tenant.admin)
            #expect(try renamed.json()["displayName"]?.stringValue == "Renamed")
            #expect(try await client.send(.get, "/v1/users/usr_nonsense", as: tenant.admin).status == .notFound)
            let selfSuspend = try await client.send(.post, "/v1/users/\(tenant.admin.userId)/suspend", as: tenant.admin)
            #expect(selfSuspend.status == .conflict)
            // The ledger names people by id only.
            let events = try await server.database.transaction(.tenantWide(tenant.tenantId)) {
                try await $0.listLedgerEntries(aggregateType: "user", limit: 500)
            }
            #expect(!events.isEmpty)
            #expect(events.allSatisfy { !String(decoding: (try? $0.event.canonicalBytes()) ?? [], as: UTF8.self).contains(marker) })
        }
    }

    @Test("a person of tenant A cannot see or touch tenant B's people, even by id")
    func crossTenant() async throws {
        try await TestEnvironment.withServer { client, server in
            let mine = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let theirs = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let victim = theirs.admin.userId
            #expect(try await client.send(.get, "/v1/users/\(victim)", as: mine.admin).status == .notFound)
            #expect(try await client.send(.patch, "/v1/users/\(victim)", json: #"{"displayName":"pwned"}"#, as: mine.admin).status == .notFound)
            #expect(try await client.send(.post, "/v1/users/\(victim)/suspend", as: mine.admin).status == .notFound)
            let grant = try await client.send(
                .post, "/v1/role-grants", json: #"{"roleId":"\#(BuiltInRole.admin.id)","userId":"\#(victim)"}"#, as: mine.admin)
            #expect(grant.status == .notFound)
            let listed = try await client.send(.get, "/v1/users", as: mine.admin)
            #expect(!(try listed.json()["items"]?.arrayValue.contains { $0["id"]?.stringValue == victim.rawValue } ?? true))
        }
    }
}
