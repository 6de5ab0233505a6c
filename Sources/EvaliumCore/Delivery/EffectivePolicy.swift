import Foundation

/// What an assignment may change about the policy its evaluation version sets. Absent fields inherit.
public struct AssignmentOverrides: Codable, Hashable, Sendable {
    public var maxAttempts: Int?
    public var timeLimitSeconds: Int?
    public var offlinePolicy: OfflinePolicy?
    public var reviewPolicy: ReviewPolicy?
    public var autoApprove: Bool?
    public var approvalRequired: Bool?
    public var verificationLevel: VerificationLevel?
    public var requiredContext: [ContextField]?
    public var disclosure: DisclosureRules?

    public init(
        maxAttempts: Int? = nil, timeLimitSeconds: Int? = nil, offlinePolicy: OfflinePolicy? = nil, reviewPolicy: ReviewPolicy? = nil,
        autoApprove: Bool? = nil, approvalRequired: Bool? = nil, verificationLevel: VerificationLevel? = nil,
        requiredContext: [ContextField]? = nil, disclosure: DisclosureRules? = nil
    ) {
        self.maxAttempts = maxAttempts
        self.timeLimitSeconds = timeLimitSeconds
        self.offlinePolicy = offlinePolicy
        self.reviewPolicy = reviewPolicy
        self.autoApprove = autoApprove
        self.approvalRequired = approvalRequired
        self.verificationLevel = verificationLevel
        self.requiredContext = requiredContext
        self.disclosure = disclosure
    }
}

/// The one policy an assignment runs under, resolved once when it is issued and frozen with it
/// (seed 000 "Targeting + Policy Truth"; seed 001 §8.1 frozen disclosure config).
public struct EffectivePolicy: Codable, Hashable, Sendable {
    /// nil: unlimited.
    public var maxAttempts: Int?
    public var availableFrom: Date?
    public var availableUntil: Date?
    public var timeLimitSeconds: Int?
    public var offlinePolicy: OfflinePolicy
    public var reviewPolicy: ReviewPolicy
    public var autoApprove: Bool
    public var approvalRequired: Bool
    public var verificationLevel: VerificationLevel
    public var requiredContext: [ContextField]
    public var disclosure: DisclosureRules

    /// Whether a finalised submission waits for a reviewer.
    public var startsPendingReview: Bool { approvalRequired && !autoApprove }

    /// The policy of `evaluation` (a normalised, published definition) as `overrides` change it for one
    /// assignment, with `inheritedOfflinePolicy` from the org unit or tenant when the evaluation sets none.
    ///
    /// An assignment may loosen logistics (attempts, time, window, offline, disclosure) but only tighten
    /// assurance: it cannot relax four-eyes review, lower the verification level, drop a required context
    /// field, or waive approval the evaluation requires. Every reason it fails is returned at once.
    public static func resolve(
        evaluation: EvaluationDefinition, overrides: AssignmentOverrides, availableFrom: Date?, availableUntil: Date?,
        inheritedOfflinePolicy: OfflinePolicy? = nil
    ) -> Result<EffectivePolicy, Problem> {
        var problems: [Problem.FieldError] = []
        let baseReview = evaluation.reviewPolicy ?? .selfApprove
        if baseReview == .fourEyes, overrides.reviewPolicy == .selfApprove {
            problems.append(.init(pointer: "/overrides/reviewPolicy", detail: "the evaluation requires four-eyes review; an assignment cannot relax it"))
        }
        let baseLevel = evaluation.verificationLevel ?? .l1
        if let level = overrides.verificationLevel, level < baseLevel {
            problems.append(.init(pointer: "/overrides/verificationLevel", detail: "cannot be lower than the evaluation's \(baseLevel.rawValue)"))
        }
        let baseApproval = evaluation.approvalRequired ?? false
        if baseApproval, overrides.approvalRequired == false {
            problems.append(.init(pointer: "/overrides/approvalRequired", detail: "the evaluation requires approval; an assignment cannot waive it"))
        }
        if let attempts = overrides.maxAttempts, attempts < 1 { problems.append(.init(pointer: "/overrides/maxAttempts", detail: "must be at least 1")) }
        if let limit = overrides.timeLimitSeconds, !(1...604_800).contains(limit) {
            problems.append(.init(pointer: "/overrides/timeLimitSeconds", detail: "must be from 1 second to 7 days"))
        }
        if let from = availableFrom, let until = availableUntil, from >= until {
            problems.append(.init(pointer: "/availableUntil", detail: "must be after availableFrom"))
        }
        let reviewPolicy = overrides.reviewPolicy ?? baseReview
        let autoApprove = overrides.autoApprove ?? evaluation.autoApprove ?? false
        if reviewPolicy == .fourEyes, autoApprove {
            problems.append(.init(pointer: "/overrides/autoApprove", detail: "auto-approval cannot be combined with four-eyes review"))
        }
        guard problems.isEmpty else { return .failure(Problem(.validationFailed, "the assignment's policy is not valid", errors: problems)) }

        var context = evaluation.requiredContext ?? []
        for field in overrides.requiredContext ?? [] where !context.contains(field) { context.append(field) }
        let base = evaluation.disclosure ?? DisclosureRules()
        let disclosure = DisclosureRules(
            operator: overrides.disclosure?.operator ?? base.operator ?? .outcome, admin: overrides.disclosure?.admin ?? base.admin ?? .answerKey,
            client: overrides.disclosure?.client ?? base.client ?? .itemResults)
        return .success(
            EffectivePolicy(
                maxAttempts: overrides.maxAttempts ?? evaluation.grading?.maxAttempts, availableFrom: availableFrom,
                availableUntil: availableUntil, timeLimitSeconds: overrides.timeLimitSeconds ?? evaluation.navigation?.timeLimitSeconds,
                offlinePolicy: overrides.offlinePolicy ?? evaluation.offlinePolicy ?? inheritedOfflinePolicy ?? .onlineOnly,
                reviewPolicy: reviewPolicy, autoApprove: autoApprove, approvalRequired: overrides.approvalRequired ?? baseApproval,
                verificationLevel: max(overrides.verificationLevel ?? baseLevel, baseLevel), requiredContext: context,
                disclosure: disclosure))
    }

    /// Why a session cannot be launched now, if it cannot: outside the window, out of attempts, or
    /// asking for offline capture the policy forbids. Checked on the server, whatever the client says.
    public func launchRefusal(at now: Date, attemptsUsed: Int, offline: Bool) -> String? {
        if let from = availableFrom, now < from { return "this assignment opens at \(from.rfc3339)" }
        if let until = availableUntil, now >= until { return "this assignment closed at \(until.rfc3339)" }
        if let maxAttempts, attemptsUsed >= maxAttempts {
            return "all \(maxAttempts) attempt\(maxAttempts == 1 ? "" : "s") of this assignment are used"
        }
        if offline, offlinePolicy == .onlineOnly { return "this assignment must be done online (offline policy online_only)" }
        return nil
    }
}

extension VerificationLevel: Comparable {
    public static func < (left: VerificationLevel, right: VerificationLevel) -> Bool {
        allCases.firstIndex(of: left)! < allCases.firstIndex(of: right)!
    }
}
