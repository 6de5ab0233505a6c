import ArgumentParser
import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import Logging

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Inspect dead letters and replay events (seed 003 §6, §8).",
        subcommands: [Watch.self, DeadLetters.self, ReplayDeadLetter.self, Replay.self])

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every event as it arrives on NATS (the server must run with EVALIUM_NATS_URL).")

        @Option(help: "The NATS server (default: EVALIUM_NATS_URL, else nats://127.0.0.1:4222).")
        var nats: String = ProcessInfo.processInfo.environment["EVALIUM_NATS_URL"] ?? "nats://127.0.0.1:4222"
        @Option(help: "The subjects to watch (NATS wildcards; ASSESSMENT.dlq for the dead letters).")
        var subject = "assessment.>"

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            say("watching \(subject) on \(nats); Ctrl-C to stop")
            do {
                try await EventWatch.watch(natsURL: nats, subject: subject, logger: logger) { say($0) }
            } catch {
                throw failClearly(error)
            }
        }
    }

    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letters", abstract: "List the events listeners gave up on, newest first, per tenant.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this tenant (tnt_…).") var tenant: String?
        @Flag(help: "Include dead letters already replayed.") var all = false

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            let only = try tenant.map(parseTenant)
            do {
                let count = try await withDatabase(database, logger: logger) { _, pool in
                    var tenants: [TenantID] = []
                    if let only { tenants = [only] } else { tenants = try await LedgerService(database: pool).allTenantIds() }
                    let events = EventService(database: pool, listeners: [])
                    var count = 0
                    for tenantId in tenants {
                        let letters = try await events.deadLetters(of: tenantId, includeReplayed: all)
                        guard !letters.isEmpty else { continue }
                        say("\(tenantId): \(letters.count) dead letter\(letters.count == 1 ? "" : "s")")
                        for letter in letters {
                            let state = letter.replayedAt.map { "replayed \($0.rfc3339)" } ?? "waiting"
                            say("  \(letter.id)  \(letter.deadAt.rfc3339)  \(letter.consumer)  \(letter.subject)  event \(letter.eventId)  after \(letter.attempts) attempts  [\(state)]")
                            say("      last error: \(letter.lastError.prefix(300))")
                        }
                        count += letters.count
                    }
                    return count
                }
                if count == 0 { say("no dead letters") }
            } catch {
                throw failClearly(error)
            }
        }
    }

    struct ReplayDeadLetter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay-dead-letter", abstract: "Hand a dead letter's event to its listener again, now.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The dead letter's tenant (tnt_…).") var tenant: String
        @Argument(help: "The dead letter (dlq_…).") var deadLetter: String

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            let tenantId = try parseTenant(tenant)
            guard let id = DeadLetterID(deadLetter) else { throw ValidationError("the dead letter must look like dlq_01HN…") }
            do {
                let replayed = try await withDatabase(database, logger: logger) { _, pool in
                    try await EventService(database: pool, listeners: EvaliumServer.builtInListeners).replay(id, of: tenantId, runner: pool)
                }
                say("replayed: \(replayed.consumer) handled event \(replayed.eventId) (\(replayed.subject))")
            } catch {
                throw failClearly(error)
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue a tenant's events again from a sequence number or a time; listeners skip what they have handled.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The tenant (tnt_…).") var tenant: String
        @Option(help: "Replay from this event sequence number.") var fromSequence: Int64?
        @Option(help: "Replay events that occurred at or after this RFC 3339 time.") var since: String?

        func run() async throws {
            let logger = bootstrapLogging(defaultLevel: .warning)
            let tenantId = try parseTenant(tenant)
            var time: Date?
            if let since {
                guard let parsed = RFC3339.parse(since) else { throw ValidationError("--since must be an RFC 3339 time such as 2026-11-22T08:00:00Z") }
                time = parsed
            }
            do {
                let replayed = try await withDatabase(database, logger: logger) { _, pool in
                    try await EventService(database: pool, listeners: []).replayEvents(of: tenantId, fromSequence: fromSequence, since: time, runner: pool)
                }
                say("\(replayed.queued) event\(replayed.queued == 1 ? "" : "s") queued again; a running server's dispatcher delivers them")
            } catch {
                throw failClearly(error)
            }
        }
    }
}

private func parseTenant(_ text: String) throws -> TenantID {
    guard let tenant = TenantID(text) else { throw ValidationError("--tenant must look like tnt_01HN…") }
    return tenant
}
