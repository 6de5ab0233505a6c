import Foundation

/// A subject on the event bus, with its version suffix: `assessment.attempt_result.scored.v1`.
public struct EventSubject: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The JSON Schema that describes the payload: `schemas://assessment/attempt_result/scored/v1`
    /// (seed 003's schema registry), kept as a file under `schemas/events/` of the repository.
    public var schemaURI: String { "schemas://" + rawValue.replacingOccurrences(of: ".", with: "/") }

    /// Subjects are lower-case words joined by dots and end with their version, `.v1`.
    public var isWellFormed: Bool {
        rawValue.wholeMatch(of: /[a-z][a-z_]*(\.[a-z][a-z_]*)+\.v[0-9]+/) != nil
    }
}

/// The envelope every event travels in (seed 003 "all events use the mandatory envelope"), on JetStream
/// and to in-process listeners alike. `wireBytes` are what a subscriber receives and what the outbox keeps.
public struct EventEnvelope: Hashable, Sendable {
    public var eventId: String
    public var subject: EventSubject
    public var tenantId: TenantID
    /// Consumers process the events of one partition in order (seed 003: `attemptId`, `quizBankId`).
    public var partitionKey: String
    public var occurredAt: Date
    public var payload: JSONValue

    public init(eventId: String, subject: EventSubject, tenantId: TenantID, partitionKey: String, occurredAt: Date, payload: JSONValue) {
        self.eventId = eventId
        self.subject = subject
        self.tenantId = tenantId
        self.partitionKey = partitionKey
        self.occurredAt = occurredAt
        self.payload = payload
    }

    public var document: JSONValue {
        [
            "eventId": .string(eventId), "subject": .string(subject.rawValue), "tenantId": .string(tenantId.rawValue),
            "partitionKey": .string(partitionKey), "occurredAt": .string(occurredAt.rfc3339), "schemaUri": .string(subject.schemaURI),
            "payload": payload,
        ]
    }

    /// RFC 8785 canonical JSON: the same event always has the same bytes, so a relayed copy can be compared.
    public func wireBytes() throws -> [UInt8] { try CanonicalJSON.bytes(document) }

    /// Reads an envelope off the wire, checking what every event must carry; a reason when it cannot.
    public static func parse(_ bytes: [UInt8]) -> Result<EventEnvelope, EnvelopeProblem> {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return .failure(.notJSON) }
        guard case .string(let eventId)? = document["eventId"], !eventId.isEmpty, eventId.count <= 200 else { return .failure(.missing("eventId")) }
        guard case .string(let subject)? = document["subject"], EventSubject(rawValue: subject).isWellFormed else {
            return .failure(.missing("subject"))
        }
        guard let tenant = document["tenantId"]?.stringValue.flatMap(TenantID.init) else { return .failure(.missing("tenantId")) }
        guard let occurredAt = document["occurredAt"]?.stringValue.flatMap(RFC3339.parse) else { return .failure(.missing("occurredAt")) }
        guard case .object? = document["payload"] else { return .failure(.missing("payload")) }
        let partitionKey = document["partitionKey"]?.stringValue ?? eventId
        return .success(
            EventEnvelope(
                eventId: eventId, subject: EventSubject(rawValue: subject), tenantId: tenant, partitionKey: partitionKey.isEmpty ? eventId : partitionKey,
                occurredAt: occurredAt, payload: document["payload"]!))
    }
}

/// Why bytes received from the bus are not an event this service can take.
public enum EnvelopeProblem: Error, Hashable, Sendable, CustomStringConvertible {
    case notJSON
    case missing(String)

    public var description: String {
        switch self {
        case .notJSON: "the message is not a JSON object"
        case .missing(let field): "the envelope has no valid `\(field)`"
        }
    }
}

/// An event to publish, as a unit of work writes it to the outbox beside its state change.
public struct OutboxEvent: Hashable, Sendable {
    public var envelope: EventEnvelope
    /// The org unit the event is about, for the outbox row's row-level security; nil for tenant-wide events.
    public var orgUnitId: OrgUnitID?

    public init(envelope: EventEnvelope, orgUnitId: OrgUnitID?) {
        self.envelope = envelope
        self.orgUnitId = orgUnitId
    }
}
