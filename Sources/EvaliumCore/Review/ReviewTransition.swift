/// What a reviewer does to a submission (seed 002 §1, seed 004 "Review & Approval").
public enum ReviewAction: String, Codable, Sendable, CaseIterable {
    case approve
    case reject
    case requestChanges = "request_changes"
    case reopen

    /// The capability each action needs.
    public var capability: Capability {
        switch self {
        case .approve: .submissionsApprove
        case .reject: .submissionsReject
        case .requestChanges, .reopen: .submissionsReview
        }
    }

    /// The ledger event an allowed action appends.
    public var eventType: LedgerEventType {
        switch self {
        case .approve: "submission.approved"
        case .reject: "submission.rejected"
        case .requestChanges: "submission.changes.requested"
        case .reopen: "submission.reopened"
        }
    }

    /// Rejecting and asking for changes must say why.
    public var requiresNote: Bool { self == .reject || self == .requestChanges }
}

/// The approval state machine, in one place: approve, reject and request changes only from
/// `pending_review`; reopen from `approved`, `rejected` or `changes_requested` back to `pending_review`.
/// Approval is metadata about trust: a transition never touches the recorded work.
public enum ReviewTransition {
    /// The status `action` leads to from `status`, or nil when the action is not allowed there.
    public static func next(from status: ApprovalStatus, _ action: ReviewAction) -> ApprovalStatus? {
        switch (status, action) {
        case (.pendingReview, .approve): .approved
        case (.pendingReview, .reject): .rejected
        case (.pendingReview, .requestChanges): .changesRequested
        case (.approved, .reopen), (.rejected, .reopen), (.changesRequested, .reopen): .pendingReview
        default: nil
        }
    }
}
