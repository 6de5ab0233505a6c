import Foundation

/// A subject CSV as read: its columns and one row per record, each cell trimmed. Reading refuses what is
/// not a subject file at all (not CSV, no `external_ref` column, an unknown or repeated column, too many
/// rows); everything wrong with a single row is left for the plan to report on that row.
public struct SubjectImportFile: Codable, Sendable, Equatable {
    public static let maxRows = 10_000

    /// The column a header cell names.
    public enum Column: Sendable, Hashable {
        case externalRef, type, displayName, assetType, tags, userEmail, orgUnitId
        case identifier(String)

        static let fixed: [String: Column] = [
            "external_ref": .externalRef, "type": .type, "display_name": .displayName, "asset_type": .assetType, "tags": .tags,
            "user_email": .userEmail, "org_unit_id": .orgUnitId,
        ]

        /// The header text of the column.
        public var name: String {
            switch self {
            case .identifier(let name): "identifier.\(name)"
            default: Self.fixed.first { $0.value == self }!.key
            }
        }

        /// The column a header cell names (fixed names in any case), or nil.
        static func named(_ header: String) -> Column? {
            let text = header.trimmingCharacters(in: .whitespacesAndNewlines)
            if let column = fixed[text.lowercased()] { return column }
            guard text.lowercased().hasPrefix("identifier.") else { return nil }
            let name = String(text.dropFirst("identifier.".count))
            return SubjectFields.identifierName(name) ? .identifier(name) : nil
        }
    }

    /// One data row: each cell of a column the file has (trimmed; empty when the cell is), nil for a
    /// column it lacks. `problem` says why the row could not be read as the header says.
    public struct Row: Codable, Sendable, Equatable {
        public var line: Int
        public var externalRef: String?
        public var type: String?
        public var displayName: String?
        public var assetType: String?
        public var tags: String?
        public var userEmail: String?
        public var orgUnitId: String?
        /// Identifier columns by name; an empty value removes that identifier.
        public var identifiers: [String: String]?
        public var problem: String?

        public init(line: Int) { self.line = line }

        subscript(column: Column) -> String? {
            get {
                switch column {
                case .externalRef: externalRef
                case .type: type
                case .displayName: displayName
                case .assetType: assetType
                case .tags: tags
                case .userEmail: userEmail
                case .orgUnitId: orgUnitId
                case .identifier(let name): identifiers?[name]
                }
            }
            set {
                switch column {
                case .externalRef: externalRef = newValue
                case .type: type = newValue
                case .displayName: displayName = newValue
                case .assetType: assetType = newValue
                case .tags: tags = newValue
                case .userEmail: userEmail = newValue
                case .orgUnitId: orgUnitId = newValue
                case .identifier(let name): identifiers = (identifiers ?? [:]).merging([name: newValue ?? ""]) { _, new in new }
                }
            }
        }
    }

    public var columns: [String]
    public var rows: [Row]

    public init(columns: [String], rows: [Row]) {
        self.columns = columns
        self.rows = rows
    }

    /// Reads a subject CSV. Throws 400 `malformed-request` for text that is not CSV (naming the line),
    /// 413 for more than `maxRows` rows, 422 for a header that is not a subject file's (every problem).
    public static func read(_ bytes: [UInt8], maxRows: Int = maxRows) throws -> SubjectImportFile {
        let records: [CSV.Record]
        do throws(CSV.Failure) {
            records = try CSV.parse(bytes, maxRecords: maxRows + 1)
        } catch .tooManyRecords(_) {
            throw Problem(.payloadTooLarge, "the file has more than \(maxRows) rows; split it into several imports")
        } catch {
            throw Problem(.malformedRequest, "the body is not valid CSV: \(error)")
        }
        guard let header = records.first else {
            throw Problem(.validationFailed, "the file is empty: the first line names the columns (external_ref, type, display_name, …)")
        }
        let columns = try columns(of: header.fields)
        let data = records.dropFirst()
        guard !data.isEmpty else { throw Problem(.validationFailed, "the file has a header but no rows") }
        return SubjectImportFile(
            columns: columns.map(\.name),
            rows: data.map { record in
                var row = Row(line: record.line)
                for (index, column) in columns.enumerated() where index < record.fields.count {
                    row[column] = record.fields[index].trimmingCharacters(in: .whitespacesAndNewlines)
                }
                if record.fields.count != columns.count {
                    row.problem = "has \(record.fields.count) fields where the header names \(columns.count) columns"
                }
                return row
            })
    }

