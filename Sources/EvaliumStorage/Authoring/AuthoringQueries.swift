import EvaliumCore
import Foundation
import PostgresNIO

/// Filters for listing questions and evaluations; every filter is optional and they combine with AND.
public struct AuthoringFilter: Sendable {
    /// An `ItemKind` or `EvaluationKind` raw value.
    public var kind: String?
    public var status: AuthoringStatus?
    public var orgUnitId: OrgUnitID?
    public var tagId: TagID?
    /// Keyset cursor: the last id of the previous page.
    public var after: String?
    public var limit: Int

    public init(
        kind: String? = nil, status: AuthoringStatus? = nil, orgUnitId: OrgUnitID? = nil, tagId: TagID? = nil, after: String? = nil,
        limit: Int
    ) {
        self.kind = kind
        self.status = status
        self.orgUnitId = orgUnitId
        self.tagId = tagId
        self.after = after
        self.limit = limit
    }
}

/// The two ways a version leaves its state: publishing freezes it (with the hash of what is frozen),
/// archiving retires it. Nothing returns a version to draft.
public enum VersionTransition: Sendable {
    case publish(by: UserID, at: Date, contentHash: String)
    case archive(by: UserID, at: Date)
}

// MARK: Taxonomies and tags

extension Transaction {
    public func insertTaxonomy(_ taxonomy: Taxonomy) async throws {
        try await run(
            """
            INSERT INTO taxonomies (id, tenant_id, key, name, description, status, created_at, updated_at)
            VALUES (\(taxonomy.id.rawValue), \(taxonomy.tenantId.rawValue), \(taxonomy.key), \(try storedJSON(taxonomy.name))::jsonb,
                    \(try taxonomy.description.map(storedJSON))::jsonb, \(taxonomy.status.rawValue),
                    \(MillisecondTimestamp(taxonomy.createdAt)), \(MillisecondTimestamp(taxonomy.updatedAt)))
            """)
    }

    public func updateTaxonomy(_ taxonomy: Taxonomy) async throws {
        try await run(
            """
            UPDATE taxonomies SET name = \(try storedJSON(taxonomy.name))::jsonb, description = \(try taxonomy.description.map(storedJSON))::jsonb,
                   status = \(taxonomy.status.rawValue), updated_at = \(MillisecondTimestamp(taxonomy.updatedAt))
            WHERE id = \(taxonomy.id.rawValue)
            """)
    }

    public func fetchTaxonomy(_ id: TaxonomyID) async throws -> Taxonomy? {
        try await taxonomies(where: "WHERE t.id = \(id.rawValue)").first
    }

    public func listTaxonomies() async throws -> [Taxonomy] {
        try await taxonomies(where: "")
    }

    public func insertTag(_ tag: Tag, tenantId: TenantID) async throws {
        try await run(
            """
            INSERT INTO tags (id, tenant_id, taxonomy_id, key, label, status, created_at, updated_at)
            VALUES (\(tag.id.rawValue), \(tenantId.rawValue), \(tag.taxonomyId.rawValue), \(tag.key), \(try storedJSON(tag.label))::jsonb,
                    \(tag.status.rawValue), \(MillisecondTimestamp(tag.createdAt)), \(MillisecondTimestamp(tag.updatedAt)))
            """)
    }

    public func updateTag(_ tag: Tag) async throws {
        try await run(
            """
            UPDATE tags SET label = \(try storedJSON(tag.label))::jsonb, status = \(tag.status.rawValue),
                   updated_at = \(MillisecondTimestamp(tag.updatedAt))
            WHERE id = \(tag.id.rawValue)
            """)
    }

    public func fetchTag(_ id: TagID) async throws -> Tag? {
        try await tags(where: "WHERE g.id = \(id.rawValue)").first
    }

