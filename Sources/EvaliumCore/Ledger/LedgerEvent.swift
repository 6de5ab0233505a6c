import Foundation

/// Who caused a ledger event. Users are `usr_` ids; the platform operator and background
/// workers are named actors so that nothing in the ledger is unattributed.
public struct LedgerActor: Hashable, Sendable, Codable {
    public enum Kind: String, Sendable, Codable { case user, platform, system, link }

    public var kind: Kind
    public var id: String

    public init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }

    public static let platformOperator = LedgerActor(kind: .platform, id: "platform-operator")
}

/// Verification strength recorded on a ledger event (seed 001 §10.2).
public enum VerificationLevel: String, Sendable, Codable, CaseIterable {
    case l1 = "L1", l2 = "L2", l3 = "L3", l4 = "L4"
}

/// Event type names, `domain.action` in the seeds' vocabulary.
public struct LedgerEventType: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let tenantCreated: LedgerEventType = "tenant.created"
    public static let orgUnitCreated: LedgerEventType = "org_unit.created"
}

/// What a service asks the ledger to record; the ledger adds id, tenant and server time.
public struct LedgerEventDraft: Sendable {
    public var eventType: LedgerEventType
    public var aggregateType: String
    public var aggregateId: String
    public var orgUnitId: OrgUnitID?
    public var actor: LedgerActor
    public var clientOccurredAt: Date?
    public var payload: JSONValue
    public var contextMetadata: JSONValue
    public var verificationLevel: VerificationLevel?
    public var verificationOutcome: JSONValue?
    public var idempotencyKey: String?

    public init(
        eventType: LedgerEventType, aggregateType: String, aggregateId: String, orgUnitId: OrgUnitID?,
        actor: LedgerActor, clientOccurredAt: Date? = nil, payload: JSONValue,
        contextMetadata: JSONValue = .object([:]), verificationLevel: VerificationLevel? = nil,
        verificationOutcome: JSONValue? = nil, idempotencyKey: String? = nil
    ) {
        self.eventType = eventType
        self.aggregateType = aggregateType
        self.aggregateId = aggregateId
        self.orgUnitId = orgUnitId
        self.actor = actor
        self.clientOccurredAt = clientOccurredAt?.roundedToMilliseconds()
        self.payload = payload
        self.contextMetadata = contextMetadata
        self.verificationLevel = verificationLevel
        self.verificationOutcome = verificationOutcome
        self.idempotencyKey = idempotencyKey
    }
}

/// One event of the append-only execution ledger, as recorded.
public struct LedgerEvent: Sendable, Equatable {
    public var id: LedgerEventID
    public var tenantId: TenantID
    public var occurredAt: Date
    public var draft: LedgerEventDraft

    public init(id: LedgerEventID, tenantId: TenantID, occurredAt: Date, draft: LedgerEventDraft) {
        self.id = id
        self.tenantId = tenantId
        self.occurredAt = occurredAt
        self.draft = draft
    }

    /// The document that is canonicalised and hashed. Every column of the event is in it, so a
    /// change to any column is a change to the hash.
    public var canonicalDocument: JSONValue {
        var document: [String: JSONValue] = [
            "id": .string(id.rawValue),
            "tenantId": .string(tenantId.rawValue),
            "eventType": .string(draft.eventType.rawValue),
            "aggregateType": .string(draft.aggregateType),
            "aggregateId": .string(draft.aggregateId),
            "actor": ["kind": .string(draft.actor.kind.rawValue), "id": .string(draft.actor.id)],
            "occurredAt": .string(occurredAt.rfc3339),
            "payload": draft.payload,
            "contextMetadata": draft.contextMetadata,
        ]
        document["orgUnitId"] = draft.orgUnitId.map { .string($0.rawValue) } ?? .null
        document["clientOccurredAt"] = draft.clientOccurredAt.map { .string($0.rfc3339) } ?? .null
        document["verificationLevel"] = draft.verificationLevel.map { .string($0.rawValue) } ?? .null
        document["verificationOutcome"] = draft.verificationOutcome ?? .null
        document["idempotencyKey"] = draft.idempotencyKey.map { .string($0) } ?? .null
        return .object(document)
    }

    public func canonicalBytes() throws -> [UInt8] { try CanonicalJSON.bytes(canonicalDocument) }
}

extension LedgerEventDraft: Equatable {}
