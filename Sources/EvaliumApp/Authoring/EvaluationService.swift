import EvaliumCore
import EvaliumStorage
import Foundation

/// Evaluations (knowledge checks, observation templates, evidence tasks) and their versions. Publishing
/// a version validates everything at once, publishes the draft question versions it pins in the same
/// transaction, freezes it, and (by default) makes it the one active version.
struct EvaluationService: Sendable {
    let database: Database

    struct NewEvaluation: Codable, Sendable {
        var kind: EvaluationKind
        var orgUnitId: OrgUnitID?
        var shared: Bool?
        var definition: EvaluationDefinition
    }

    struct NewDraft: Codable, Sendable {
        var basedOn: Int?
        var definition: EvaluationDefinition?
    }

    struct DraftDefinition: Codable, Sendable {
        var definition: EvaluationDefinition
    }

    struct PublishOptions: Codable, Sendable {
        /// Make the published version the active one (default true).
        var activate: Bool?
    }

    struct Created: Encodable, Sendable {
        var evaluation: Evaluation
        var version: EvaluationVersion
    }

    struct Detail: Encodable, Sendable {
        var evaluation: Evaluation
        var versions: [QuestionService.VersionSummary]
    }

    func create(_ input: NewEvaluation, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Created {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let orgUnit = try await access.orgUnit(input.orgUnitId, pointer: "/orgUnitId", in: transaction)
            if input.shared == true { try access.requireTenantWide(toChange: "whether content is shared with every org unit") }
            let evaluation = Evaluation(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnit, kind: input.kind, shared: input.shared ?? false,
                status: .active, activeVersion: nil, latestVersion: 1, title: input.definition.title, createdBy: access.user.userId,
                createdAt: now, updatedAt: now)
            let version = try await Self.draft(
                evaluation, number: 1, definition: input.definition, by: access.user.userId, at: now, in: transaction)
            try await transaction.insertEvaluation(evaluation)
            try await transaction.insertEvaluationVersion(version, of: evaluation)
            try await transaction.appendLedgerEvent(
                AuthoringEvents.evaluation("evaluation.created", evaluation, actor: access.actor, version: version))
            try await transaction.publish([AssessmentEvents.quizBankCreated(evaluation, at: now)])
            return Created(evaluation: evaluation, version: version)
        }
    }

    func list(_ filter: AuthoringFilter, access: CapabilityAccess) async throws -> Page<Evaluation> {
        let evaluations = try await database.transaction(access.scope) { try await $0.listEvaluations(filter) }
        return Page(items: evaluations, nextCursor: evaluations.count == filter.limit ? evaluations.last?.id.rawValue : nil)
    }

    func detail(_ id: EvaluationID, access: CapabilityAccess) async throws -> Detail {
        try await database.transaction(access.scope) { transaction in
            let evaluation = try await transaction.fetchEvaluation(id).orThrow(Self.notFound(id))
            let versions = try await transaction.listEvaluationVersions(id).map {
                QuestionService.VersionSummary(version: $0.version, status: $0.status, contentHash: $0.contentHash, history: $0.history)
            }
            return Detail(evaluation: evaluation, versions: versions)
        }
    }

    func version(_ id: EvaluationID, _ number: Int, access: CapabilityAccess) async throws -> EvaluationVersion {
        try await database.transaction(access.scope) { try await $0.fetchEvaluationVersion(id, version: number) }
            .orThrow(Self.notFound(id, number))
    }

    /// The version assembled as the operator will see it, without answer keys: `number`, else the active version.
    func preview(_ id: EvaluationID, _ number: Int?, access: CapabilityAccess) async throws -> OperatorForm {
        try await database.transaction(access.scope) { transaction in
            let evaluation = try await transaction.fetchEvaluation(id).orThrow(Self.notFound(id))
            guard let number = number ?? evaluation.activeVersion else {
                throw Problem(.notFound, "evaluation \(id) has no active version yet; preview a version by number")
            }
            let version = try await transaction.fetchEvaluationVersion(id, version: number).orThrow(Self.notFound(id, number))
            return OperatorForm(version, questions: try await transaction.fetchQuestionVersions(version.pins))
        }
    }

