import EvaliumCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

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

public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String
    public var principal: Principal?
    var idempotency: IdempotencyClaimHolder?
    let logFields = RequestLogFields()
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        requestId = RequestID.generate().rawValue
    }

    /// Records the tenant a request acts on, for the access log.
    func noteTenant(_ tenantId: TenantID) { logFields.tenantId = tenantId }
}
