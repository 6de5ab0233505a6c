import EvaliumCore
import EvaliumStorage
import Foundation

/// The Submission Glass Box (seed 001 §12.1): what a client sees through a portal link issued for one
/// submission — the frozen form, the answers as they stand, as much of the result as the client
/// disclosure level allows, and the history with every amendment and a void shown, never hidden.
/// Row-level security lets a link session reach only its own submission, and only once approved.
struct PortalSubmissionService: Sendable {
    let database: Database

    struct GlassBox: Encodable, Sendable {
        var submission: SubmissionView
        var history: CorrectionService.History
    }

    /// The approved submissions the link reaches (its one submission, once approved), recorded as a view.
    func list(for link: LinkPrincipal) async throws -> ItemList<SubmissionSummary> {
        ItemList(
            items: try await database.transaction(link.scope) { transaction in
                let items = try await transaction.listSubmissions(SubmissionFilter(approvalStatus: .approved, limit: 100))
                try await transaction.appendLedgerEvent(viewed(link, view: "submissions"))
                return items
            })
    }

    func glassBox(_ id: SubmissionID, for link: LinkPrincipal) async throws -> GlassBox {
        guard link.portalScope == PortalScope(kind: .submission, id: id.rawValue) else {
            throw Problem(.forbidden, "this portal link grants access to one \(link.portalScope.kind.rawValue) only")
        }
        return try await database.transaction(link.scope) { transaction in
            let (submission, snapshot) = try await transaction.fetchSubmission(id)
                .orThrow(Problem(.notFound, "submission \(id) is not approved for viewing yet"))
            let state = try await SubmissionService.currentState(submission, snapshot, in: transaction)
            let view = SubmissionView(
                submission, snapshot: snapshot, corrections: state.corrections, result: state.result,
                level: snapshot.policy.disclosure.client ?? .itemResults)
            let history = try await CorrectionService.history(of: submission, snapshot, includeViews: false, in: transaction)
            try await transaction.appendLedgerEvent(viewed(link, view: "submission"))
            return GlassBox(submission: view, history: history)
        }
    }

    private func viewed(_ link: LinkPrincipal, view: String) -> LedgerEventDraft {
        LedgerEventDraft(
            eventType: "portal.viewed", aggregateType: link.portalScope.kind.rawValue, aggregateId: link.portalScope.id,
            orgUnitId: link.orgUnitId, actor: LedgerActor(kind: .link, id: link.linkId.rawValue),
            payload: ["linkId": .string(link.linkId.rawValue), "view": .string(view)])
    }
}
