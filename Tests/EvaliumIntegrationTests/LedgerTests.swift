import EvaliumApp
import EvaliumCore
@testable import EvaliumStorage
import Foundation
import Testing

@Suite("The ledger is append-only and tamper-evident", .timeLimit(.minutes(2)))
struct LedgerTests {
    /// A tenant with `count` extra events, all sealed.
    static func sealedTenant(_ database: Database, events count: Int = 3) async throws -> TenantID {
        let tenant = try await TestEnvironment.makeTenant(database).tenant.id
        for index in 0..<count {
            try await append(database, tenant, index: index)
        }
        _ = try await database.sealPendingLedgerEvents()
        return tenant
    }

    /// Appends one test event to `tenant`'s ledger.
    static func append(_ database: Database, _ tenant: TenantID, index: Int) async throws {
        try await database.transaction(.tenantWide(tenant)) { transaction in
            try await transaction.appendLedgerEvent(
                LedgerEventDraft(
                    eventType: "test.recorded", aggregateType: "test", aggregateId: "item-\(index)", orgUnitId: nil,
                    actor: .platformOperator, payload: ["index": .number(Double(index)), "note": "café ✓"]))
        }
    }

    /// What an attacker with superuser access does: switch the append-only triggers off, change rows,
    /// switch them back on, all in one transaction. A short lock_timeout makes this script give way
    /// (and retry) rather than ever deadlock with the sealer and the other tests running meanwhile. It is one
    /// statement, so the ledger's tables are locked for its run alone: as a transaction of six round trips
    /// from a test process short of CPU it held them for seconds, and every server of the pass waited.
    static func tamper(_ statements: String...) async throws {
        let triggers = [("ledger_events", "ledger_events_refuse_update_delete"), ("ledger_seals", "ledger_seals_refuse_update_delete")]
        let body = ["PERFORM set_config('lock_timeout', '50ms', true)"]
            + triggers.map { "ALTER TABLE \($0.0) DISABLE TRIGGER \($0.1)" } + statements
            + triggers.map { "ALTER TABLE \($0.0) ENABLE ALWAYS TRIGGER \($0.1)" }
        let script = "DO $tamper$ BEGIN " + body.map { $0 + "; " }.joined() + "END $tamper$"
        try await givingWayOnLockTimeouts { try await AdministrativeSQL.run([script], on: TestEnvironment.superuser, logger: TestEnvironment.logger) }
    }

    /// Runs `work` again while it fails on its lock_timeout (55P03), up to 100 times, a little later each time.
    static func givingWayOnLockTimeouts(_ work: () async throws -> Void) async throws {
        for attempt in 1... {
            do {
                return try await work()
            } catch StorageError.unexpected(let detail) where attempt < 100 && detail.contains("55P03") {
                try await Task.sleep(for: .milliseconds(10 * min(attempt, 10)))
            }
        }
    }

    static func verify(_ database: Database, _ tenant: TenantID) async throws -> LedgerVerificationReport {
        try await LedgerService(database: database).verify(tenantId: tenant)
    }

    static func firstEventId(_ tenant: TenantID) async throws -> String {
        let rows = try await TestEnvironment.sql(
            "SELECT event_id FROM ledger_seals WHERE tenant_id = '\(tenant)' AND sequence = 2", as: TestEnvironment.superuser)
        return try #require(rows.first?.first ?? nil)
    }

