import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes

/// Delivery sessions: launching an attempt (window, attempts and offline policy checked here, on the
/// server), recording answers under the capture rules, telemetry, and finalisation — the durability
/// boundary of seed 000 §3.1, one transaction.
struct DeliveryService: Sendable {
    let database: Database

    struct Launch: Codable, Sendable {
        var mode: CaptureMode?
    }

    struct ResponseInput: Codable, Sendable {
        var answer: Answer
        var comment: String?
        var clientTimestamp: Date?
        var context: JSONValue?
    }

    struct TelemetryInput: Codable, Sendable {
        var events: [TelemetryEvent]

        struct TelemetryEvent: Codable, Sendable {
            var type: String
            var itemId: ItemID?
            var payload: JSONValue?
            var clientTimestamp: Date?
        }
    }

    struct SubmitInput: Codable, Sendable {
        /// Context metadata bound to the submission (seed 001 §10.1): gps, device_id, client_timestamp, site_reference.
        var context: [String: JSONValue]?
    }

    /// A session with what it shows, the subjects it is about, and what has been recorded so far.
    struct SessionView: Codable, Sendable {
        var session: DeliverySession
        var policy: EffectivePolicy
        var form: OperatorForm
        var subjects: [Subject]
        var responses: [RecordedResponse]
    }

    /// The submission a submit produced, as its operator may see it, and whether this call created it or
    /// found it already made. It is stored and answered as the view alone.
    struct Finalised: Encodable, Sendable, DecidesResponseStatus {
        var view: SubmissionView
        var created: Bool

        var responseStatus: HTTPResponse.Status { created ? .created : .ok }
        func encode(to encoder: any Encoder) throws { try view.encode(to: encoder) }
    }

    static let maximumTelemetryEvents = 200

