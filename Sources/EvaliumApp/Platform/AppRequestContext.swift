import EvaliumCore
import Foundation
import Hummingbird
import Logging
import Synchronization

/// Who is calling. Until sign-in exists (identity issue) the only principal is the platform operator,
/// authenticated by a bearer token from configuration.
public struct Principal: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case platformOperator }

    public var kind: Kind
    public var id: String

    public static let platformOperator = Principal(kind: .platformOperator, id: "platform-operator")

    /// Where this principal's idempotency keys live, and under which caller id.
    var idempotencyOwner: (tenantId: TenantID, callerId: String) {
        switch kind {
        case .platformOperator: (TenantID.platform, id)
        }
    }

    var ledgerActor: LedgerActor {
        switch kind {
        case .platformOperator: .platformOperator
        }
    }
}

/// Fields of the one access-log line that are only known deep inside the request (the tenant).
final class RequestLogFields: Sendable {
    private let tenant = Mutex<TenantID?>(nil)
    var tenantId: TenantID? {
        get { tenant.withLock { $0 } }
        set { tenant.withLock { $0 = newValue } }
    }
}

/// Tracks whether the request's idempotency claim was completed by its unit of work.
final class IdempotencyClaimHolder: Sendable {
    let claim: IdempotencyClaim
    private let completedFlag = Mutex(false)

    init(claim: IdempotencyClaim) { self.claim = claim }

    var completed: Bool {
        get { completedFlag.withLock { $0 } }
        set { completedFlag.withLock { $0 = newValue } }
    }
}

public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String
    public var principal: Principal?
    var idempotency: IdempotencyClaimHolder?
    let logFields = RequestLogFields()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestId = RequestID.generate().rawValue
    }

    /// The platform operator, or 401 (no credentials) / 403 (someone else).
    func requirePlatformOperator() throws -> Principal {
        guard let principal else {
            throw Problem(.unauthenticated, "this endpoint needs the platform operator's bearer token")
        }
        guard principal.kind == .platformOperator else {
            throw Problem(.forbidden, "only the platform operator may call this endpoint")
        }
        return principal
    }

    /// Records the tenant a request acts on, for the access log.
    func noteTenant(_ tenantId: TenantID) { logFields.tenantId = tenantId }
}
