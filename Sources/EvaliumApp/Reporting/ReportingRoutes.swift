import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird

/// The reporting API (capability `reporting.read`): findings, submission facts, item analytics, cohort and
/// batch summaries, and the same findings and facts as CSV exports of any size.
struct ReportingRoutes {
    let reporting: ReportingService
    let exports: ReportingExport

    func register(on router: Router<AppRequestContext>) {
        router.on(.get, "/v1/reporting/findings", requires: .reportingRead) { request, _, access in
            try JSONBody.response(try await reporting.findings(try findingFilter(request, limit: try request.pageLimit(maximum: 1000)), access: access))
        }
        router.on(.get, "/v1/reporting/submissions", requires: .reportingRead) { request, _, access in
            try JSONBody.response(try await reporting.submissions(try factFilter(request, limit: try request.pageLimit(maximum: 1000)), access: access))
        }
        router.on(.get, "/v1/reporting/evaluations/:evaluationId/versions/:version/items", requires: .reportingRead) { request, context, access in
            let evaluation = try request.pathId("evaluationId", context, as: EvaluationID.self)
            guard let version = context.parameters.get("version").flatMap(Int.init), version >= 1 else {
                throw Problem(.notFound, "no such version")
            }
            return try JSONBody.response(ItemList(items: try await reporting.items(of: evaluation, version: version, access: access)))
        }
        router.on(.get, "/v1/reporting/summary", requires: .reportingRead) { request, _, access in
            let grouping = try request.query("groupBy", SummaryGrouping.init) ?? .batch
            return try JSONBody.response(ItemList(items: try await reporting.summary(by: grouping, try factFilter(request, limit: .max), access: access)))
        }
        router.on(.get, "/v1/reporting/exports/submissions.csv", requires: .reportingRead) { request, _, access in
            exports.submissions(try factFilter(request, limit: .max), query: request.uri.query ?? "", access: access)
        }
        router.on(.get, "/v1/reporting/exports/findings.csv", requires: .reportingRead) { request, _, access in
            exports.findings(try findingFilter(request, limit: .max), query: request.uri.query ?? "", access: access)
        }
    }

    private func findingFilter(_ request: Request, limit: Int) throws -> FindingFilter {
        var filter = FindingFilter(limit: limit)
        filter.submissionId = try request.query("submissionId", { SubmissionID($0) })
        filter.severity = try request.query("severity", FindingSeverity.init)
        filter.subjectId = try request.query("subjectId", { SubjectID($0) })
        filter.batchId = try request.query("batchId", { BatchID($0) })
        filter.from = try request.query("from", RFC3339.parse)
        filter.to = try request.query("to", RFC3339.parse)
        filter.includeVoided = try request.query("includeVoided", { Bool($0) }) ?? false
        filter.after = try request.query("after") { text in
            ReportingService.Cursor.parts(text, ids: 2).flatMap { date, ids in
                SubmissionID(ids[0]).flatMap { submission in ItemID(ids[1]).map { (date, submission, $0) } }
            }
        }
        return filter
    }

    private func factFilter(_ request: Request, limit: Int) throws -> FactFilter {
        var filter = FactFilter(limit: limit)
        filter.evaluationId = try request.query("evaluationId", { EvaluationID($0) })
        filter.evaluationVersion = try request.query("evaluationVersion", { Int($0) })
        filter.cohort = try request.query("cohort", { $0.isEmpty ? nil : $0 })
        filter.batchId = try request.query("batchId", { BatchID($0) })
        filter.subjectId = try request.query("subjectId", { SubjectID($0) })
        filter.outcome = try request.query("outcome", Outcome.init)
        filter.approvalStatus = try request.query("approvalStatus", ApprovalStatus.init)
        filter.from = try request.query("from", RFC3339.parse)
        filter.to = try request.query("to", RFC3339.parse)
        filter.includeVoided = try request.query("includeVoided", { Bool($0) }) ?? false
        filter.after = try request.query("after") { text in
            ReportingService.Cursor.parts(text, ids: 1).flatMap { date, ids in SubmissionID(ids[0]).map { (date, $0) } }
        }
        return filter
    }
}
