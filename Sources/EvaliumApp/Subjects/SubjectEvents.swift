import EvaliumCore

/// The ledger events of subjects and their imports, built in one place. Payloads carry ids, types and
/// counts, never names, external refs, tags or identifiers: a subject may be a person, and the ledger is
/// immutable while subjects stay correctable.
enum SubjectEvents {
    /// `subject.created`, `subject.updated` (with `changed`), `subject.archived`, `subject.restored`.
    static func subject(
        _ type: LedgerEventType, _ subject: Subject, actor: LedgerActor, payload: [String: JSONValue] = [:]
    ) -> LedgerEventDraft {
        event(type, subject.id, subject.type, orgUnitId: subject.orgUnitId, actor: actor, payload: payload)
    }

    /// `subject.created`: what the subject is and where, by id.
    static func created(_ subject: Subject, actor: LedgerActor, importId: SubjectImportID? = nil) -> LedgerEventDraft {
        var payload: [String: JSONValue] = ["orgUnitId": .string(subject.orgUnitId.rawValue)]
        if let user = subject.userId { payload["userId"] = .string(user.rawValue) }
        if let asset = subject.asset { payload["assetType"] = .string(asset.assetType) }
        if let importId { payload["importId"] = .string(importId.rawValue) }
        return Self.subject("subject.created", subject, actor: actor, payload: payload)
    }

    /// `subject.updated` naming the fields that changed (`displayName`, `tags`, `asset.identifiers`, …).
    static func updated(_ before: Subject, _ after: Subject, actor: LedgerActor, importId: SubjectImportID? = nil) -> LedgerEventDraft {
        var payload: [String: JSONValue] = ["changed": .array(after.changedFields(comparedWith: before).map(JSONValue.string))]
        if let importId { payload["importId"] = .string(importId.rawValue) }
        return subject("subject.updated", after, actor: actor, payload: payload)
    }

    /// `subject.viewed` (seed 000 §7: every read of one subject is recorded). The event belongs to the
    /// subject's org unit when the viewer's scope reaches it, else to the viewer's first org unit: someone
    /// allowed to read a subject outside their units (an assignment target) can still record the view.
    static func viewed(_ subject: Subject, actor: LedgerActor, scope: Scope) -> LedgerEventDraft {
        viewed(subject.id, placedAt: subject.placement, actor: actor, scope: scope)
    }

    /// `subject.viewed` of the subject `id` standing at `placement`, which is all the event names of it.
    static func viewed(_ id: SubjectID, placedAt placement: SubjectPlacement, actor: LedgerActor, scope: Scope) -> LedgerEventDraft {
        let inScope = scope.orgScopeAll || scope.orgUnitIds.contains(placement.orgUnitId)
        return event(
            "subject.viewed", id, placement.type, orgUnitId: inScope ? placement.orgUnitId : scope.orgUnitIds.first, actor: actor,
            payload: ["orgUnitId": .string(placement.orgUnitId.rawValue)])
    }

    /// `subjects.import.previewed` and `subjects.imported`, with the counts of the preview.
    static func subjectImport(_ type: LedgerEventType, _ record: SubjectImport, actor: LedgerActor) -> LedgerEventDraft {
        let summary = record.summary
        return LedgerEventDraft(
            eventType: type, aggregateType: "subject_import", aggregateId: record.id.rawValue, orgUnitId: record.orgUnitId, actor: actor,
            payload: [
                "importId": .string(record.id.rawValue), "rows": .number(Double(record.rows.count)),
                "created": .number(Double(summary.create)), "updated": .number(Double(summary.update)),
                "unchanged": .number(Double(summary.unchanged)), "errors": .number(Double(summary.errors)),
            ])
    }

    private static func event(
        _ type: LedgerEventType, _ id: SubjectID, _ subjectType: SubjectType, orgUnitId: OrgUnitID?, actor: LedgerActor,
        payload: [String: JSONValue]
    ) -> LedgerEventDraft {
        var payload = payload
        payload["subjectId"] = .string(id.rawValue)
        payload["type"] = .string(subjectType.rawValue)
        return LedgerEventDraft(
            eventType: type, aggregateType: "subject", aggregateId: id.rawValue, orgUnitId: orgUnitId, actor: actor,
            payload: .object(payload))
    }
}
