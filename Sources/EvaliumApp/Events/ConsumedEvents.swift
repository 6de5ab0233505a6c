import EvaliumCore
import EvaliumStorage
import Foundation

/// The events Evalium consumes (seed 003 §2), with the listeners that handle them. Each arrives once in
/// `inbound_events` (de-duplicated on its event id) and is handed to its listener by the dispatcher,
/// under the same inbox, retries and dead letters as every other listener.
enum ConsumedEvents {
    static let subjects: [EventSubject] = [
        "authoring.block.added.v1", "authoring.block.updated.v1", "authoring.block.removed.v1",
        "sync.offline_artifact.received.v1", "gdpr.subject_request.received.v1", "tenant.offboarded.v1",
    ]

    static let listeners: [any EventListener] = [ContentBlockLinks(), ReceivedObligations()]

    static let actor = LedgerActor(kind: .system, id: "event-bus")
}

/// Links and unlinks authoring content blocks and quiz banks (seed 003 §4.1, UC-20), recorded in the
/// ledger as `evaluation.block_linked` and `evaluation.block_unlinked`.
struct ContentBlockLinks: EventListener {
    let name = "content-block-links"
    let subjects = ["authoring.block."]

    func handle(_ event: EventEnvelope, in transaction: Transaction) async throws {
        guard let block = event.payload["block"], let blockId = block["blockId"]?.stringValue, (1...200).contains(blockId.count) else {
            throw EventListenerError("\(event.subject.rawValue) \(event.eventId) names no block.blockId")
        }
        let quizBank = block["blockRef"]?["quizBankId"]?.stringValue
        if event.subject.rawValue.hasPrefix("authoring.block.removed.") || quizBank == nil {
            // A removed block, or one that no longer holds a quiz, links nothing.
            guard let (evaluation, orgUnit) = try await transaction.unlinkBlock(blockId) else { return }
            try await record("evaluation.block_unlinked", evaluation, orgUnit, blockId: blockId, event: event, in: transaction)
            return
        }
        guard let quizBank, quizBank.hasPrefix("qbk_"), let evaluation = EvaluationID("evl_" + quizBank.dropFirst(4)) else {
            throw EventListenerError("block \(blockId) refers to \(quizBank ?? "nothing"), which is not a quiz bank id (qbk_…)")
        }
        let kind = block["kind"]?.stringValue ?? "quiz"
        guard let orgUnit = try await transaction.linkBlock(blockId, kind: String(kind.prefix(100)), to: evaluation, eventId: event.eventId, at: ServerClock.now())
        else { throw EventListenerError("block \(blockId) refers to quiz bank \(quizBank), which this tenant does not have") }
        try await record("evaluation.block_linked", evaluation, orgUnit, blockId: blockId, event: event, in: transaction)
    }

    private func record(
        _ type: LedgerEventType, _ evaluation: EvaluationID, _ orgUnit: OrgUnitID, blockId: String, event: EventEnvelope, in transaction: Transaction
    ) async throws {
        try await transaction.appendLedgerEvent(
            LedgerEventDraft(
                eventType: type, aggregateType: "evaluation", aggregateId: evaluation.rawValue, orgUnitId: orgUnit, actor: ConsumedEvents.actor,
                payload: ["blockId": .string(blockId), "eventId": .string(event.eventId), "subject": .string(event.subject.rawValue)]))
    }
}

/// Offline artifacts, data-subject requests and tenant offboarding (seed 003 §4.2–4.3, UC-10, UC-21) are
/// kept and acknowledged: their handlers come with offline sync and data protection. Receiving one puts
/// the obligation on the ledger (`event.received`, with the request's deadline), where it cannot be lost.
struct ReceivedObligations: EventListener {
    let name = "received-obligations"
    let subjects = ["sync.offline_artifact.received.", "gdpr.subject_request.received.", "tenant.offboarded."]

    /// Identifiers and dates worth finding on the ledger; nothing a person wrote.
    private static let keptFields = ["requestId", "requestType", "deadline", "userId", "offboardedAt"]

    func handle(_ event: EventEnvelope, in transaction: Transaction) async throws {
        var payload: [String: JSONValue] = ["eventId": .string(event.eventId), "subject": .string(event.subject.rawValue)]
        for field in Self.keptFields { if let value = event.payload[field]?.stringValue { payload[field] = .string(String(value.prefix(200))) } }
        if let artifact = event.payload["artifact"] {
            for field in ["type", "attemptId", "clientMutationId"] {
                if let value = artifact[field]?.stringValue { payload[field] = .string(String(value.prefix(200))) }
            }
        }
        try await transaction.appendLedgerEvent(
            LedgerEventDraft(
                eventType: "event.received", aggregateType: "inbound_event", aggregateId: event.eventId, orgUnitId: nil, actor: ConsumedEvents.actor,
                payload: .object(payload)))
    }
}
