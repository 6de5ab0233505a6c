@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Reporting: projections rebuilt from durable truth, findings tied to their ledger events", .timeLimit(.minutes(2)))
struct ReportingTests {
    /// Every reporting row of `tenant`, as text, in a fixed order.
    static func dump(_ tenant: TenantID) async throws -> [[String?]] {
        var rows: [[String?]] = []
        for (table, order) in [("submission_facts", "submission_id"), ("findings", "submission_id, item_id"), ("item_results", "submission_id, item_id")] {
            rows += try await TestEnvironment.sql(
                "SELECT '\(table)', to_jsonb(r)::text FROM reporting.\(table) r WHERE tenant_id = '\(tenant)' ORDER BY \(order)",
                as: TestEnvironment.superuser)
        }
        return rows
    }

    /// Waits until every event of `tenant` is sealed and read by the projection.
    static func caughtUp(_ tenant: TenantID) async throws {
        for _ in 0..<200 {
            let rows = try await TestEnvironment.sql(
                """
                SELECT ((SELECT coalesce(max(sequence), 0) FROM ledger_seals WHERE tenant_id = '\(tenant)')
                        = coalesce((SELECT last_sequence FROM reporting.checkpoints WHERE tenant_id = '\(tenant)'), 0)
                    AND NOT EXISTS (SELECT 1 FROM ledger_seal_queue WHERE tenant_id = '\(tenant)'))::text
                """, as: TestEnvironment.superuser)
            if rows.first?.first == "true" { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the projection did not catch up with tenant \(tenant)")
    }

    /// A tenant's worth of history: approvals, a rejection and its rework, an amendment that raises a
    /// finding, a void, and a quiz whose wrong answer is corrected.
    static func history(_ client: some TestClientProtocol, _ server: EvaliumServer) async throws -> TenantWithAdmin {
        let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
        let reviewer = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
        let template = try await Delivery.publishedEvaluation(
            client, kind: .observation, questions: [DeliveryTests.majorFinding], extra: CorrectionTests.fourEyes, as: tenant.admin)
        let approved = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
        _ = try await ReviewTests.act(client, .approve, approved, as: reviewer)
        let rejected = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
        _ = try await ReviewTests.act(client, .reject, rejected, as: reviewer)
        let rework = try await client.send(.post, "/v1/submissions/\(rejected)/rework", as: tenant.admin).json()
        let session = try #require(rework["session"]?["id"]?.stringValue)
        let item = try #require(Delivery.items(rework).first)
        _ = try await Delivery.answer(client, session, item, #"{"answer":{"optionIds":["fail"]},"comment":"Seal broken"}"#, as: tenant.admin)
        _ = try await client.send(.post, "/v1/sessions/\(session)/submit", as: tenant.admin)
        _ = try await CorrectionTests.amend(client, approved, CorrectionTests.failing(item, comment: "Gauge in the red"), as: tenant.admin)
        let voided = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
        _ = try await CorrectionTests.void(client, voided, as: tenant.admin, headers: try await CorrectionTests.stepUp(client, as: tenant.admin))

        let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
        let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: tenant.admin)
        _ = try await Delivery.answer(client, started.sessionId, try #require(started.items.first), #"{"answer":{"optionIds":["a"]}}"#, as: tenant.admin)
        let scored = try #require(try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin).json()["id"]?.stringValue)
        _ = try await CorrectionTests.amend(
            client, scored, #"{"reason":"Misread","changes":[{"itemId":"\#(started.items[0])","answer":{"optionIds":["b"]}}]}"#, as: tenant.admin)
        return tenant
    }

    @Test("the incremental projection and a full rebuild produce identical tables; a replayed ledger changes nothing")
    func incrementalEqualsRebuild() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await Self.history(client, server)
            try await Self.caughtUp(tenant.tenantId)
            let incremental = try await Self.dump(tenant.tenantId)
            #expect(incremental.filter { $0.first == "submission_facts" }.count == 5)

            let projector = ReportingProjector(database: server.database)
            #expect(try await projector.rebuild(tenant.tenantId) == 5)
            #expect(try await Self.dump(tenant.tenantId) == incremental, "a rebuild recreates the same rows")

            try await TestEnvironment.sql(
                "UPDATE reporting.checkpoints SET last_sequence = 0 WHERE tenant_id = '\(tenant.tenantId)'", as: TestEnvironment.superuser)
            while try await projector.catchUp(tenant.tenantId) > 0 {}
            #expect(try await Self.dump(tenant.tenantId) == incremental, "replaying every event changes nothing")
        }
    }

    @Test("a projector stopped after one batch is resumed by another without duplicating or losing a row")
    func resumesAfterAStop() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await Self.history(client, server)
            try await Self.caughtUp(tenant.tenantId)
            let expected = try await Self.dump(tenant.tenantId)
            try await server.database.transaction(.tenantWide(tenant.tenantId)) { try await $0.clearProjections() }
            #expect(try await ReportingProjector(database: server.database).catchUp(tenant.tenantId, limit: 7) == 7, "one batch, then it stops")
            let partial = try await Self.dump(tenant.tenantId)
            #expect(partial.count < expected.count)
            try await Self.caughtUp(tenant.tenantId)
            #expect(try await Self.dump(tenant.tenantId) == expected)
        }
    }

    @Test("findings are exactly the current finding.detected events with their ledger ids; voided work and other tenants stay out")
    func findingsAPI() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await Self.history(client, server)
            try await Self.caughtUp(tenant.tenantId)
            let analyst = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            let findings = try await client.send(.get, "/v1/reporting/findings", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(findings.count == 2, "the rework's finding and the amendment's finding")
            for finding in findings {
                let submission = try #require(finding["submissionId"]?.stringValue)
                let detections = try await Delivery.events(client, about: submission, as: tenant.admin).filter { $0["eventType"] == "finding.detected" }
                #expect(detections.compactMap { $0["id"]?.stringValue }.contains(try #require(finding["ledgerEventId"]?.stringValue)))
                #expect(finding["severity"] == "major")
            }
            let one = try #require(findings.first?["submissionId"]?.stringValue)
            let filtered = try await client.send(.get, "/v1/reporting/findings?submissionId=\(one)&severity=major", as: analyst).json()
            #expect(filtered["items"]?.arrayValue.count == 1)
            #expect(try await client.send(.get, "/v1/reporting/findings?severity=minor", as: analyst).json()["items"]?.arrayValue.isEmpty == true)

            let facts = try await client.send(.get, "/v1/reporting/submissions", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(facts.count == 4, "voided work is left out by default")
            let withVoided = try await client.send(.get, "/v1/reporting/submissions?includeVoided=true", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(withVoided.count == 5 && withVoided.contains { $0["voided"] == true })
            #expect(facts.contains { $0["amendmentCount"] == 1 && $0["outcome"] == "pass" && $0["kind"] == "knowledge" }, "the corrected quiz passes")

            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await client.send(.get, "/v1/reporting/findings", as: other.admin).json()["items"]?.arrayValue.isEmpty == true)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            #expect(try await client.send(.get, "/v1/reporting/findings", as: inspector).status == .forbidden)
        }
    }
}