    private static func columns(of header: [String]) throws -> [Column] {
        var columns: [Column] = []
        var errors: [Problem.FieldError] = []
        let known = "external_ref, type, display_name, asset_type, tags, user_email, org_unit_id or identifier.<name>"
        for (index, text) in header.enumerated() {
            let pointer = "/header/\(index)"
            guard let column = Column.named(text) else {
                errors.append(.init(pointer: pointer, detail: "`\(text)` is not a column of a subject file (\(known))"))
                continue
            }
            if columns.contains(column) {
                errors.append(.init(pointer: pointer, detail: "the column `\(column.name)` appears more than once"))
            }
            columns.append(column)
        }
        if !columns.contains(.externalRef) {
            errors.append(.init(pointer: "/header", detail: "the column `external_ref` is required: rows are matched to subjects by it"))
        }
        guard errors.isEmpty else { throw Problem(.validationFailed, "the header row is not a subject file's", errors: errors) }
        return columns
    }
}

/// What committing a row would do.
public enum SubjectImportAction: String, Codable, Sendable, CaseIterable {
    case create, update, unchanged, error
}

/// One field a row sets: `from` is absent for a new subject, `to` absent when an identifier is removed.
public struct SubjectFieldChange: Codable, Sendable, Equatable {
    public var field: String
    public var from: JSONValue?
    public var to: JSONValue?

    public init(field: String, from: JSONValue?, to: JSONValue?) {
        self.field = field
        self.from = from
        self.to = to
    }
}

/// Why a row cannot be imported; `column` names the cell when one is to blame.
public struct SubjectImportIssue: Codable, Sendable, Equatable {
    public var column: String?
    public var detail: String

    public init(column: String?, detail: String) {
        self.column = column
        self.detail = detail
    }
}

/// The preview of one row.
public struct SubjectImportRowResult: Codable, Sendable, Equatable {
    public var line: Int
    public var externalRef: String?
    public var action: SubjectImportAction
    /// The subject the row matched (update, unchanged).
    public var subjectId: SubjectID?
    public var changes: [SubjectFieldChange]?
    public var errors: [SubjectImportIssue]?

    public init(
        line: Int, externalRef: String?, action: SubjectImportAction, subjectId: SubjectID? = nil, changes: [SubjectFieldChange]? = nil,
        errors: [SubjectImportIssue]? = nil
    ) {
        self.line = line
        self.externalRef = externalRef
        self.action = action
        self.subjectId = subjectId
        self.changes = changes
        self.errors = errors
    }
}

public struct SubjectImportSummary: Codable, Sendable, Equatable {
    public var create = 0
    public var update = 0
    public var unchanged = 0
    public var errors = 0

    public init(_ rows: [SubjectImportRowResult]) {
        for row in rows {
            switch row.action {
            case .create: create += 1
            case .update: update += 1
            case .unchanged: unchanged += 1
            case .error: errors += 1
            }
        }
    }
}

public enum SubjectImportStatus: String, Codable, Sendable, CaseIterable {
    case previewed, committed, expired
}

/// A previewed import: what committing it would do to each row. Only the preview is stored until it is
/// committed, all rows at once.
public struct SubjectImport: Codable, Sendable, Equatable {
    public var id: SubjectImportID
    /// The org unit the import belongs to (who can see it) and where rows without `org_unit_id` go.
    public var orgUnitId: OrgUnitID
    public var status: SubjectImportStatus
    public var createdBy: UserID
    public var createdAt: Date
    public var expiresAt: Date
    public var committedBy: UserID?
    public var committedAt: Date?
    public var summary: SubjectImportSummary
    public var rows: [SubjectImportRowResult]

    public init(
        id: SubjectImportID, orgUnitId: OrgUnitID, status: SubjectImportStatus, createdBy: UserID, createdAt: Date, expiresAt: Date,
        committedBy: UserID? = nil, committedAt: Date? = nil, rows: [SubjectImportRowResult]
    ) {
        self.id = id
        self.orgUnitId = orgUnitId
        self.status = status
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.committedBy = committedBy
        self.committedAt = committedAt
        self.summary = SubjectImportSummary(rows)
        self.rows = rows
    }

    /// The status as of `now`: a preview past its expiry is `expired` whatever is stored.
    public func status(at now: Date) -> SubjectImportStatus {
        status == .previewed && expiresAt <= now ? .expired : status
    }
}

