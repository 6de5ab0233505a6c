import EvaliumCore
import Foundation
import PostgresNIO

/// Filters for listing subjects; every filter is optional and they combine with AND.
public struct SubjectFilter: Sendable {
    public var type: SubjectType?
    public var assetType: String?
    /// Subjects carrying every one of these tags.
    public var tags: [String]
    /// Assets with any identifier equal to this value.
    public var identifier: String?
    public var externalRef: String?
    public var status: SubjectStatus?
    /// Matched case-insensitively against the display name and the external ref.
    public var text: String?
    public var orgUnitId: OrgUnitID?
    public var after: SubjectID?
    public var limit: Int

    public init(
        type: SubjectType? = nil, assetType: String? = nil, tags: [String] = [], identifier: String? = nil, externalRef: String? = nil,
        status: SubjectStatus? = nil, text: String? = nil, orgUnitId: OrgUnitID? = nil, after: SubjectID? = nil, limit: Int
    ) {
        self.type = type
        self.assetType = assetType
        self.tags = tags
        self.identifier = identifier
        self.externalRef = externalRef
        self.status = status
        self.text = text
        self.orgUnitId = orgUnitId
        self.after = after
        self.limit = limit
    }
}

/// External refs and people that already belong to a subject of the tenant, visible or not.
public struct SubjectKeysInUse: Sendable, Equatable {
    public var externalRefs: Set<String> = []
    public var users: Set<UserID> = []
}

// MARK: Subjects

extension Transaction {
    /// Inserts subjects with their person links and asset extensions: three statements however many.
    public func insertSubjects(_ subjects: [Subject]) async throws {
        guard !subjects.isEmpty else { return }
        let tenantId = try requireTenant().rawValue
        try await run(
            """
            INSERT INTO subjects (id, tenant_id, org_unit_id, subject_type, display_name, external_ref, status, tags, created_at, updated_at)
            SELECT s.id, \(tenantId), s.org_unit_id, s.subject_type, s.display_name, NULLIF(s.external_ref, ''), s.status,
                   ARRAY(SELECT jsonb_array_elements_text(s.tags::jsonb)),
                   'epoch'::timestamptz + s.created_ms * interval '1 millisecond', 'epoch'::timestamptz + s.updated_ms * interval '1 millisecond'
            FROM unnest(\(subjects.map(\.id.rawValue))::text[], \(subjects.map(\.orgUnitId.rawValue))::text[],
                        \(subjects.map(\.type.rawValue))::text[], \(subjects.map(\.displayName))::text[], \(subjects.map { $0.externalRef ?? "" })::text[],
                        \(subjects.map(\.status.rawValue))::text[], \(try subjects.map { try storedJSON($0.tags) })::text[],
                        \(subjects.map { Self.milliseconds($0.createdAt) })::bigint[], \(subjects.map { Self.milliseconds($0.updatedAt) })::bigint[])
                 AS s(id, org_unit_id, subject_type, display_name, external_ref, status, tags, created_ms, updated_ms)
            """)
        let people = subjects.filter { $0.userId != nil }
        if !people.isEmpty {
            try await run(
                """
                INSERT INTO subject_users (subject_id, tenant_id, org_unit_id, user_id)
                SELECT s.id, \(tenantId), s.org_unit_id, s.user_id
                FROM unnest(\(people.map(\.id.rawValue))::text[], \(people.map(\.orgUnitId.rawValue))::text[],
                            \(people.map { $0.userId!.rawValue })::text[]) AS s(id, org_unit_id, user_id)
                """)
        }
        let assets = subjects.filter { $0.asset != nil }
        if !assets.isEmpty {
            try await run(
                """
                INSERT INTO assets (subject_id, tenant_id, org_unit_id, asset_type, identifiers, metadata)
                SELECT s.id, \(tenantId), s.org_unit_id, s.asset_type, s.identifiers::jsonb, s.metadata::jsonb
                FROM unnest(\(assets.map(\.id.rawValue))::text[], \(assets.map(\.orgUnitId.rawValue))::text[],
                            \(assets.map { $0.asset!.assetType })::text[], \(try assets.map { try storedJSON($0.asset!.identifiers) })::text[],
                            \(try assets.map { try storedJSON($0.asset!.metadata) })::text[])
                     AS s(id, org_unit_id, asset_type, identifiers, metadata)
                """)
        }
    }

