import EvaliumCore
import EvaliumStorage
import Foundation

/// Questions and their versions. A question's one draft is edited freely; publishing validates and
/// freezes it (with its tags as they read then); a published version is only ever archived.
struct QuestionService: Sendable {
    let database: Database

    struct NewQuestion: Codable, Sendable {
        var kind: ItemKind
        var orgUnitId: OrgUnitID?
        var shared: Bool?
        var content: QuestionContent
    }

    struct NewDraft: Codable, Sendable {
        /// The version whose content the draft starts from (default: the latest).
        var basedOn: Int?
        var content: QuestionContent?
    }

    struct DraftContent: Codable, Sendable {
        var content: QuestionContent
    }

    struct Created: Encodable, Sendable {
        var question: Question
        var version: QuestionVersion
    }

    struct Detail: Encodable, Sendable {
        var question: Question
        var versions: [VersionSummary]
    }

    struct VersionSummary: Encodable, Sendable {
        var version: Int
        var status: VersionStatus
        var contentHash: String
        var history: VersionHistory
    }

    func create(_ input: NewQuestion, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Created {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let orgUnit = try await access.orgUnit(input.orgUnitId, pointer: "/orgUnitId", in: transaction)
            if input.shared == true { try access.requireTenantWide(toChange: "whether content is shared with every org unit") }
            let question = Question(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnit, kind: input.kind, shared: input.shared ?? false,
                status: .active, latestVersion: 1, publishedVersion: nil, createdBy: access.user.userId, createdAt: now, updatedAt: now)
            let version = try await Self.draft(question, number: 1, content: input.content, by: access.user.userId, at: now, in: transaction)
            try await transaction.insertQuestion(question)
            try await transaction.insertQuestionVersion(version, of: question)
            try await transaction.appendLedgerEvent(AuthoringEvents.question("question.created", question, actor: access.actor, version: version))
            return Created(question: question, version: version)
        }
    }

    func list(_ filter: AuthoringFilter, access: CapabilityAccess) async throws -> Page<Question> {
        let questions = try await database.transaction(access.scope) { try await $0.listQuestions(filter) }
        return Page(items: questions, nextCursor: questions.count == filter.limit ? questions.last?.id.rawValue : nil)
    }

    func detail(_ id: QuestionID, access: CapabilityAccess) async throws -> Detail {
        try await database.transaction(access.scope) { transaction in
            let question = try await transaction.fetchQuestion(id).orThrow(Self.notFound(id))
            let versions = try await transaction.listQuestionVersions(id).map {
                VersionSummary(version: $0.version, status: $0.status, contentHash: $0.contentHash, history: $0.history)
            }
            return Detail(question: question, versions: versions)
        }
    }

    func version(_ pin: QuestionPin, access: CapabilityAccess) async throws -> QuestionVersion {
        try await database.transaction(access.scope) { try await $0.fetchQuestionVersion(pin) }.orThrow(Self.notFound(pin))
    }

    /// Shares or stops sharing a question, archives or restores it.
    func update(_ id: QuestionID, _ changes: IdentityChanges, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Question {
        if changes.shared != nil { try access.requireTenantWide(toChange: "whether content is shared with every org unit") }
        return try await runner.run(access.scope) { transaction in
            var question = try await lockedForChange(id, access: access, in: transaction)
            let events = changes.apply(to: "question", shared: &question.shared, status: &question.status)
            guard !events.isEmpty else { return question }
            question.updatedAt = ServerClock.now()
            try await transaction.updateQuestion(question)
            for event in events { try await transaction.appendLedgerEvent(AuthoringEvents.question(event, question, actor: access.actor)) }
            return question
        }
    }

    /// Starts the next version as a draft, from the content of `basedOn` (default: the latest version)
    /// unless new content is given. A question has one draft at a time.
    func newDraft(_ id: QuestionID, _ input: NewDraft, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> QuestionVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            var question = try await changeableQuestion(id, access: access, in: transaction)
            if let draft = try await transaction.listQuestionVersions(id).first(where: { $0.status == .draft }) {
                throw Problem(.conflict, "question \(id) already has a draft (version \(draft.version)); edit or publish it first")
            }
            let basedOn = input.basedOn ?? question.latestVersion
            let base = try await transaction.fetchQuestionVersion(QuestionPin(questionId: id, version: basedOn))
                .orThrow(Problem(.validationFailed, "no version \(basedOn)", errors: [.init(pointer: "/basedOn", detail: "no such version")]))
            let version = try await Self.draft(
                question, number: question.latestVersion + 1, content: input.content ?? base.content, by: access.user.userId, at: now,
                in: transaction)
            try await transaction.insertQuestionVersion(version, of: question)
            question.latestVersion = version.version
            question.updatedAt = now
            try await transaction.updateQuestion(question)
            try await transaction.appendLedgerEvent(
                AuthoringEvents.question("question.version.drafted", question, actor: access.actor, version: version,
                                         payload: ["basedOn": .number(Double(basedOn))]))
            return version
        }
    }