/// What the database knows that the rows of an import depend on, looked up once for the whole file.
public struct SubjectImportContext: Sendable {
    public var tenantId: TenantID
    /// Where the importer's `subjects.manage` reaches.
    public var reach: CapabilityReach
    /// Where rows without `org_unit_id` go.
    public var defaultOrgUnit: OrgUnitID
    /// The subjects the importer can see, by external ref.
    public var existing: [String: Subject]
    /// External refs used by any subject of the tenant, visible or not.
    public var refsInUse: Set<String>
    /// The people the importer can see, by normalised email.
    public var people: [String: UserID]
    /// People who already are a subject anywhere in the tenant, with the subject when it is visible.
    public var peopleWithSubjects: [UserID: SubjectID?]
    /// The org units named in the file that exist and are visible.
    public var orgUnits: Set<OrgUnitID>

    public init(
        tenantId: TenantID, reach: CapabilityReach, defaultOrgUnit: OrgUnitID, existing: [String: Subject] = [:], refsInUse: Set<String> = [],
        people: [String: UserID] = [:], peopleWithSubjects: [UserID: SubjectID?] = [:], orgUnits: Set<OrgUnitID> = []
    ) {
        self.tenantId = tenantId
        self.reach = reach
        self.defaultOrgUnit = defaultOrgUnit
        self.existing = existing
        self.refsInUse = refsInUse
        self.people = people
        self.peopleWithSubjects = peopleWithSubjects
        self.orgUnits = orgUnits
    }
}

/// The rows of an import decided: the preview of each, and the writes a commit makes.
public struct SubjectImportPlan: Sendable {
    public enum Write: Sendable, Equatable {
        case create(Subject)
        case update(before: Subject, after: Subject)
    }

    public var rows: [SubjectImportRowResult]
    public var writes: [Write]

    public var summary: SubjectImportSummary { SubjectImportSummary(rows) }

    /// Decides every row of `file` against `context`. Pure: the same file and context always give the
    /// same rows (new subjects get fresh ids made at `now`).
    public init(_ file: SubjectImportFile, context: SubjectImportContext, now: Date) {
        let refs = Dictionary(grouping: file.rows.filter { !($0.externalRef ?? "").isEmpty }, by: { $0.externalRef! })
        let emails = Dictionary(grouping: file.rows.compactMap { row in
            row.userEmail.flatMap { try? EmailAddress.validate($0, pointer: "").get().normalized }.map { ($0, row.line) }
        }, by: \.0)
        var rows: [SubjectImportRowResult] = []
        var writes: [Write] = []
        for row in file.rows {
            var planner = RowPlanner(row: row, context: context, now: now)
            if let lines = row.externalRef.flatMap({ refs[$0] }), lines.count > 1 {
                planner.issue(.externalRef, "appears on lines \(lines.map { String($0.line) }.joined(separator: ", ")): a subject once per file")
            }
            let (result, write) = planner.plan(sameEmailLines: { email in (emails[email] ?? []).map(\.1) })
            rows.append(result)
            if let write { writes.append(write) }
        }
        self.rows = rows
        self.writes = writes
    }
}

/// The rules of one row.
private struct RowPlanner {
    typealias Column = SubjectImportFile.Column

    let row: SubjectImportFile.Row
    let context: SubjectImportContext
    let now: Date
    var issues: [SubjectImportIssue] = []

    init(row: SubjectImportFile.Row, context: SubjectImportContext, now: Date) {
        self.row = row
        self.context = context
        self.now = now
        if let problem = row.problem { issues.append(SubjectImportIssue(column: nil, detail: problem)) }
    }

    mutating func issue(_ column: Column, _ detail: String) {
        issues.append(SubjectImportIssue(column: column.name, detail: detail))
    }

    /// A cell's value after `rule`, recording its problem; nil for an empty or missing cell.
    mutating func cell<Value>(_ column: Column, _ rule: (String) -> Result<Value, Problem.FieldError>) -> Value? {
        guard let text = row[column], !text.isEmpty else { return nil }
        switch rule(text) {
        case .success(let value): return value
        case .failure(let error):
            issue(column, error.detail)
            return nil
        }
    }

