import Crypto
import Foundation

/// An `Idempotency-Key` header value: 1–255 visible ASCII characters (IETF httpapi draft: any
/// client-chosen string; UUIDs or ULIDs recommended).
public struct IdempotencyKey: Hashable, Sendable {
    public let value: String

    public init?(_ header: String) {
        // The draft writes the key as a structured-field string: accept it quoted or bare.
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        guard (1...255).contains(text.count), text.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            return nil
        }
        value = String(text)
    }
}

/// A fingerprint of what was asked: method, path and body. JSON bodies are fingerprinted in canonical
/// form, so a retry that re-serialises the same document (other key order, other spacing) still matches.
public struct RequestFingerprint: Hashable, Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public init(method: String, path: String, body: [UInt8]) {
        var hasher = SHA256()
        hasher.update(data: Array("\(method) \(path)\n".utf8))
        if let document = try? JSONValue(parsing: body),
           let canonical = try? CanonicalJSON.bytes(document)
        {
            hasher.update(data: canonical)
        } else {
            hasher.update(data: body)
        }
        bytes = Array(hasher.finalize())
    }
}

/// The response stored for a completed key, replayed byte for byte to retries.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String?
    public var location: String?
    public var body: [UInt8]

    public init(status: Int, contentType: String?, location: String?, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.location = location
        self.body = body
    }
}

/// What the database holds for a key: a response an earlier request completed, or a request in flight.
public struct IdempotencyRecord: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case inFlight
        case completed(StoredResponse)
    }

    public var fingerprint: RequestFingerprint
    public var state: State

    public init(fingerprint: RequestFingerprint, state: State) {
        self.fingerprint = fingerprint
        self.state = state
    }
}

/// The rule of the IETF draft for a request whose key is already known.
public enum IdempotencyDecision: Sendable, Equatable {
    case replay(StoredResponse)
    case reusedWithDifferentRequest
    case stillInFlight

    public static func decide(existing: IdempotencyRecord, fingerprint: RequestFingerprint) -> IdempotencyDecision {
        if existing.fingerprint != fingerprint { return .reusedWithDifferentRequest }
        switch existing.state {
        case .inFlight: return .stillInFlight
        case .completed(let response): return .replay(response)
        }
    }

    public var problem: Problem? {
        switch self {
        case .replay: nil
        case .reusedWithDifferentRequest:
            Problem(.idempotencyKeyReused, "this Idempotency-Key was already used for a different request; use a new key")
        case .stillInFlight:
            Problem(.idempotencyRequestInFlight, "the first request with this Idempotency-Key is still being processed; retry later")
        }
    }
}

/// A request's key, claimed by the request's unit of work in its own transaction (see
/// `Transaction.claimIdempotencyKey`), with what identifies the request.
public struct IdempotencyClaim: Sendable, Equatable {
    /// The tenant whose records hold the key (the platform tenant for platform-level calls).
    public var tenantId: TenantID
    public var callerId: String
    public var key: IdempotencyKey
    public var fingerprint: RequestFingerprint

    public init(tenantId: TenantID, callerId: String, key: IdempotencyKey, fingerprint: RequestFingerprint) {
        self.tenantId = tenantId
        self.callerId = callerId
        self.key = key
        self.fingerprint = fingerprint
    }
}

extension TenantID {
    /// The scope of platform-level records (idempotency keys of the platform operator): an id no
    /// real tenant can have, since every generated ULID carries a non-zero time.
    public static let platform = TenantID(unchecked: "tnt_00000000000000000000000000")
}
