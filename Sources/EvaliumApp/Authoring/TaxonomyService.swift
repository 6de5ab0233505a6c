import EvaliumCore
import EvaliumStorage
import Foundation

/// Tag vocabularies of a tenant (topic, skill, difficulty, or its own). Everyone who authors reads them;
/// only a tenant-wide author defines them, since they are shared by every org unit.
struct TaxonomyService: Sendable {
    let database: Database

    struct NewTaxonomy: Codable, Sendable {
        var key: String
        var name: LocalizedText
        var description: LocalizedText?
        var tags: [NewTag]?
    }

    struct TaxonomyChanges: Codable, Sendable {
        var name: LocalizedText?
        var description: LocalizedText?
        var status: AuthoringStatus?
    }

    struct NewTag: Codable, Sendable {
        var key: String
        var label: LocalizedText
    }

    struct TagChanges: Codable, Sendable {
        var label: LocalizedText?
        var status: AuthoringStatus?
    }

    func create(_ input: NewTaxonomy, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Taxonomy {
        try access.requireTenantWide(toChange: "tag vocabularies")
        var errors = Self.keyProblems(input.key, at: "/key")
        for (index, tag) in (input.tags ?? []).enumerated() { errors += Self.keyProblems(tag.key, at: "/tags/\(index)/key") }
        let duplicates = Dictionary(grouping: input.tags ?? [], by: \.key).filter { $0.value.count > 1 }.keys
        errors += duplicates.sorted().map { Problem.FieldError(pointer: "/tags", detail: "the tag key `\($0)` appears more than once") }
        guard errors.isEmpty else { throw Problem(.validationFailed, "the vocabulary has invalid fields", errors: errors) }
        let now = ServerClock.now()
        var taxonomy = Taxonomy(
            id: .generate(at: now), tenantId: access.user.tenantId, key: input.key, name: input.name, description: input.description,
            status: .active, tags: [], createdAt: now, updatedAt: now)
        return try await runner.run(access.scope) { transaction in
            do {
                try await transaction.insertTaxonomy(taxonomy)
            } catch StorageError.uniqueViolation {
                throw Problem(.conflict, "a vocabulary with the key `\(input.key)` already exists in this tenant")
            }
            try await transaction.appendLedgerEvent(AuthoringEvents.taxonomy("taxonomy.created", taxonomy, actor: access.actor))
            for input in input.tags ?? [] {
                taxonomy.tags.append(try await addTag(input, to: taxonomy, access: access, in: transaction, now: now))
            }
            return taxonomy
        }
    }

    func list(access: CapabilityAccess) async throws -> [Taxonomy] {
        try await database.transaction(access.scope) { try await $0.listTaxonomies() }
    }

    func taxonomy(_ id: TaxonomyID, access: CapabilityAccess) async throws -> Taxonomy {
        try await database.transaction(access.scope) { try await $0.fetchTaxonomy(id) }.orThrow(Self.notFound(id))
    }

    func update(_ id: TaxonomyID, _ changes: TaxonomyChanges, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Taxonomy {
        try access.requireTenantWide(toChange: "tag vocabularies")
        return try await runner.run(access.scope) { transaction in
            var taxonomy = try await transaction.fetchTaxonomy(id).orThrow(Self.notFound(id))
            let before = taxonomy
            taxonomy.name = changes.name ?? taxonomy.name
            taxonomy.description = changes.description ?? taxonomy.description
            taxonomy.status = changes.status ?? taxonomy.status
            guard taxonomy != before else { return taxonomy }
            taxonomy.updatedAt = ServerClock.now()
            try await transaction.updateTaxonomy(taxonomy)
            try await transaction.appendLedgerEvent(AuthoringEvents.taxonomy("taxonomy.updated", taxonomy, actor: access.actor))
            return taxonomy
        }
    }

    func addTag(_ input: NewTag, to id: TaxonomyID, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Tag {
        try access.requireTenantWide(toChange: "tag vocabularies")
        let errors = Self.keyProblems(input.key, at: "/key")
        guard errors.isEmpty else { throw Problem(.validationFailed, "the tag has invalid fields", errors: errors) }
        return try await runner.run(access.scope) { transaction in
            let taxonomy = try await transaction.fetchTaxonomy(id).orThrow(Self.notFound(id))
            guard taxonomy.status == .active else { throw Problem(.conflict, "vocabulary \(id) is archived; reactivate it to add tags") }
            return try await addTag(input, to: taxonomy, access: access, in: transaction, now: ServerClock.now())
        }
    }

    func updateTag(_ id: TagID, _ changes: TagChanges, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> Tag {
        try access.requireTenantWide(toChange: "tag vocabularies")
        return try await runner.run(access.scope) { transaction in
            var tag = try await transaction.fetchTag(id).orThrow(Problem(.notFound, "no tag \(id) in this tenant"))
            let before = tag
            tag.label = changes.label ?? tag.label
            tag.status = changes.status ?? tag.status
            guard tag != before else { return tag }
            tag.updatedAt = ServerClock.now()
            try await transaction.updateTag(tag)
            let taxonomy = try await transaction.fetchTaxonomy(tag.taxonomyId).orThrow(Self.notFound(tag.taxonomyId))
            try await transaction.appendLedgerEvent(AuthoringEvents.taxonomy("tag.updated", taxonomy, actor: access.actor, tag: tag))
            return tag
        }
    }

    private func addTag(_ input: NewTag, to taxonomy: Taxonomy, access: CapabilityAccess, in transaction: Transaction, now: Date) async throws -> Tag {
        let tag = Tag(id: .generate(at: now), taxonomyId: taxonomy.id, key: input.key, label: input.label, status: .active, createdAt: now, updatedAt: now)
        do {
            try await transaction.insertTag(tag, tenantId: taxonomy.tenantId)
        } catch StorageError.uniqueViolation {
            throw Problem(.conflict, "vocabulary `\(taxonomy.key)` already has a tag `\(input.key)`")
        }
        try await transaction.appendLedgerEvent(AuthoringEvents.taxonomy("tag.created", taxonomy, actor: access.actor, tag: tag))
        return tag
    }

    private static func keyProblems(_ key: String, at pointer: String) -> [Problem.FieldError] {
        Taxonomy.isKey(key) ? [] : [.init(pointer: pointer, detail: "must be a lower-case letter followed by up to 62 letters, digits, `_` or `-`")]
    }

    private static func notFound(_ id: TaxonomyID) -> Problem { Problem(.notFound, "no vocabulary \(id) in this tenant") }
}
