/// What a principal may do, named `domain.action` (seed 001 §17.2: user → roles → capabilities →
/// permissions). The catalogue lives in code: a capability is meaningful only where an endpoint checks it.
public enum Capability: String, CaseIterable, Codable, Sendable, Comparable {
    case tenantAdmin = "tenant.admin"
    case usersManage = "users.manage"
    case authoringManage = "authoring.manage"
    case assignmentsManage = "assignments.manage"
    case sessionsExecute = "sessions.execute"
    case submissionsReview = "submissions.review"
    case submissionsApprove = "submissions.approve"
    case submissionsReject = "submissions.reject"
    case submissionsAmend = "submissions.amend"
    case submissionsVoid = "submissions.void"
    case evidenceManage = "evidence.manage"
    case subjectsManage = "subjects.manage"
    case reportingRead = "reporting.read"
    case ledgerRead = "ledger.read"
    case portalLinksManage = "portal.links.manage"

    public static func < (left: Capability, right: Capability) -> Bool { left.rawValue < right.rawValue }

    public var summary: String {
        switch self {
        case .tenantAdmin: "define roles and change tenant-wide settings"
        case .usersManage: "create, change and suspend people and groups, and grant roles"
        case .authoringManage: "write and publish questions, templates and evaluations"
        case .assignmentsManage: "issue and withdraw assignments"
        case .sessionsExecute: "carry out assigned knowledge checks, observations and evidence tasks"
        case .submissionsReview: "see submissions awaiting review and request changes"
        case .submissionsApprove: "approve submissions"
        case .submissionsReject: "reject submissions"
        case .submissionsAmend: "correct recorded work by appending amendments"
        case .submissionsVoid: "void submissions, with a step-up proof where the work's policy asks for one"
        case .evidenceManage: "upload, attach and retire evidence"
        case .subjectsManage: "create and import subjects: people, assets and locations"
        case .reportingRead: "read reports, findings and exports"
        case .ledgerRead: "read the execution ledger and its verification"
        case .portalLinksManage: "create and revoke client-portal links"
        }
    }
}

/// The roles every tenant has from the start. Their capabilities come from this code, so a release that
/// refines a built-in role reaches every tenant; tenants define their own roles for anything else.
/// Their ids are fixed and shared by all tenants (a valid ULID with a zero timestamp).
public enum BuiltInRole: String, CaseIterable, Sendable {
    case admin, author, assigner, inspector, reviewer, analyst

    public var id: RoleID {
        let number = Self.allCases.firstIndex(of: self)! + 1
        return RoleID(unchecked: "rol_" + String(repeating: "0", count: 25) + String(number))
    }

    public init?(id: RoleID) {
        guard let role = Self.allCases.first(where: { $0.id == id }) else { return nil }
        self = role
    }

    public var name: String {
        switch self {
        case .admin: "Administrator"
        case .author: "Author"
        case .assigner: "Assigner"
        case .inspector: "Operator / inspector"
        case .reviewer: "Reviewer"
        case .analyst: "Analyst"
        }
    }

    public var capabilities: Set<Capability> {
        switch self {
        case .admin: Set(Capability.allCases)
        case .author: [.authoringManage]
        case .assigner: [.assignmentsManage, .subjectsManage]
        case .inspector: [.sessionsExecute, .evidenceManage]
        case .reviewer: [.submissionsReview, .submissionsApprove, .submissionsReject, .submissionsAmend, .reportingRead]
        case .analyst: [.reportingRead, .ledgerRead]
        }
    }
}
