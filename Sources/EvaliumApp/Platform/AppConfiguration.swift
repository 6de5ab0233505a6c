import AsyncHTTPClient
import Crypto
import EvaliumCore
import EvaliumStorage
import Foundation

/// Everything the HTTP application and its workers are told at start.
public struct AppConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest JSON request body accepted, in bytes; larger bodies get 413.
    public var maxRequestBodyBytes = 1 << 20
    /// How long an Idempotency-Key's response is kept for replay.
    public var idempotencyRetention: Duration = .seconds(24 * 3600)
    /// SHA-256 of the platform operator's bearer token; nil disables platform routes.
    public var platformTokenHash: [UInt8]?
    /// Run the ledger sealer and maintenance in this process.
    public var runBackgroundWorkers = true
    /// The sealer's pace: it passes at most this often, sealing together what was appended in between, and looks
    /// every twenty of these when nothing was appended.
    public var sealerIdleInterval: Duration = .milliseconds(50)
    public var sealerBatchSize = 1000
    /// How often the reporting projection looks for sealed events it has not read; nil runs no projector in
    /// this process (another server's keeps the projections current).
    public var reportingInterval: Duration? = .milliseconds(250)
    /// Sign-in, tokens and their limits.
    public var auth = AuthSettings()
    /// Where evidence bytes are kept and how uploads and downloads are signed.
    public var evidence = EvidenceSettings()
    /// How events reach the in-process listeners, and JetStream when configured.
    public var events = EventSettings()

    public init() {}

    public static func hashToken(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }
}

/// The event bus: in-process delivery always, JetStream when a NATS URL is given (seed 003).
public struct EventSettings: Sendable {
    /// `nats://host:port` of a NATS server with JetStream; nil keeps every event in this process.
    public var natsURL: String?
    /// The stream Evalium publishes to (`assessment.>` and the dead-letter subject `ASSESSMENT.dlq`).
    public var stream = "ASSESSMENT"
    /// The stream holding the subjects Evalium consumes, made if no stream holds them yet.
    public var inboundStream = "ASSESSMENT_INBOUND"
    /// The waits between a listener's failed deliveries; then the event is a dead letter.
    public var retry = RetryPolicy.seed
    /// How often the dispatcher and the relay look for work no commit of this process woke them for.
    public var idleInterval: Duration = .seconds(1)
    /// How long a listener that no running server names any more still holds its events in the queue: long
    /// enough to cover a restart or a rolling deploy.
    public var listenerLiveness: Duration = .seconds(600)
    /// Listeners besides the built-in ones (an embedding program's, or a test's).
    public var extraListeners: [any EventListener] = []
    /// Called by the relay between JetStream's acknowledgement of a batch and the marking of the batch, with
    /// the messages published; tests throw here to act out a crash at the worst moment.
    public var afterRelayPublish: @Sendable ([RelayMessage]) async throws -> Void = { _ in }

    public init() {}
}

/// Lifetimes, limits and keys of sign-in and tokens.
public struct AuthSettings: Sendable {
    public var issuer = "evalium"
    public var audience = "evalium-api"
    /// Signing and sealing keys. The default is a key set that lives as long as the process; `serve`
    /// loads a persistent one.
    public var keys = SigningKeys.generate()
    public var accessTokenLifetime: Duration = .seconds(10 * 60)
    public var refreshTokenLifetime: Duration = .seconds(14 * 24 * 3600)
    /// A session ends this long after sign-in however often it is refreshed.
    public var sessionLifetime: Duration = .seconds(30 * 24 * 3600)
    public var magicLinkLifetime: Duration = .seconds(15 * 60)
    public var stepUpLifetime: Duration = .seconds(5 * 60)
    public var portalTokenLifetime: Duration = .seconds(15 * 60)
    /// Where links in emails point; the page there posts the token to the API.
    public var signInURL = "http://127.0.0.1:8080/sign-in"
    public var portalURL = "http://127.0.0.1:8080/portal"
    /// Magic-link requests per email address (per tenant), and per client address.
    public var magicLinksPerEmail = RateLimit(limit: 5, window: .seconds(15 * 60))
    public var magicLinksPerClientAddress = RateLimit(limit: 30, window: .seconds(15 * 60))
    /// Step-up and TOTP confirmation attempts per person: six digits fall to guessing without a limit.
    public var codeAttemptsPerUser = RateLimit(limit: 5, window: .seconds(5 * 60))

    public init() {}
}

public struct RateLimit: Sendable {
    public var limit: Int
    public var window: Duration

    public init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }
}

/// The evidence store and its signed upload and download addresses.
public struct EvidenceSettings: Sendable {
    /// The local folder store (the zero-setup default): recent evidence, and evidence moved to the cold tier.
    public var hotFolder = URL(fileURLWithPath: ".evalium/evidence/hot")
    public var coldFolder = URL(fileURLWithPath: ".evalium/evidence/cold")
    /// Largest file accepted, in bytes; an upload is refused as soon as it passes this or its declared size.
    public var maxUploadBytes: Int64 = 2 << 30
    /// The address clients reach this server at, for the upload and download URLs it signs.
    public var publicURL = "http://127.0.0.1:8080"
    public var uploadURLLifetime: Duration = .seconds(15 * 60)
    public var downloadURLLifetime: Duration = .seconds(5 * 60)
    /// Verified evidence older than this moves to the cold tier; nil keeps everything hot.
    public var coldAfter: Duration? = .seconds(365 * 24 * 3600)
    public var tieringInterval: Duration = .seconds(3600)

    /// An S3-compatible store instead of the folders (which then only stage uploads this server receives).
    public var s3: S3Settings?

    var store: any EvidenceStore {
        let folders = FolderEvidenceStore(hot: hotFolder, cold: coldFolder)
        guard let s3 else { return folders }
        return S3EvidenceStore(http: .shared, hot: s3.signer(bucket: s3.bucket), cold: s3.signer(bucket: s3.coldBucket ?? s3.bucket), local: folders)
    }

    public init() {}
}

/// An S3-compatible bucket (path-style), and optionally a second one for the cold tier.
public struct S3Settings: Sendable {
    public var endpoint: URL
    public var region: String
    public var accessKeyId: String
    public var secretAccessKey: String
    public var bucket: String
    public var coldBucket: String?

    public init(endpoint: URL, region: String, accessKeyId: String, secretAccessKey: String, bucket: String, coldBucket: String?) {
        self.endpoint = endpoint
        self.region = region
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.bucket = bucket
        self.coldBucket = coldBucket
    }

    func signer(bucket: String) -> S3Presigner {
        S3Presigner(endpoint: endpoint, region: region, accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, bucket: bucket)
    }
}