    /// Writes the mutable fields of a subject and of its asset extension: names, refs, tags, status.
    public func updateSubject(_ subject: Subject) async throws {
        try await run(
            """
            UPDATE subjects SET display_name = \(subject.displayName), external_ref = \(subject.externalRef), status = \(subject.status.rawValue),
                   tags = \(subject.tags)::text[], updated_at = \(MillisecondTimestamp(subject.updatedAt))
            WHERE id = \(subject.id.rawValue)
            """)
        if let asset = subject.asset {
            try await run(
                """
                UPDATE assets SET asset_type = \(asset.assetType), identifiers = \(try storedJSON(asset.identifiers))::jsonb,
                       metadata = \(try storedJSON(asset.metadata))::jsonb
                WHERE subject_id = \(subject.id.rawValue)
                """)
        }
    }

    /// The subject if visible; `lockingForChange` holds its row until the transaction ends.
    /// Planned once per connection: its policies took PostgreSQL 5.5 ms to plan, and every assignment about
    /// subjects reads each of them.
    public func fetchSubject(_ id: SubjectID, lockingForChange: Bool = false) async throws -> Subject? {
        let select = "SELECT \(Self.subjectColumns) FROM \(Self.subjectTables) WHERE s.id ="
        let rows =
            if lockingForChange {
                try await run("\(unescaped: select) \(id.rawValue) FOR UPDATE OF s", plannedAs: SubjectForChange.self)
            } else {
                try await run("\(unescaped: select) \(id.rawValue)", plannedAs: FetchSubject.self)
            }
        return try await subjects(from: rows).first
    }