    mutating func plan(sameEmailLines: (String) -> [Int]) -> (SubjectImportRowResult, SubjectImportPlan.Write?) {
        let ref = cell(.externalRef) { SubjectFields.externalRef($0, pointer: "") }
        if (row.externalRef ?? "").isEmpty { issue(.externalRef, "is required: rows are matched to subjects by it") }
        let type = cell(.type) { text in
            SubjectType(rawValue: text.lowercased()).map(Result.success)
                ?? .failure(.init(pointer: "", detail: "`\(text)` is not a subject type (user, asset or location)"))
        }
        let name = cell(.displayName) { DisplayName.validate($0, pointer: "") }
        let assetType = cell(.assetType) { SubjectFields.key($0, pointer: "") }
        let tags = tagsCell()
        let person = personCell(sameEmailLines: sameEmailLines)
        let orgUnit = cell(.orgUnitId) { text in
            OrgUnitID(text).map(Result.success) ?? .failure(.init(pointer: "", detail: "`\(text)` is not an org unit id (org_…)"))
        }
        let identifiers = identifierCells()
        let existing = ref.flatMap { context.existing[$0] }
        if let ref, existing == nil, context.refsInUse.contains(ref) {
            issue(.externalRef, "is used by a subject outside your reach")
        }
        let wantsAsset = assetType != nil || identifiers.values.contains { $0 != nil }
        let subject: (before: Subject?, after: Subject)?
        if let existing {
            subject = update(existing, type: type, name: name, tags: tags, person: person, orgUnit: orgUnit, assetType: assetType,
                             identifiers: identifiers, wantsAsset: wantsAsset)
        } else {
            subject = create(ref: ref, type: type, name: name, tags: tags, person: person, orgUnit: orgUnit, assetType: assetType,
                             identifiers: identifiers, wantsAsset: wantsAsset)
        }
        guard issues.isEmpty, let subject else {
            return (SubjectImportRowResult(line: row.line, externalRef: row.externalRef, action: .error, subjectId: existing?.id, errors: issues), nil)
        }
        guard let before = subject.before else {
            return (SubjectImportRowResult(line: row.line, externalRef: ref, action: .create, changes: Self.changes(nil, subject.after)),
                    .create(subject.after))
        }
        let changes = Self.changes(before, subject.after)
        guard !changes.isEmpty else {
            return (SubjectImportRowResult(line: row.line, externalRef: ref, action: .unchanged, subjectId: before.id), nil)
        }
        return (SubjectImportRowResult(line: row.line, externalRef: ref, action: .update, subjectId: before.id, changes: changes),
                .update(before: before, after: subject.after))
    }

    // MARK: Cells

    /// The tags cell: `;`-separated keys; an empty cell (of a present column) means no tags.
    mutating func tagsCell() -> [String]? {
        guard let text = row.tags else { return nil }
        let parts = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        var errors: [Problem.FieldError] = []
        let tags = SubjectFields.tags(parts, pointer: "", errors: &errors)
        for error in errors { issue(.tags, error.detail) }
        return tags
    }

    /// The person named by `user_email`: someone the importer can see, named once in the file, not yet the
    /// subject of another row's subject.
    mutating func personCell(sameEmailLines: (String) -> [Int]) -> UserID? {
        guard let email = cell(.userEmail, { EmailAddress.validate($0, pointer: "") }) else { return nil }
        let lines = sameEmailLines(email.normalized)
        if lines.count > 1 {
            issue(.userEmail, "names the same person as lines \(lines.filter { $0 != row.line }.map(String.init).joined(separator: ", "))")
        }
        guard let user = context.people[email.normalized] else {
            issue(.userEmail, "no person with this email address in your reach")
            return nil
        }
        return user
    }

    /// Identifier cells by name: a value to set, or nil to remove that identifier (an empty cell).
    mutating func identifierCells() -> [String: String?] {
        var result: [String: String?] = [:]
        for (name, text) in (row.identifiers ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !text.isEmpty else { result[name] = .some(nil); continue }
            switch DisplayName.validate(text, pointer: "") {
            case .success(let value): result[name] = value
            case .failure(let error): issue(.identifier(name), error.detail)
            }
        }
        return result
    }

    // MARK: Create and update

    mutating func create(
        ref: String?, type: SubjectType?, name: String?, tags: [String]?, person: UserID?, orgUnit: OrgUnitID?, assetType: String?,
        identifiers: [String: String?], wantsAsset: Bool
    ) -> (before: Subject?, after: Subject)? {
        if type == nil, (row.type ?? "").isEmpty { issue(.type, "is required for a new subject: user, asset or location") }
        if name == nil, (row.displayName ?? "").isEmpty { issue(.displayName, "is required for a new subject") }
        let unit = orgUnit ?? context.defaultOrgUnit
        if orgUnit != nil {
            if !context.reach.covers(unit) {
                issue(.orgUnitId, "org unit \(unit) is outside your reach")
            } else if !context.orgUnits.contains(unit) {
                issue(.orgUnitId, "no org unit \(unit) in this tenant")
            }
        }
        switch type {
        case .user?:
            if person == nil, (row.userEmail ?? "").isEmpty { issue(.userEmail, "is required for a person subject (type user)") }
        case .asset?:
            if assetType == nil, (row.assetType ?? "").isEmpty { issue(.assetType, "is required for an asset subject") }
        default:
            break
        }
        checkTypedCells(type: type, person: person, wantsAsset: wantsAsset, existing: nil)
        guard let ref, let type, let name else { return nil }
        let asset = type == .asset
            ? AssetDetails(assetType: assetType ?? "", identifiers: identifiers.compactMapValues { $0 }) : nil
        checkIdentifierCount(asset)
        return (nil, Subject(
            id: .generate(at: now), tenantId: context.tenantId, orgUnitId: unit, type: type, displayName: name, externalRef: ref,
            status: .active, tags: tags ?? [], userId: type == .user ? person : nil, asset: asset, createdAt: now, updatedAt: now))
    }