    /// The visible tags among `ids`, each as it reads now with its vocabulary's key, ready to be frozen
    /// into a question version (a tag of an archived vocabulary counts as archived). Unknown or invisible
    /// ids are simply absent.
    public func tagRefs(_ ids: [TagID]) async throws -> [TagID: (ref: TagRef, status: AuthoringStatus)] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await run(
            """
            SELECT g.id, t.key, g.key, g.label::text, CASE WHEN t.status = 'archived' THEN 'archived' ELSE g.status END
            FROM tags g JOIN taxonomies t ON t.id = g.taxonomy_id
            WHERE g.id = ANY(\(ids.map(\.rawValue)))
            """)
        var refs: [TagID: (ref: TagRef, status: AuthoringStatus)] = [:]
        for try await (id, taxonomy, key, label, status) in rows.decode((String, String, String, String, String).self) {
            let tagId = TagID(unchecked: id)
            refs[tagId] = (
                TagRef(tagId: tagId, taxonomy: taxonomy, key: key, label: try storedValue(LocalizedText.self, label)),
                AuthoringStatus(rawValue: status) ?? .archived
            )
        }
        return refs
    }

    private func taxonomies(where condition: PostgresQuery) async throws -> [Taxonomy] {
        let rows = try await run(
            condition.wrapped(
                "SELECT t.id, t.tenant_id, t.key, t.name::text, t.description::text, t.status, t.created_at, t.updated_at FROM taxonomies t",
                "ORDER BY t.key"))
        var result: [Taxonomy] = []
        for try await (id, tenantId, key, name, description, status, createdAt, updatedAt) in rows.decode(
            (String, String, String, String, String?, String, Date, Date).self)
        {
            result.append(
                Taxonomy(
                    id: TaxonomyID(unchecked: id), tenantId: TenantID(unchecked: tenantId), key: key,
                    name: try storedValue(LocalizedText.self, name), description: try description.map { try storedValue(LocalizedText.self, $0) },
                    status: AuthoringStatus(rawValue: status) ?? .archived, tags: [], createdAt: createdAt.roundedToMilliseconds(),
                    updatedAt: updatedAt.roundedToMilliseconds()))
        }
        guard !result.isEmpty else { return [] }
        let tags = try await tags(where: "WHERE g.taxonomy_id = ANY(\(result.map(\.id.rawValue)))")
        let byTaxonomy = Dictionary(grouping: tags, by: \.taxonomyId)
        return result.map { taxonomy in
            var taxonomy = taxonomy
            taxonomy.tags = byTaxonomy[taxonomy.id] ?? []
            return taxonomy
        }
    }

    private func tags(where condition: PostgresQuery) async throws -> [Tag] {
        let rows = try await run(
            condition.wrapped(
                "SELECT g.id, g.taxonomy_id, g.key, g.label::text, g.status, g.created_at, g.updated_at FROM tags g",
                "ORDER BY g.taxonomy_id, g.key"))
        var result: [Tag] = []
        for try await (id, taxonomyId, key, label, status, createdAt, updatedAt) in rows.decode(
            (String, String, String, String, String, Date, Date).self)
        {
            result.append(
                Tag(
                    id: TagID(unchecked: id), taxonomyId: TaxonomyID(unchecked: taxonomyId), key: key,
                    label: try storedValue(LocalizedText.self, label), status: AuthoringStatus(rawValue: status) ?? .archived,
                    createdAt: createdAt.roundedToMilliseconds(), updatedAt: updatedAt.roundedToMilliseconds()))
        }
        return result
    }
}

// MARK: Questions

extension Transaction {
    public func insertQuestion(_ question: Question) async throws {
        try await run(
            """
            INSERT INTO questions (id, tenant_id, org_unit_id, kind, shared, status, latest_version, created_by, created_at, updated_at)
            VALUES (\(question.id.rawValue), \(question.tenantId.rawValue), \(question.orgUnitId.rawValue), \(question.kind.rawValue),
                    \(question.shared), \(question.status.rawValue), \(question.latestVersion), \(question.createdBy.rawValue),
                    \(MillisecondTimestamp(question.createdAt)), \(MillisecondTimestamp(question.updatedAt)))
            """)
    }

