import EvaliumCore
import EvaliumStorage
import Foundation
import Logging

/// Grows one tenant to the sizes the heavy paths are timed at (100,000 submissions, 1,000,000 ledger
/// events) in minutes, from the submissions the load run made through the API.
///
/// Faithful where it matters to what is timed:
/// - submissions, their sessions, answers and subjects are copies of real ones under new ids, written as
///   the superuser in replica mode (no triggers: they are new rows, not changes), so the rebuild and the
///   export read exactly the rows the API writes;
/// - ledger events are the template submissions' own events (finalised, findings, review, views) with the
///   new ids, plus `submission.viewed` reads up to the wanted count, appended through
///   `Transaction.appendLedgerEvents` (the real canonical bytes and leaf hashes) and sealed by
///   `Database.sealPendingLedgerEvents` (the real chain), so `evalium ledger verify` checks a chain no
///   different from one the server built.
struct BulkSeeder {
    let application: DatabaseEndpoint
    let superuser: DatabaseEndpoint
    let tenantId: TenantID
    let logger: Logger

    static let chunk = 10_000
    static let eventsPerTransaction = 2_000

    func seed(submissions wanted: Int, events wantedEvents: Int) async throws {
        let templates = try await AdministrativeSQL.run(
            ["SELECT id, session_id FROM submissions WHERE tenant_id = '\(tenantId)' ORDER BY id LIMIT 100"], on: superuser, logger: logger)
            .compactMap { row in row[0].flatMap { id in row[1].map { (id: id, session: $0) } } }
        guard !templates.isEmpty else { throw SeedFailed("tenant \(tenantId) has no submission to copy: run the load first") }

        // A run's ids: a prefix of its own (Crockford base 32 has every hex digit), then the copy's number.
        let prefix = String(ULID().text.prefix(10))
        // Attempt numbers above any in the tenant, so a second seeding of the same tenant makes no duplicate attempt.
        let attempts = try await AdministrativeSQL.run(
            ["SELECT coalesce(max(attempt_number), 0)::text FROM delivery_sessions WHERE tenant_id = '\(tenantId)'"], on: superuser, logger: logger)
        let firstAttempt = (attempts.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0) + 1
        func id(_ kind: String, _ number: Int) -> String { kind + "_" + prefix + String(repeating: "0", count: 16 - String(number, radix: 16).count) + String(number, radix: 16).uppercased() }

        say("copying \(wanted) submissions of \(templates.count) made through the API, with their sessions, answers and subjects")
        var copied = 0
        let copying = ProgressBar(total: wanted)
        while copied < wanted {
            let count = min(Self.chunk, wanted - copied)
            try await copy(templates, numbers: copied..<(copied + count), firstAttempt: firstAttempt, ids: id)
            copied += count
            copying.show(copied)
        }

        let database = Database(endpoint: application, maximumConnections: 4, logger: logger)
        try await database.whileRunning {
            let scope = Scope.tenantWide(tenantId)
            // A template's own events without its reads: the load's fixed-rate runs read the same submissions
            // hundreds of times, and copying those reads made three million events instead of one. The reads are
            // added below, as many as the wanted count leaves room for, from one read of each template.
            var events: [String: [LedgerEventDraft]] = [:]
            var views: [String: LedgerEventDraft] = [:]
            for template in templates {
                let drafts = try await database.transaction(scope) {
                    try await $0.listLedgerEntries(aggregateType: "submission", aggregateId: template.id, limit: 1000)
                }.map(\.event.draft)
                events[template.id] = drafts.filter { $0.eventType.rawValue != "submission.viewed" }
                views[template.id] = drafts.first { $0.eventType.rawValue == "submission.viewed" }
            }
            let perCopy = templates.map { events[$0.id]?.count ?? 0 }.reduce(0, +) / templates.count
            let reads = max(0, wantedEvents - perCopy * wanted)
            say("appending about \(perCopy * wanted) events of the copies and \(reads) reads of them")
            let total = perCopy * wanted + reads
            var appended = 0
            let appending = ProgressBar(total: total)
            var pending: [LedgerEventDraft] = []
            func flush() async throws {
                let batch = pending
                pending = []
                try await database.transaction(scope) { try await $0.appendLedgerEvents(batch) }
                appended += batch.count
                appending.show(appended)
            }
            for number in 0..<wanted {
                let template = templates[number % templates.count]
                let renamed = [template.id: id("sub", number), template.session: id("att", number)]
                for draft in events[template.id] ?? [] {
                    pending.append(Self.renaming(draft, renamed))
                }
                if let view = views[template.id] {
                    for _ in 0..<(reads / wanted + (number < reads % wanted ? 1 : 0)) { pending.append(Self.renaming(view, renamed)) }
                }
                if pending.count >= Self.eventsPerTransaction { try await flush() }
            }
            if !pending.isEmpty { try await flush() }
            appending.finish()

            say("sealing them into the tenant's chain")
            let sealing = ProgressBar(total: total)
            _ = try await database.sealPendingLedgerEvents(eventsPerTenant: 20_000, progress: sealing.show)
            sealing.finish()
        }
    }

    /// `draft` about the copy: every id of the template replaced by the copy's, in the aggregate and the payload.
    static func renaming(_ draft: LedgerEventDraft, _ ids: [String: String]) -> LedgerEventDraft {
        func rename(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let text): .string(ids[text] ?? text)
            case .array(let elements): .array(elements.map(rename))
            case .object(let members): .object(members.mapValues(rename))
            default: value
            }
        }
        var renamed = draft
        renamed.aggregateId = ids[draft.aggregateId] ?? draft.aggregateId
        renamed.payload = rename(draft.payload)
        return renamed
    }

    /// Copies of the templates numbered `numbers`, each a new session, submission, answers and subjects.
    private func copy(
        _ templates: [(id: String, session: String)], numbers: Range<Int>, firstAttempt: Int, ids: (String, Int) -> String
    ) async throws {
        let copies = numbers.map { number in
            let template = templates[number % templates.count]
            return "('\(ids("sub", number))', '\(ids("att", number))', '\(template.id)', '\(template.session)', \(number))"
        }
        func cloned(_ table: String, replacing columns: String, from source: String) -> String {
            "INSERT INTO \(table) SELECT (jsonb_populate_record(NULL::\(table), to_jsonb(t) || \(columns))).* FROM \(source)"
        }
        try await AdministrativeSQL.run(
            [
                "SET session_replication_role = replica",
                "CREATE TEMPORARY TABLE copies (id text, session_id text, template text, template_session text, number int)",
                "INSERT INTO copies VALUES \(copies.joined(separator: ","))",
                cloned(
                    "delivery_sessions",
                    replacing: "jsonb_build_object('id', c.session_id, 'submission_id', c.id, 'attempt_number', \(firstAttempt) + c.number)",
                    from: "copies c JOIN delivery_sessions t ON t.id = c.template_session"),
                cloned(
                    "submissions", replacing: "jsonb_build_object('id', c.id, 'session_id', c.session_id)",
                    from: "copies c JOIN submissions t ON t.id = c.template"),
                cloned(
                    "submission_items", replacing: "jsonb_build_object('session_id', c.session_id, 'submission_id', c.id)",
                    from: "copies c JOIN submission_items t ON t.session_id = c.template_session"),
                cloned(
                    "submission_subjects", replacing: "jsonb_build_object('submission_id', c.id)",
                    from: "copies c JOIN submission_subjects t ON t.submission_id = c.template"),
            ], on: superuser, logger: logger)
    }
}
