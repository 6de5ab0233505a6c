import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

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
        let base = "http://\(host):\(port)"
        try configureAuthentication(&configuration.auth, publicURL: environment["EVALIUM_PUBLIC_URL"] ?? base, say: say)
        configureEvidence(&configuration.evidence, publicURL: environment["EVALIUM_PUBLIC_URL"] ?? base)
        if let s3 = configuration.evidence.s3 {
            say("evidence: S3 bucket \(s3.bucket) at \(s3.endpoint.absoluteString) (cold: \(s3.coldBucket ?? "none, tiering off"))")
        } else {
            say("evidence: \(configuration.evidence.hotFolder.path) (hot), \(configuration.evidence.coldFolder.path) (cold)")
        }
        if let natsURL = environment["EVALIUM_NATS_URL"], !natsURL.isEmpty {
            guard natsURL.hasPrefix("nats://") else { throw ValidationError("EVALIUM_NATS_URL must look like nats://host:4222") }
            configuration.events.natsURL = natsURL
            say("events: in process, and on NATS JetStream at \(natsURL) (stream \(configuration.events.stream))")
        } else {
            say("events: in process (set EVALIUM_NATS_URL for NATS JetStream)")
        }
        let mailer = try MailerChoice.make(dataRoot: database.dataRoot, logger: logger)
        say("mail: delivered to \(mailer.destination)")

        let migrations = try Migration.bundled()
        let pool = Database(endpoint: resolved.application, keepingAllOpen: true, logger: logger)
        var replica: Database?
        if let url = environment["EVALIUM_REPLICA_DATABASE_URL"] {
            guard let endpoint = DatabaseEndpoint(url: url) else {
                throw ValidationError("EVALIUM_REPLICA_DATABASE_URL is not a postgres:// URL")
            }
            replica = Database(endpoint: endpoint, keepingAllOpen: true, logger: logger)
            say("reporting reads: the read replica at \(endpoint.host):\(endpoint.port)")
        }
        let server = EvaliumServer(
            configuration: configuration, database: pool, replica: replica, migrations: migrations, mailer: mailer.mailer, logger: logger)

        // Preflight on a short-lived pool: the right role, the right schema, the demo tenant.
        let preflight = Database(endpoint: resolved.application, maximumConnections: 2, logger: quiet(logger))
        let demoSignIn: DemoSignIn? = try await preflight.whileRunning {
            try await preflight.checkApplicationRole()
            try await preflight.checkMigrationsCurrent(migrations)
            return demo ? try await ensureDemoTenant(preflight, links: MagicLinkIssuer(settings: configuration.auth)) : nil
        }

        if token == nil { say("no EVALIUM_PLATFORM_TOKEN: platform operator endpoints are disabled") }
        say("listening on \(base)  (health: \(base)/healthz, readiness: \(base)/readyz)")
        if let demoSignIn {
            say("demo tenant: \(demoSignIn.tenantId)  administrator: \(Self.demoAdminEmail)")
            say("sign the administrator in (this link works once, until \(demoSignIn.link.expiresAt.rfc3339)):")
            evalium.say("  curl -s -X POST \(base)/v1/auth/magic-links/consume -H 'Content-Type: application/json' \\")
            evalium.say("       -d '{\"tenantId\":\"\(demoSignIn.tenantId)\",\"token\":\"\(demoSignIn.link.token)\"}'")
            say("a new link any time: POST \(base)/v1/auth/magic-links {\"tenantId\", \"email\"}; it is delivered to \(mailer.destination)")
        }
        try await runUntilStopped(server.buildApplication(), logger: logger)
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully, but never hangs: a background worker still running 30 s
    /// after the signal is cancelled, and a process still not done 10 s after that aborts. (A benchmark run once met
    /// a server that had closed its listener and never exited.)
    private func runUntilStopped(_ application: some ApplicationProtocol, logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        configuration.maximumCancellationDuration = .seconds(10)
        try await ServiceGroup(configuration: configuration).run()
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

    static let demoAdminEmail = "admin@demo.evalium.test"

    struct DemoSignIn {
        var tenantId: TenantID
        var link: SignInLink
    }

    /// The demo tenant (created once, with an administrator) and a fresh sign-in link for its
    /// administrator on every start.
    private func ensureDemoTenant(_ pool: Database, links: MagicLinkIssuer) async throws -> DemoSignIn {
        let file = database.dataRoot.appendingPathComponent("demo-tenant")
        let tenants = TenantService()
        if let text = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           let existing = TenantID(text), (try? await tenants.tenant(existing, database: pool)) != nil
        {
            let email = try EmailAddress.validate(Self.demoAdminEmail, pointer: "").get()
            let link = try await pool.transaction(.tenantWide(existing)) { transaction in
                guard let admin = try await transaction.fetchUser(email: email) else {
                    throw Problem(.notFound, "the demo tenant has no \(Self.demoAdminEmail); remove \(file.path) to start over")
                }
                return try await links.issue(for: admin, actor: .platformOperator, in: transaction, now: ServerClock.now())
            }
            return DemoSignIn(tenantId: existing, link: link)
        }
        let created = try await tenants.createTenant(
            name: "Demo tenant", admin: .init(email: Self.demoAdminEmail, displayName: "Demo administrator", links: links),
            actor: .platformOperator, runner: pool)
        try Data(created.tenant.id.rawValue.utf8).write(to: file, options: .atomic)
        guard let link = created.adminSignInLink else { throw Problem(.internalError, "the demo administrator got no sign-in link") }
        return DemoSignIn(tenantId: created.tenant.id, link: link)
    }

    /// The evidence folders (EVALIUM_EVIDENCE_DIR, else the data folder's `evidence`), the upload limit and
    /// the address signed upload and download URLs point at.
    private func configureEvidence(_ evidence: inout EvidenceSettings, publicURL: String) {
        let environment = ProcessInfo.processInfo.environment
        let root = environment["EVALIUM_EVIDENCE_DIR"].map { URL(fileURLWithPath: $0) } ?? database.dataRoot.appendingPathComponent("evidence")
        evidence.hotFolder = root.appendingPathComponent("hot")
        evidence.coldFolder = environment["EVALIUM_EVIDENCE_COLD_DIR"].map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent("cold")
        evidence.publicURL = publicURL
        if let bytes = environment["EVALIUM_MAX_UPLOAD_BYTES"].flatMap(Int64.init), bytes > 0 { evidence.maxUploadBytes = bytes }
        if let endpoint = environment["EVALIUM_S3_ENDPOINT"].flatMap(URL.init(string:)), let bucket = environment["EVALIUM_S3_BUCKET"] {
            evidence.s3 = S3Settings(
                endpoint: endpoint, region: environment["EVALIUM_S3_REGION"] ?? "us-east-1",
                accessKeyId: environment["EVALIUM_S3_ACCESS_KEY_ID"] ?? "", secretAccessKey: environment["EVALIUM_S3_SECRET_ACCESS_KEY"] ?? "",
                bucket: bucket, coldBucket: environment["EVALIUM_S3_COLD_BUCKET"])
            // One bucket has one copy of each file: without a second bucket there is no cold tier to move to.
            if evidence.s3?.coldBucket == nil { evidence.coldAfter = nil }
        }
        if let days = environment["EVALIUM_EVIDENCE_COLD_AFTER_DAYS"].flatMap(Int.init), evidence.s3 == nil || evidence.s3?.coldBucket != nil {
            evidence.coldAfter = days > 0 ? .seconds(days * 24 * 3600) : nil
        }
    }

    /// Keys, token lifetimes and link addresses from the environment; keys default to a file in the
    /// data folder, created once.
    private func configureAuthentication(_ auth: inout AuthSettings, publicURL: String, say: (String) -> Void) throws {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["EVALIUM_KEYS_FILE"], !path.isEmpty {
            auth.keys = try SigningKeys.load(from: URL(fileURLWithPath: path), createIfMissing: false)
        } else {
            let file = database.dataRoot.appendingPathComponent("keys.json")
            auth.keys = try SigningKeys.load(from: file, createIfMissing: true)
            say("signing keys: \(file.path) (set EVALIUM_KEYS_FILE to use your own)")
        }
        let trimmed = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        auth.signInURL = environment["EVALIUM_SIGN_IN_URL"] ?? "\(trimmed)/sign-in"
        auth.portalURL = environment["EVALIUM_PORTAL_URL"] ?? "\(trimmed)/portal"
        if let minutes = environment["EVALIUM_MAGIC_LINK_MINUTES"].flatMap(Int.init), minutes > 0 {
            auth.magicLinkLifetime = .seconds(minutes * 60)
        }
        if let limit = environment["EVALIUM_SIGN_IN_REQUESTS_PER_ADDRESS"].flatMap(Int.init), limit > 0 {
            auth.magicLinksPerClientAddress.limit = limit
        }
        if let minutes = environment["EVALIUM_ACCESS_TOKEN_MINUTES"].flatMap(Int.init), minutes > 0 {
            auth.accessTokenLifetime = .seconds(minutes * 60)
        }
        if let issuer = environment["EVALIUM_TOKEN_ISSUER"], !issuer.isEmpty { auth.issuer = issuer }
    }
}

/// Where sign-in mail goes: an SMTP relay when `EVALIUM_SMTP_URL` is set, else a folder in the data
/// folder that a person can read.
struct MailerChoice {
    var mailer: any Mailer
    var destination: String

    static func make(dataRoot: URL, logger: Logger) throws -> MailerChoice {
        let environment = ProcessInfo.processInfo.environment
        let from = environment["EVALIUM_MAIL_FROM"] ?? "Evalium <no-reply@evalium.local>"
        if let url = environment["EVALIUM_SMTP_URL"], !url.isEmpty {
            let configuration = try SMTPConfiguration(url: url, from: from)
            return MailerChoice(
                mailer: SMTPMailer(configuration: configuration, logger: logger),
                destination: "the SMTP relay \(configuration.host):\(configuration.port)")
        }
        let folder = dataRoot.appendingPathComponent("mail")
        return MailerChoice(
            mailer: FolderMailer(folder: folder, from: from, logger: logger), destination: "\(folder.path)/*.eml")
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
