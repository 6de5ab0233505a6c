import EvaliumCore

/// The ledger events of the authoring world, built in one place. Payloads name what changed by id,
/// version and content hash; the content itself lives in the versions the hash proves.
enum AuthoringEvents {
    static func question(
        _ type: LedgerEventType, _ question: Question, actor: LedgerActor, version: QuestionVersion? = nil,
        payload: [String: JSONValue] = [:]
    ) -> LedgerEventDraft {
        var payload = payload
        payload["questionId"] = .string(question.id.rawValue)
        payload["kind"] = .string(question.kind.rawValue)
        if let version {
            payload["version"] = .number(Double(version.version))
            payload["contentHash"] = .string(version.contentHash)
        }
        return LedgerEventDraft(
            eventType: type, aggregateType: "question", aggregateId: question.id.rawValue, orgUnitId: question.orgUnitId, actor: actor,
            payload: .object(payload))
    }

    static func evaluation(
        _ type: LedgerEventType, _ evaluation: Evaluation, actor: LedgerActor, version: EvaluationVersion? = nil,
        payload: [String: JSONValue] = [:]
    ) -> LedgerEventDraft {
        var payload = payload
        payload["evaluationId"] = .string(evaluation.id.rawValue)
        payload["kind"] = .string(evaluation.kind.rawValue)
        if let version {
            payload["version"] = .number(Double(version.version))
            payload["contentHash"] = .string(version.contentHash)
        }
        return LedgerEventDraft(
            eventType: type, aggregateType: "evaluation", aggregateId: evaluation.id.rawValue, orgUnitId: evaluation.orgUnitId,
            actor: actor, payload: .object(payload))
    }

    static func taxonomy(_ type: LedgerEventType, _ taxonomy: Taxonomy, actor: LedgerActor, tag: Tag? = nil) -> LedgerEventDraft {
        var payload: [String: JSONValue] = ["taxonomyId": .string(taxonomy.id.rawValue), "key": .string(taxonomy.key)]
        if let tag {
            payload["tagId"] = .string(tag.id.rawValue)
            payload["tagKey"] = .string(tag.key)
        }
        return LedgerEventDraft(
            eventType: type, aggregateType: "taxonomy", aggregateId: taxonomy.id.rawValue, orgUnitId: nil, actor: actor,
            payload: .object(payload))
    }
}

/// What an author changes on a question's or evaluation's identity: whether it is shared with every
/// org unit, and whether it is archived. Versions are changed through their own endpoints.
struct IdentityChanges: Codable, Sendable {
    var shared: Bool?
    var status: AuthoringStatus?

    /// Applies the changes, returning the ledger events they amount to (`question.shared`,
    /// `evaluation.archived`, …); none when nothing actually changes.
    func apply(to aggregate: String, shared: inout Bool, status: inout AuthoringStatus) -> [LedgerEventType] {
        var events: [LedgerEventType] = []
        if let newShared = self.shared, newShared != shared {
            shared = newShared
            events.append(LedgerEventType(rawValue: "\(aggregate).\(newShared ? "shared" : "unshared")"))
        }
        if let newStatus = self.status, newStatus != status {
            status = newStatus
            events.append(LedgerEventType(rawValue: "\(aggregate).\(newStatus == .archived ? "archived" : "restored")"))
        }
        return events
    }
}
