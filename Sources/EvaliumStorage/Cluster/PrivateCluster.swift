import EvaliumCore
import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// Evalium's zero-setup database: a private PostgreSQL cluster in a local data folder, created with
/// the machine's own `initdb` on first use and started with `pg_ctl` on a free loopback port.
///
/// PostgreSQL refuses to run as root, so when Evalium runs as root the cluster belongs to Debian's
/// `postgres` OS user; otherwise it runs as the current user. Three roles are created: a superuser
/// (used only here, to create the others), `evalium_owner` (owns the schema, runs migrations) and
/// `evalium_app` (what the server connects as: owns nothing, cannot bypass row-level security).
public struct PrivateCluster: Sendable {
    public let dataRoot: URL
    let logger: Logger

    public init(dataRoot: URL, logger: Logger) {
        self.dataRoot = dataRoot.standardizedFileURL
        self.logger = logger
    }

    var dataDirectory: URL { dataRoot.appendingPathComponent("postgres") }
    var credentialsFile: URL { dataRoot.appendingPathComponent("postgres-credentials.json") }
    static let databaseName = "evalium"

    /// Connection details of a running private cluster.
    public struct Running: Sendable {
        /// False when the cluster was already running (another `evalium` process started it).
        public var startedHere: Bool
        public var superuser: DatabaseEndpoint
        public var owner: DatabaseEndpoint
        public var application: DatabaseEndpoint
    }

    struct Credentials: Codable {
        var superuserPassword: String
        var ownerPassword: String
        var applicationPassword: String
        var rolesCreated: Bool
    }

    /// Creates the cluster if needed and starts it (or joins it if it is already running).
    public func start(progress: (String) -> Void = { _ in }) async throws -> Running {
        let binaries = try PostgresBinaries.locate()
        let runAs = try OSUser.forPostgres()
        try FileManager.default.createDirectory(at: dataRoot, withIntermediateDirectories: true)
        // Traversable (the postgres OS user reaches its cluster inside) but not listable by others.
        try FileManager.default.setAttributes([.posixPermissions: 0o711], ofItemAtPath: dataRoot.path)
        try runAs.checkCanReach(dataRoot)

        var credentials: Credentials
        if FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            credentials = try JSONDecoder().decode(Credentials.self, from: Data(contentsOf: credentialsFile))
        } else {
            progress("creating a private PostgreSQL cluster in \(dataDirectory.path)")
            credentials = Credentials(
                superuserPassword: Self.randomSecret(), ownerPassword: Self.randomSecret(),
                applicationPassword: Self.randomSecret(), rolesCreated: false)
            try writeCredentials(credentials)
            try initialise(binaries: binaries, runAs: runAs, superuserPassword: credentials.superuserPassword)
        }

        var running: Running
        if let port = try runningPort(binaries: binaries, runAs: runAs) {
            running = endpoints(port: port, credentials: credentials, startedHere: false)
        } else {
            let port = try Self.freeLoopbackPort()
            progress("starting PostgreSQL on 127.0.0.1:\(port)")
            try runAs.run(
                binaries.pgCtl,
                ["-D", dataDirectory.path, "-l", dataDirectory.appendingPathComponent("server.log").path,
                 "-o", "-p \(port)", "-w", "-t", "60", "start"])
            running = endpoints(port: port, credentials: credentials, startedHere: true)
        }

