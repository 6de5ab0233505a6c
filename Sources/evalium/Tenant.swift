import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant and its root org unit (recorded in the ledger as the platform operator).")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "The tenant's display name.")
        var name: String

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            do {
                let created = try await withDatabase(database, logger: logger) { _, pool in
                    let created = try await TenantService().createTenant(name: name, actor: .platformOperator, runner: pool)
                    // No server may be running to seal the new events: seal them before exiting.
                    _ = try await LedgerService(database: pool).sealPending()
                    return created
                }
                say("created tenant \(created.tenant.id) (\(created.tenant.name))")
                say("root org unit  \(created.rootOrgUnit.id)")
            } catch {
                throw failClearly(error)
            }
        }
    }
}