    /// Shares or stops sharing an evaluation, archives or restores it.
    func update(_ id: EvaluationID, _ changes: IdentityChanges, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Evaluation {
        if changes.shared != nil { try access.requireTenantWide(toChange: "whether content is shared with every org unit") }
        return try await runner.run(access.scope) { transaction in
            var evaluation = try await lockedForChange(id, access: access, in: transaction)
            let events = changes.apply(to: "evaluation", shared: &evaluation.shared, status: &evaluation.status)
            guard !events.isEmpty else { return evaluation }
            evaluation.updatedAt = ServerClock.now()
            try await transaction.updateEvaluation(evaluation)
            for event in events {
                try await transaction.appendLedgerEvent(AuthoringEvents.evaluation(event, evaluation, actor: access.actor))
                try await transaction.publish([Self.published(event, evaluation, actor: access.actor)])
            }
            return evaluation
        }
    }

    func newDraft(_ id: EvaluationID, _ input: NewDraft, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> EvaluationVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            var evaluation = try await changeableEvaluation(id, access: access, in: transaction)
            if let draft = try await transaction.listEvaluationVersions(id).first(where: { $0.status == .draft }) {
                throw Problem(.conflict, "evaluation \(id) already has a draft (version \(draft.version)); edit or publish it first")
            }
            let basedOn = input.basedOn ?? evaluation.latestVersion
            let base = try await transaction.fetchEvaluationVersion(id, version: basedOn)
                .orThrow(Problem(.validationFailed, "no version \(basedOn)", errors: [.init(pointer: "/basedOn", detail: "no such version")]))
            let version = try await Self.draft(
                evaluation, number: evaluation.latestVersion + 1, definition: input.definition ?? base.definition, by: access.user.userId,
                at: now, in: transaction)
            try await transaction.insertEvaluationVersion(version, of: evaluation)
            evaluation.latestVersion = version.version
            evaluation.updatedAt = now
            try await transaction.updateEvaluation(evaluation)
            try await transaction.appendLedgerEvent(
                AuthoringEvents.evaluation("evaluation.version.drafted", evaluation, actor: access.actor, version: version,
                                           payload: ["basedOn": .number(Double(basedOn))]))
            try await transaction.publish([
                AssessmentEvents.quizBankUpdated(evaluation, change: .draftSaved, version: version.version, actor: access.actor, at: now)
            ])
            return version
        }
    }

