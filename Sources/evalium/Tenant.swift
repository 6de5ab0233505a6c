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

        @Option(help: "Email address of the tenant's first administrator; prints their first sign-in link.")
        var adminEmail: String?

        @Option(help: "Display name of the first administrator.")
        var adminName: String?

        @Option(help: "Base URL of sign-in links (env EVALIUM_SIGN_IN_URL).")
        var signInURL = ProcessInfo.processInfo.environment["EVALIUM_SIGN_IN_URL"] ?? "http://127.0.0.1:8080/sign-in"

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            do {
                let created = try await withDatabase(database, logger: logger) { _, pool in
                    var settings = AuthSettings()
                    settings.signInURL = signInURL
                    let admin = adminEmail.map {
                        TenantService.FirstAdministrator(email: $0, displayName: adminName, links: MagicLinkIssuer(settings: settings))
                    }
                    let created = try await TenantService().createTenant(name: name, admin: admin, actor: .platformOperator, runner: pool)
                    // No server may be running to seal the new events: seal them before exiting.
                    _ = try await pool.sealPendingLedgerEvents()
                    return created
                }
                say("created tenant \(created.tenant.id) (\(created.tenant.name))")
                say("root org unit  \(created.rootOrgUnit.id)")
                if let admin = created.admin, let link = created.adminSignInLink {
                    say("administrator  \(admin.id) (\(admin.email))")
                    say("first sign-in link (works once, until \(link.expiresAt.rfc3339)):")
                    say("  \(link.url)")
                    say("or with curl against a running server:")
                    say("  curl -s -X POST http://127.0.0.1:8080/v1/auth/magic-links/consume -H 'Content-Type: application/json' \\")
                    say("       -d '{\"tenantId\":\"\(created.tenant.id)\",\"token\":\"\(link.token)\"}'")
                }
            } catch {
                throw failClearly(error)
            }
        }
    }
}