    /// The visible subjects with these external refs, by ref; `lockingForChange` holds their rows.
    public func fetchSubjects(externalRefs refs: [String], lockingForChange: Bool = false) async throws -> [String: Subject] {
        guard !refs.isEmpty else { return [:] }
        let found = try await subjects(
            from: run(
            """
            SELECT \(unescaped: Self.subjectColumns) FROM \(unescaped: Self.subjectTables) WHERE s.external_ref = ANY(\(refs)::text[])
            ORDER BY s.id \(unescaped: lockingForChange ? "FOR UPDATE OF s" : "")
            """))
        return Dictionary(found.map { ($0.externalRef ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Subjects visible in the scope, in id (creation) order after the cursor.
    public func listSubjects(_ filter: SubjectFilter) async throws -> [Subject] {
        let pattern = filter.text.map { "%" + Self.escapeLike($0.lowercased()) + "%" }
        return try await subjects(
            from: run(
            """
            SELECT \(unescaped: Self.subjectColumns) FROM \(unescaped: Self.subjectTables)
            WHERE (\(filter.type?.rawValue)::text IS NULL OR s.subject_type = \(filter.type?.rawValue))
              AND (\(filter.assetType)::text IS NULL OR a.asset_type = \(filter.assetType))
              AND (cardinality(\(filter.tags)::text[]) = 0 OR s.tags @> \(filter.tags)::text[])
              AND (\(filter.identifier.map(Self.anyValueEquals))::jsonpath IS NULL OR a.identifiers @? \(filter.identifier.map(Self.anyValueEquals))::jsonpath)
              AND (\(filter.externalRef)::text IS NULL OR s.external_ref = \(filter.externalRef))
              AND (\(filter.status?.rawValue)::text IS NULL OR s.status = \(filter.status?.rawValue))
              AND (\(pattern)::text IS NULL OR lower(s.display_name) LIKE \(pattern) OR lower(s.external_ref) LIKE \(pattern))
              AND (\(filter.orgUnitId?.rawValue)::text IS NULL OR s.org_unit_id = \(filter.orgUnitId?.rawValue))
              AND (\(filter.after?.rawValue)::text IS NULL OR s.id > \(filter.after?.rawValue))
            ORDER BY s.id
            LIMIT \(filter.limit)
            """))
    }

    /// The visible person subjects of these people.
    public func subjectIds(ofUsers users: [UserID]) async throws -> [UserID: SubjectID] {
        guard !users.isEmpty else { return [:] }
        var result: [UserID: SubjectID] = [:]
        let rows = try await run("SELECT user_id, subject_id FROM subject_users WHERE user_id = ANY(\(users.map(\.rawValue))::text[])")
        for try await (user, subject) in rows.decode((String, String).self) { result[UserID(unchecked: user)] = SubjectID(unchecked: subject) }
        return result
    }

    /// Which of these external refs and people already belong to a subject of the tenant, whether or not
    /// the scope can see it (the unique indexes hold tenant-wide).
    public func subjectKeysInUse(externalRefs: [String], users: [UserID]) async throws -> SubjectKeysInUse {
        var inUse = SubjectKeysInUse()
        guard !externalRefs.isEmpty || !users.isEmpty else { return inUse }
        let rows = try await run(
            "SELECT kind, key FROM subject_keys_in_use(\(externalRefs)::text[], \(users.map(\.rawValue))::text[])")
        for try await (kind, key) in rows.decode((String, String).self) {
            if kind == "user" { inUse.users.insert(UserID(unchecked: key)) } else { inUse.externalRefs.insert(key) }
        }
        return inUse
    }

    /// The visible people with these (normalised) email addresses, by address.
    public func userIds(emails: [String]) async throws -> [String: UserID] {
        guard !emails.isEmpty else { return [:] }
        var result: [String: UserID] = [:]
        for try await (email, id) in try await run("SELECT email, id FROM users WHERE email = ANY(\(emails)::text[])").decode((String, String).self) {
            result[email] = UserID(unchecked: id)
        }
        return result
    }

    /// Those of `ids` that are org units the scope can see.
    public func visibleOrgUnits(_ ids: [OrgUnitID]) async throws -> Set<OrgUnitID> {
        guard !ids.isEmpty else { return [] }
        var result: Set<OrgUnitID> = []
        for try await id in try await run("SELECT id FROM org_units WHERE id = ANY(\(ids.map(\.rawValue))::text[])").decode(String.self) {
            result.insert(OrgUnitID(unchecked: id))
        }
        return result
    }

    static let subjectTables = """
        subjects s LEFT JOIN subject_users su ON su.subject_id = s.id LEFT JOIN assets a ON a.subject_id = s.id
        """

    /// What a subject is read as. `scoped_subject` (migration 0019) and `scoped_subject_viewed` (0023) return the
    /// same columns in the same order.
    static let subjectColumns = """
        s.id, s.tenant_id, s.org_unit_id, s.subject_type, s.display_name, s.external_ref, s.status, s.tags, su.user_id,
        a.asset_type, a.identifiers::text, a.metadata::text, s.created_at, s.updated_at
        """

    /// A SQL/JSON path matching an object any of whose members is the string `value`, the value written
    /// as a path string literal (quotes, backslashes and control characters escaped).
    static func anyValueEquals(_ value: String) -> String {
        var literal = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": literal += "\\\""
            case "\\": literal += "\\\\"
            case _ where scalar.value < 0x20: literal += String(format: "\\u%04x", scalar.value)
            default: literal.unicodeScalars.append(scalar)
            }
        }
        return "strict $.* ? (@ == \(literal)\")"
    }

    private static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}

extension ScopedStatements {
    /// The subject if visible in the scope, in one statement that applies the scope itself (`scoped_subject`).
    public func fetchSubject(_ id: SubjectID) async throws -> Subject? {
        var binds = PostgresBindings()
        bindScope(into: &binds)
        binds.append(id.rawValue)
        let rows = try await run(PostgresQuery(unsafeSQL: Self.scopedSubject, binds: binds), plannedAs: ScopedSubject.self)
        return try await subjects(from: rows).first
    }

    private static let scopedSubject = "SELECT * FROM scoped_subject(\(Scope.parameters), $9)"

    /// The subject if visible in the scope, with `view` (its `subject.viewed` event, built for `placement`)
    /// appended by the same statement if the subject still stands at `placement` (`scoped_subject_viewed`,
    /// migration 0023): one round trip for a read and its event. `recorded` is false when the subject stands
    /// elsewhere; the event for the subject as read is then the caller's to append.
    public func fetchSubject(
        _ id: SubjectID, recording view: LedgerEventDraft, ifPlacedAt placement: SubjectPlacement
    ) async throws -> (subject: Subject, recorded: Bool)? {
        let batch = try LedgerAppend([view], tenantId: try requireTenant())
        var binds = PostgresBindings()
        bindScope(into: &binds)
        binds.append(id.rawValue)
        binds.append(placement.orgUnitId.rawValue)
        binds.append(placement.type.rawValue)
        batch.bind(into: &binds)
        let rows = try await run(PostgresQuery(unsafeSQL: Self.scopedSubjectViewed, binds: binds), plannedAs: ScopedSubjectViewed.self)
        var result: (subject: Subject, recorded: Bool)?
        for try await row in rows {
            let cells = row.makeRandomAccess()
            result = (try subject(from: cells), try cells[14].decode(Bool.self))
        }
        if result?.recorded == true { effects.noteLedgerAppend() }
        return result
    }

    private static let scopedSubjectViewed =
        "SELECT * FROM scoped_subject_viewed(\(Scope.parameters), $9, $10, $11, \(LedgerAppend.batch(from: 12)))"
}

extension ScopedConnection {
    /// Subjects from rows of `Transaction.subjectColumns`, which `scoped_subject` returns in the same order.
    fileprivate func subjects(from rows: some AsyncSequence<PostgresRow, any Error>) async throws -> [Subject] {
        var result: [Subject] = []
        for try await row in rows {
            result.append(try subject(from: row.makeRandomAccess()))
        }
        return result
    }

    /// A subject from the first cells of a row, in the order of `Transaction.subjectColumns`. Cells by position:
    /// PostgresNIO's tuple decoding walks them through generics it cannot specialize, which cost more than the
    /// rest of a subject read's decoding.
    fileprivate func subject(from cells: PostgresRandomAccessRow) throws -> Subject {
        let asset = try cells[9].decode(String?.self).map { assetType in
            AssetDetails(
                assetType: assetType, identifiers: try storedValue([String: String].self, try cells[10].decode(String?.self) ?? "{}"),
                metadata: try storedValue(JSONValue.self, try cells[11].decode(String?.self) ?? "{}"))
        }
        return Subject(
            id: SubjectID(unchecked: try cells[0].decode(String.self)), tenantId: TenantID(unchecked: try cells[1].decode(String.self)),
            orgUnitId: OrgUnitID(unchecked: try cells[2].decode(String.self)),
            type: try storedEnum(SubjectType.self, try cells[3].decode(String.self)), displayName: try cells[4].decode(String.self),
            externalRef: try cells[5].decode(String?.self), status: try storedEnum(SubjectStatus.self, try cells[6].decode(String.self)),
            tags: try cells[7].decode([String].self), userId: try cells[8].decode(String?.self).map(UserID.init(unchecked:)), asset: asset,
            createdAt: try cells[12].decode(Date.self).roundedToMilliseconds(), updatedAt: try cells[13].decode(Date.self).roundedToMilliseconds())
    }
}

// MARK: Imports

extension Transaction {
    /// The stored form of a preview: the file as read (so a commit decides its rows again) and the rows
    /// as previewed (what the commit must still find).
    private struct StoredPreview: Codable {
        var file: SubjectImportFile
        var summary: SubjectImportSummary
        var rows: [SubjectImportRowResult]
    }

    public func insertSubjectImport(_ record: SubjectImport, file: SubjectImportFile) async throws {
        let preview = StoredPreview(file: file, summary: record.summary, rows: record.rows)
        try await run(
            """
            INSERT INTO subject_imports (id, tenant_id, org_unit_id, created_by, created_at, expires_at, status, preview)
            VALUES (\(record.id.rawValue), \(try requireTenant().rawValue), \(record.orgUnitId.rawValue), \(record.createdBy.rawValue),
                    \(MillisecondTimestamp(record.createdAt)), \(MillisecondTimestamp(record.expiresAt)), \(record.status.rawValue),
                    \(try storedJSON(preview))::jsonb)
            """)
    }

    /// The import if visible, with the file it was previewed from; `lockingForChange` holds its row, so of
    /// two concurrent commits the second finds it committed.
    public func fetchSubjectImport(_ id: SubjectImportID, lockingForChange: Bool = false) async throws -> (SubjectImport, SubjectImportFile)? {
        let rows = try await run(
            """
            SELECT id, org_unit_id, status, created_by, created_at, expires_at, committed_by, committed_at, preview::text
            FROM subject_imports WHERE id = \(id.rawValue) \(unescaped: lockingForChange ? "FOR UPDATE" : "")
            """)
        for try await (id, orgUnitId, status, createdBy, createdAt, expiresAt, committedBy, committedAt, preview) in rows.decode(
            (String, String, String, String, Date, Date, String?, Date?, String).self)
        {
            let stored = try storedValue(StoredPreview.self, preview)
            var record = SubjectImport(
                id: SubjectImportID(unchecked: id), orgUnitId: OrgUnitID(unchecked: orgUnitId), status: try storedEnum(SubjectImportStatus.self, status),
                createdBy: UserID(unchecked: createdBy), createdAt: createdAt.roundedToMilliseconds(), expiresAt: expiresAt.roundedToMilliseconds(),
                committedBy: committedBy.map(UserID.init(unchecked:)), committedAt: committedAt?.roundedToMilliseconds(), rows: stored.rows)
            record.summary = stored.summary
            return (record, stored.file)
        }
        return nil
    }

    public func markSubjectImportCommitted(_ id: SubjectImportID, by user: UserID, at date: Date) async throws {
        try await run(
            """
            UPDATE subject_imports SET status = 'committed', committed_by = \(user.rawValue), committed_at = \(MillisecondTimestamp(date))
            WHERE id = \(id.rawValue)
            """)
    }
}

private enum FetchSubject: PlannedStatement {}
private enum ScopedSubject: PlannedStatement {}
private enum ScopedSubjectViewed: PlannedStatement {}
private enum SubjectForChange: PlannedStatement {}
