@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The mail folder of one test server.
struct TestMailbox: Sendable {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evalium-mail-\(ULID().text)")

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

extension EvaliumServer {
    var mailFolder: URL { (mailer as! FolderMailer).folder }

    /// The messages delivered so far to `recipient`, oldest first.
    func mail(to recipient: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(at: mailFolder, includingPropertiesForKeys: nil)) ?? []
        return files.sorted { $0.lastPathComponent < $1.lastPathComponent }
            .compactMap { try? String(contentsOf: $0, encoding: .utf8) }
            .filter { $0.contains("\r\nTo: \(recipient)\r\n") }
    }

    /// Waits (up to five seconds) for the `count`-th message to `recipient`: delivery is asynchronous.
    func waitForMail(to recipient: String, count: Int = 1) async throws -> String {
        for _ in 0..<100 {
            let messages = mail(to: recipient)
            if messages.count >= count { return messages[count - 1] }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("no mail number \(count) to \(recipient) arrived")
        throw CancellationError()
    }
}

/// The sign-in token in a sign-in mail.
func signInToken(in message: String) -> String? {
    guard let range = message.range(of: "token=") else { return nil }
    return String(message[range.upperBound...].prefix(43))
}

/// A person signed in through the real API, with the tokens the server issued.
struct SignedIn: Sendable {
    var tenantId: TenantID
    var userId: UserID
    var accessToken: String
    var refreshToken: String

    var bearer: HTTPFields { [.authorization: "Bearer \(accessToken)"] }
}

/// A tenant with an administrator who is signed in.
struct TenantWithAdmin: Sendable {
    var created: TenantService.CreatedTenant
    var admin: SignedIn

    var tenantId: TenantID { created.tenant.id }
    var root: OrgUnitID { created.rootOrgUnit.id }
}

extension TestEnvironment {
    static func email() -> String { "person-\(ULID().text.lowercased())@example.org" }

    /// A new tenant whose administrator signs in by consuming the bootstrap link over HTTP.
    static func makeTenantWithAdmin(_ client: some TestClientProtocol, _ server: EvaliumServer) async throws -> TenantWithAdmin {
        let created = try await TenantService().createTenant(
            name: "Tenant \(ULID().text)",
            admin: .init(email: email(), displayName: "Admin", links: MagicLinkIssuer(settings: server.configuration.auth)),
            actor: .platformOperator, runner: server.database)
        let admin = try await consume(client, tenantId: created.tenant.id, token: created.adminSignInLink!.token)
        return TenantWithAdmin(created: created, admin: admin)
    }

    /// Exchanges a magic-link token over HTTP and expects success.
    static func consume(_ client: some TestClientProtocol, tenantId: TenantID, token: String) async throws -> SignedIn {
        let response = try await client.send(
            .post, "/v1/auth/magic-links/consume", json: #"{"tenantId":"\#(tenantId)","token":"\#(token)"}"#, authenticated: false)
        #expect(response.status == .ok, "\(response.text)")
        let body = try response.json()
        return SignedIn(
            tenantId: tenantId, userId: UserID(body["user"]?["id"]?.stringValue ?? "")!,
            accessToken: body["accessToken"]?.stringValue ?? "", refreshToken: body["refreshToken"]?.stringValue ?? "")
    }

    /// A person created by the tenant's administrator over the API with `roles`, then signed in.
    static func makeUser(
        _ client: some TestClientProtocol, _ server: EvaliumServer, in tenant: TenantWithAdmin, roles: [(RoleID, OrgUnitID?)] = [],
        homeOrgUnit: OrgUnitID? = nil
    ) async throws -> SignedIn {
        let grants = roles.map { role, unit in
            #"{"roleId":"\#(role)""# + (unit.map { #","orgUnitId":"\#($0)""# } ?? "") + "}"
        }.joined(separator: ",")
        let home = homeOrgUnit.map { #","homeOrgUnitId":"\#($0)""# } ?? ""
        let response = try await client.send(
            .post, "/v1/users", json: #"{"email":"\#(email())","displayName":"Person"\#(home),"roles":[\#(grants)]}"#,
            headers: tenant.admin.bearer, authenticated: false)
        #expect(response.status == .created, "\(response.text)")
        let userId = UserID(try response.json()["id"]?.stringValue ?? "")!
        return try await signIn(client, server, tenantId: tenant.tenantId, userId: userId)
    }

    /// Signs a known person in: a link issued straight into the database (as the mail would carry), then
    /// consumed over HTTP.
    static func signIn(_ client: some TestClientProtocol, _ server: EvaliumServer, tenantId: TenantID, userId: UserID) async throws -> SignedIn {
        try await consume(client, tenantId: tenantId, token: try await issueLink(server, tenantId: tenantId, userId: userId).token)
    }

    /// A sign-in link for a person, written straight into the database as if it had been mailed
    /// (`issuedAt` in the past makes an expired one).
    static func issueLink(_ server: EvaliumServer, tenantId: TenantID, userId: UserID, issuedAt: Date = ServerClock.now()) async throws -> SignInLink {
        try await server.database.transaction(.tenantWide(tenantId)) { transaction in
            try await MagicLinkIssuer(settings: server.configuration.auth).issue(
                for: try #require(try await transaction.fetchUser(userId)), actor: .platformOperator, in: transaction, now: issuedAt)
        }
    }

    /// Expects `GET path` to be refused once `reader`'s access changes (a role granted after their token was
    /// issued: the token must be refreshed) and once the administrator has signed out (the session has ended).
    /// For reads that check the session in statements of their own rather than in a transaction.
    static func expectReadRefusedOnceSessionChanges(
        _ client: some TestClientProtocol, _ path: String, reader: SignedIn, in tenant: TenantWithAdmin
    ) async throws {
        let grant = try await client.send(
            .post, "/v1/role-grants", json: #"{"roleId":"\#(BuiltInRole.analyst.id)","userId":"\#(reader.userId)"}"#, as: tenant.admin)
        #expect(grant.status == .created)
        let outOfDate = try await client.send(.get, path, as: reader)
        #expect(outOfDate.status == .unauthorized)
        #expect(try outOfDate.json()["type"] == "urn:evalium:problem:access-token-refresh-required")

        #expect(try await client.send(.post, "/v1/auth/logout", as: tenant.admin).status == .ok)
        let ended = try await client.send(.get, path, as: tenant.admin)
        #expect(ended.status == .unauthorized)
        #expect(try ended.json()["type"] == "urn:evalium:problem:unauthenticated")
    }

    /// Every ledger event of the tenant so far (500 at most), oldest first, read straight from the database.
    static func ledgerEvents(_ server: EvaliumServer, _ tenantId: TenantID) async throws -> [LedgerEventDraft] {
        try await server.database.transaction(.tenantWide(tenantId)) { try await $0.listLedgerEntries(limit: 500) }.map(\.event.draft)
    }

    /// An org unit made by the platform operator.
    static func makeOrgUnit(_ server: EvaliumServer, tenantId: TenantID, name: String) async throws -> OrgUnitID {
        try await TenantService().createOrgUnit(
            tenantId: tenantId, name: name, parentId: nil, actor: .platformOperator, runner: server.database
        ).id
    }
}

extension TestClientProtocol {
    /// A JSON request as a signed-in person.
    func send(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, as person: SignedIn, headers: HTTPFields = [:]) async throws
        -> TestResponse
    {
        var all = person.bearer
        for field in headers { all[field.name] = field.value }
        return try await send(method, path, json: json, headers: all, authenticated: false)
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    var arrayValue: [JSONValue] {
        guard case .array(let items) = self else { return [] }
        return items
    }
}
