import Crypto
import EvaliumCore
import Foundation

/// Everything the HTTP application and its workers are told at start.
public struct AppConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest JSON request body accepted, in bytes; larger bodies get 413.
    public var maxRequestBodyBytes = 1 << 20
    /// How long an Idempotency-Key's response is kept for replay.
    public var idempotencyRetention: Duration = .seconds(24 * 3600)
    /// How long a claimed key blocks duplicates before a crashed request's key may be taken over.
    public var idempotencyLease: Duration = .seconds(60)
    /// SHA-256 of the platform operator's bearer token; nil disables platform routes.
    public var platformTokenHash: [UInt8]?
    /// Run the ledger sealer and maintenance in this process.
    public var runBackgroundWorkers = true
    /// How often the sealer looks for work when no append woke it.
    public var sealerIdleInterval: Duration = .milliseconds(50)
    public var sealerBatchSize = 1000

    public init() {}

    public static func hashToken(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }
}
