import Foundation

/// An error a client is meant to see, rendered as RFC 9457 `application/problem+json`.
///
/// `type` is a stable URN a client can switch on; `detail` is for people. Every failure that reaches
/// the HTTP layer is either a `Problem` or becomes the generic 500 problem (and is logged).
public struct Problem: Error, Sendable, Equatable {
    public var kind: Kind
    public var detail: String
    /// Field-level problems, for validation failures that report every problem at once.
    public var errors: [FieldError]
    /// For `rate-limited`: when the client may try again (sent as `Retry-After`).
    public var retryAfterSeconds: Int?

    public init(_ kind: Kind, _ detail: String, errors: [FieldError] = [], retryAfterSeconds: Int? = nil) {
        self.kind = kind
        self.detail = detail
        self.errors = errors
        self.retryAfterSeconds = retryAfterSeconds
    }

    public struct FieldError: Error, Sendable, Equatable, Codable {
        public var pointer: String
        public var detail: String
        public init(pointer: String, detail: String) {
            self.pointer = pointer
            self.detail = detail
        }
    }

    /// The catalogue of problem types. Adding one is an API change: document it in docs/API.md.
    public enum Kind: String, Sendable, CaseIterable {
        case malformedRequest = "malformed-request"
        case validationFailed = "validation-failed"
        case unauthenticated
        case accessTokenRefreshRequired = "access-token-refresh-required"
        case forbidden
        case capabilityMissing = "capability-missing"
        case stepUpRequired = "step-up-required"
        case notFound = "not-found"
        case methodNotAllowed = "method-not-allowed"
        case conflict
        case payloadTooLarge = "payload-too-large"
        case unsupportedMediaType = "unsupported-media-type"
        case idempotencyKeyReused = "idempotency-key-reused"
        case idempotencyRequestInFlight = "idempotency-request-in-flight"
        case invalidIdempotencyKey = "invalid-idempotency-key"
        case rateLimited = "rate-limited"
        case resumableVersionUnsupported = "resumable-version-unsupported"
        case checksumMismatch = "checksum-mismatch"
        case serviceUnavailable = "service-unavailable"
        case internalError = "internal-error"

        public var status: Int {
            switch self {
            case .malformedRequest, .invalidIdempotencyKey: 400
            case .unauthenticated, .accessTokenRefreshRequired: 401
            case .forbidden, .capabilityMissing, .stepUpRequired: 403
            case .notFound: 404
            case .methodNotAllowed: 405
            case .conflict, .idempotencyRequestInFlight: 409
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .validationFailed, .idempotencyKeyReused: 422
            case .rateLimited: 429
            case .resumableVersionUnsupported: 412
            case .checksumMismatch: 460
            case .serviceUnavailable: 503
            case .internalError: 500
            }
        }

        public var title: String {
            switch self {
            case .malformedRequest: "Malformed request"
            case .validationFailed: "Validation failed"
            case .unauthenticated: "Authentication required"
            case .accessTokenRefreshRequired: "Access token expired or out of date; refresh it"
            case .forbidden: "Forbidden"
            case .capabilityMissing: "A capability this action needs is missing"
            case .stepUpRequired: "Step-up verification required"
            case .notFound: "Not found"
            case .methodNotAllowed: "Method not allowed"
            case .conflict: "Conflict"
            case .payloadTooLarge: "Payload too large"
            case .unsupportedMediaType: "Unsupported media type"
            case .idempotencyKeyReused: "Idempotency key reused with a different request"
            case .idempotencyRequestInFlight: "A request with this idempotency key is still being processed"
            case .invalidIdempotencyKey: "Invalid idempotency key"
            case .rateLimited: "Too many requests"
            case .resumableVersionUnsupported: "This server speaks TUS 1.0.0 only"
            case .checksumMismatch: "The chunk does not match its checksum"
            case .serviceUnavailable: "Service unavailable"
            case .internalError: "Internal error"
            }
        }

        public var typeURI: String { "urn:evalium:problem:\(rawValue)" }
    }
}
