import Crypto
import EvaliumCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// One `.sql` file of `Sources/EvaliumStorage/Migrations`, applied in file-name order.
public struct Migration: Sendable, Equatable {
    public var version: String
    public var sql: String
    public init(version: String, sql: String) {
        self.version = version
        self.sql = sql
    }

    public var checksum: String { Array(SHA256.hash(data: Array(sql.utf8))).hexString }

    /// Every migration shipped with this build, ordered.
    public static func bundled() throws -> [Migration] {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError.missingBundle
        }
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map { file in
            Migration(version: file.deletingPathExtension().lastPathComponent, sql: try String(contentsOf: file, encoding: .utf8))
        }
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case missingBundle
    case changedAfterApply(version: String)
    case unknownApplied(version: String)
    case applicationRoleMissing
    case pending([String])

    public var description: String {
        switch self {
        case .missingBundle:
            "the migrations folder is missing from this build (Evalium_EvaliumStorage.resources)"
        case .changedAfterApply(let version):
            "migration \(version) was changed after it was applied; write a new migration instead of editing an applied one"
        case .unknownApplied(let version):
            "the database has migration \(version), which this build does not know: it is older than the database"
        case .applicationRoleMissing:
            "the role evalium_app does not exist; create it first (see docs/OPERATIONS.md, 'External PostgreSQL')"
        case .pending(let versions):
            "the database schema is behind this build (pending: \(versions.joined(separator: ", "))); run `evalium migrate`"
        }
    }
}

/// Applies pending migrations as the schema owner, one transaction per file, one statement at a time.
/// A `schema_migrations` table remembers each applied file's checksum; editing an applied file is refused.
public struct MigrationRunner: Sendable {
    let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Connects as the owner at `endpoint`, applies what is pending, and returns the versions applied.
    @discardableResult
    public func apply(endpoint: DatabaseEndpoint, progress: (String) -> Void = { _ in }) async throws -> [String] {
        try await withOwnerConnection(endpoint) { connection in
            let roleExists = try await connection.query("SELECT 1 FROM pg_roles WHERE rolname = 'evalium_app'", logger: logger)
            var found = false
            for try await _ in roleExists { found = true }
            guard found else { throw MigrationError.applicationRoleMissing }

            // One migrator at a time, even with several servers starting together. The session lock
            // ends with this connection.
            try await connection.query("SELECT pg_advisory_lock(hashtextextended('evalium.migrations', 0))", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())", logger: logger)
            try await connection.query("GRANT SELECT ON schema_migrations TO PUBLIC", logger: logger)

            let applied = try await appliedChecksums(connection)
            let pending = try plan(applied: applied)
            for migration in pending {
                progress("applying \(migration.version)")
                try await connection.query("BEGIN", logger: logger)
                do {
                    for statement in SQLScript.statements(in: migration.sql) {
                        // Trusted text shipped with the build, never user input.
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (version, checksum) VALUES (\(migration.version), \(migration.checksum))",
                        logger: logger)
                    try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
                logger.info("applied migration", metadata: ["migration": "\(migration.version)"])
            }
            return pending.map(\.version)
        }
    }

    /// Which bundled migrations are not yet applied; refuses edited or unknown applied ones.
    func plan(applied: [String: String]) throws -> [Migration] {
        let known = Set(migrations.map(\.version))
        if let unknown = applied.keys.sorted().first(where: { !known.contains($0) }) {
            throw MigrationError.unknownApplied(version: unknown)
        }
        for migration in migrations {
            if let checksum = applied[migration.version], checksum != migration.checksum {
                throw MigrationError.changedAfterApply(version: migration.version)
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    private func appliedChecksums(_ connection: PostgresConnection) async throws -> [String: String] {
        var applied: [String: String] = [:]
        let rows = try await connection.query("SELECT version, checksum FROM schema_migrations", logger: logger)
        for try await (version, checksum) in rows.decode((String, String).self) { applied[version] = checksum }
        return applied
    }

    private func withOwnerConnection<Result>(
        _ endpoint: DatabaseEndpoint, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await translatingErrors {
            try await withSingleConnection(endpoint, logger: logger, body)
        }
    }
}

extension Database {
    /// Fails with `MigrationError.pending` (or an edited/unknown migration) unless the schema is exactly
    /// the one this build ships: what `/readyz` and a serve without a migration URL check.
    public func checkMigrationsCurrent(_ migrations: [Migration]) async throws {
        let applied: [String: String] = try await transaction(.none) { transaction in
            var applied: [String: String] = [:]
            let rows = try await transaction.run("SELECT version, checksum FROM schema_migrations")
            for try await (version, checksum) in rows.decode((String, String).self) { applied[version] = checksum }
            return applied
        }
        let pending = try MigrationRunner(migrations: migrations, logger: logger).plan(applied: applied)
        if !pending.isEmpty { throw MigrationError.pending(pending.map(\.version)) }
    }
}

/// Opens one connection outside the pool (for migrations and cluster bootstrap) and closes it after.
func withSingleConnection<Result>(
    _ endpoint: DatabaseEndpoint, logger: Logger, _ body: (PostgresConnection) async throws -> Result
) async throws -> Result {
    let configuration = PostgresConnection.Configuration(
        host: endpoint.host, port: endpoint.port, username: endpoint.username, password: endpoint.password,
        database: endpoint.database, tls: try endpoint.tls.connectionTLS())
    let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
    do {
        let result = try await body(connection)
        try await connection.close()
        return result
    } catch {
        try? await connection.close()
        throw error
    }
}

extension DatabaseEndpoint.TLSMode {
    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch self {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }
}
