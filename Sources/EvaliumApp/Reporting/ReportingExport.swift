import Crypto
import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird
import NIOCore

/// Defensible CSV exports (seed 001 §15.4): streamed from one consistent snapshot of the projections with no
/// row limit and one row in memory at a time. The file opens with a manifest in `#` lines naming the ledger
/// state it was read at (tenant, last sealed sequence and its chain hash) and ends with the SHA-256 of the
/// CSV proper: every byte from the column header line to the last row, as sent. A recipient strips the `#`
/// lines, hashes the rest, and can later ask the ledger whether it still stands where the manifest says.
struct ReportingExport: Sendable {
    let reads: Database

    static let submissionColumns = [
        "submission_id", "org_unit_id", "evaluation_id", "evaluation_version", "kind", "cohort", "batch_id", "subject_ids", "operator_id",
        "started_at", "submitted_at", "outcome", "raw_score", "max_score", "scaled_score", "passed", "approval_status", "amendment_count",
        "voided", "finding_count", "evidence_count", "replaces",
    ]
    static let findingColumns = [
        "submission_id", "item_id", "org_unit_id", "question_id", "option_id", "severity", "subject_ids", "batch_id", "ledger_event_id",
        "detected_at", "voided",
    ]

    func submissions(_ filter: FactFilter, query: String, access: CapabilityAccess) -> Response {
        csv("submissions", columns: Self.submissionColumns, query: query, access: access) { transaction, emit in
            try await transaction.eachFact(filter) { fact in
                try await emit([
                    fact.submissionId.rawValue, fact.orgUnitId.rawValue, fact.evaluationId.rawValue, "\(fact.evaluationVersion)", fact.kind.rawValue,
                    CSV.inert(fact.cohort ?? ""), fact.batchId?.rawValue ?? "", fact.subjectIds.map(\.rawValue).joined(separator: " "),
                    fact.operatorId.rawValue, fact.startedAt.rfc3339, fact.submittedAt.rfc3339, fact.outcome.rawValue, "\(fact.rawScore)",
                    "\(fact.maxScore)", "\(fact.scaledScore)", fact.passed.map { "\($0)" } ?? "", fact.approvalStatus.rawValue,
                    "\(fact.amendmentCount)", "\(fact.voided)", "\(fact.findingCount)", "\(fact.evidenceCount)",
                    fact.replaces?.rawValue ?? "",
                ])
            }
        }
    }

    func findings(_ filter: FindingFilter, query: String, access: CapabilityAccess) -> Response {
        csv("findings", columns: Self.findingColumns, query: query, access: access) { transaction, emit in
            try await transaction.eachFinding(filter) { finding in
                try await emit([
                    finding.submissionId.rawValue, finding.itemId.rawValue, finding.orgUnitId.rawValue, finding.questionId.rawValue,
                    finding.optionId, finding.severity.rawValue, finding.subjectIds.map(\.rawValue).joined(separator: " "),
                    finding.batchId?.rawValue ?? "", finding.ledgerEventId.rawValue, finding.detectedAt.rfc3339, "\(finding.voided)",
                ])
            }
        }
    }

    private func csv(
        _ name: String, columns: [String], query: String, access: CapabilityAccess,
        rows: @escaping @Sendable (Transaction, _ emit: (([String]) async throws -> Void)) async throws -> Void
    ) -> Response {
        let tenant = access.user.tenantId
        let scope = access.scope
        // Control characters are dropped, so no query can add lines of its own to the manifest.
        let filters = query.isEmpty ? "none" : String(String.UnicodeScalarView(query.unicodeScalars.filter { $0.properties.generalCategory != .control }))
        let reads = reads
        let body = ResponseBody { writer in
            // One repeatable-read snapshot: the manifest's ledger state and every row describe the same moment.
            try await reads.transaction(scope, isolation: .repeatableRead) { transaction in
                let seal = try await transaction.lastSeal()
                var buffer = ByteBuffer()
                buffer.writeString(
                    """
                    # evalium export: \(name)\r
                    # tenant: \(tenant)\r
                    # ledger-sequence: \(seal.sequence)\r
                    # ledger-chain-hash: \(seal.chainHash)\r
                    # produced-at: \(ServerClock.now().rfc3339)\r
                    # filters: \(filters)\r\n
                    """)
                var hasher = SHA256()
                var count = 0
                func append(_ line: String) {
                    let bytes = Array(line.utf8)
                    hasher.update(data: bytes)
                    buffer.writeBytes(bytes)
                }
                append(CSV.record(columns))
                try await rows(transaction) { fields in
                    append(CSV.record(fields))
                    count += 1
                    if buffer.readableBytes >= 64 * 1024 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                buffer.writeString("# rows: \(count)\r\n# sha256: \(Array(hasher.finalize()).hexString)\r\n")
                try await writer.write(buffer)
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8; header=present"
        headers[.contentDisposition] = "attachment; filename=\"evalium-\(name)-\(tenant).csv\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: body)
    }
}