    func updateDraft(
        _ id: EvaluationID, _ number: Int, _ input: DraftDefinition, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> EvaluationVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let evaluation = try await changeableEvaluation(id, access: access, in: transaction)
            let current = try await transaction.fetchEvaluationVersion(id, version: number).orThrow(Self.notFound(id, number))
            guard current.status == .draft else { throw Self.frozen(current) }
            var version = try await Self.draft(evaluation, number: number, definition: input.definition, by: current.history.createdBy, at: now, in: transaction)
            version.history = VersionHistory(createdBy: current.history.createdBy, createdAt: current.history.createdAt, updatedAt: now)
            guard try await transaction.updateEvaluationDraft(version, of: evaluation) else { throw Self.frozen(current) }
            try await transaction.appendLedgerEvent(
                AuthoringEvents.evaluation("evaluation.version.updated", evaluation, actor: access.actor, version: version))
            try await transaction.publish([
                AssessmentEvents.quizBankUpdated(evaluation, change: .draftSaved, version: version.version, actor: access.actor, at: now)
            ])
            return version
        }
    }

    func publish(
        _ id: EvaluationID, _ number: Int, _ options: PublishOptions, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> EvaluationVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            var evaluation = try await changeableEvaluation(id, access: access, in: transaction)
            var version = try await transaction.fetchEvaluationVersion(id, version: number).orThrow(Self.notFound(id, number))
            guard version.status == .draft else { throw Self.frozen(version) }
            var questions = try await transaction.fetchQuestionVersions(version.pins)
            let drafts = try await publishableDrafts(of: version, questions: questions, access: access, in: transaction)
            let pinned = questions.mapValues { PinnedQuestion(kind: $0.kind, status: $0.status, content: $0.content) }
            let problems =
                version.definition.publishProblems(kind: evaluation.kind, pinned: pinned).map {
                    Problem.FieldError(pointer: "/definition" + $0.pointer, detail: $0.detail)
                } + drafts.problems
            guard problems.isEmpty else {
                throw Problem(
                    .validationFailed, "version \(number) of evaluation \(id) cannot be published: \(QuestionService.count(problems))",
                    errors: problems)
            }
            for draft in drafts.ready {
                questions[draft.version.pin] = try await QuestionService.publish(
                    draft.version, of: draft.question, tags: draft.tags, actor: access.actor, by: access.user.userId, at: now,
                    payload: ["publishedWith": .string(id.rawValue)], in: transaction)
            }
            version.contentHash = try Self.hash(version.definition, questions: questions)
            try await transaction.transitionEvaluationVersion(id, version: number, to: .publish(by: access.user.userId, at: now, contentHash: version.contentHash))
            version.status = .published
            version.history.publishedBy = access.user.userId
            version.history.publishedAt = now
            version.history.updatedAt = now
            let pins: [JSONValue] = version.pins.compactMap { pin in
                questions[pin].map { .object(["questionId": .string(pin.questionId.rawValue), "version": .number(Double(pin.version)), "contentHash": .string($0.contentHash)]) }
            }
            try await transaction.appendLedgerEvent(
                AuthoringEvents.evaluation("evaluation.version.published", evaluation, actor: access.actor, version: version,
                                           payload: ["questionVersions": .array(pins)]))
            try await transaction.publish([AssessmentEvents.quizBankPublished(evaluation, version, actor: access.actor, at: now)])
            if options.activate ?? true {
                try await activate(&evaluation, version: version, access: access, at: now, in: transaction)
            }
            return version
        }
    }

    /// The quiz-bank event an identity change amounts to (`evaluation.archived` is `quiz_bank.archived`).
    private static func published(_ change: LedgerEventType, _ evaluation: Evaluation, actor: LedgerActor) -> OutboxEvent? {
        let now = evaluation.updatedAt
        return switch change.rawValue {
        case "evaluation.archived": AssessmentEvents.quizBankArchived(evaluation, actor: actor, at: now)
        case "evaluation.shared": AssessmentEvents.quizBankUpdated(evaluation, change: .shared, version: nil, actor: actor, at: now)
        case "evaluation.unshared": AssessmentEvents.quizBankUpdated(evaluation, change: .unshared, version: nil, actor: actor, at: now)
        default: AssessmentEvents.quizBankUpdated(evaluation, change: .restored, version: nil, actor: actor, at: now)
        }
    }

    func activate(_ id: EvaluationID, _ number: Int, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Evaluation {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            var evaluation = try await changeableEvaluation(id, access: access, in: transaction)
            let version = try await transaction.fetchEvaluationVersion(id, version: number).orThrow(Self.notFound(id, number))
            guard version.status == .published else {
                throw Problem(.conflict, "version \(number) is \(version.status.rawValue); only a published version can be active")
            }
            guard evaluation.activeVersion != number else { return evaluation }
            try await activate(&evaluation, version: version, access: access, at: now, in: transaction)
            return evaluation
        }
    }

    /// Retires a published version that is not the active one.
    func archiveVersion(_ id: EvaluationID, _ number: Int, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> EvaluationVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let evaluation = try await lockedForChange(id, access: access, in: transaction)
            var version = try await transaction.fetchEvaluationVersion(id, version: number).orThrow(Self.notFound(id, number))
            guard version.status == .published else {
                throw Problem(.conflict, "version \(number) is \(version.status.rawValue); only a published version is archived")
            }
            guard evaluation.activeVersion != number else {
                throw Problem(.conflict, "version \(number) is the active version; activate another version, or archive the evaluation itself")
            }
            try await transaction.transitionEvaluationVersion(id, version: number, to: .archive(by: access.user.userId, at: now))
            version.status = .archived
            version.history.archivedBy = access.user.userId
            version.history.archivedAt = now
            try await transaction.appendLedgerEvent(
                AuthoringEvents.evaluation("evaluation.version.archived", evaluation, actor: access.actor, version: version))
            return version
        }
    }

    // MARK: Private

    private func activate(
        _ evaluation: inout Evaluation, version: EvaluationVersion, access: CapabilityAccess, at now: Date, in transaction: Transaction
    ) async throws {
        let previous = evaluation.activeVersion
        evaluation.activeVersion = version.version
        evaluation.title = version.definition.title
        evaluation.updatedAt = now
        try await transaction.updateEvaluation(evaluation)
        try await transaction.appendLedgerEvent(
            AuthoringEvents.evaluation("evaluation.version.activated", evaluation, actor: access.actor, version: version,
                                       payload: ["previousVersion": previous.map { .number(Double($0)) } ?? .null]))
    }

    /// The draft question versions a version pins, which publishing it publishes too, and why any cannot
    /// be: outside the author's reach, a question that is archived, or tags that cannot be frozen.
    private func publishableDrafts(
        of version: EvaluationVersion, questions: [QuestionPin: QuestionVersion], access: CapabilityAccess, in transaction: Transaction
    ) async throws -> (ready: [(version: QuestionVersion, question: Question, tags: [TagRef])], problems: [Problem.FieldError]) {
        var ready: [(version: QuestionVersion, question: Question, tags: [TagRef])] = []
        var problems: [Problem.FieldError] = []
        for (section, index, item) in version.definition.items {
            guard let number = item.version, let draft = questions[QuestionPin(questionId: item.questionId, version: number)],
                  draft.status == .draft
            else { continue }
            let pointer = "/definition/sections/\(section)/items/\(index)"
            guard let question = try await transaction.fetchQuestion(item.questionId, lockingForChange: true) else { continue }
            guard access.reach.covers(question.orgUnitId), question.status == .active else {
                problems.append(.init(pointer: pointer, detail: "question \(question.id) version \(number) is a draft you cannot publish; pin a published version"))
                continue
            }
            let tags = try await QuestionService.frozenTags(of: draft.content, at: "\(pointer)/question/tags", in: transaction)
            problems += tags.unknown + tags.archived
            ready.append((draft, question, tags.refs))
        }
        return (ready, problems)
    }

    /// A draft version with `definition` spelled out and every item pinned: an item naming no version
    /// pins its question's latest published version, else its draft. Items naming a question out of reach are refused now, not at publishing.
    private static func draft(
        _ evaluation: Evaluation, number: Int, definition: EvaluationDefinition, by user: UserID, at now: Date, in transaction: Transaction
    ) async throws -> EvaluationVersion {
        var definition = definition.normalized(kind: evaluation.kind, now: now)
        let latest = try await transaction.defaultQuestionVersions(definition.items.filter { $0.item.version == nil }.map(\.item.questionId))
        var problems: [Problem.FieldError] = []
        for (section, index, item) in definition.items where item.version == nil {
            if let version = latest[item.questionId] {
                definition.sections?[section].items[index].version = version
            } else {
                problems.append(.init(pointer: "/definition/sections/\(section)/items/\(index)/questionId", detail: "no question \(item.questionId) in your reach"))
            }
        }
        let versions = definition.items.compactMap { entry in entry.item.version.map { QuestionPin(questionId: entry.item.questionId, version: $0) } }
        let questions = try await transaction.fetchQuestionVersions(versions)
        for (section, index, item) in definition.items {
            guard let number = item.version, questions[QuestionPin(questionId: item.questionId, version: number)] == nil else { continue }
            problems.append(
                .init(pointer: "/definition/sections/\(section)/items/\(index)/version", detail: "no question \(item.questionId) version \(number) in your reach"))
        }
        guard problems.isEmpty else { throw Problem(.validationFailed, "the definition names questions that cannot be used", errors: problems) }
        return EvaluationVersion(
            evaluationId: evaluation.id, version: number, kind: evaluation.kind, status: .draft, definition: definition,
            contentHash: try hash(definition, questions: questions), history: VersionHistory(createdBy: user, createdAt: now, updatedAt: now))
    }

    /// Covers the definition and the content hash of every question version it pins, so the hash of a
    /// published evaluation version proves everything an operator is shown.
    private static func hash(_ definition: EvaluationDefinition, questions: [QuestionPin: QuestionVersion]) throws -> String {
        struct Pinned: Encodable { var questionId: QuestionID; var version: Int; var contentHash: String }
        struct Hashed: Encodable { var definition: EvaluationDefinition; var questions: [Pinned] }
        let pinned = questions.values.map { Pinned(questionId: $0.questionId, version: $0.version, contentHash: $0.contentHash) }
            .sorted { ($0.questionId.rawValue, $0.version) < ($1.questionId.rawValue, $1.version) }
        return try ContentHash.of(Hashed(definition: definition, questions: pinned))
    }

    /// The evaluation locked until the transaction ends, after checking (on the visible row) that it is
    /// within the author's reach: a shared evaluation is readable from other org units, but not changed there.
    private func lockedForChange(_ id: EvaluationID, access: CapabilityAccess, in transaction: Transaction) async throws -> Evaluation {
        let visible = try await transaction.fetchEvaluation(id).orThrow(Self.notFound(id))
        try access.requireReach(visible.orgUnitId, toChange: "evaluation \(id)")
        return try await transaction.fetchEvaluation(id, lockingForChange: true).orThrow(Self.notFound(id))
    }

    private func changeableEvaluation(_ id: EvaluationID, access: CapabilityAccess, in transaction: Transaction) async throws -> Evaluation {
        let evaluation = try await lockedForChange(id, access: access, in: transaction)
        guard evaluation.status == .active else { throw Problem(.conflict, "evaluation \(id) is archived; restore it before changing it") }
        return evaluation
    }

    private static func frozen(_ version: EvaluationVersion) -> Problem {
        Problem(
            .conflict,
            "version \(version.version) of evaluation \(version.evaluationId) is \(version.status.rawValue) and can no longer change; "
                + "create a new draft version (POST /v1/evaluations/\(version.evaluationId)/versions)")
    }

    static func notFound(_ id: EvaluationID) -> Problem { Problem(.notFound, "no evaluation \(id) in your reach") }
    static func notFound(_ id: EvaluationID, _ number: Int) -> Problem { Problem(.notFound, "no evaluation \(id) version \(number) in your reach") }
}
