import Foundation

/// An Evalium customer. Every row of tenant data belongs to exactly one tenant (seed 001 §5.1).
public struct Tenant: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case active, suspended }

    public var id: TenantID
    public var name: String
    public var status: Status
    public var createdAt: Date

    public init(id: TenantID, name: String, status: Status, createdAt: Date) {
        self.id = id
        self.name = name
        self.status = status
        self.createdAt = createdAt
    }
}

/// A silo inside a tenant (region, department, team, client account). Units may form a hierarchy
/// through `parentId`; Evalium enforces only the boundary of each unit, not the hierarchy's meaning.
public struct OrgUnit: Sendable, Equatable, Codable {
    public var id: OrgUnitID
    public var tenantId: TenantID
    public var parentId: OrgUnitID?
    public var name: String
    public var isRoot: Bool
    public var createdAt: Date

    public init(id: OrgUnitID, tenantId: TenantID, parentId: OrgUnitID?, name: String, isRoot: Bool, createdAt: Date) {
        self.id = id
        self.tenantId = tenantId
        self.parentId = parentId
        self.name = name
        self.isRoot = isRoot
        self.createdAt = createdAt
    }
}

/// Rules for names given to tenants and org units.
public enum DisplayName {
    /// Trims the name and checks it is 1–200 characters with no control characters.
    public static func validate(_ raw: String, pointer: String) -> Result<String, Problem.FieldError> {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { return .failure(.init(pointer: pointer, detail: "must not be empty")) }
        if name.count > 200 { return .failure(.init(pointer: pointer, detail: "must be at most 200 characters")) }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return .failure(.init(pointer: pointer, detail: "must not contain control characters"))
        }
        return .success(name)
    }
}
