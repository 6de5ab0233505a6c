import EvaliumCore
import EvaliumStorage
import Foundation

/// Reporting reads. Every read goes through `reads`: the primary's pool, or a read replica's when one is
/// configured (seed 001 §4.3 replica seam); handlers never know which. Row-level security scopes them
/// like any other read.
struct ReportingService: Sendable {
    let reads: Database

    struct Findings: Encodable, Sendable {
        var items: [FindingFact]
        var nextCursor: String?
    }

    struct Facts: Encodable, Sendable {
        var items: [SubmissionFact]
        var nextCursor: String?
    }

    func findings(_ filter: FindingFilter, access: CapabilityAccess) async throws -> Findings {
        let items = try await reads.scopedStatements(access.scope) { try await $0.listFindings(filter) }
        let next = items.count == filter.limit ? items.last.map { Cursor.text($0.detectedAt, $0.submissionId.rawValue, $0.itemId.rawValue) } : nil
        return Findings(items: items, nextCursor: next)
    }

    func submissions(_ filter: FactFilter, access: CapabilityAccess) async throws -> Facts {
        let items = try await reads.transaction(access.scope) { try await $0.listFacts(filter) }
        let next = items.count == filter.limit ? items.last.map { Cursor.text($0.submittedAt, $0.submissionId.rawValue) } : nil
        return Facts(items: items, nextCursor: next)
    }

    func summary(by grouping: SummaryGrouping, _ filter: FactFilter, access: CapabilityAccess) async throws -> [GroupSummary] {
        try await reads.transaction(access.scope) { try await $0.summarize(by: grouping, filter) }
    }

    func items(of evaluation: EvaluationID, version: Int, access: CapabilityAccess) async throws -> [ItemAnalytics] {
        try await reads.transaction(access.scope) { try await $0.itemAnalytics(evaluation: evaluation, version: version) }
    }

    /// Keyset cursors: a time and ids, opaque to clients.
    enum Cursor {
        static func text(_ date: Date, _ ids: String...) -> String {
            Data(([date.rfc3339] + ids).joined(separator: "|").utf8).base64EncodedString()
        }

        static func parts(_ text: String, ids count: Int) -> (Date, [String])? {
            guard let data = Data(base64Encoded: text) else { return nil }
            let parts = String(decoding: data, as: UTF8.self).split(separator: "|").map(String.init)
            guard parts.count == count + 1, let date = RFC3339.parse(parts[0]) else { return nil }
            return (date, Array(parts.dropFirst()))
        }
    }
}
