import EvaliumCore
import Foundation
import Testing

@Suite("The effective policy: one resolver for what an assignment runs under")
struct EffectivePolicyTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func evaluation(_ change: (inout EvaluationDefinition) -> Void = { _ in }) -> EvaluationDefinition {
        var definition = EvaluationDefinition(grading: GradingRule(passThreshold: 0.5, maxAttempts: 2)).normalized(kind: .observation, now: now)
        change(&definition)
        return definition
    }

    /// Each row: what the evaluation says, what the assignment overrides, and what must come out (or
    /// which pointers are refused).
    static let cases: [(String, EvaluationDefinition, AssignmentOverrides, @Sendable (EffectivePolicy) -> Bool, Set<String>)] = [
        ("inherits everything", evaluation(), AssignmentOverrides(),
         { $0.maxAttempts == 2 && $0.offlinePolicy == .onlineOnly && $0.reviewPolicy == .selfApprove && $0.approvalRequired && $0.startsPendingReview },
         []),
        ("loosens logistics", evaluation(), AssignmentOverrides(maxAttempts: 5, timeLimitSeconds: 600, offlinePolicy: .offlinePreferred),
         { $0.maxAttempts == 5 && $0.timeLimitSeconds == 600 && $0.offlinePolicy == .offlinePreferred }, []),
        ("tightens review to four eyes", evaluation(), AssignmentOverrides(reviewPolicy: .fourEyes), { $0.reviewPolicy == .fourEyes }, []),
        ("cannot relax four eyes", evaluation { $0.reviewPolicy = .fourEyes }, AssignmentOverrides(reviewPolicy: .selfApprove), { _ in false },
         ["/overrides/reviewPolicy"]),
        ("raises the verification level and adds context", evaluation(),
         AssignmentOverrides(verificationLevel: .l4, requiredContext: [.gps]),
         { $0.verificationLevel == .l4 && $0.requiredContext == [.gps] }, []),
        ("cannot lower the verification level", evaluation { $0.verificationLevel = .l3 }, AssignmentOverrides(verificationLevel: .l1),
         { _ in false }, ["/overrides/verificationLevel"]),
        ("cannot waive required approval", evaluation(), AssignmentOverrides(approvalRequired: false), { _ in false }, ["/overrides/approvalRequired"]),
        ("auto-approve skips the review queue", evaluation(), AssignmentOverrides(autoApprove: true), { $0.autoApprove && !$0.startsPendingReview }, []),
        ("auto-approve with four eyes is refused, with every other problem", evaluation { $0.reviewPolicy = .fourEyes },
         AssignmentOverrides(maxAttempts: 0, autoApprove: true), { _ in false }, ["/overrides/maxAttempts", "/overrides/autoApprove"]),
        ("disclosure overrides one audience only", evaluation(), AssignmentOverrides(disclosure: DisclosureRules(client: .outcome)),
         { $0.disclosure.client == .outcome && $0.disclosure.admin == .answerKey && $0.disclosure.operator == .outcome }, []),
    ]

    @Test("override rules", arguments: cases)
    func resolution(_ name: String, evaluation: EvaluationDefinition, overrides: AssignmentOverrides, check: @Sendable (EffectivePolicy) -> Bool, refused: Set<String>) {
        switch EffectivePolicy.resolve(evaluation: evaluation, overrides: overrides, availableFrom: nil, availableUntil: nil) {
        case .success(let policy):
            #expect(refused.isEmpty, "\(name): expected a refusal")
            #expect(check(policy), "\(name)")
        case .failure(let problem):
            #expect(Set(problem.errors.map(\.pointer)) == refused, "\(name)")
        }
    }

    @Test("an evaluation without an offline policy inherits the org unit's, else online only")
    func offlineInheritance() throws {
        let inherited = try EffectivePolicy.resolve(
            evaluation: Self.evaluation(), overrides: AssignmentOverrides(), availableFrom: nil, availableUntil: nil, inheritedOfflinePolicy: .offlineAllowed
        ).get()
        #expect(inherited.offlinePolicy == .offlineAllowed)
        let own = try EffectivePolicy.resolve(
            evaluation: Self.evaluation { $0.offlinePolicy = .onlineOnly }, overrides: AssignmentOverrides(), availableFrom: nil,
            availableUntil: nil, inheritedOfflinePolicy: .offlineAllowed
        ).get()
        #expect(own.offlinePolicy == .onlineOnly)
    }

    @Test("launching checks the window, the attempts used and the offline policy, on the server")
    func launchRefusals() throws {
        let policy = try EffectivePolicy.resolve(
            evaluation: Self.evaluation(), overrides: AssignmentOverrides(), availableFrom: Self.now, availableUntil: Self.now + 3600
        ).get()
        #expect(policy.launchRefusal(at: Self.now - 1, attemptsUsed: 0, offline: false)?.contains("opens") == true)
        #expect(policy.launchRefusal(at: Self.now, attemptsUsed: 0, offline: false) == nil)
        #expect(policy.launchRefusal(at: Self.now + 3600, attemptsUsed: 0, offline: false)?.contains("closed") == true)
        #expect(policy.launchRefusal(at: Self.now + 10, attemptsUsed: 2, offline: false)?.contains("attempts") == true)
        #expect(policy.launchRefusal(at: Self.now + 10, attemptsUsed: 1, offline: true)?.contains("online") == true)
        let window = EffectivePolicy.resolve(
            evaluation: Self.evaluation(), overrides: AssignmentOverrides(), availableFrom: Self.now, availableUntil: Self.now)
        #expect(throws: Problem.self) { try window.get() }
    }
}