        if !credentials.rolesCreated {
            try await createRolesAndDatabase(running, credentials: credentials)
            credentials.rolesCreated = true
            try writeCredentials(credentials)
        }
        return running
    }

    /// Stops the cluster (fast shutdown: open transactions roll back, data is safe).
    public func stop() throws {
        let binaries = try PostgresBinaries.locate()
        try OSUser.forPostgres().run(binaries.pgCtl, ["-D", dataDirectory.path, "-m", "fast", "-w", "stop"])
    }

    private func initialise(binaries: PostgresBinaries, runAs: OSUser, superuserPassword: String) throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let passwordFile = dataRoot.appendingPathComponent(".initdb-password")
        try SecretFile.write(superuserPassword, to: passwordFile)
        defer { try? FileManager.default.removeItem(at: passwordFile) }
        try runAs.takeOwnership(of: passwordFile)
        try runAs.takeOwnership(of: dataDirectory)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory.path)
        try runAs.run(
            binaries.initdb,
            ["-D", dataDirectory.path, "-U", "evalium_superuser", "--pwfile", passwordFile.path,
             "--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C", "--no-instructions"])
        // Loopback TCP only: no Unix socket in a shared folder, nothing reachable from other hosts. The
        // connection limit leaves room for the test suite, whose ~250 tests each run a server with its own
        // pool, all at once (400 was seen to run out on a slow machine).
        let settings = """

            # Evalium private cluster
            listen_addresses = '127.0.0.1'
            unix_socket_directories = ''
            max_connections = 1000

            """
        let configuration = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: configuration)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    private func createRolesAndDatabase(_ running: Running, credentials: Credentials) async throws {
        try await translatingErrors {
            try await withSingleConnection(running.superuser, logger: logger) { connection in
                // Passwords are random hex, so interpolating them as literals is safe; CREATE ROLE
                // cannot take bound parameters.
                let statements = [
                    "CREATE ROLE evalium_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB PASSWORD '\(credentials.ownerPassword)'",
                    "CREATE ROLE evalium_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '\(credentials.applicationPassword)'",
                    "CREATE DATABASE \(Self.databaseName) OWNER evalium_owner",
                    "REVOKE ALL ON DATABASE \(Self.databaseName) FROM PUBLIC",
                    // No TEMPORARY: temporary objects are how a caller could shadow tables inside
                    // the owner's SECURITY DEFINER functions.
                    "GRANT CONNECT ON DATABASE \(Self.databaseName) TO evalium_app",
                ]
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        }
    }

    private func runningPort(binaries: PostgresBinaries, runAs: OSUser) throws -> Int? {
        guard (try? runAs.run(binaries.pgCtl, ["-D", dataDirectory.path, "status"])) != nil else { return nil }
        // postmaster.pid: line 4 is the port the running server listens on.
        let pidFile = try String(contentsOf: dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8)
        let lines = pidFile.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count > 3 ? Int(lines[3].trimmingCharacters(in: .whitespaces)) : nil
    }

    private func endpoints(port: Int, credentials: Credentials, startedHere: Bool) -> Running {
        func endpoint(_ user: String, _ password: String, _ database: String) -> DatabaseEndpoint {
            DatabaseEndpoint(host: "127.0.0.1", port: port, username: user, password: password, database: database, tls: .disable)
        }
        return Running(
            startedHere: startedHere,
            superuser: endpoint("evalium_superuser", credentials.superuserPassword, "postgres"),
            owner: endpoint("evalium_owner", credentials.ownerPassword, Self.databaseName),
            application: endpoint("evalium_app", credentials.applicationPassword, Self.databaseName))
    }

    private func writeCredentials(_ credentials: Credentials) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try SecretFile.write(String(decoding: try encoder.encode(credentials), as: UTF8.self), to: credentialsFile)
    }

    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw PrivateClusterError.noFreePort }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw PrivateClusterError.noFreePort }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public enum PrivateClusterError: Error, CustomStringConvertible {
    case postgresNotInstalled
    case noPostgresUser
    case unreachableDataFolder(String)
    case commandFailed(command: String, output: String)
    case noFreePort

    public var description: String {
        switch self {
        case .postgresNotInstalled:
            "PostgreSQL is not installed. Install it with `sudo apt-get install -y postgresql` "
                + "(Evalium then runs its own private cluster), or pass --database-url to use an existing server."
        case .noPostgresUser:
            "running as root needs the 'postgres' OS user to own the private cluster (PostgreSQL refuses root); "
                + "install Debian's postgresql package, which creates it."
        case .unreachableDataFolder(let path):
            "the postgres OS user cannot reach \(path): every parent folder of the data folder must be "
                + "traversable (chmod o+x), or choose another --data-dir."
        case .commandFailed(let command, let output):
            "\(command) failed:\n\(output)"
        case .noFreePort:
            "could not find a free loopback port for PostgreSQL"
        }
    }
}