    mutating func update(
        _ existing: Subject, type: SubjectType?, name: String?, tags: [String]?, person: UserID?, orgUnit: OrgUnitID?, assetType: String?,
        identifiers: [String: String?], wantsAsset: Bool
    ) -> (before: Subject?, after: Subject)? {
        if !context.reach.covers(existing.orgUnitId) {
            issue(.externalRef, "subject \(existing.id) is in org unit \(existing.orgUnitId), outside your reach")
        }
        if let type, type != existing.type {
            issue(.type, "subject \(existing.id) is a \(existing.type.rawValue) subject; a subject's type does not change")
        }
        if let orgUnit, orgUnit != existing.orgUnitId {
            issue(.orgUnitId, "subject \(existing.id) belongs to org unit \(existing.orgUnitId); subjects do not move between org units")
        }
        if let person, existing.type == .user, person != existing.userId {
            issue(.userEmail, "subject \(existing.id) is another person")
        }
        checkTypedCells(type: existing.type, person: person, wantsAsset: wantsAsset, existing: existing)
        var after = existing
        after.displayName = name ?? existing.displayName
        after.tags = tags ?? existing.tags
        if var asset = existing.asset {
            asset.assetType = assetType ?? asset.assetType
            for (name, value) in identifiers { asset.identifiers[name] = value }
            after.asset = asset
        }
        checkIdentifierCount(after.asset)
        return (existing, after)
    }

    mutating func checkIdentifierCount(_ asset: AssetDetails?) {
        guard let asset, asset.identifiers.count > SubjectFields.maxIdentifiers else { return }
        issues.append(SubjectImportIssue(column: nil, detail: "a subject has at most \(SubjectFields.maxIdentifiers) identifiers"))
    }

    /// Cells that only one type of subject takes, and a person who already is another subject.
    mutating func checkTypedCells(type: SubjectType?, person: UserID?, wantsAsset: Bool, existing: Subject?) {
        if let type, type != .user, person != nil { issue(.userEmail, "only a person subject (type user) is linked to a person") }
        if let type, type != .asset, wantsAsset {
            issue(row.assetType?.isEmpty == false ? .assetType : .identifier((row.identifiers ?? [:]).first { !$0.value.isEmpty }!.key),
                  "only an asset subject has an asset type and identifiers")
        }
        guard type == .user, let person, let holder = context.peopleWithSubjects[person] else { return }
        if let holder {
            if holder != existing?.id { issue(.userEmail, "this person already is subject \(holder)") }
        } else {
            issue(.userEmail, "this person already is a subject outside your reach")
        }
    }

    /// The fields a row sets on a subject: every one for a new subject, the differences for an update.
    static func changes(_ before: Subject?, _ after: Subject) -> [SubjectFieldChange] {
        var changes: [SubjectFieldChange] = []
        func note(_ field: String, _ old: JSONValue?, _ new: JSONValue?) {
            if old != new { changes.append(SubjectFieldChange(field: field, from: old, to: new)) }
        }
        func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }
        if before == nil {
            note("type", nil, .string(after.type.rawValue))
            note("orgUnitId", nil, .string(after.orgUnitId.rawValue))
            note("userId", nil, after.userId.map { .string($0.rawValue) })
        }
        note("displayName", before.map { .string($0.displayName) }, .string(after.displayName))
        // A new subject without tags sets none. (Not a ternary with `nil`: that would be JSON null.)
        var tags: JSONValue? = strings(after.tags)
        if before == nil, after.tags.isEmpty { tags = .none }
        note("tags", before.map { strings($0.tags) }, tags)
        note("asset.assetType", before?.asset.map { .string($0.assetType) }, after.asset.map { .string($0.assetType) })
        let names = Set(before?.asset?.identifiers.keys.map { $0 } ?? []).union(after.asset?.identifiers.keys.map { $0 } ?? [])
        for name in names.sorted() {
            note("asset.identifiers.\(name)", before?.asset?.identifiers[name].map(JSONValue.string),
                 after.asset?.identifiers[name].map(JSONValue.string))
        }
        return changes
    }
}
