import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API (and its own PostgreSQL unless --database-url is given).")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on.")
    var host = ProcessInfo.processInfo.environment["EVALIUM_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = Int(ProcessInfo.processInfo.environment["EVALIUM_PORT"] ?? "") ?? 8080

    @Flag(help: "Create (once) a demo tenant and print how to call the API as the platform operator.")
    var demo = false

    func run() async throws {
        let logger = bootstrapLogging(defaultLevel: .info)
        do {
            try await serve(logger: logger)
        } catch {
            throw failClearly(error)
        }
    }

    private func serve(logger: Logger) async throws {
        let say: (String) -> Void = { evalium.say("evalium: \($0)") }
        let resolved = try await ResolvedDatabase.resolve(database, logger: logger, say: say)
        defer { resolved.release(say: say) }
        try await resolved.prepareSchema(logger: logger, say: say)

        var configuration = AppConfiguration()
        configuration.host = host
        configuration.port = port
        let environment = ProcessInfo.processInfo.environment
        if let bytes = environment["EVALIUM_MAX_REQUEST_BODY_BYTES"].flatMap(Int.init), bytes > 0 {
            configuration.maxRequestBodyBytes = bytes
        }
        if let hours = environment["EVALIUM_IDEMPOTENCY_RETENTION_HOURS"].flatMap(Int.init), hours > 0 {
            configuration.idempotencyRetention = .seconds(hours * 3600)
        }
        let token = try platformToken(zeroSetup: resolved.cluster != nil)
        configuration.platformTokenHash = token.map(AppConfiguration.hashToken)

        let migrations = try Migration.bundled()
        let pool = Database(endpoint: resolved.application, logger: logger)
        let server = EvaliumServer(configuration: configuration, database: pool, migrations: migrations, logger: logger)

        // Preflight on a short-lived pool: the right role, the right schema, the demo tenant.
        let preflight = Database(endpoint: resolved.application, maximumConnections: 2, logger: quiet(logger))
        let demoTenant: TenantID? = try await preflight.whileRunning {
            try await preflight.checkApplicationRole()
            try await preflight.checkMigrationsCurrent(migrations)
            return demo ? try await ensureDemoTenant(preflight) : nil
        }

        if token == nil { say("no EVALIUM_PLATFORM_TOKEN: platform operator endpoints are disabled") }
        let base = "http://\(host):\(port)"
        say("listening on \(base)  (health: \(base)/healthz, readiness: \(base)/readyz)")
        if let demoTenant {
            let tokenFile = database.dataRoot.appendingPathComponent("platform-token").path
            say("demo tenant: \(demoTenant)")
            say("the platform operator's token is in \(tokenFile); try:")
            say("  curl -s -H \"Authorization: Bearer $(cat \(tokenFile))\" \(base)/v1/tenants/\(demoTenant)/ledger/events")
        }
        try await server.buildApplication().runService()
    }

    /// `EVALIUM_PLATFORM_TOKEN`, or in zero-setup mode a token generated once into the data folder.
    private func platformToken(zeroSetup: Bool) throws -> String? {
        if let token = ProcessInfo.processInfo.environment["EVALIUM_PLATFORM_TOKEN"], !token.isEmpty { return token }
        guard zeroSetup else { return nil }
        let file = database.dataRoot.appendingPathComponent("platform-token")
        if let existing = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           !existing.isEmpty
        {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let token = "evp_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        try SecretFile.write(token + "\n", to: file)
        return token
    }

    private func ensureDemoTenant(_ pool: Database) async throws -> TenantID {
        let file = database.dataRoot.appendingPathComponent("demo-tenant")
        let tenants = TenantService()
        if let text = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           let existing = TenantID(text), (try? await tenants.tenant(existing, database: pool)) != nil
        {
            return existing
        }
        let created = try await tenants.createTenant(name: "Demo tenant", actor: .platformOperator, runner: pool)
        try Data(created.tenant.id.rawValue.utf8).write(to: file, options: .atomic)
        return created.tenant.id
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = bootstrapLogging(defaultLevel: .warning)
        do {
            let say: (String) -> Void = { evalium.say($0) }
            let resolved = try await ResolvedDatabase.resolve(database, logger: logger, say: say)
            defer { resolved.release(say: say) }
            guard resolved.owner != nil else {
                throw ValidationError("migrating an external database needs --migration-database-url (the schema owner)")
            }
            try await resolved.prepareSchema(logger: logger, say: say)
        } catch let error as ValidationError {
            throw error
        } catch {
            throw failClearly(error)
        }
    }
}
