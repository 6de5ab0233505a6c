import EvaliumCore
import EvaliumStorage
import Foundation

/// Reading submissions (every read is a `submission.viewed` ledger event, seed 000 §7) and grading the
/// items that needed a person: grades are appended and re-score the submission as a new ledger event,
/// never by editing the finalised record (seed 001 §11).
struct SubmissionService: Sendable {
    let database: Database

    struct GradeInput: Codable, Sendable {
        var itemId: ItemID
        var points: Double
        var note: String?
    }

    /// What `user` may see of submissions and where: reviewers and analysts see the result at the
    /// evaluation's admin level within their reach; anyone sees their own work at the operator level.
    struct Reader {
        var scope: Scope
        var isReviewer: Bool

        init(_ user: UserPrincipal) {
            for capability in [Capability.submissionsReview, .reportingRead] {
                if let scope = try? user.scope(for: capability) {
                    self.scope = scope
                    isReviewer = true
                    return
                }
            }
            scope = user.ownScope
            isReviewer = false
        }

        /// What `user` may see of `submission`; nil when it is neither theirs nor within a reviewer's reach.
        func level(for submission: Submission, _ snapshot: VersionSnapshot, user: UserPrincipal, at now: Date) -> FeedbackLevel? {
            let disclosure = snapshot.policy.disclosure
            let own = submission.operatorId == user.userId ? SubmissionService.operatorLevel(snapshot, at: now) : nil
            guard isReviewer else { return own }
            return max(disclosure.admin ?? .answerKey, own ?? .none)
        }
    }

    /// The submission as `user` may see it, its reading recorded as `submission.viewed` before it is answered.
    /// The submission, then its record with the event, each a statement applying the scope itself (two round
    /// trips, not a transaction's five); the event waits for the reader's level, so a refused read records nothing.
    func read(_ id: SubmissionID, user: UserPrincipal) async throws -> SubmissionView {
        let reader = Reader(user)
        return try await database.scopedStatements(reader.scope) { statements in
            let (submission, snapshot) = try await statements.fetchSubmission(id).orThrow(Self.notFound(id))
            let level = try reader.level(for: submission, snapshot, user: user, at: ServerClock.now()).orThrow(Self.notFound(id))
            let (responses, corrected) = try await statements.responsesAndCorrections(
                of: submission, appending: [DeliveryEvents.submission("submission.viewed", submission, actor: user.ledgerActor)])
            let state = Self.currentState(submission, snapshot, responses: responses, corrected: corrected)
            return SubmissionView(submission, snapshot: snapshot, corrections: state.corrections, result: state.result, level: level)
        }
    }

    /// Records a person's grade for an item that needed one and re-scores the submission; an outcome
    /// that changes is recorded as `submission.rescored`.
    func grade(_ id: SubmissionID, _ input: GradeInput, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> SubmissionView {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let (submission, snapshot) = try await transaction.fetchSubmission(id).orThrow(Self.notFound(id))
            guard submission.operatorId != access.user.userId else {
                throw Problem(.forbidden, "you cannot grade your own work; another reviewer must")
            }
            let before = try await Self.currentState(submission, snapshot, in: transaction)
            if let void = before.corrections.void { throw CorrectionService.voided(id, void) }
            guard let item = submission.result.items.first(where: { $0.itemId == input.itemId }) else {
                throw Problem(.validationFailed, "submission \(id) has no item \(input.itemId)", errors: [.init(pointer: "/itemId", detail: "unknown")])
            }
            guard item.correct == .pending || item.gradedBy == .human else {
                throw Problem(.conflict, "item \(input.itemId) was scored from its answer key; only items awaiting a person are graded")
            }
            guard input.points.isFinite, (0...item.pointsPossible).contains(input.points) else {
                throw Problem(
                    .validationFailed, "points must be from 0 to \(item.pointsPossible)", errors: [.init(pointer: "/points", detail: "out of range")])
            }
            try await transaction.insertGrade(
                HumanGrade(pointsEarned: input.points, gradedBy: access.user.userId), item: input.itemId, note: input.note, of: submission, at: now)
            let after = try await Self.currentState(submission, snapshot, in: transaction).result
            try await transaction.appendLedgerEvent(
                DeliveryEvents.submission(
                    "submission.item.graded", submission, actor: access.actor,
                    payload: ["itemId": .string(input.itemId.rawValue), "points": .number(input.points)]))
            if let rescored = DeliveryEvents.rescored(submission, from: before.result, to: after, actor: access.actor) {
                try await transaction.appendLedgerEvent(rescored)
                try await transaction.publish([AssessmentEvents.attemptScored(submission, result: after, at: now)])
            }
            return try await Self.view(submission, snapshot, level: snapshot.policy.disclosure.admin ?? .answerKey, in: transaction)
        }
    }