/// Where the installed PostgreSQL server programs are (Debian keeps them off PATH).
struct PostgresBinaries {
    var initdb: String
    var pgCtl: String

    /// `EVALIUM_POSTGRES_BINDIR` when set (a PostgreSQL installed elsewhere), otherwise
    /// `pg_config --bindir`, otherwise the newest `/usr/lib/postgresql/*/bin`.
    static func locate() throws -> PostgresBinaries {
        var candidates: [String] = []
        if let configured = ProcessInfo.processInfo.environment["EVALIUM_POSTGRES_BINDIR"], !configured.isEmpty {
            candidates = [configured]
        } else {
            if let bindir = try? OSUser.current.run("pg_config", ["--bindir"]) {
                candidates.append(bindir.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
            candidates += versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
        }
        for folder in candidates {
            let initdb = "\(folder)/initdb"
            let pgCtl = "\(folder)/pg_ctl"
            if FileManager.default.isExecutableFile(atPath: initdb), FileManager.default.isExecutableFile(atPath: pgCtl) {
                return PostgresBinaries(initdb: initdb, pgCtl: pgCtl)
            }
        }
        throw PrivateClusterError.postgresNotInstalled
    }
}

/// The OS user PostgreSQL's programs run as: the current user, or `postgres` when we are root.
struct OSUser {
    /// nil: run as the current user.
    var name: String?
    var uid: uid_t
    var gid: gid_t

    static var current: OSUser { OSUser(name: nil, uid: geteuid(), gid: getegid()) }

    static func forPostgres() throws -> OSUser {
        guard geteuid() == 0 else { return .current }
        guard let entry = getpwnam("postgres") else { throw PrivateClusterError.noPostgresUser }
        return OSUser(name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    func takeOwnership(of url: URL) throws {
        guard name != nil else { return }
        guard chown(url.path, uid, gid) == 0 else {
            throw PrivateClusterError.commandFailed(command: "chown \(url.path)", output: String(cString: strerror(errno)))
        }
    }

    func checkCanReach(_ folder: URL) throws {
        guard name != nil else { return }
        if (try? run("/usr/bin/test", ["-x", folder.path])) == nil {
            throw PrivateClusterError.unreachableDataFolder(folder.path)
        }
    }

    /// Runs a program to completion and returns its output; a non-zero exit is an error carrying the output.
    ///
    /// Uses posix_spawn and waitpid rather than Foundation's `Process`, whose `waitUntilExit` was seen
    /// here to miss the exit of `runuser` and hang. Output goes to a temporary file, not a pipe, because
    /// `pg_ctl start` leaves a server running that must not be waited for.
    @discardableResult
    func run(_ program: String, _ arguments: [String]) throws -> String {
        let argv: [String]
        if let name {
            argv = ["/usr/sbin/runuser", "-u", name, "--", program] + arguments
        } else if program.hasPrefix("/") {
            argv = [program] + arguments
        } else {
            argv = ["/usr/bin/env", program] + arguments
        }
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("evalium-command-\(ULID().text).log").path
        defer { unlink(outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else {
            throw PrivateClusterError.commandFailed(command: argv[0], output: String(cString: strerror(spawned)))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exitedCleanly = (status & 0x7f) == 0 && ((status >> 8) & 0xff) == 0
        guard exitedCleanly else {
            throw PrivateClusterError.commandFailed(command: ([program] + arguments).joined(separator: " "), output: output)
        }
        return output
    }
}
