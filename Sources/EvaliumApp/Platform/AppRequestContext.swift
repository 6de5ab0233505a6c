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

/// A request's `Idempotency-Key`, for its unit of work (`IdempotentWrite`) to claim and complete.
struct IdempotentRequest: Sendable {
    let claim: IdempotencyClaim
    /// How long the stored response is replayed.
    let retention: Duration
    /// The body the unit of work stored for the key, once it has.
    let storedBody = StoredBody()
}

/// The JSON a unit of work stored for its idempotency key, kept for the request's own answer: the first
/// answer is then the very bytes every replay sends, and a large view (a submission with its form) is
/// encoded once instead of twice.
final class StoredBody: Sendable {
    private let bytes = Mutex<[UInt8]?>(nil)

    func keep(_ body: [UInt8]) { bytes.withLock { $0 = body } }
    var body: [UInt8]? { bytes.withLock { $0 } }
}

public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestId: String
    public var principal: Principal?
    var idempotency: IdempotentRequest?
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