    /// Writes the mutable fields of the identity: sharing, status, latest version.
    public func updateQuestion(_ question: Question) async throws {
        try await run(
            """
            UPDATE questions SET shared = \(question.shared), status = \(question.status.rawValue),
                   latest_version = \(question.latestVersion), updated_at = \(MillisecondTimestamp(question.updatedAt))
            WHERE id = \(question.id.rawValue)
            """)
    }

    /// The question if visible; `lockingForChange` also holds its row until the transaction ends, so
    /// concurrent changes to its versions happen one after the other.
    public func fetchQuestion(_ id: QuestionID, lockingForChange: Bool = false) async throws -> Question? {
        try await questions(
            """
            SELECT \(unescaped: Self.questionColumns) FROM questions q WHERE q.id = \(id.rawValue)
            \(unescaped: lockingForChange ? "FOR UPDATE OF q" : "")
            """
        ).first
    }

    /// Questions visible in the scope, in id (creation) order after the cursor.
    public func listQuestions(_ filter: AuthoringFilter) async throws -> [Question] {
        let tagFilter = filter.tagId.map { "[{\"tagId\":\"\($0.rawValue)\"}]" }
        return try await questions(
            """
            SELECT \(unescaped: Self.questionColumns) FROM questions q
            WHERE (\(filter.kind)::text IS NULL OR q.kind = \(filter.kind))
              AND (\(filter.status?.rawValue)::text IS NULL OR q.status = \(filter.status?.rawValue))
              AND (\(filter.orgUnitId?.rawValue)::text IS NULL OR q.org_unit_id = \(filter.orgUnitId?.rawValue))
              AND (\(tagFilter)::jsonb IS NULL
                   OR EXISTS (SELECT 1 FROM question_versions v WHERE v.question_id = q.id AND v.tags @> \(tagFilter)::jsonb))
              AND (\(filter.after)::text IS NULL OR q.id > \(filter.after))
            ORDER BY q.id
            LIMIT \(filter.limit)
            """)
    }

    public func insertQuestionVersion(_ version: QuestionVersion, of question: Question) async throws {
        try await run(
            """
            INSERT INTO question_versions (tenant_id, org_unit_id, question_id, version, status, content, tags, content_hash,
                                           created_by, created_at, updated_at)
            VALUES (\(question.tenantId.rawValue), \(question.orgUnitId.rawValue), \(question.id.rawValue), \(version.version),
                    \(version.status.rawValue), \(try storedJSON(version.content))::jsonb, \(try storedJSON(version.tags))::jsonb,
                    \(version.contentHash), \(version.history.createdBy.rawValue), \(MillisecondTimestamp(version.history.createdAt)),
                    \(MillisecondTimestamp(version.history.updatedAt)))
            """)
    }

