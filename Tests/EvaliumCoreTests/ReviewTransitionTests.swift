import EvaliumCore
import Testing

@Suite("The approval state machine")
struct ReviewTransitionTests {
    static let allowed: [ApprovalStatus: [ReviewAction: ApprovalStatus]] = [
        .pendingReview: [.approve: .approved, .reject: .rejected, .requestChanges: .changesRequested],
        .approved: [.reopen: .pendingReview],
        .rejected: [.reopen: .pendingReview],
        .changesRequested: [.reopen: .pendingReview],
    ]

    @Test("every (state, action) pair: the seed's transitions are allowed, every other one refused",
          arguments: ApprovalStatus.allCases, ReviewAction.allCases)
    func transition(from status: ApprovalStatus, action: ReviewAction) {
        #expect(ReviewTransition.next(from: status, action) == Self.allowed[status]?[action])
    }

    @Test("rejecting and asking for changes need a note; each action has its capability and event")
    func actionRules() {
        #expect(ReviewAction.allCases.filter(\.requiresNote) == [.reject, .requestChanges])
        #expect(ReviewAction.approve.capability == .submissionsApprove && ReviewAction.reject.capability == .submissionsReject)
        #expect(ReviewAction.requestChanges.eventType == "submission.changes.requested")
    }
}
