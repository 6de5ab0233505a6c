import EvaliumCore
import EvaliumStorage
import Foundation

/// Subjects: the people, assets and locations that are inspected. Every change is one transaction with
/// its ledger event, and so is every read of one subject (`subject.viewed`).
struct SubjectService: Sendable {
    let database: Database
    /// Where the subjects read lately stand, so their next read sends its event with it (`view`). An entry holds
    /// three ids, a few hundred bytes with the dictionary's and the ring's share: some 15 MB when full.
    let placements = SubjectPlacements(capacity: 50_000)

    struct NewSubject: Codable, Sendable {
        var type: SubjectType
        var displayName: String
        var externalRef: String?
        var orgUnitId: OrgUnitID?
        var tags: [String]?
        /// The person a `user` subject is.
        var userId: UserID?
        /// The typed extension of an `asset` subject.
        var asset: AssetInput?
    }

    struct AssetInput: Codable, Sendable {
        var assetType: String
        var identifiers: [String: String]?
        var metadata: JSONValue?
    }

    struct SubjectChanges: Codable, Sendable {
        var displayName: String?
        var externalRef: String?
        var tags: [String]?
        var status: SubjectStatus?
        var asset: AssetChanges?
    }

    struct AssetChanges: Codable, Sendable {
        var assetType: String?
        /// Replaces every identifier.
        var identifiers: [String: String]?
        /// Replaces the metadata.
        var metadata: JSONValue?
    }

    func create(_ input: NewSubject, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Subject {
        var errors: [Problem.FieldError] = []
        let name = DisplayName.validate(input.displayName, pointer: "/displayName").collect(into: &errors)
        let ref = input.externalRef.flatMap { SubjectFields.externalRef($0, pointer: "/externalRef").collect(into: &errors) }
        let tags = SubjectFields.tags(input.tags ?? [], pointer: "/tags", errors: &errors)
        switch input.type {
        case .user where input.userId == nil: errors.append(.init(pointer: "/userId", detail: "is required for a person subject (type user)"))
        case .asset where input.asset == nil: errors.append(.init(pointer: "/asset", detail: "is required for an asset subject"))
        default: break
        }
        if input.type != .user, input.userId != nil {
            errors.append(.init(pointer: "/userId", detail: "only a person subject (type user) is linked to a person"))
        }
        if input.type != .asset, input.asset != nil {
            errors.append(.init(pointer: "/asset", detail: "only an asset subject (type asset) has asset fields"))
        }
        let asset = input.asset.flatMap { asset in
            Self.asset(
                AssetDetails(assetType: asset.assetType, identifiers: asset.identifiers ?? [:], metadata: asset.metadata ?? .object([:])),
                errors: &errors)
        }
        guard let name, let tags, errors.isEmpty else { throw Problem(.validationFailed, "the subject has invalid fields", errors: errors) }
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let orgUnit = try await access.orgUnit(input.orgUnitId, pointer: "/orgUnitId", in: transaction)
            if let user = input.userId, try await transaction.fetchUser(user) == nil {
                throw Problem(.validationFailed, "no such person", errors: [.init(pointer: "/userId", detail: "no person \(user) in your reach")])
            }
            let subject = Subject(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnit, type: input.type, displayName: name,
                externalRef: ref, status: .active, tags: tags, userId: input.userId, asset: asset, createdAt: now, updatedAt: now)
            try await Self.insert([subject], in: transaction)
            try await transaction.appendLedgerEvent(SubjectEvents.created(subject, actor: access.actor))
            return subject
        }
    }

    func list(_ filter: SubjectFilter, access: CapabilityAccess) async throws -> Page<Subject> {
        let subjects = try await database.transaction(access.scope) { try await $0.listSubjects(filter) }
        return Page(items: subjects, nextCursor: subjects.count == filter.limit ? subjects.last?.id.rawValue : nil)
    }

    /// One subject, its reading recorded as `subject.viewed` before it is answered. Each statement applies the
    /// scope itself (no transaction's BEGIN, scope and COMMIT). When this process knows where the subject stands,
    /// the event goes with the read and is appended in the same statement if the subject is still there: one round
    /// trip. Otherwise, or if it has moved, the read comes first and the event for the subject as read after it.
    func view(_ id: SubjectID, scope: Scope, actor: LedgerActor) async throws -> Subject {
        try await database.scopedStatements(scope) { statements in
            if let tenantId = scope.tenantId, let placement = placements.placement(of: id, in: tenantId) {
                let event = SubjectEvents.viewed(id, placedAt: placement, actor: actor, scope: scope)
                let (subject, recorded) = try await statements.fetchSubject(id, recording: event, ifPlacedAt: placement).orThrow(Self.notFound(id))
                if recorded { return subject }
                return try await recordView(of: subject, in: statements, scope: scope, actor: actor)
            }
            let subject = try await statements.fetchSubject(id).orThrow(Self.notFound(id))
            return try await recordView(of: subject, in: statements, scope: scope, actor: actor)
        }
    }