    /// Replaces the content of a draft; a version that is no longer a draft is left alone and false returned.
    public func updateQuestionDraft(_ version: QuestionVersion) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE question_versions SET content = \(try storedJSON(version.content))::jsonb, tags = \(try storedJSON(version.tags))::jsonb,
                   content_hash = \(version.contentHash), updated_at = \(MillisecondTimestamp(version.history.updatedAt))
            WHERE question_id = \(version.questionId.rawValue) AND version = \(version.version) AND status = 'draft'
            RETURNING version
            """)
        return try await rows.decode(Int.self).contains { _ in true }
    }

    public func transitionQuestionVersion(_ pin: QuestionPin, to transition: VersionTransition) async throws {
        try await run(transitionQuery(
            table: "question_versions", idColumn: "question_id", id: pin.questionId.rawValue, version: pin.version, transition))
    }

    /// Deletes a draft version (published ones are refused by the database itself).
    public func deleteQuestionDraft(_ pin: QuestionPin) async throws {
        try await run("DELETE FROM question_versions WHERE question_id = \(pin.questionId.rawValue) AND version = \(pin.version)")
    }

    public func fetchQuestionVersion(_ pin: QuestionPin) async throws -> QuestionVersion? {
        try await questionVersions(
            "WHERE v.question_id = \(pin.questionId.rawValue) AND v.version = \(pin.version)").first
    }

    public func listQuestionVersions(_ id: QuestionID) async throws -> [QuestionVersion] {
        try await questionVersions("WHERE v.question_id = \(id.rawValue) ORDER BY v.version")
    }

    /// The visible question versions among `pins`.
    public func fetchQuestionVersions(_ pins: [QuestionPin]) async throws -> [QuestionPin: QuestionVersion] {
        guard !pins.isEmpty else { return [:] }
        let versions = try await questionVersions(
            """
            JOIN unnest(\(pins.map(\.questionId.rawValue))::text[], \(pins.map(\.version))::int[]) AS p(question_id, version)
              ON p.question_id = v.question_id AND p.version = v.version
            """)
        return Dictionary(versions.map { ($0.pin, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// What an item pins when its request names no version: the question's latest visible published
    /// version, else its draft (a quiz built from new questions publishes them with it).
    public func defaultQuestionVersions(_ ids: [QuestionID]) async throws -> [QuestionID: Int] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await run(
            """
            SELECT question_id, coalesce(max(version) FILTER (WHERE status = 'published'), max(version) FILTER (WHERE status = 'draft'))
            FROM question_versions
            WHERE question_id = ANY(\(ids.map(\.rawValue))) AND status <> 'archived' GROUP BY question_id
            """)
        var latest: [QuestionID: Int] = [:]
        for try await (id, version) in rows.decode((String, Int).self) { latest[QuestionID(unchecked: id)] = version }
        return latest
    }

    static let questionColumns = """
        q.id, q.tenant_id, q.org_unit_id, q.kind, q.shared, q.status, q.latest_version,
        (SELECT max(v.version) FROM question_versions v WHERE v.question_id = q.id AND v.status = 'published'),
        q.created_by, q.created_at, q.updated_at
        """

    private func questions(_ query: PostgresQuery) async throws -> [Question] {
        var result: [Question] = []
        for try await (id, tenantId, orgUnitId, kind, shared, status, latest, published, createdBy, createdAt, updatedAt) in try await run(query)
            .decode((String, String, String, String, Bool, String, Int, Int?, String, Date, Date).self)
        {
            result.append(
                Question(
                    id: QuestionID(unchecked: id), tenantId: TenantID(unchecked: tenantId), orgUnitId: OrgUnitID(unchecked: orgUnitId),
                    kind: try storedEnum(ItemKind.self, kind), shared: shared, status: try storedEnum(AuthoringStatus.self, status),
                    latestVersion: latest, publishedVersion: published, createdBy: UserID(unchecked: createdBy),
                    createdAt: createdAt.roundedToMilliseconds(), updatedAt: updatedAt.roundedToMilliseconds()))
        }
        return result
    }

    private func questionVersions(_ tail: PostgresQuery) async throws -> [QuestionVersion] {
        let rows = try await run(
            tail.wrapped(
                """
                SELECT v.question_id, v.version, q.kind, v.status, v.content::text, v.tags::text, v.content_hash, \(Self.historyColumns)
                FROM question_versions v JOIN questions q ON q.id = v.question_id
                """))
        var result: [QuestionVersion] = []
        for try await row in rows {
            let (id, version, kind, status, content, tags, hash) = try row.decode((String, Int, String, String, String, String, String).self)
            result.append(
                QuestionVersion(
                    questionId: QuestionID(unchecked: id), version: version, kind: try storedEnum(ItemKind.self, kind),
                    status: try storedEnum(VersionStatus.self, status), content: try storedValue(QuestionContent.self, content),
                    tags: try storedValue([TagRef].self, tags), contentHash: hash, history: try history(row, from: 7)))
        }
        return result
    }
}

// MARK: Evaluations

extension Transaction {
    public func insertEvaluation(_ evaluation: Evaluation) async throws {
        try await run(
            """
            INSERT INTO evaluations (id, tenant_id, org_unit_id, kind, shared, status, latest_version, created_by, created_at, updated_at)
            VALUES (\(evaluation.id.rawValue), \(evaluation.tenantId.rawValue), \(evaluation.orgUnitId.rawValue), \(evaluation.kind.rawValue),
                    \(evaluation.shared), \(evaluation.status.rawValue), \(evaluation.latestVersion), \(evaluation.createdBy.rawValue),
                    \(MillisecondTimestamp(evaluation.createdAt)), \(MillisecondTimestamp(evaluation.updatedAt)))
            """)
    }

    /// Writes the mutable fields of the identity: sharing, status, active and latest version.
    public func updateEvaluation(_ evaluation: Evaluation) async throws {
        try await run(
            """
            UPDATE evaluations SET shared = \(evaluation.shared), status = \(evaluation.status.rawValue),
                   active_version = \(evaluation.activeVersion), latest_version = \(evaluation.latestVersion),
                   updated_at = \(MillisecondTimestamp(evaluation.updatedAt))
            WHERE id = \(evaluation.id.rawValue)
            """)
    }

    /// The evaluation if visible; `lockingForChange` holds its row until the transaction ends, which is
    /// what makes concurrent publishes and activations of one evaluation happen one after the other.
    public func fetchEvaluation(_ id: EvaluationID, lockingForChange: Bool = false) async throws -> Evaluation? {
        try await evaluations(
            """
            SELECT \(unescaped: Self.evaluationColumns) FROM evaluations e WHERE e.id = \(id.rawValue)
            \(unescaped: lockingForChange ? "FOR UPDATE OF e" : "")
            """
        ).first
    }

    public func listEvaluations(_ filter: AuthoringFilter) async throws -> [Evaluation] {
        try await evaluations(
            """
            SELECT \(unescaped: Self.evaluationColumns) FROM evaluations e
            WHERE (\(filter.kind)::text IS NULL OR e.kind = \(filter.kind))
              AND (\(filter.status?.rawValue)::text IS NULL OR e.status = \(filter.status?.rawValue))
              AND (\(filter.orgUnitId?.rawValue)::text IS NULL OR e.org_unit_id = \(filter.orgUnitId?.rawValue))
              AND (\(filter.after)::text IS NULL OR e.id > \(filter.after))
            ORDER BY e.id
            LIMIT \(filter.limit)
            """)
    }

    /// Inserts a version with its item rows.
    public func insertEvaluationVersion(_ version: EvaluationVersion, of evaluation: Evaluation) async throws {
        try await run(
            """
            INSERT INTO evaluation_versions (tenant_id, org_unit_id, evaluation_id, version, status, definition, content_hash,
                                             created_by, created_at, updated_at)
            VALUES (\(evaluation.tenantId.rawValue), \(evaluation.orgUnitId.rawValue), \(evaluation.id.rawValue), \(version.version),
                    \(version.status.rawValue), \(try storedJSON(version.definition))::jsonb, \(version.contentHash),
                    \(version.history.createdBy.rawValue), \(MillisecondTimestamp(version.history.createdAt)),
                    \(MillisecondTimestamp(version.history.updatedAt)))
            """)
        try await insertItems(of: version, evaluation: evaluation)
    }

    /// Replaces the definition and items of a draft; false (and nothing changed) when it is no longer a draft.
    public func updateEvaluationDraft(_ version: EvaluationVersion, of evaluation: Evaluation) async throws -> Bool {
        let rows = try await run(
            """
            UPDATE evaluation_versions SET definition = \(try storedJSON(version.definition))::jsonb, content_hash = \(version.contentHash),
                   updated_at = \(MillisecondTimestamp(version.history.updatedAt))
            WHERE evaluation_id = \(version.evaluationId.rawValue) AND version = \(version.version) AND status = 'draft'
            RETURNING version
            """)
        guard try await rows.decode(Int.self).contains(where: { _ in true }) else { return false }
        try await run(
            "DELETE FROM evaluation_version_items WHERE evaluation_id = \(version.evaluationId.rawValue) AND version = \(version.version)")
        try await insertItems(of: version, evaluation: evaluation)
        return true
    }

    public func transitionEvaluationVersion(_ id: EvaluationID, version: Int, to transition: VersionTransition) async throws {
        try await run(transitionQuery(
            table: "evaluation_versions", idColumn: "evaluation_id", id: id.rawValue, version: version, transition))
    }

    /// Deletes a draft version and its items (published ones are refused by the database itself).
    public func deleteEvaluationDraft(_ id: EvaluationID, version: Int) async throws {
        try await run("DELETE FROM evaluation_version_items WHERE evaluation_id = \(id.rawValue) AND version = \(version)")
        try await run("DELETE FROM evaluation_versions WHERE evaluation_id = \(id.rawValue) AND version = \(version)")
    }

    public func fetchEvaluationVersion(_ id: EvaluationID, version: Int) async throws -> EvaluationVersion? {
        try await evaluationVersions("WHERE v.evaluation_id = \(id.rawValue) AND v.version = \(version)").first
    }

    public func listEvaluationVersions(_ id: EvaluationID) async throws -> [EvaluationVersion] {
        try await evaluationVersions("WHERE v.evaluation_id = \(id.rawValue) ORDER BY v.version")
    }

    private func insertItems(of version: EvaluationVersion, evaluation: Evaluation) async throws {
        let items = version.definition.items.map(\.item).filter { $0.id != nil && $0.version != nil }
        guard !items.isEmpty else { return }
        try await run(
            """
            INSERT INTO evaluation_version_items (tenant_id, org_unit_id, evaluation_id, version, item_id, position, question_id, question_version)
            SELECT \(evaluation.tenantId.rawValue), \(evaluation.orgUnitId.rawValue), \(evaluation.id.rawValue), \(version.version),
                   item_id, position, question_id, question_version
            FROM unnest(\(items.map { $0.id!.rawValue })::text[], \(Array(items.indices))::int[],
                        \(items.map(\.questionId.rawValue))::text[], \(items.map { $0.version! })::int[])
                 AS i(item_id, position, question_id, question_version)
            """)
    }

    static let evaluationColumns = """
        e.id, e.tenant_id, e.org_unit_id, e.kind, e.shared, e.status, e.active_version, e.latest_version,
        (SELECT v.definition->'title' FROM evaluation_versions v
         WHERE v.evaluation_id = e.id AND v.version = coalesce(e.active_version, e.latest_version))::text,
        e.created_by, e.created_at, e.updated_at
        """

    private func evaluations(_ query: PostgresQuery) async throws -> [Evaluation] {
        var result: [Evaluation] = []
        for try await (id, tenantId, orgUnitId, kind, shared, status, active, latest, title, createdBy, createdAt, updatedAt) in try await run(query)
            .decode((String, String, String, String, Bool, String, Int?, Int, String?, String, Date, Date).self)
        {
            result.append(
                Evaluation(
                    id: EvaluationID(unchecked: id), tenantId: TenantID(unchecked: tenantId), orgUnitId: OrgUnitID(unchecked: orgUnitId),
                    kind: try storedEnum(EvaluationKind.self, kind), shared: shared, status: try storedEnum(AuthoringStatus.self, status),
                    activeVersion: active, latestVersion: latest, title: try title.map { try storedValue(LocalizedText.self, $0) },
                    createdBy: UserID(unchecked: createdBy), createdAt: createdAt.roundedToMilliseconds(),
                    updatedAt: updatedAt.roundedToMilliseconds()))
        }
        return result
    }

    private func evaluationVersions(_ tail: PostgresQuery) async throws -> [EvaluationVersion] {
        let rows = try await run(
            tail.wrapped(
                """
                SELECT v.evaluation_id, v.version, e.kind, v.status, v.definition::text, v.content_hash, \(Self.historyColumns)
                FROM evaluation_versions v JOIN evaluations e ON e.id = v.evaluation_id
                """))
        var result: [EvaluationVersion] = []
        for try await row in rows {
            let (id, version, kind, status, definition, hash) = try row.decode((String, Int, String, String, String, String).self)
            result.append(
                EvaluationVersion(
                    evaluationId: EvaluationID(unchecked: id), version: version, kind: try storedEnum(EvaluationKind.self, kind),
                    status: try storedEnum(VersionStatus.self, status), definition: try storedValue(EvaluationDefinition.self, definition),
                    contentHash: hash, history: try history(row, from: 6)))
        }
        return result
    }
}

// MARK: Shared

extension Transaction {
    static let historyColumns = "v.created_by, v.created_at, v.updated_at, v.published_by, v.published_at, v.archived_by, v.archived_at"

    func history(_ row: PostgresRow, from first: Int) throws -> VersionHistory {
        let cells = Array(row)
        let (createdBy, createdAt, updatedAt) = (
            try cells[first].decode(String.self), try cells[first + 1].decode(Date.self), try cells[first + 2].decode(Date.self)
        )
        let (publishedBy, publishedAt, archivedBy, archivedAt) = (
            try cells[first + 3].decode(String?.self), try cells[first + 4].decode(Date?.self),
            try cells[first + 5].decode(String?.self), try cells[first + 6].decode(Date?.self)
        )
        return VersionHistory(
            createdBy: UserID(unchecked: createdBy), createdAt: createdAt.roundedToMilliseconds(), updatedAt: updatedAt.roundedToMilliseconds(),
            publishedBy: publishedBy.map(UserID.init(unchecked:)), publishedAt: publishedAt?.roundedToMilliseconds(),
            archivedBy: archivedBy.map(UserID.init(unchecked:)), archivedAt: archivedAt?.roundedToMilliseconds())
    }

    fileprivate func transitionQuery(
        table: String, idColumn: String, id: String, version: Int, _ transition: VersionTransition
    ) -> PostgresQuery {
        switch transition {
        case .publish(let by, let at, let contentHash):
            """
            UPDATE \(unescaped: table) SET status = 'published', published_by = \(by.rawValue), published_at = \(MillisecondTimestamp(at)),
                   updated_at = \(MillisecondTimestamp(at)), content_hash = \(contentHash)
            WHERE \(unescaped: idColumn) = \(id) AND version = \(version)
            """
        case .archive(let by, let at):
            """
            UPDATE \(unescaped: table) SET status = 'archived', archived_by = \(by.rawValue), archived_at = \(MillisecondTimestamp(at))
            WHERE \(unescaped: idColumn) = \(id) AND version = \(version)
            """
        }
    }
}

extension PostgresQuery {
    /// This query (a condition or join with its binds) between a fixed `head` and `tail` of SQL that
    /// carry no binds, so one row reader serves several lookups.
    func wrapped(_ head: String, _ tail: String = "") -> PostgresQuery {
        PostgresQuery(unsafeSQL: "\(head) \(sql) \(tail)", binds: binds)
    }
}

/// JSON text of a stored value, written with the same encoder the API uses.
func storedJSON(_ value: some Encodable) throws -> String {
    String(decoding: try WireJSONEncoder.encode(value), as: UTF8.self)
}

/// A stored document as `type`: parsed once, then decoded from the tree (`JSONDecoder` was a third of a
/// rebuild's CPU; an untyped `JSONValue` comes straight out of the parser).
func storedValue<Value: Decodable>(_ type: Value.Type, _ text: String) throws -> Value {
    try readStored(type, text) { try JSONValueDecoder().decode(type, from: $0) }
}

/// A stored score result, read by its own reader rather than through `Decodable` (see `ScoreResult.init(storedForm:)`).
func storedValue(_ type: ScoreResult.Type, _ text: String) throws -> ScoreResult {
    try readStored(type, text, ScoreResult.init(storedForm:))
}

private func readStored<Value>(_ type: Value.Type, _ text: String, _ read: (JSONValue) throws -> Value) throws -> Value {
    do {
        return try read(JSONValue(parsing: text.utf8))
    } catch {
        throw StorageError.unexpected(detail: "a stored \(type) could not be read: \(error)")
    }
}

func storedEnum<Value: RawRepresentable>(_ type: Value.Type, _ text: String) throws -> Value where Value.RawValue == String {
    guard let value = Value(rawValue: text) else { throw StorageError.unexpected(detail: "unknown stored \(type) `\(text)`") }
    return value
}