    @Test("UPDATE, DELETE and TRUNCATE on the ledger are refused for the application role", arguments: [
        "UPDATE ledger_events SET event_type = 'test.rewritten'",
        "DELETE FROM ledger_events",
        "TRUNCATE ledger_events",
        "UPDATE ledger_seals SET sequence = sequence + 1",
        "DELETE FROM ledger_seals",
    ])
    func applicationRoleCannotChangeTheLedger(statement: String) async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database)
            let error = await #expect(throws: StorageError.self) {
                try await TestEnvironment.sql(
                    "BEGIN",
                    "SELECT set_config('app.tenant_id', '\(tenant)', true), set_config('app.org_scope_all', 'true', true)",
                    statement, as: TestEnvironment.application)
            }
            guard case .permissionDenied = error else {
                Issue.record("expected permission denied, got \(String(describing: error))")
                return
            }
            #expect(try await Self.verify(database, tenant).verified)
        }
    }

    @Test("guard triggers refuse UPDATE, DELETE and TRUNCATE for every role, also in replica mode", arguments: [
        "UPDATE ledger_events SET event_type = 'test.rewritten' WHERE tenant_id = '%@'",
        "DELETE FROM ledger_events WHERE tenant_id = '%@'",
        "TRUNCATE ledger_events",
        "UPDATE ledger_seals SET chain_hash = leaf_hash WHERE tenant_id = '%@'",
        "TRUNCATE ledger_seals CASCADE",
    ])
    func triggersRefuseEvenTheSuperuser(statement: String) async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database)
            let sql = statement.replacingOccurrences(of: "%@", with: tenant.rawValue)
            for prelude in ["SET session_replication_role = origin", "SET session_replication_role = replica"] {
                // TRUNCATE waits for every open transaction on the table, and every other server's statement on
                // it would queue behind that wait: a short lock_timeout gives way and tries again, until the
                // trigger itself refuses.
                await #expect(throws: StorageError.self) {
                    try await Self.givingWayOnLockTimeouts {
                        try await TestEnvironment.sql("SET lock_timeout = '50ms'", prelude, sql, as: TestEnvironment.superuser)
                    }
                }
            }
            #expect(try await Self.verify(database, tenant).verified)
        }
    }

    @Test("a sealed chain verifies, with gapless sequence numbers")
    func chainVerifies() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database, events: 5)
            let report = try await Self.verify(database, tenant)
            #expect(report.verified)
            #expect(report.sealedEventsChecked == 7)  // tenant.created + org_unit.created + 5
            #expect(report.headSequence == 7)
            #expect(report.unsealedEvents == 0)
        }
    }

    @Test("an event edited by a superuser with the triggers disabled is detected", arguments: [
        "payload = jsonb_set(payload, '{note}', '\"edited\"')",
        "occurred_at = occurred_at - interval '1 day'",
        "canonical_bytes = convert_to(replace(convert_from(canonical_bytes, 'UTF8'), 'café', 'cafe'), 'UTF8')",
    ])
    func editedEventIsDetected(change: String) async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database)
            let rows = try await TestEnvironment.sql(
                "SELECT s.event_id FROM ledger_seals s WHERE s.tenant_id = '\(tenant)' AND s.sequence = 4", as: TestEnvironment.superuser)
            let eventId = try #require(rows.first?.first ?? nil)
            try await Self.tamper("UPDATE ledger_events SET \(change) WHERE id = '\(eventId)'")
            let report = try await Self.verify(database, tenant)
            #expect(!report.verified)
            #expect(report.firstBreak?.contains(eventId) == true)
            #expect(report.firstBreak?.contains("seq 4") == true)
        }
    }

    @Test("a deleted event is detected, and so is a deleted event with its seal")
    func deletedEventIsDetected() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database)
            let eventId = try await Self.firstEventId(tenant)
            try await Self.tamper("DELETE FROM ledger_events WHERE id = '\(eventId)'")
            let report = try await Self.verify(database, tenant)
            #expect(report.firstBreak?.contains("deleted") == true)

            let other = try await Self.sealedTenant(database)
            let otherEventId = try await Self.firstEventId(other)
            try await Self.tamper(
                "DELETE FROM ledger_events WHERE id = '\(otherEventId)'", "DELETE FROM ledger_seals WHERE event_id = '\(otherEventId)'")
            let otherReport = try await Self.verify(database, other)
            #expect(otherReport.firstBreak?.contains("sequence gap") == true)
        }
    }

    @Test("a waiting sealer wakes at a commit, not at its timeout; at once for a commit made before it waited; never sooner than its spacing")
    func commitSignalWakesAWaitingWorker() async throws {
        let signal = CommitSignal()
        let waiting = Task {
            let started = ContinuousClock.now
            await signal.wait(atMost: .seconds(30), spacedBy: .zero)
            return ContinuousClock.now - started
        }
        try await Task.sleep(for: .milliseconds(100))
        signal.notify()
        let woken = await waiting.value
        #expect(woken < .seconds(5))

        signal.notify()
        let started = ContinuousClock.now
        await signal.wait(atMost: .seconds(30), spacedBy: .milliseconds(200))
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(200) && waited < .seconds(5), "the commit was already there; the spacing still holds")

        let quiet = ContinuousClock.now
        await signal.wait(atMost: .milliseconds(300), spacedBy: .zero)
        #expect(ContinuousClock.now - quiet >= .milliseconds(300), "without a commit, the whole timeout")
    }

    @Test("a sealer leaves a tenant to the sealer that has its turn rather than wait for it; once the turn is free, sealing goes on")
    func sealerLeavesATenantInAnotherSealersTurn() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database, events: 1)
            func seal(waitingForTurn: Bool) async throws {
                _ = try await database.sealPendingLedgerEvents(waitingForTurn: waitingForTurn)
            }
            try await database.transaction(.tenantWide(tenant)) { holder in
                // Another sealer's turn on the tenant, held until this transaction ends. Taken alone: a transaction
                // that has read the ledger's tables would keep the tamper tests' ALTER TABLE waiting meanwhile.
                // The key `ledger_write_seals` (migration 0021) takes a tenant's turn on.
                #expect(try await holder.tryAdvisoryLock("evalium.ledger.seal:\(tenant.rawValue)"))
                try await Self.append(database, tenant, index: 1)
                try await seal(waitingForTurn: false)
                #expect(try await Self.verify(database, tenant).unsealedEvents == 1, "left to the sealer that has the turn")
            }
            // Other servers' sealers of the pass seal this tenant too, so whichever has the turn now seals it.
            try await seal(waitingForTurn: true)
            let report = try await Self.verify(database, tenant)
            #expect(report.unsealedEvents == 0 && report.verified)
        }
    }

    @Test("a seal computed from a head that has since moved is not written, nor one for an event the tenant has not queued")
    func sealWriteChecksItsHeadAndQueue() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await Self.sealedTenant(database)
            let other = try await Self.sealedTenant(database)
            let head = try await Self.verify(database, tenant).headSequence
            let hash = "'\\x" + String(repeating: "ab", count: 32) + "'::bytea"
            func writeSeal(after sequence: Int64, eventId: String) async throws -> [[String?]] {
                try await TestEnvironment.sql(
                    """
                    SELECT tenant, sealed::text FROM ledger_write_seals(false, ARRAY['\(tenant)'], ARRAY[\(sequence)]::bigint[],
                        ARRAY[1], ARRAY['\(eventId)'], ARRAY[\(hash)], ARRAY[\(hash)])
                    """, as: TestEnvironment.application)
            }

            let stale = try await writeSeal(after: head - 1, eventId: "evt_\(ULID().text)")
            #expect(stale == [[tenant.rawValue, "0"]], "another sealer moved the chain since: left for the next read")
            // The other tenant's first event, sealed there; in this tenant's chain it would be a forged entry.
            await #expect(throws: StorageError.self) { _ = try await writeSeal(after: head, eventId: try await Self.firstEventId(other)) }

            let report = try await Self.verify(database, tenant)
            #expect(report.verified && report.headSequence == head)
        }
    }

    @Test("one sealer pass seals the pending events of several tenants, each in its own chain")
    func onePassSealsSeveralTenants() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenants = [try await Self.sealedTenant(database), try await Self.sealedTenant(database)]
            for (offset, tenant) in tenants.enumerated() {
                for index in 0...offset { try await Self.append(database, tenant, index: 10 + index) }
            }
            _ = try await database.sealPendingLedgerEvents(eventsPerTenant: 1)
            for (offset, tenant) in tenants.enumerated() {
                let report = try await Self.verify(database, tenant)
                #expect(report.verified && report.unsealedEvents == 0 && report.sealedEventsChecked == 5 + offset + 1)
            }
        }
    }

    @Test("many parallel appends for one tenant are all sealed, gapless, in a chain that verifies")
    func parallelAppendsAreSealedGapless() async throws {
        try await TestEnvironment.withServer { _, server in
            let database = server.database
            let tenant = try await TestEnvironment.makeTenant(database).tenant.id
            let appends = 400
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<appends {
                    group.addTask {
                        _ = try await database.transaction(.tenantWide(tenant)) { transaction in
                            try await transaction.appendLedgerEvent(
                                LedgerEventDraft(
                                    eventType: "test.recorded", aggregateType: "test", aggregateId: "parallel-\(index)",
                                    orgUnitId: nil, actor: .platformOperator, payload: ["index": .number(Double(index))]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            // The server's own sealer runs meanwhile; give it a moment, then make sure nothing is left.
            var report = try await Self.verify(database, tenant)
            for _ in 0..<100 where report.unsealedEvents > 0 {
                try await Task.sleep(for: .milliseconds(50))
                report = try await Self.verify(database, tenant)
            }
            #expect(report.verified)
            #expect(report.unsealedEvents == 0)
            #expect(report.headSequence == Int64(appends + 2))
            #expect(report.sealedEventsChecked == appends + 2)
        }
    }
}
