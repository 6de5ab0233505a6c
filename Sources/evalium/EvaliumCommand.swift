import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The process entry point. NIO's event loops become Swift Concurrency's global executor before any task
/// exists, so a request's handler and its PostgreSQL I/O run on the same few threads: otherwise every query
/// result hops from an event loop to the cooperative pool and back, two thread switches per query
/// (docs/PERFORMANCE.md has the figures).
@main
enum Entry {
    static func main() {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        Task {
            await EvaliumCommand.main()
            exit(0)
        }
        dispatchMain()
    }
}

struct EvaliumCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evalium",
        abstract: "Evalium: knowledge checks, observations and evidence on one append-only execution ledger.",
        subcommands: [Serve.self, Migrate.self, TenantCommand.self, LedgerCommand.self, ReportingCommand.self, EventsCommand.self, DatabaseCommand.self],
        defaultSubcommand: Serve.self)
}

/// Where the database is: a private cluster in the data folder (default) or an external server.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Folder for the private PostgreSQL cluster and local secrets (zero-setup mode).")
    var dataDir: String = ProcessInfo.processInfo.environment["EVALIUM_DATA_DIR"] ?? ".evalium"

    @Option(name: .customLong("database-url"), help: "Application-role URL of an external PostgreSQL (env EVALIUM_DATABASE_URL). Without it, Evalium runs its own.")
    var databaseURLOption: String?

    @Option(name: .customLong("migration-database-url"), help: "Schema-owner URL used to apply migrations (env EVALIUM_MIGRATION_DATABASE_URL).")
    var migrationDatabaseURLOption: String?

    var databaseURL: String? { databaseURLOption ?? ProcessInfo.processInfo.environment["EVALIUM_DATABASE_URL"] }
    var migrationDatabaseURL: String? {
        migrationDatabaseURLOption ?? ProcessInfo.processInfo.environment["EVALIUM_MIGRATION_DATABASE_URL"]
    }

    var dataRoot: URL { URL(fileURLWithPath: dataDir, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) }
}

/// The database a command runs against, and how to let go of it.
struct ResolvedDatabase {
    var application: DatabaseEndpoint
    var owner: DatabaseEndpoint?
    var cluster: PrivateCluster?
    var clusterStartedHere = false

    static func resolve(_ options: DatabaseOptions, logger: Logger, say: (String) -> Void) async throws -> ResolvedDatabase {
        if let url = options.databaseURL {
            guard let application = DatabaseEndpoint(url: url) else {
                throw ValidationError("--database-url is not a postgres:// URL")
            }
            var owner: DatabaseEndpoint?
            if let ownerURL = options.migrationDatabaseURL {
                guard let parsed = DatabaseEndpoint(url: ownerURL) else {
                    throw ValidationError("--migration-database-url is not a postgres:// URL")
                }
                owner = parsed
            }
            return ResolvedDatabase(application: application, owner: owner)
        }
        let cluster = PrivateCluster(dataRoot: options.dataRoot, logger: logger)
        let running = try await cluster.start(progress: say)
        return ResolvedDatabase(
            application: running.application, owner: running.owner, cluster: cluster, clusterStartedHere: running.startedHere)
    }

    /// Applies pending migrations when an owner connection is known; otherwise the schema must be current.
    func prepareSchema(logger: Logger, say: (String) -> Void) async throws {
        let migrations = try Migration.bundled()
        guard let owner else { return }
        let applied = try await MigrationRunner(migrations: migrations, logger: logger).apply(endpoint: owner, progress: say)
        say(applied.isEmpty ? "schema is current (\(migrations.count) migrations)" : "applied \(applied.count) migration(s)")
    }

    /// Stops the private cluster if this process started it.
    func release(say: (String) -> Void) {
        guard let cluster, clusterStartedHere else { return }
        do {
            try cluster.stop()
            say("stopped the private PostgreSQL cluster")
        } catch {
            say("could not stop the private PostgreSQL cluster: \(error)")
        }
    }
}

/// Runs `body` with a migrated database and its pool running, then releases what it started.
func withDatabase<Result: Sendable>(
    _ options: DatabaseOptions, logger: Logger, _ body: (ResolvedDatabase, Database) async throws -> Result
) async throws -> Result {
    // Progress goes to stderr so that a command's result on stdout (`--json`) stays clean.
    let say: (String) -> Void = { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
    let resolved = try await ResolvedDatabase.resolve(options, logger: logger, say: say)
    defer { resolved.release(say: say) }
    try await resolved.prepareSchema(logger: logger, say: say)
    let database = Database(endpoint: resolved.application, maximumConnections: 4, logger: quiet(logger))
    return try await database.whileRunning {
        try await database.checkMigrationsCurrent(try Migration.bundled())
        return try await body(resolved, database)
    }
}

/// The logger for a short-lived pool: the driver's start-up notices are noise in a command's output.
func quiet(_ logger: Logger) -> Logger {
    var quiet = logger
    quiet.logLevel = .error
    return quiet
}

/// Structured JSON logs on stdout; `EVALIUM_LOG_LEVEL` (default: info for serve, warning otherwise).
func bootstrapLogging(defaultLevel: Logger.Level) -> Logger {
    let level = ProcessInfo.processInfo.environment["EVALIUM_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
    LoggingSystem.bootstrap { label in
        var handler = JSONLogHandler(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: "evalium")
}

/// Writes one line to stdout at once (no buffering), so progress shows as it happens in a pipe too.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Prints an error as one clear line (never a stack trace) and exits non-zero.
func failClearly(_ error: any Error) -> ExitCode {
    let message: String
    switch error {
    case let error as PrivateClusterError: message = error.description
    case let error as MigrationError: message = error.description
    case let error as StorageError: message = error.description
    case let problem as Problem: message = problem.detail
    default: message = "\(error)"
    }
    FileHandle.standardError.write(Data("evalium: \(message)\n".utf8))
    return ExitCode.failure
}
