import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Inspect the execution ledger.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain of one tenant (or all) and report the first broken link.")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "Only this tenant (tnt_…).")
        var tenant: String?

        @Flag(help: "Print the reports as JSON.")
        var json = false

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            var tenantFilter: TenantID?
            if let tenant {
                guard let parsed = TenantID(tenant) else { throw ValidationError("--tenant must look like tnt_01HN…") }
                tenantFilter = parsed
            }
            let reports: [LedgerVerificationReport]
            do {
                reports = try await withDatabase(database, logger: logger) { _, pool in
                    let ledger = LedgerService(database: pool)
                    let tenants: [TenantID]
                    if let tenantFilter { tenants = [tenantFilter] } else { tenants = try await ledger.allTenantIds() }
                    var reports: [LedgerVerificationReport] = []
                    for (index, tenantId) in tenants.enumerated() {
                        let report = try await ledger.verify(tenantId: tenantId) { checked in
                            if !json { say("  \(tenantId): \(checked) events checked…") }
                        }
                        if !json { say(Self.line(report, index: index + 1, of: tenants.count)) }
                        reports.append(report)
                    }
                    return reports
                }
            } catch {
                throw failClearly(error)
            }
            if json {
                let encoder = WireJSON.makeEncoder()
                encoder.outputFormatting.insert(.prettyPrinted)
                say(String(decoding: try encoder.encode(reports), as: UTF8.self))
            } else {
                let broken = reports.filter { !$0.verified }.count
                say(broken == 0 ? "ledger verified: \(reports.count) tenant(s), every chain intact" : "ledger NOT verified: \(broken) of \(reports.count) tenant(s) have a broken chain")
            }
            if reports.contains(where: { !$0.verified }) { throw ExitCode(2) }
        }

        static func line(_ report: LedgerVerificationReport, index: Int, of total: Int) -> String {
            let status = report.firstBreak.map { "BROKEN — \($0)" } ?? "intact"
            return "[\(index)/\(total)] \(report.tenantId): \(report.sealedEventsChecked) sealed events, head seq \(report.headSequence) "
                + "\(report.headChainHash.prefix(16))…, \(report.unsealedEvents) not yet sealed — \(status)"
        }
    }
}
