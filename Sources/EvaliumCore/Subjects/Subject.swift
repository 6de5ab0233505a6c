import Foundation

/// What a subject is (seed 004, Option A): a person, an asset (an extinguisher, a vehicle) or a location
/// (a room, a site). Observations stay the same whichever it is; only the typed extension differs.
public enum SubjectType: String, Codable, Sendable, CaseIterable {
    case user, asset, location
}

/// Whether a subject is still offered for new work. Archived subjects keep their history.
public enum SubjectStatus: String, Codable, Sendable, CaseIterable {
    case active, archived
}

/// The typed extension of an asset subject.
public struct AssetDetails: Codable, Hashable, Sendable {
    /// A lower-case key such as `fire_extinguisher`.
    public var assetType: String
    /// Names and values that identify the asset in the field: `{"serialNumber": "EXT-0042"}`.
    public var identifiers: [String: String]
    /// Free JSON about the asset (an object).
    public var metadata: JSONValue

    public init(assetType: String, identifiers: [String: String] = [:], metadata: JSONValue = .object([:])) {
        self.assetType = assetType
        self.identifiers = identifiers
        self.metadata = metadata
    }
}

/// Who or what is inspected or assessed. A subject is mutable scaffolding: submissions, the WORM truth,
/// refer to it by id, so correcting its name never touches the ledger.
public struct Subject: Codable, Hashable, Sendable {
    public var id: SubjectID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var type: SubjectType
    public var displayName: String
    /// The tenant's own reference (an asset tag, an employee number), unique in the tenant when present.
    public var externalRef: String?
    public var status: SubjectStatus
    /// Lower-case keys, sorted, each once.
    public var tags: [String]
    /// The person this subject is, for `user` subjects.
    public var userId: UserID?
    /// The asset's type, identifiers and metadata, for `asset` subjects.
    public var asset: AssetDetails?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: SubjectID, tenantId: TenantID, orgUnitId: OrgUnitID, type: SubjectType, displayName: String, externalRef: String?,
        status: SubjectStatus, tags: [String], userId: UserID?, asset: AssetDetails?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.type = type
        self.displayName = displayName
        self.externalRef = externalRef
        self.status = status
        self.tags = tags
        self.userId = userId
        self.asset = asset
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The names of the fields that differ between `self` and `other`, as the API spells them
    /// (`displayName`, `asset.identifiers`, …): what a `subject.updated` event records.
    public func changedFields(comparedWith other: Subject) -> [String] {
        var fields: [String] = []
        if displayName != other.displayName { fields.append("displayName") }
        if externalRef != other.externalRef { fields.append("externalRef") }
        if tags != other.tags { fields.append("tags") }
        if asset?.assetType != other.asset?.assetType { fields.append("asset.assetType") }
        if asset?.identifiers != other.asset?.identifiers { fields.append("asset.identifiers") }
        if asset?.metadata != other.asset?.metadata { fields.append("asset.metadata") }
        return fields
    }
}

/// Where a subject stands and what it is: what its `subject.viewed` event is built from. A subject's org unit
/// and type are all of it that the event names, so a read can send the event with it when the server knows
/// them beforehand (`SubjectPlacements`).
public struct SubjectPlacement: Hashable, Sendable {
    public var orgUnitId: OrgUnitID
    public var type: SubjectType

    public init(orgUnitId: OrgUnitID, type: SubjectType) {
        self.orgUnitId = orgUnitId
        self.type = type
    }
}

extension Subject {
    public var placement: SubjectPlacement { SubjectPlacement(orgUnitId: orgUnitId, type: type) }
}

/// The rules every subject field follows, wherever it comes from (the API or an import file). Each
/// returns the normalised value or the problem, so callers can report every problem at once.
public enum SubjectFields {
    public static let maxTags = 50
    public static let maxIdentifiers = 20
    public static let maxMetadataBytes = 16 * 1024

    /// 1–200 characters, trimmed, no control characters.
    public static func externalRef(_ raw: String, pointer: String) -> Result<String, Problem.FieldError> {
        DisplayName.validate(raw, pointer: pointer)
    }

    /// A lower-case key (tags, asset types): trimmed and lower-cased, then a letter or digit followed by up to
    /// 62 letters, digits, `_`, `-`, `.` or `:`.
    public static func key(_ raw: String, pointer: String) -> Result<String, Problem.FieldError> {
        let key = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard let first = key.first, first.isASCII, first.isLetter || first.isNumber, key.count <= 63,
              key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.:".contains($0)) })
        else {
            return .failure(.init(
                pointer: pointer, detail: "`\(raw)` is not a key: a letter or digit, then up to 62 letters, digits, `_`, `-`, `.` or `:`"))
        }
        return .success(key)
    }

    /// Tags as stored: each a key, each once, sorted; at most `maxTags`. Nil when any is refused (each
    /// problem added to `errors`).
    public static func tags(_ raw: [String], pointer: String, errors: inout [Problem.FieldError]) -> [String]? {
        let before = errors.count
        let keys = Set(raw.enumerated().compactMap { index, tag in key(tag, pointer: "\(pointer)/\(index)").collect(into: &errors) })
        if keys.count > maxTags { errors.append(.init(pointer: pointer, detail: "at most \(maxTags) tags")) }
        return errors.count == before ? keys.sorted() : nil
    }

    /// An identifier's name: a letter, then up to 62 letters, digits or `_` (`serialNumber`, `vin`).
    public static func identifierName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter, name.count <= 63 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Identifiers as stored: valid names, values of 1–200 characters (trimmed); at most `maxIdentifiers`.
    /// Nil when any is refused (each problem added to `errors`).
    public static func identifiers(_ raw: [String: String], pointer: String, errors: inout [Problem.FieldError]) -> [String: String]? {
        let before = errors.count
        var result: [String: String] = [:]
        for (name, value) in raw.sorted(by: { $0.key < $1.key }) {
            guard identifierName(name) else {
                errors.append(.init(pointer: "\(pointer)/\(name)", detail: "an identifier's name is a letter, then letters, digits or `_`"))
                continue
            }
            result[name] = DisplayName.validate(value, pointer: "\(pointer)/\(name)").collect(into: &errors)
        }
        if raw.count > maxIdentifiers { errors.append(.init(pointer: pointer, detail: "at most \(maxIdentifiers) identifiers")) }
        return errors.count == before ? result : nil
    }

    /// Metadata is a JSON object of at most `maxMetadataBytes` in canonical form.
    public static func metadata(_ value: JSONValue, pointer: String) -> [Problem.FieldError] {
        guard case .object = value else { return [.init(pointer: pointer, detail: "must be a JSON object")] }
        guard let bytes = try? CanonicalJSON.bytes(value), bytes.count <= maxMetadataBytes else {
            return [.init(pointer: pointer, detail: "must be at most \(maxMetadataBytes) bytes of JSON")]
        }
        return []
    }
}

extension Result where Failure == Problem.FieldError {
    /// The value, or nil with the problem added to `errors`.
    public func collect(into errors: inout [Problem.FieldError]) -> Success? {
        switch self {
        case .success(let value): return value
        case .failure(let error):
            errors.append(error)
            return nil
        }
    }
}