    func updateDraft(_ pin: QuestionPin, _ input: DraftContent, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> QuestionVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let question = try await changeableQuestion(pin.questionId, access: access, in: transaction)
            let current = try await transaction.fetchQuestionVersion(pin).orThrow(Self.notFound(pin))
            guard current.status == .draft else { throw Self.frozen(current) }
            var version = try await Self.draft(question, number: pin.version, content: input.content, by: current.history.createdBy, at: now, in: transaction)
            version.history = VersionHistory(createdBy: current.history.createdBy, createdAt: current.history.createdAt, updatedAt: now)
            guard try await transaction.updateQuestionDraft(version) else { throw Self.frozen(current) }
            try await transaction.appendLedgerEvent(
                AuthoringEvents.question("question.version.updated", question, actor: access.actor, version: version))
            return version
        }
    }

    func publish(_ pin: QuestionPin, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> QuestionVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let question = try await changeableQuestion(pin.questionId, access: access, in: transaction)
            let draft = try await transaction.fetchQuestionVersion(pin).orThrow(Self.notFound(pin))
            guard draft.status == .draft else { throw Self.frozen(draft) }
            let tags = try await Self.frozenTags(of: draft.content, at: "/content/tags", in: transaction)
            let problems = draft.content.publishProblems(kind: question.kind, at: "/content") + tags.unknown + tags.archived
            guard problems.isEmpty else {
                throw Problem(
                    .validationFailed, "version \(pin.version) of question \(pin.questionId) cannot be published: \(Self.count(problems))",
                    errors: problems)
            }
            return try await Self.publish(draft, of: question, tags: tags.refs, actor: access.actor, by: access.user.userId, at: now, in: transaction)
        }
    }

    func archiveVersion(_ pin: QuestionPin, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> QuestionVersion {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let question = try await lockedForChange(pin.questionId, access: access, in: transaction)
            var version = try await transaction.fetchQuestionVersion(pin).orThrow(Self.notFound(pin))
            guard version.status == .published else {
                throw Problem(.conflict, "version \(pin.version) is \(version.status.rawValue); only a published version is archived")
            }
            try await transaction.transitionQuestionVersion(pin, to: .archive(by: access.user.userId, at: now))
            version.status = .archived
            version.history.archivedBy = access.user.userId
            version.history.archivedAt = now
            try await transaction.appendLedgerEvent(
                AuthoringEvents.question("question.version.archived", question, actor: access.actor, version: version))
            return version
        }
    }

    // MARK: Shared with evaluation publishing

    /// Freezes a validated draft: its tags as they read now, its final hash, published by whom and when.
    static func publish(
        _ draft: QuestionVersion, of question: Question, tags: [TagRef], actor: LedgerActor, by user: UserID, at now: Date,
        payload: [String: JSONValue] = [:], in transaction: Transaction
    ) async throws -> QuestionVersion {
        var version = draft
        version.tags = tags
        version.contentHash = try hash(content: draft.content, tags: tags)
        version.history.updatedAt = now
        _ = try await transaction.updateQuestionDraft(version)
        try await transaction.transitionQuestionVersion(version.pin, to: .publish(by: user, at: now, contentHash: version.contentHash))
        version.status = .published
        version.history.publishedBy = user
        version.history.publishedAt = now
        try await transaction.appendLedgerEvent(
            AuthoringEvents.question("question.version.published", question, actor: actor, version: version, payload: payload))
        return version
    }

    /// The tags of `content` as frozen references, with the ones that cannot be frozen: unknown in this
    /// tenant, or archived.
    struct TagResolution {
        var refs: [TagRef] = []
        var unknown: [Problem.FieldError] = []
        var archived: [Problem.FieldError] = []
    }

    static func frozenTags(of content: QuestionContent, at pointer: String, in transaction: Transaction) async throws -> TagResolution {
        let ids = content.tags ?? []
        let found = try await transaction.tagRefs(ids)
        var resolution = TagResolution()
        for (index, id) in ids.enumerated() {
            guard let tag = found[id] else {
                resolution.unknown.append(.init(pointer: "\(pointer)/\(index)", detail: "no tag \(id) in this tenant"))
                continue
            }
            if tag.status == .archived { resolution.archived.append(.init(pointer: "\(pointer)/\(index)", detail: "tag \(id) is archived")) }
            resolution.refs.append(tag.ref)
        }
        return resolution
    }

    static func count(_ problems: [Problem.FieldError]) -> String {
        problems.count == 1 ? "1 problem" : "\(problems.count) problems"
    }

    static func notFound(_ id: QuestionID) -> Problem { Problem(.notFound, "no question \(id) in your reach") }
    static func notFound(_ pin: QuestionPin) -> Problem { Problem(.notFound, "no question \(pin.questionId) version \(pin.version) in your reach") }

    // MARK: Private

    /// The question locked until the transaction ends, after checking (on the visible row) that it is
    /// within the author's reach: a shared question is readable from other org units, but not changed there.
    private func lockedForChange(_ id: QuestionID, access: CapabilityAccess, in transaction: Transaction) async throws -> Question {
        let visible = try await transaction.fetchQuestion(id).orThrow(Self.notFound(id))
        try access.requireReach(visible.orgUnitId, toChange: "question \(id)")
        return try await transaction.fetchQuestion(id, lockingForChange: true).orThrow(Self.notFound(id))
    }

    private func changeableQuestion(_ id: QuestionID, access: CapabilityAccess, in transaction: Transaction) async throws -> Question {
        let question = try await lockedForChange(id, access: access, in: transaction)
        guard question.status == .active else { throw Problem(.conflict, "question \(id) is archived; restore it before changing it") }
        return question
    }

    /// A draft version with `content`; tags must exist in the tenant already (archived ones are only
    /// refused at publishing, so a draft can be saved while its vocabulary is tidied).
    private static func draft(
        _ question: Question, number: Int, content: QuestionContent, by user: UserID, at now: Date, in transaction: Transaction
    ) async throws -> QuestionVersion {
        let tags = try await frozenTags(of: content, at: "/content/tags", in: transaction)
        guard tags.unknown.isEmpty else {
            throw Problem(.validationFailed, "the content names tags this tenant does not have", errors: tags.unknown)
        }
        return QuestionVersion(
            questionId: question.id, version: number, kind: question.kind, status: .draft, content: content, tags: tags.refs,
            contentHash: try hash(content: content, tags: tags.refs), history: VersionHistory(createdBy: user, createdAt: now, updatedAt: now))
    }

    private static func hash(content: QuestionContent, tags: [TagRef]) throws -> String {
        struct Hashed: Encodable { var content: QuestionContent; var tags: [TagRef] }
        return try ContentHash.of(Hashed(content: content, tags: tags))
    }

    private static func frozen(_ version: QuestionVersion) -> Problem {
        Problem(
            .conflict,
            "version \(version.version) of question \(version.questionId) is \(version.status.rawValue) and can no longer change; "
                + "create a new draft version (POST /v1/questions/\(version.questionId)/versions)")
    }
}