    /// Reviewer and administrator listing: every status, filtered.
    func list(_ filter: SubmissionFilter, access: CapabilityAccess) async throws -> Page<SubmissionSummary> {
        let items = try await database.transaction(access.scope) { try await $0.listSubmissions(filter) }
        return Page(items: items, nextCursor: items.count == filter.limit ? items.last?.id.rawValue : nil)
    }

    /// The operator-facing listing: the caller's own work, approved and standing (seed 002 §1.3 query defaults).
    func mine(_ filter: SubmissionFilter, user: UserPrincipal) async throws -> Page<SubmissionSummary> {
        var filter = filter
        filter.operatorId = user.userId
        filter.approvalStatus = .approved
        filter.voided = false
        let items = try await database.transaction(user.ownScope) { try await $0.listSubmissions(filter) }
        return Page(items: items, nextCursor: items.count == filter.limit ? items.last?.id.rawValue : nil)
    }

    /// Work waiting for the caller's review, oldest first: pending review, within reach, and under four-eyes
    /// not their own.
    func queue(limit: Int, access: CapabilityAccess) async throws -> ItemList<SubmissionSummary> {
        let filter = SubmissionFilter(queueFor: access.user.userId, limit: limit)
        return ItemList(items: try await database.transaction(access.scope) { try await $0.listSubmissions(filter) })
    }

    static func notFound(_ id: SubmissionID) -> Problem { Problem(.notFound, "no submission \(id) in your reach") }

    /// What the operator sees of their own work: the frozen operator level, with the answer key held back
    /// until the grading rule's `showCorrectAnswers` allows it (after the attempt, or once the assignment closed).
    static func operatorLevel(_ snapshot: VersionSnapshot, at now: Date) -> FeedbackLevel {
        let level = snapshot.policy.disclosure.operator ?? .outcome
        guard level >= .answerKey else { return level }
        switch snapshot.evaluation.definition.grading?.showCorrectAnswers ?? .never {
        case .afterAttempt: return level
        case .afterClose: return (snapshot.policy.availableUntil.map { now >= $0 } ?? false) ? level : .itemResults
        case .never: return .itemResults
        }
    }

    /// A submission as it stands now: its correction chain, and the result of the corrected answers with
    /// the human grades that still stand. Nothing in the finalised record changes to get here.
    struct CurrentState {
        var corrections: CorrectionChain
        var result: ScoreResult
    }

    static func currentState(_ submission: Submission, _ snapshot: VersionSnapshot, in transaction: Transaction) async throws -> CurrentState {
        let (responses, corrected) = try await transaction.responsesAndCorrections(of: submission)
        return currentState(submission, snapshot, responses: responses, corrected: corrected)
    }

    /// The same from the responses and corrections read already.
    static func currentState(
        _ submission: Submission, _ snapshot: VersionSnapshot, responses: [RecordedResponse], corrected: SubmissionCorrections
    ) -> CurrentState {
        currentState(
            submission, snapshot,
            corrections: CorrectionChain(original: responses, amendments: corrected.amendments, void: corrected.void),
            grades: corrected.latestGrades)
    }

    /// Whether amendments or grades make a submission's current result differ from the one stored when it was
    /// submitted, so that it is scored again from its answers. (Without amendments every latest grade stands.)
    static func isRescored(amendments: [Amendment], latestGrades: [ItemID: HumanGrade]) -> Bool {
        !amendments.isEmpty || !latestGrades.isEmpty
    }

    /// The same from what was read already: the correction chain and the latest grade of each item.
    static func currentState(
        _ submission: Submission, _ snapshot: VersionSnapshot, corrections: CorrectionChain, grades latest: [ItemID: HumanGrade]
    ) -> CurrentState {
        guard isRescored(amendments: corrections.amendments, latestGrades: latest) else {
            return CurrentState(corrections: corrections, result: submission.result)
        }
        let grades = corrections.standingGrades(latest)
        return CurrentState(corrections: corrections, result: snapshot.score(corrections.current, grades: grades))
    }

    static func view(
        _ submission: Submission, _ snapshot: VersionSnapshot, level: FeedbackLevel, in transaction: Transaction
    ) async throws -> SubmissionView {
        let state = try await currentState(submission, snapshot, in: transaction)
        return SubmissionView(submission, snapshot: snapshot, corrections: state.corrections, result: state.result, level: level)
    }
}
