import ArgumentParser
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging

/// Starting and stopping a private cluster on its own: what the test script uses to get a real,
/// migrated PostgreSQL with the same roles the server uses.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Start or stop a private PostgreSQL cluster.", subcommands: [Start.self, Stop.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start (creating if needed) and migrate a private cluster; print its URLs as shell exports.")

        @Option(help: "Folder for the cluster.")
        var dataDir: String

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            do {
                let cluster = PrivateCluster(dataRoot: URL(fileURLWithPath: dataDir), logger: logger)
                let running = try await cluster.start { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
                try await MigrationRunner(migrations: try Migration.bundled(), logger: logger).apply(endpoint: running.owner)
                say("export EVALIUM_TEST_APP_URL='\(running.application.url)'")
                say("export EVALIUM_TEST_OWNER_URL='\(running.owner.url)'")
                var superuser = running.superuser
                superuser.database = running.application.database
                say("export EVALIUM_TEST_SUPERUSER_URL='\(superuser.url)'")
            } catch {
                throw failClearly(error)
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a private cluster.")

        @Option(help: "Folder of the cluster.")
        var dataDir: String

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            do {
                try PrivateCluster(dataRoot: URL(fileURLWithPath: dataDir), logger: logger).stop()
            } catch {
                throw failClearly(error)
            }
        }
    }
}