    func launch(_ id: AssignmentID, _ input: Launch, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> LaunchResult {
        let now = ServerClock.now()
        let user = access.user
        return try await runner.run(access.scope) { transaction -> LaunchResult in
            let (assignment, frozen) = try await transaction.fetchAssignmentWithContent(id).orThrow(AssignmentService.notFound(id))
            guard try await transaction.assignmentTargetsMe(assignment) else {
                throw Problem(.forbidden, "assignment \(id) is issued to someone else")
            }
            guard assignment.status == .active else { throw Problem(.conflict, "assignment \(id) was withdrawn") }
            let content = frozen.content
            let attempts = try await transaction.attempts(at: id, by: user.userId)
            if let active = attempts.active {
                return LaunchResult(view: try await view(active, assignment, content, access: access, in: transaction), created: false)
            }
            let mode = input.mode ?? .online
            if let refusal = assignment.policy.launchRefusal(at: now, attemptsUsed: attempts.count, offline: mode == .offline) {
                throw Problem(.conflict, refusal)
            }
            return try await start(
                assignment, content, attemptNumber: attempts.all + 1, mode: mode, reworkOf: nil, access: access, at: now, in: transaction)
        }
    }

    /// Rework (seed 004 "Rejection / Change Request"): rejected or sent-back work is never reopened; its
    /// operator starts a new attempt whose submission will name the one it replaces. Rework does not count
    /// against the attempt limit; one rework at a time per replaced submission.
    func rework(_ id: SubmissionID, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> LaunchResult {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction -> LaunchResult in
            let (submission, _) = try await transaction.fetchSubmission(id).orThrow(SubmissionService.notFound(id))
            guard submission.operatorId == access.user.userId else { throw SubmissionService.notFound(id) }
            guard submission.approvalStatus == .rejected || submission.approvalStatus == .changesRequested else {
                throw Problem(.conflict, "only rejected or sent-back work is reworked; this submission is \(submission.approvalStatus.rawValue)")
            }
            if let void = try await transaction.corrections(of: id).void { throw CorrectionService.voided(id, void) }
            let (assignment, frozen) = try await transaction.fetchAssignmentWithContent(submission.assignmentId)
                .orThrow(AssignmentService.notFound(submission.assignmentId))
            guard assignment.status == .active else { throw Problem(.conflict, "assignment \(assignment.id) was withdrawn") }
            let content = frozen.content
            let attempts = try await transaction.attempts(at: assignment.id, by: access.user.userId)
            if let active = attempts.active {
                guard active.reworkOf == id else { throw Problem(.conflict, "finish your active attempt \(active.id) first") }
                return LaunchResult(view: try await view(active, assignment, content, access: access, in: transaction), created: false)
            }
            return try await start(
                assignment, content, attemptNumber: attempts.all + 1, mode: .online, reworkOf: id, access: access, at: now, in: transaction)
        }
    }

    /// The operator's own session; another person's attempt is not theirs to see.
    func session(_ id: AttemptID, access: CapabilityAccess) async throws -> SessionView {
        try await database.transaction(access.scope) { transaction in
            let (session, assignment, frozen) = try await transaction.fetchSessionWithAssignment(id).orThrow(Self.notFound(id))
            guard session.operatorId == access.user.userId else { throw Self.notFound(id) }
            return try await view(session, assignment, frozen.content, access: access, in: transaction)
        }
    }

    /// Records one item's answer (again, while the session is active). An answer that does not fit the
    /// item is refused; one that fits but lacks what its option demands (a comment, evidence) is kept
    /// as incomplete, and blocks submitting until completed.
    func record(
        _ id: AttemptID, item itemId: ItemID, _ input: ResponseInput, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> RecordedResponse {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let (session, frozen) = try await ownActiveSession(id, access: access, at: now, in: transaction)
            let content = frozen.content
            guard let item = content.form.sections.flatMap(\.items).first(where: { $0.id == itemId }) else {
                throw Problem(.notFound, "the form of session \(id) has no item \(itemId)")
            }
            let problems = CaptureRules.shapeProblems(input.answer, for: item)
            guard problems.isEmpty else {
                throw Problem(.validationFailed, "the answer does not fit this \(item.kind.rawValue) item",
                              errors: problems.map { .init(pointer: "/answer", detail: $0) })
            }
            let attached =
                CaptureRules.countsEvidence(input.answer, for: item) ? try await transaction.listAttachments(session: id, item: itemId).count : 0
            let missing = CaptureRules.missing(input.answer, comment: input.comment, attachedEvidence: attached, for: item)
            let response = RecordedResponse(
                itemId: itemId, questionId: item.questionId, answer: input.answer, comment: input.comment, complete: missing.isEmpty,
                missing: missing, clientTimestamp: input.clientTimestamp, context: input.context, recordedAt: now)
            try await transaction.saveResponse(
                response, in: session, by: access.user.userId,
                event: ("item.recorded", ["itemId": .string(itemId.rawValue), "complete": .bool(missing.isEmpty)]))
            return response
        }
    }

    /// Navigation and client telemetry: kept with the session (retention-bound), never in the ledger.
    func telemetry(_ id: AttemptID, _ input: TelemetryInput, access: CapabilityAccess) async throws -> Int {
        guard (1...Self.maximumTelemetryEvents).contains(input.events.count) else {
            throw Problem(.validationFailed, "send 1 to \(Self.maximumTelemetryEvents) events", errors: [.init(pointer: "/events", detail: "count")])
        }
        let now = ServerClock.now()
        return try await database.transaction(access.scope) { transaction in
            let session = try await ownActiveSession(id, access: access, at: nil, in: transaction).session
            for (index, event) in input.events.enumerated() {
                guard event.type.range(of: #"^[a-z][a-z0-9_.]{0,62}$"#, options: .regularExpression) != nil else {
                    throw Problem(.validationFailed, "event types are lower-case words such as navigation or tab_hidden",
                                  errors: [.init(pointer: "/events/\(index)/type", detail: "invalid")])
                }
                var payload = event.payload ?? .object([:])
                if let item = event.itemId, case .object(var members) = payload {
                    members["itemId"] = .string(item.rawValue)
                    payload = .object(members)
                }
                try await transaction.insertSessionEvent(session, type: event.type, payload: payload, clientTimestamp: event.clientTimestamp, at: now)
                if event.type == "navigation", let item = event.itemId { try await transaction.moveSession(id, to: item) }
            }
            return input.events.count
        }
    }

    /// Finalisation, in one transaction: the submission with its frozen snapshot and score, its items
    /// linked, its subjects inherited from the assignment, the session closed, and the ledger events
    /// (`submission.finalised`, one `finding.detected` per finding, `submission.approved` when
    /// auto-approved, `submission.pending_human_review` when a person must grade). A session already
    /// submitted answers with the submission it made, so a retried submit never makes a second one.
    func submit(
        _ id: AttemptID, _ input: SubmitInput, access: CapabilityAccess, verifyStepUp: @Sendable () async throws -> Void,
        runner: some UnitOfWorkRunner
    ) async throws -> Finalised {
        let now = ServerClock.now()
        let user = access.user
        return try await runner.run(access.scope) { transaction -> Finalised in
            let (session, assignment, frozen) = try await transaction.fetchSessionWithAssignment(id, lockingForChange: true)
                .orThrow(Self.notFound(id))
            guard session.operatorId == user.userId else { throw Problem(.forbidden, "session \(id) is someone else's attempt") }
            if let existing = session.submissionId {
                let (submission, snapshot) = try await transaction.fetchSubmission(existing).orThrow(SubmissionService.notFound(existing))
                return Finalised(
                    view: try await SubmissionService.view(submission, snapshot, level: SubmissionService.operatorLevel(snapshot, at: now), in: transaction),
                    created: false)
            }
            let content = frozen.content
            let responses = try await transaction.listResponses(session: id)
            try Self.checkComplete(content.form, responses: responses)
            let context = try await Self.checkContext(input.context ?? [:], policy: assignment.policy, verifyStepUp: verifyStepUp)

            let snapshot = VersionSnapshot(
                content: content, policy: assignment.policy, orgUnitId: assignment.orgUnitId,
                assignment: .init(assignmentId: assignment.id, cohort: assignment.cohort, batchId: assignment.batchId))
            let result = snapshot.score(responses, grades: [:])
            let submission = Submission(
                id: .generate(at: now), tenantId: session.tenantId, orgUnitId: session.orgUnitId, sessionId: id, assignmentId: assignment.id,
                evaluationId: assignment.evaluationId, evaluationVersion: assignment.evaluationVersion, kind: assignment.kind,
                operatorId: user.userId, batchId: assignment.batchId, cohort: assignment.cohort, lifecycleStatus: .completed,
                outcome: result.outcome, approvalStatus: assignment.policy.startsPendingReview ? .pendingReview : .approved, result: result,
                snapshotHash: try snapshot.hash(contentHash: frozen.hash), subjects: assignment.subjects, context: context.isEmpty ? nil : .object(context),
                startedAt: session.startedAt, submittedAt: now, replaces: session.reworkOf)
            try await transaction.finalise(
                submission, snapshot: snapshot, contentHash: frozen.hash,
                appending: Self.finalisationEvents(submission, snapshot: snapshot, context: context, actor: access.actor),
                publishing: Self.publishedFinalisation(submission))
            return Finalised(
                view: SubmissionView(
                    submission, snapshot: snapshot, corrections: CorrectionChain(original: responses, amendments: [], void: nil), result: result,
                    level: SubmissionService.operatorLevel(snapshot, at: now)),
                created: true)
        }
    }

    static func notFound(_ id: AttemptID) -> Problem { Problem(.notFound, "no session \(id) in your reach") }

    // MARK: Private

    private func start(
        _ assignment: Assignment, _ content: AssignmentContent, attemptNumber: Int, mode: CaptureMode, reworkOf: SubmissionID?,
        access: CapabilityAccess, at now: Date, in transaction: Transaction
    ) async throws -> LaunchResult {
        let session = DeliverySession(
            id: .generate(at: now), tenantId: assignment.tenantId, orgUnitId: assignment.orgUnitId, assignmentId: assignment.id,
            operatorId: access.user.userId, attemptNumber: attemptNumber, status: .active, mode: mode, startedAt: now,
            expiresAt: assignment.policy.timeLimitSeconds.map { now.addingTimeInterval(Double($0)) }, currentItemId: nil,
            submissionId: nil, submittedAt: nil, reworkOf: reworkOf)
        do {
            try await transaction.insertSession(session)
        } catch StorageError.uniqueViolation {
            throw Problem(.conflict, "another attempt at this work was started at the same moment; open it instead")
        }
        try await transaction.appendLedgerEvent(DeliveryEvents.session("session.started", session, actor: access.actor))
        return LaunchResult(view: try await view(session, assignment, content, access: access, in: transaction), created: true)
    }

    /// Stored and answered as the view alone.
    struct LaunchResult: Encodable, Sendable, DecidesResponseStatus {
        var view: SessionView
        var created: Bool

        var responseStatus: HTTPResponse.Status { created ? .created : .ok }
        func encode(to encoder: any Encoder) throws { try view.encode(to: encoder) }
    }

    /// The session as its operator sees it. The subjects come through the assignment, even from another
    /// org unit (seed 004 risk control 1), and each read of one is recorded as `subject.viewed`.
    private func view(
        _ session: DeliverySession, _ assignment: Assignment, _ content: AssignmentContent, access: CapabilityAccess, in transaction: Transaction
    ) async throws -> SessionView {
        var subjects: [Subject] = []
        for assigned in assignment.subjects {
            guard let subject = try await transaction.fetchSubject(assigned.subjectId) else { continue }
            try await transaction.appendLedgerEvent(SubjectEvents.viewed(subject, actor: access.actor, scope: access.scope))
            subjects.append(subject)
        }
        return SessionView(
            session: session, policy: assignment.policy, form: content.form, subjects: subjects,
            responses: try await transaction.listResponses(session: session.id))
    }

    /// The caller's active session, locked for the change, with its assignment's frozen content.
    private func ownActiveSession(
        _ id: AttemptID, access: CapabilityAccess, at now: Date?, in transaction: Transaction
    ) async throws -> (session: DeliverySession, content: FrozenContent) {
        let (session, frozen) = try await transaction.fetchSessionWithContentForChange(id).orThrow(Self.notFound(id))
        guard session.operatorId == access.user.userId else { throw Problem(.forbidden, "session \(id) is someone else's attempt") }
        guard session.status == .active else { throw Problem(.conflict, "session \(id) is submitted; its answers can no longer change") }
        if let now, let expiry = session.expiresAt, now >= expiry {
            throw Problem(.conflict, "the time limit of session \(id) ran out at \(expiry.rfc3339); submit what is recorded")
        }
        return (session, frozen)
    }

    /// Every required item answered and complete, or a 422 naming each that is not.
    private static func checkComplete(_ form: OperatorForm, responses: [RecordedResponse]) throws {
        let recorded = Dictionary(responses.map { ($0.itemId, $0) }, uniquingKeysWith: { $1 })
        var problems: [Problem.FieldError] = []
        for item in form.sections.flatMap(\.items) {
            guard let id = item.id else { continue }
            if let response = recorded[id] {
                problems += response.missing.map { .init(pointer: "/items/\(id)", detail: $0) }
            } else if item.required {
                problems.append(.init(pointer: "/items/\(id)", detail: "is required and has no answer"))
            }
        }
        guard problems.isEmpty else {
            throw Problem(.validationFailed, "the attempt cannot be submitted yet: \(QuestionService.count(problems))", errors: problems)
        }
    }

    /// The context the policy requires (seed 001 §10), checked at the write boundary; a required step-up is
    /// verified from the request's proof.
    private static func checkContext(
        _ context: [String: JSONValue], policy: EffectivePolicy, verifyStepUp: @Sendable () async throws -> Void
    ) async throws -> [String: JSONValue] {
        let missing = policy.requiredContext.filter { $0 != .stepUp && (context[$0.rawValue] ?? .null) == .null }
        guard missing.isEmpty else {
            throw Problem(
                .validationFailed, "this work must be submitted with its context (verification level \(policy.verificationLevel.rawValue))",
                errors: missing.map { .init(pointer: "/context/\($0.rawValue)", detail: "is required") })
        }
        if policy.requiredContext.contains(.stepUp) { try await verifyStepUp() }
        return context
    }

    /// The ledger events of a finalisation: the submission, each finding, the items left to a person, and the
    /// approval where the policy approves on its own.
    private static func finalisationEvents(
        _ submission: Submission, snapshot: VersionSnapshot, context: [String: JSONValue], actor: LedgerActor
    ) -> [LedgerEventDraft] {
        let subjectIds = JSONValue.array(submission.subjects.map { .string($0.subjectId.rawValue) })
        var payload = DeliveryEvents.scores(submission.result)
        payload.merge([
            "sessionId": .string(submission.sessionId.rawValue), "assignmentId": .string(submission.assignmentId.rawValue),
            "evaluationId": .string(submission.evaluationId.rawValue), "evaluationVersion": .number(Double(submission.evaluationVersion)),
            "contentHash": .string(snapshot.evaluation.contentHash), "snapshotHash": .string(submission.snapshotHash),
            "approvalStatus": .string(submission.approvalStatus.rawValue), "batchId": submission.batchId.map { .string($0.rawValue) } ?? .null,
            "subjectIds": subjectIds, "findingCount": .number(Double(submission.result.findings.count)),
        ]) { $1 }
        if let replaced = submission.replaces { payload["replaces"] = .string(replaced.rawValue) }
        let verification = (
            level: snapshot.policy.verificationLevel, context: JSONValue.object(context),
            outcome: JSONValue.object([
                "requiredContext": .array(snapshot.policy.requiredContext.map { .string($0.rawValue) }), "satisfied": true,
            ])
        )
        var events = [DeliveryEvents.submission("submission.finalised", submission, actor: actor, payload: payload, verification: verification)]
        events += submission.result.findings.map { DeliveryEvents.finding("finding.detected", $0, of: submission, actor: actor) }
        if !submission.result.pendingItems.isEmpty {
            events.append(
                DeliveryEvents.submission(
                    "submission.pending_human_review", submission, actor: actor,
                    payload: ["pendingItemIds": .array(submission.result.pendingItems.map { .string($0.rawValue) })]))
        }
        if snapshot.policy.approvalRequired, snapshot.policy.autoApprove {
            events.append(
                DeliveryEvents.submission(
                    "submission.approved", submission, actor: LedgerActor(kind: .system, id: "auto-approve"),
                    payload: ["reason": "auto_approve", "snapshotHash": .string(submission.snapshotHash)]))
        }
        return events
    }

    /// What a finalisation tells other systems (seed 003): the submission, each finding, its score, and whether a
    /// person must grade it.
    private static func publishedFinalisation(_ submission: Submission) -> [OutboxEvent?] {
        let finalised = submission.submittedAt
        return [AssessmentEvents.submissionFinalised(submission, at: finalised)]
            + submission.result.findings.map { AssessmentEvents.findingDetected($0, of: submission, cause: .finalisation, at: finalised) }
            + [
                AssessmentEvents.attemptScored(submission, result: submission.result, at: finalised),
                AssessmentEvents.pendingHumanReview(submission, result: submission.result, at: finalised),
            ]
    }
}
