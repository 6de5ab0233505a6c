import EvaliumCore
import EvaliumStorage
import Foundation

/// Issuing work: an assignment pins a published evaluation version, resolves its one effective policy
/// and freezes both with the content it runs, so later authoring changes never reach issued work.
struct AssignmentService: Sendable {
    let database: Database

    struct NewAssignment: Codable, Sendable {
        var evaluationId: EvaluationID
        /// Default: the evaluation's active version.
        var version: Int?
        var target: AssignmentTarget
        var orgUnitId: OrgUnitID?
        var cohort: String?
        var batchId: BatchID?
        var availableFrom: Date?
        var availableUntil: Date?
        var subjects: [AssignedSubject]?
        var overrides: AssignmentOverrides?
    }

    /// One assignment per subject, with a shared batch id (seed 004 batch mode).
    struct NewBatch: Codable, Sendable {
        var evaluationId: EvaluationID
        var version: Int?
        var target: AssignmentTarget
        var orgUnitId: OrgUnitID?
        var cohort: String?
        var availableFrom: Date?
        var availableUntil: Date?
        var subjectIds: [SubjectID]
        var overrides: AssignmentOverrides?
    }

    struct Batch: Codable, Sendable {
        var batchId: BatchID
        var items: [Assignment]
    }

    static let maximumBatch = 1000

    func create(_ input: NewAssignment, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Assignment {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let issue = try await prepare(
                evaluationId: input.evaluationId, version: input.version, target: input.target, orgUnitId: input.orgUnitId,
                overrides: input.overrides ?? AssignmentOverrides(), availableFrom: input.availableFrom, availableUntil: input.availableUntil,
                access: access, in: transaction)
            return try await issue.insert(
                subjects: input.subjects ?? [], cohort: input.cohort, batchId: input.batchId, access: access, at: now, in: transaction)
        }
    }

