import AsyncHTTPClient
import Crypto
@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
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

    /// `history`, once the projection has caught up with it.
    static func projectedHistory(_ client: some TestClientProtocol, _ server: EvaliumServer) async throws -> TenantWithAdmin {
        let tenant = try await history(client, server)
        try await caughtUp(tenant.tenantId)
        return tenant
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
        try await TestEnvironment.withServer(configure: TestEnvironment.withReportingProjector) { client, server in
            let tenant = try await Self.projectedHistory(client, server)
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
        try await TestEnvironment.withServer(configure: TestEnvironment.withReportingProjector) { client, server in
            let tenant = try await Self.projectedHistory(client, server)
            let expected = try await Self.dump(tenant.tenantId)
            try await TestEnvironment.sql(
                "DELETE FROM reporting.findings WHERE tenant_id = '\(tenant.tenantId)'",
                "DELETE FROM reporting.item_results WHERE tenant_id = '\(tenant.tenantId)'",
                "DELETE FROM reporting.submission_facts WHERE tenant_id = '\(tenant.tenantId)'",
                "DELETE FROM reporting.checkpoints WHERE tenant_id = '\(tenant.tenantId)'", as: TestEnvironment.superuser)
            // One batch of 7 events, then this projector stops; the servers' projectors (every test server runs
            // one) carry on from its checkpoint, or got there first: every interleaving must end the same.
            _ = try await ReportingProjector(database: server.database).catchUp(tenant.tenantId, limit: 7)
            try await Self.caughtUp(tenant.tenantId)
            #expect(try await Self.dump(tenant.tenantId) == expected)
        }
    }

    @Test("reads move the projection's checkpoint past them and change no row; a checkpoint moved meanwhile is not moved back")
    func readsAreSkipped() async throws {
        try await TestEnvironment.withServer(configure: TestEnvironment.withReportingProjector) { client, server in
            let tenant = try await Self.projectedHistory(client, server)
            let projected = try await Self.dump(tenant.tenantId)
            let submission = try #require(
                try await client.send(.get, "/v1/reporting/submissions", as: tenant.admin).json()["items"]?.arrayValue.first?["submissionId"]?.stringValue)
            for _ in 0..<3 { _ = try await client.send(.get, "/v1/submissions/\(submission)", as: tenant.admin) }
            try await Self.caughtUp(tenant.tenantId)
            #expect(try await Self.dump(tenant.tenantId) == projected)

            let head = try await TestEnvironment.sql(
                "SELECT last_sequence::text FROM reporting.checkpoints WHERE tenant_id = '\(tenant.tenantId)'", as: TestEnvironment.superuser)
            let checkpoint = try #require(head.first?.first?.flatMap { Int64($0) })
            let moved = try await server.database.scopedStatements(.none) {
                try await $0.skipReportingCheckpoints([(tenant.tenantId, checkpoint - 1, 1)])
            }
            #expect(moved.isEmpty, "the checkpoint is no longer where that pass read it")
            try await Self.caughtUp(tenant.tenantId)
        }
    }

    @Test("findings are exactly the current finding.detected events with their ledger ids; voided work and other tenants stay out")
    func findingsAPI() async throws {
        try await TestEnvironment.withServer(configure: TestEnvironment.withReportingProjector) { client, server in
            let tenant = try await Self.projectedHistory(client, server)
            let analyst = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            let findings = try await client.send(.get, "/v1/reporting/findings", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(findings.count == 2, "the rework's finding and the amendment's finding")
            for finding in findings {
                let submission = try #require(finding["submissionId"]?.stringValue)
                let detections = try await Delivery.events(client, about: submission, as: tenant.admin).filter { $0["eventType"] == "finding.detected" }
                #expect(detections.compactMap { $0["id"]?.stringValue }.contains(try #require(finding["ledgerEventId"]?.stringValue)))
                #expect(finding["severity"] == "major")
            }
            let reviewer = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let bySeverity = try await client.send(.get, "/v1/reporting/findings?severity=major", as: reviewer).json()["items"]?.arrayValue ?? []
            #expect(bySeverity.count == 2, "a reviewer lists findings by severity")
            let one = try #require(findings.first?["submissionId"]?.stringValue)
            let filtered = try await client.send(.get, "/v1/reporting/findings?submissionId=\(one)&severity=major", as: analyst).json()
            #expect(filtered["items"]?.arrayValue.count == 1)
            #expect(try await client.send(.get, "/v1/reporting/findings?severity=minor", as: analyst).json()["items"]?.arrayValue.isEmpty == true)

            let facts = try await client.send(.get, "/v1/reporting/submissions", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(facts.count == 4, "voided work is left out by default")
            let withVoided = try await client.send(.get, "/v1/reporting/submissions?includeVoided=true", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(withVoided.count == 5 && withVoided.contains { $0["voided"] == true })
            #expect(facts.contains { $0["amendmentCount"] == 1 && $0["outcome"] == "pass" && $0["kind"] == "knowledge" }, "the corrected quiz passes")

            let quiz = try #require(facts.first { $0["kind"] == "knowledge" })
            let analytics = try await client.send(
                .get, "/v1/reporting/evaluations/\(try #require(quiz["evaluationId"]?.stringValue))/versions/1/items", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(analytics.count == 1 && analytics.first?["attempts"] == 1 && analytics.first?["correctRate"] == 1, "\(analytics)")
            if case .number(let seconds)? = analytics.first?["averageSeconds"] { #expect(seconds >= 0) } else { Issue.record("no averageSeconds") }
            let summary = try await client.send(.get, "/v1/reporting/summary?groupBy=cohort", as: analyst).json()["items"]?.arrayValue ?? []
            #expect(summary.count == 1 && summary.first?["submissions"] == 4 && summary.first?["findings"] == 2, "\(summary)")
            #expect(summary.first?["rejected"] == 1 && summary.first?["approved"] == 1 && summary.first?["pendingReview"] == 2, "\(summary)")

            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await client.send(.get, "/v1/reporting/findings", as: other.admin).json()["items"]?.arrayValue.isEmpty == true)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            #expect(try await client.send(.get, "/v1/reporting/findings", as: inspector).status == .forbidden)
        }
    }

    /// The CSV proper of an export (between the manifest and the trailer) and its `#` lines.
    static func split(_ text: String) -> (csv: String, notes: [String: String]) {
        var notes: [String: String] = [:]
        var csv = ""
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            if line.hasPrefix("# ") {
                let parts = line.dropFirst(2).split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { notes[parts[0]] = parts[1] }
            } else {
                csv += line + "\r\n"
            }
        }
        return (csv, notes)
    }

    @Test("an export names the ledger state it was read at and ends with the SHA-256 of its rows")
    func exportManifest() async throws {
        try await TestEnvironment.withServer(configure: TestEnvironment.withReportingProjector) { client, server in
            let tenant = try await Self.projectedHistory(client, server)
            let analyst = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            let response = try await client.send(.get, "/v1/reporting/exports/submissions.csv?includeVoided=false", as: analyst)
            #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/csv") == true)
            let (csv, notes) = Self.split(String(buffer: response.body))
            #expect(notes["tenant"] == tenant.tenantId.rawValue && notes["rows"] == "4" && notes["filters"] == "includeVoided=false")
            #expect(notes["sha256"] == Array(SHA256.hash(data: Array(csv.utf8))).hexString, "the trailer's hash is the hash of the rows")
            let seal = try await TestEnvironment.sql(
                "SELECT encode(chain_hash, 'hex') FROM ledger_seals WHERE tenant_id = '\(tenant.tenantId)' AND sequence = \(notes["ledger-sequence"] ?? "0")",
                as: TestEnvironment.superuser)
            #expect(seal.first?.first == notes["ledger-chain-hash"], "the manifest names a real point of the ledger chain")
            #expect(csv.hasPrefix(ReportingExport.submissionColumns.joined(separator: ",") + "\r\n"))

            let findings = try await client.send(.get, "/v1/reporting/exports/findings.csv?severity=major", as: analyst)
            let (findingRows, findingNotes) = Self.split(String(buffer: findings.body))
            #expect(findingNotes["rows"] == "2" && findingNotes["sha256"] == Array(SHA256.hash(data: Array(findingRows.utf8))).hexString)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            #expect(try await client.send(.get, "/v1/reporting/exports/findings.csv", as: inspector).status == .forbidden)
        }
    }

    @Test("an export of 100,000 rows streams in constant memory and its trailer verifies")
    func largeExport() async throws {
        try await TestEnvironment.withServer(configure: TestEnvironment.withReportingProjector) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            // Wide rows (a 200-character cohort), so the file (~46 MB) is larger than the memory bound below: an export
            // that held its rows would break it.
            try await TestEnvironment.sql(
                """
                INSERT INTO reporting.submission_facts (submission_id, tenant_id, org_unit_id, evaluation_id, evaluation_version, kind, cohort,
                    subject_ids, operator_id, started_at, submitted_at, outcome, raw_score, max_score, scaled_score, passed, approval_status,
                    amendment_count, voided, finding_count, evidence_count)
                SELECT '\(tenant.tenantId)-' || n, '\(tenant.tenantId)', '\(tenant.created.rootOrgUnit.id)', 'evl_01M81000000000000000000000', 1,
                       'observation', repeat('c', 200), ARRAY['sbj_01M81000000000000000000001'], '\(tenant.admin.userId)',
                       now() - interval '1 day', now() - (n || ' milliseconds')::interval, 'pass', 1, 1, 1, true, 'approved', 0, false, 0, 0
                FROM generate_series(1, 100000) AS n
                """, as: TestEnvironment.superuser)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(try #require(client.port))/v1/reporting/exports/submissions.csv")
            request.headers.add(name: "Authorization", value: "Bearer \(tenant.admin.accessToken)")
            let before = Self.residentBytes()
            var peak = before
            var rows = RowHasher()
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
            #expect(response.status == .ok)
            for try await chunk in response.body {
                rows.feed(Array(buffer: chunk))
                peak = max(peak, Self.residentBytes())
            }
            let (digest, notes) = rows.finish()
            #expect(notes["rows"] == "100000")
            #expect(notes["sha256"] == digest, "the trailer's hash verifies over 100,000 streamed rows")
            #expect(rows.bytes > 40_000_000)
            let growth = peak - before
            print("export of 100000 rows: \(rows.bytes) bytes; resident memory grew by \(growth / 1_048_576) MiB")
            #expect(growth < 32 * 1_048_576, "the export streams: memory grew by \(growth) bytes for a \(rows.bytes)-byte file")
        }
    }

    /// Hashes an export's CSV proper as it streams past: the manifest (its first `#` lines) is skipped, and the
    /// last few hundred bytes are held back until the end, where the trailer is cut off.
    struct RowHasher {
        var hasher = SHA256()
        var bytes = 0
        var pending: [UInt8] = []
        var manifest: [UInt8]? = []

        mutating func feed(_ chunk: [UInt8]) {
            bytes += chunk.count
            pending += chunk
            if var head = manifest {
                // The manifest ends where the first line not starting with `#` begins.
                while let end = pending.firstRange(of: [13, 10]), pending.first == UInt8(ascii: "#") {
                    head += pending[..<end.upperBound]
                    pending.removeFirst(end.upperBound)
                }
                if pending.first.map({ $0 != UInt8(ascii: "#") }) ?? false { manifest = nil } else { manifest = head; return }
            }
            if pending.count > 512 {
                hasher.update(data: pending.prefix(pending.count - 512))
                pending.removeFirst(pending.count - 512)
            }
        }

        mutating func finish() -> (String, [String: String]) {
            let text = String(decoding: pending, as: UTF8.self)
            let trailer = text.range(of: "# rows:")!.lowerBound
            hasher.update(data: Array(text[..<trailer].utf8))
            return (Array(hasher.finalize()).hexString, ReportingTests.split(String(text[trailer...])).notes)
        }
    }

    /// This process's resident memory, from /proc.
    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return pages * 4096
    }
}
