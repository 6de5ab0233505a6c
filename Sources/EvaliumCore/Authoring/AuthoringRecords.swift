import Crypto
import Foundation

/// Draft → published → archived (seed 001 §4.1). A draft is edited freely; a published version is
/// frozen (the database refuses any change but archiving); an archived one is kept, never deleted.
public enum VersionStatus: String, Codable, Sendable, CaseIterable {
    case draft, published, archived
}

/// Whether a question or evaluation (the identity, not a version) is still offered for new work.
public enum AuthoringStatus: String, Codable, Sendable, CaseIterable {
    case active, archived
}

/// A tag as frozen into a question version: its id, vocabulary and wording at the time, so later
/// renames never change what was published (seed 001 §15.1 "structured tags frozen").
public struct TagRef: Codable, Hashable, Sendable {
    public var tagId: TagID
    public var taxonomy: String
    public var key: String
    public var label: LocalizedText

    public init(tagId: TagID, taxonomy: String, key: String, label: LocalizedText) {
        self.tagId = tagId
        self.taxonomy = taxonomy
        self.key = key
        self.label = label
    }
}

public struct Taxonomy: Codable, Hashable, Sendable {
    public var id: TaxonomyID
    public var tenantId: TenantID
    /// The vocabulary's machine name: `topic`, `skill`, `difficulty`, or the tenant's own.
    public var key: String
    public var name: LocalizedText
    public var description: LocalizedText?
    public var status: AuthoringStatus
    public var tags: [Tag]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: TaxonomyID, tenantId: TenantID, key: String, name: LocalizedText, description: LocalizedText?, status: AuthoringStatus,
        tags: [Tag], createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantId = tenantId
        self.key = key
        self.name = name
        self.description = description
        self.status = status
        self.tags = tags
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Lower-case machine names: a letter, then letters, digits, `_` or `-`, at most 63 characters.
    public static func isKey(_ text: String) -> Bool {
        guard let first = text.first, first.isASCII, first.isLowercase, text.count <= 63 else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}

public struct Tag: Codable, Hashable, Sendable {
    public var id: TagID
    public var taxonomyId: TaxonomyID
    public var key: String
    public var label: LocalizedText
    public var status: AuthoringStatus
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: TagID, taxonomyId: TaxonomyID, key: String, label: LocalizedText, status: AuthoringStatus, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.taxonomyId = taxonomyId
        self.key = key
        self.label = label
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The stable identity of a question.
public struct Question: Codable, Hashable, Sendable {
    public var id: QuestionID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var kind: ItemKind
    /// Offered read-only to every org unit of the tenant once published, not only the owning one.
    public var shared: Bool
    public var status: AuthoringStatus
    public var latestVersion: Int
    /// The highest published version: what a new evaluation item pins when it names no version.
    public var publishedVersion: Int?
    public var createdBy: UserID
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: QuestionID, tenantId: TenantID, orgUnitId: OrgUnitID, kind: ItemKind, shared: Bool, status: AuthoringStatus,
        latestVersion: Int, publishedVersion: Int?, createdBy: UserID, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.kind = kind
        self.shared = shared
        self.status = status
        self.latestVersion = latestVersion
        self.publishedVersion = publishedVersion
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Who did what to a version, and when.
public struct VersionHistory: Codable, Hashable, Sendable {
    public var createdBy: UserID
    public var createdAt: Date
    public var updatedAt: Date
    public var publishedBy: UserID?
    public var publishedAt: Date?
    public var archivedBy: UserID?
    public var archivedAt: Date?

    public init(
        createdBy: UserID, createdAt: Date, updatedAt: Date, publishedBy: UserID? = nil, publishedAt: Date? = nil,
        archivedBy: UserID? = nil, archivedAt: Date? = nil
    ) {
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.publishedBy = publishedBy
        self.publishedAt = publishedAt
        self.archivedBy = archivedBy
        self.archivedAt = archivedAt
    }
}

public struct QuestionVersion: Codable, Hashable, Sendable {
    public var questionId: QuestionID
    public var version: Int
    public var kind: ItemKind
    public var status: VersionStatus
    public var content: QuestionContent
    /// The content's tags as they read when the version was last saved or published.
    public var tags: [TagRef]
    /// SHA-256 of the canonical JSON of `content` and `tags`: what the ledger records as published.
    public var contentHash: String
    public var history: VersionHistory

    public init(
        questionId: QuestionID, version: Int, kind: ItemKind, status: VersionStatus, content: QuestionContent, tags: [TagRef],
        contentHash: String, history: VersionHistory
    ) {
        self.questionId = questionId
        self.version = version
        self.kind = kind
        self.status = status
        self.content = content
        self.tags = tags
        self.contentHash = contentHash
        self.history = history
    }

    public var pin: QuestionPin { QuestionPin(questionId: questionId, version: version) }
}

/// The stable identity of an evaluation, with the one version that is active (offered for new work).
public struct Evaluation: Codable, Hashable, Sendable {
    public var id: EvaluationID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var kind: EvaluationKind
    public var shared: Bool
    public var status: AuthoringStatus
    public var activeVersion: Int?
    public var latestVersion: Int
    /// The title of the active version, else of the latest one, for lists.
    public var title: LocalizedText?
    public var createdBy: UserID
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: EvaluationID, tenantId: TenantID, orgUnitId: OrgUnitID, kind: EvaluationKind, shared: Bool, status: AuthoringStatus,
        activeVersion: Int?, latestVersion: Int, title: LocalizedText?, createdBy: UserID, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.kind = kind
        self.shared = shared
        self.status = status
        self.activeVersion = activeVersion
        self.latestVersion = latestVersion
        self.title = title
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct EvaluationVersion: Codable, Hashable, Sendable {
    public var evaluationId: EvaluationID
    public var version: Int
    public var kind: EvaluationKind
    public var status: VersionStatus
    public var definition: EvaluationDefinition
    /// SHA-256 over the definition and the content hashes of every pinned question version.
    public var contentHash: String
    public var history: VersionHistory

    public init(
        evaluationId: EvaluationID, version: Int, kind: EvaluationKind, status: VersionStatus, definition: EvaluationDefinition,
        contentHash: String, history: VersionHistory
    ) {
        self.evaluationId = evaluationId
        self.version = version
        self.kind = kind
        self.status = status
        self.definition = definition
        self.contentHash = contentHash
        self.history = history
    }

    public var pins: [QuestionPin] {
        definition.items.compactMap { entry in entry.item.version.map { QuestionPin(questionId: entry.item.questionId, version: $0) } }
    }
}

/// Content hashes: SHA-256 of canonical JSON, lower-case hex, so the same content always hashes the same.
public enum ContentHash {
    public static func of(_ value: some Encodable) throws -> String {
        let bytes = try CanonicalJSON.bytes(JSONValue(encoding: value))
        return Array(SHA256.hash(data: bytes)).hexString
    }
}