    func createBatch(_ input: NewBatch, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Batch {
        guard (1...Self.maximumBatch).contains(input.subjectIds.count), Set(input.subjectIds).count == input.subjectIds.count else {
            throw Problem(
                .validationFailed, "a batch names 1 to \(Self.maximumBatch) different subjects",
                errors: [.init(pointer: "/subjectIds", detail: "1 to \(Self.maximumBatch) distinct subject ids")])
        }
        let now = ServerClock.now()
        let batchId = BatchID.generate(at: now)
        return try await runner.run(access.scope) { transaction in
            let issue = try await prepare(
                evaluationId: input.evaluationId, version: input.version, target: input.target, orgUnitId: input.orgUnitId,
                overrides: input.overrides ?? AssignmentOverrides(), availableFrom: input.availableFrom, availableUntil: input.availableUntil,
                access: access, in: transaction)
            var items: [Assignment] = []
            for subject in input.subjectIds {
                items.append(
                    try await issue.insert(
                        subjects: [AssignedSubject(subjectId: subject, role: .primary)], cohort: input.cohort, batchId: batchId,
                        access: access, at: now, in: transaction))
            }
            return Batch(batchId: batchId, items: items)
        }
    }

    func list(_ filter: AssignmentFilter, access: CapabilityAccess) async throws -> Page<Assignment> {
        let items = try await database.transaction(access.scope) { try await $0.listAssignments(filter) }
        return Page(items: items, nextCursor: items.count == filter.limit ? items.last?.id.rawValue : nil)
    }

    /// The assignments whose target is the signed-in person, wherever they were issued.
    func mine(_ filter: AssignmentFilter, user: UserPrincipal) async throws -> Page<Assignment> {
        var filter = filter
        filter.targetingMe = true
        let items = try await database.transaction(user.ownScope) { try await $0.listAssignments(filter) }
        return Page(items: items, nextCursor: items.count == filter.limit ? items.last?.id.rawValue : nil)
    }

    func assignment(_ id: AssignmentID, access: CapabilityAccess) async throws -> Assignment {
        try await database.transaction(access.scope) { try await $0.fetchAssignment(id) }.orThrow(Self.notFound(id))
    }

    /// Withdraws an assignment: no new sessions; work already submitted stays.
    func withdraw(_ id: AssignmentID, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Assignment {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            var assignment = try await transaction.fetchAssignment(id, lockingForChange: true).orThrow(Self.notFound(id))
            guard assignment.status == .active else { return assignment }
            try await transaction.withdrawAssignment(id, at: now)
            assignment.status = .withdrawn
            assignment.withdrawnAt = now
            try await transaction.appendLedgerEvent(DeliveryEvents.assignment("assignment.withdrawn", assignment, actor: access.actor))
            return assignment
        }
    }

    static func notFound(_ id: AssignmentID) -> Problem { Problem(.notFound, "no assignment \(id) in your reach") }

    // MARK: Private

    /// What every assignment of one request shares: the pinned content, the resolved policy, the target.
    private struct Issue {
        var content: AssignmentContent
        var policy: EffectivePolicy
        var overrides: AssignmentOverrides
        var target: AssignmentTarget
        var orgUnitId: OrgUnitID

        func insert(
            subjects: [AssignedSubject], cohort: String?, batchId: BatchID?, access: CapabilityAccess, at now: Date, in transaction: Transaction
        ) async throws -> Assignment {
            if Set(subjects.map(\.subjectId)).count != subjects.count {
                throw Problem(.validationFailed, "a subject is named twice", errors: [.init(pointer: "/subjects", detail: "repeats a subject")])
            }
            let assignment = Assignment(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnitId, evaluationId: content.evaluation.evaluationId,
                evaluationVersion: content.evaluation.version, kind: content.evaluation.kind, target: target, status: .active,
                cohort: cohort, batchId: batchId, subjects: subjects, overrides: overrides, policy: policy, createdBy: access.user.userId,
                createdAt: now, withdrawnAt: nil)
            do {
                try await transaction.insertAssignment(assignment, content: content)
            } catch StorageError.foreignKeyViolation {
                throw Problem(.validationFailed, "the target person or group, or a subject, does not exist in this tenant")
            }
            try await transaction.appendLedgerEvent(DeliveryEvents.assignment("assignment.created", assignment, actor: access.actor))
            return assignment
        }
    }

    private func prepare(
        evaluationId: EvaluationID, version: Int?, target: AssignmentTarget, orgUnitId: OrgUnitID?, overrides: AssignmentOverrides,
        availableFrom: Date?, availableUntil: Date?, access: CapabilityAccess, in transaction: Transaction
    ) async throws -> Issue {
        guard target.isSingle else {
            throw Problem(.validationFailed, "name exactly one target", errors: [.init(pointer: "/target", detail: "one of userId, groupId or email")])
        }
        var target = target
        if let email = target.email { target.email = try EmailAddress.validate(email, pointer: "/target/email").asProblem().normalized }
        let evaluation = try await transaction.fetchEvaluation(evaluationId).orThrow(
            Problem(.validationFailed, "no evaluation \(evaluationId) in your reach", errors: [.init(pointer: "/evaluationId", detail: "unknown")]))
        guard evaluation.status == .active else { throw Problem(.conflict, "evaluation \(evaluationId) is archived") }
        guard let number = version ?? evaluation.activeVersion else {
            throw Problem(.conflict, "evaluation \(evaluationId) has no active version; publish one or name a published version")
        }
        guard let pinned = try await transaction.fetchEvaluationVersion(evaluationId, version: number), pinned.status == .published else {
            throw Problem(
                .validationFailed, "version \(number) of \(evaluationId) is not a published version",
                errors: [.init(pointer: "/version", detail: "must name a published version")])
        }
        let questions = try await transaction.fetchQuestionVersions(pinned.pins)
        guard questions.count == pinned.pins.count else {
            throw Problem(.conflict, "some question versions of \(evaluationId) version \(number) are outside your reach")
        }
        let policy = try EffectivePolicy.resolve(
            evaluation: pinned.definition, overrides: overrides, availableFrom: availableFrom, availableUntil: availableUntil
        ).get()
        return Issue(
            content: AssignmentContent(evaluation: pinned, questions: pinned.pins.compactMap { questions[$0] }), policy: policy,
            overrides: overrides, target: target,
            orgUnitId: try await access.orgUnit(orgUnitId, pointer: "/orgUnitId", in: transaction))
    }
}