    private func recordView(of subject: Subject, in statements: ScopedStatements, scope: Scope, actor: LedgerActor) async throws -> Subject {
        try await statements.appendLedgerEvents([SubjectEvents.viewed(subject, actor: actor, scope: scope)])
        placements.keep(subject)
        return subject
    }

    /// Changes names, refs, tags and asset fields (`subject.updated`), archives (`subject.archived`) or
    /// restores (`subject.restored`). A request that changes nothing answers the subject unchanged.
    func update(_ id: SubjectID, _ changes: SubjectChanges, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Subject {
        var errors: [Problem.FieldError] = []
        let name = changes.displayName.flatMap { DisplayName.validate($0, pointer: "/displayName").collect(into: &errors) }
        let ref = changes.externalRef.flatMap { SubjectFields.externalRef($0, pointer: "/externalRef").collect(into: &errors) }
        let tags = changes.tags.flatMap { SubjectFields.tags($0, pointer: "/tags", errors: &errors) }
        guard errors.isEmpty else { throw Problem(.validationFailed, "the changes have invalid fields", errors: errors) }
        return try await runner.run(access.scope) { transaction in
            let visible = try await transaction.fetchSubject(id).orThrow(Self.notFound(id))
            try access.requireReach(visible.orgUnitId, toChange: "subject \(id)")
            let before = try await transaction.fetchSubject(id, lockingForChange: true).orThrow(Self.notFound(id))
            var after = before
            after.displayName = name ?? before.displayName
            after.externalRef = ref ?? before.externalRef
            after.tags = tags ?? before.tags
            after.status = changes.status ?? before.status
            if let input = changes.asset {
                guard var asset = before.asset else {
                    throw Problem(.validationFailed, "not an asset", errors: [.init(pointer: "/asset", detail: "subject \(id) is not an asset")])
                }
                asset.assetType = input.assetType ?? asset.assetType
                asset.identifiers = input.identifiers ?? asset.identifiers
                asset.metadata = input.metadata ?? asset.metadata
                var errors: [Problem.FieldError] = []
                after.asset = Self.asset(asset, errors: &errors)
                guard errors.isEmpty else { throw Problem(.validationFailed, "the asset fields are invalid", errors: errors) }
            }
            let changed = after.changedFields(comparedWith: before)
            guard !changed.isEmpty || after.status != before.status else { return before }
            after.updatedAt = ServerClock.now()
            do {
                try await transaction.updateSubject(after)
            } catch StorageError.uniqueViolation(let constraint) {
                throw Self.conflict(constraint)
            }
            if !changed.isEmpty { try await transaction.appendLedgerEvent(SubjectEvents.updated(before, after, actor: access.actor)) }
            if after.status != before.status {
                let type: LedgerEventType = after.status == .archived ? "subject.archived" : "subject.restored"
                try await transaction.appendLedgerEvent(SubjectEvents.subject(type, after, actor: access.actor))
            }
            return after
        }
    }

    // MARK: Shared with imports

    /// Inserts new subjects, turning a taken external ref or person into a 409 that says which.
    static func insert(_ subjects: [Subject], in transaction: Transaction) async throws {
        do {
            try await transaction.insertSubjects(subjects)
        } catch StorageError.uniqueViolation(let constraint) {
            throw conflict(constraint)
        }
    }

    static func notFound(_ id: SubjectID) -> Problem { Problem(.notFound, "no subject \(id) in your reach") }

    // MARK: Private

    /// The asset fields normalised (`assetType` lower-cased, identifiers trimmed), or nil with every problem in `errors`.
    private static func asset(_ input: AssetDetails, errors: inout [Problem.FieldError]) -> AssetDetails? {
        let before = errors.count
        let assetType = SubjectFields.key(input.assetType, pointer: "/asset/assetType").collect(into: &errors)
        let identifiers = SubjectFields.identifiers(input.identifiers, pointer: "/asset/identifiers", errors: &errors)
        errors += SubjectFields.metadata(input.metadata, pointer: "/asset/metadata")
        guard let assetType, let identifiers, errors.count == before else { return nil }
        return AssetDetails(assetType: assetType, identifiers: identifiers, metadata: input.metadata)
    }

    private static func conflict(_ constraint: String) -> Problem {
        if constraint.contains("external_ref") {
            return Problem(.conflict, "another subject of this tenant already has this external ref")
        }
        if constraint.contains("user") {
            return Problem(.conflict, "this person already is a subject of this tenant")
        }
        return Problem(.conflict, "a subject with these keys already exists (\(constraint))")
    }
}
