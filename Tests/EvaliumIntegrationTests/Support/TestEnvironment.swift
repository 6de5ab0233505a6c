import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The real PostgreSQL the test script started (`scripts/test` → `evalium db start`), reached as the
/// same three roles the server uses: the application role (everything the product does), the schema
/// owner, and a superuser (only to play an attacker with full database access).
enum TestEnvironment {
    static let logger: Logger = {
        var logger = Logger(label: "evalium-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["EVALIUM_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()

    static func endpoint(_ variable: String) -> DatabaseEndpoint {
        guard let url = ProcessInfo.processInfo.environment[variable], let endpoint = DatabaseEndpoint(url: url) else {
            fatalError("\(variable) is not set: run the tests with scripts/test, which starts a private PostgreSQL")
        }
        return endpoint
    }

    static var application: DatabaseEndpoint { endpoint("EVALIUM_TEST_APP_URL") }
    static var owner: DatabaseEndpoint { endpoint("EVALIUM_TEST_OWNER_URL") }
    static var superuser: DatabaseEndpoint { endpoint("EVALIUM_TEST_SUPERUSER_URL") }

    /// A migrated database of its own in the test cluster, made (anew) on first use, for the suites whose
    /// servers must not share their background work with the hundreds of other test servers: the event
    /// dispatcher and the JetStream relay visit every tenant of their database, so in the shared one a test's
    /// listener would wait behind every other test's events.
    /// `migrated: false` leaves it empty, for the tests that migrate existing data.
    static func isolatedDatabase(_ name: String, migrated: Bool = true) async throws -> TestDatabase {
        let database = TestDatabase(name: name)
        let quoted = "\"\(name)\""
        try await sql(
            "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)", "CREATE DATABASE \(quoted) OWNER \(owner.username)",
            "REVOKE ALL ON DATABASE \(quoted) FROM PUBLIC", "GRANT CONNECT ON DATABASE \(quoted) TO \(application.username)",
            as: superuser)
        if migrated { try await MigrationRunner(migrations: try Migration.bundled(), logger: logger).apply(endpoint: database.owner) }
        return database
    }

    static let platformToken = "evp_test_platform_operator_token"

    static func configuration() -> AppConfiguration {
        var configuration = AppConfiguration()
        configuration.platformTokenHash = AppConfiguration.hashToken(platformToken)
        configuration.maxRequestBodyBytes = 64 * 1024
        // Every test comes from 127.0.0.1: the per-address limit is tested on its own.
        configuration.auth.magicLinksPerClientAddress = RateLimit(limit: 100_000, window: .seconds(60))
        let evidence = FileManager.default.temporaryDirectory.appendingPathComponent("evalium-test-evidence")
        configuration.evidence.hotFolder = evidence.appendingPathComponent("hot")
        configuration.evidence.coldFolder = evidence.appendingPathComponent("cold")
        configuration.evidence.maxUploadBytes = 4 << 20
        // Every projector follows every tenant, so only the servers of the tests that read reporting run one
        // (`withReportingProjector`); hundreds of them at once would only compete for the same work.
        configuration.reportingInterval = nil
        // Any server may retry any listener's failure, so every test server retries in milliseconds, not the
        // seed's quarter of an hour.
        configuration.events.retry = RetryPolicy(backoff: Array(repeating: .milliseconds(30), count: 5))
        configuration.events.idleInterval = .milliseconds(250)
        // Test servers come and go by the hundred, each with listeners of its own.
        configuration.events.listenerLiveness = .seconds(8)
        return configuration
    }

    /// Runs `body` with an application-role pool that is running.
    @discardableResult
    static func withDatabase<Result: Sendable>(_ body: (Database) async throws -> Result) async throws -> Result {
        let database = Database(endpoint: application, maximumConnections: 3, logger: logger)
        return try await database.whileRunning { try await body(database) }
    }

    /// Runs `body` against the real server over loopback HTTP (`LoopbackServer`: AsyncHTTPClient, many
    /// connections). Mail goes to a fresh folder (`TestMailbox`) that the body can read.
    /// `isolated` names a database of `isolatedDatabase`; the shared one by default.
    /// `serverLogger` is the server's own (the access log goes there); the tests' quiet one by default.
    static func withServer<Result: Sendable>(
        on isolated: TestDatabase? = nil,
        connections: Int = 3,
        serverLogger: Logger = logger,
        configure: (inout AppConfiguration) -> Void = { _ in },
        _ body: @Sendable (any TestClientProtocol, EvaliumServer) async throws -> Result
    ) async throws -> Result {
        var configuration = configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configure(&configuration)
        let database = Database(endpoint: isolated?.application ?? application, maximumConnections: connections, logger: logger)
        let mailbox = TestMailbox()
        let server = EvaliumServer(
            configuration: configuration, database: database, migrations: try Migration.bundled(),
            mailer: FolderMailer(folder: mailbox.folder, from: "tests@evalium.local", logger: logger), logger: serverLogger)
        defer { mailbox.remove() }
        return try await LoopbackServer.run(server, logger: logger) { client in try await body(client, server) }
    }

    /// For the tests that read reporting: their server runs the projector.
    static func withReportingProjector(_ configuration: inout AppConfiguration) { configuration.reportingInterval = .milliseconds(250) }

    /// SQL as an attacker or administrator, outside the transaction manager.
    @discardableResult
    static func sql(_ statements: String..., as endpoint: DatabaseEndpoint) async throws -> [[String?]] {
        try await AdministrativeSQL.run(statements, on: endpoint, logger: logger)
    }

    /// A new tenant (with root org unit and its ledger events), made through the service the API uses.
    static func makeTenant(_ database: Database, name: String = "Tenant \(ULID().text)") async throws -> TenantService.CreatedTenant {
        try await TenantService().createTenant(name: name, actor: .platformOperator, runner: database)
    }
}

/// One database of the test cluster, reached as the three roles.
struct TestDatabase: Sendable {
    var application: DatabaseEndpoint
    var owner: DatabaseEndpoint
    var superuser: DatabaseEndpoint

    init(name: String) {
        func on(_ endpoint: DatabaseEndpoint) -> DatabaseEndpoint {
            var endpoint = endpoint
            endpoint.database = name
            return endpoint
        }
        application = on(TestEnvironment.application)
        owner = on(TestEnvironment.owner)
        superuser = on(TestEnvironment.superuser)
    }
}

extension TestClientProtocol {
    var authorization: HTTPFields { [.authorization: "Bearer \(TestEnvironment.platformToken)"] }

    /// A JSON request as the platform operator.
    func send(
        _ method: HTTPRequest.Method, _ path: String, json: String? = nil, headers extra: HTTPFields = [:],
        authenticated: Bool = true
    ) async throws -> TestResponse {
        var headers: HTTPFields = authenticated ? authorization : [:]
        if json != nil { headers[.contentType] = "application/json" }
        for field in extra { headers[field.name] = field.value }
        return try await execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func json() throws -> JSONValue { try WireJSON.makeDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
}
