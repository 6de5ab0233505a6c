import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging
import Synchronization

struct ReportingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reporting", abstract: "Maintain the reporting projections.", subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop and recompute the reporting projections of one tenant (or all) from durable truth.")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "Only this tenant (tnt_…).")
        var tenant: String?

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            var only: TenantID?
            if let tenant {
                guard let parsed = TenantID(tenant) else { throw ValidationError("--tenant must look like tnt_01HN…") }
                only = parsed
            }
            let started = ContinuousClock.now
            do {
                let total = try await withDatabase(database, logger: logger) { _, pool in
                    var tenants: [TenantID] = []
                    if let only { tenants = [only] } else { tenants = try await LedgerService(database: pool).allTenantIds() }
                    var total = 0
                    for (index, tenantId) in tenants.enumerated() {
                        say("[\(index + 1)/\(tenants.count)] \(tenantId)")
                        let bar = ProgressBar()
                        let done = try await ReportingMaintenance.rebuild(tenantId, database: pool) { done, of in bar.show(done, of: of) }
                        say("  \(done) submission\(done == 1 ? "" : "s") projected")
                        total += done
                    }
                    return (tenants.count, total)
                }
                let elapsed = (ContinuousClock.now - started).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                say("reporting rebuilt: \(total.1) submissions in \(total.0) tenant(s), \(String(format: "%.1f", seconds)) s")
            } catch {
                throw failClearly(error)
            }
        }
    }
}

/// A one-line bar that redraws in place on a terminal and prints every tenth otherwise.
final class ProgressBar: Sendable {
    private let lastTenth = Mutex(-1)
    private let interactive = isatty(STDOUT_FILENO) == 1

    func show(_ done: Int, of total: Int) {
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let filled = Int(fraction * 30)
        let line = "  [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] \(Int(fraction * 100))%  \(done) of \(total)"
        if interactive {
            FileHandle.standardOutput.write(Data("\r\(line)\(done >= total ? "\n" : "")".utf8))
        } else if lastTenth.withLock({ tenth in
            guard Int(fraction * 10) > tenth else { return false }
            tenth = Int(fraction * 10)
            return true
        }) {
            say(line)
        }
    }
}
