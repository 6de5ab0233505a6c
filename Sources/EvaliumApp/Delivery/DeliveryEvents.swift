import EvaliumCore

/// The ledger events of the execution world, built in one place. Payloads name people, subjects and
/// items by id; answers and comments stay in the submission they belong to.
enum DeliveryEvents {
    static func assignment(_ type: LedgerEventType, _ assignment: Assignment, actor: LedgerActor) -> LedgerEventDraft {
        var payload: [String: JSONValue] = [
            "assignmentId": .string(assignment.id.rawValue), "evaluationId": .string(assignment.evaluationId.rawValue),
            "evaluationVersion": .number(Double(assignment.evaluationVersion)),
            "subjectIds": .array(assignment.subjects.map { .string($0.subjectId.rawValue) }),
        ]
        if let user = assignment.target.userId { payload["targetUserId"] = .string(user.rawValue) }
        if let group = assignment.target.groupId { payload["targetGroupId"] = .string(group.rawValue) }
        if assignment.target.email != nil { payload["targetType"] = "email" }
        if let batch = assignment.batchId { payload["batchId"] = .string(batch.rawValue) }
        return LedgerEventDraft(
            eventType: type, aggregateType: "assignment", aggregateId: assignment.id.rawValue, orgUnitId: assignment.orgUnitId, actor: actor,
            payload: .object(payload))
    }

    static func session(_ type: LedgerEventType, _ session: DeliverySession, actor: LedgerActor) -> LedgerEventDraft {
        LedgerEventDraft(
            eventType: type, aggregateType: "delivery_session", aggregateId: session.id.rawValue, orgUnitId: session.orgUnitId, actor: actor,
            payload: [
                "sessionId": .string(session.id.rawValue), "assignmentId": .string(session.assignmentId.rawValue),
                "attemptNumber": .number(Double(session.attemptNumber)), "mode": .string(session.mode.rawValue),
                "reworkOf": session.reworkOf.map { .string($0.rawValue) } ?? .null,
            ])
    }

    static func submission(
        _ type: LedgerEventType, _ submission: Submission, actor: LedgerActor, payload: [String: JSONValue] = [:],
        verification: (level: VerificationLevel, context: JSONValue, outcome: JSONValue)? = nil
    ) -> LedgerEventDraft {
        var payload = payload
        payload["submissionId"] = .string(submission.id.rawValue)
        return LedgerEventDraft(
            eventType: type, aggregateType: "submission", aggregateId: submission.id.rawValue, orgUnitId: submission.orgUnitId, actor: actor,
            payload: .object(payload), contextMetadata: verification?.context ?? .object([:]), verificationLevel: verification?.level,
            verificationOutcome: verification?.outcome)
    }

    /// `submission.rescored` when a grade or an amendment changed the result; nil when it did not.
    static func rescored(_ submission: Submission, from before: ScoreResult, to after: ScoreResult, actor: LedgerActor) -> LedgerEventDraft? {
        guard after != before else { return nil }
        var payload = scores(after)
        payload["previousOutcome"] = .string(before.outcome.rawValue)
        return DeliveryEvents.submission("submission.rescored", submission, actor: actor, payload: payload)
    }

    static func finding(_ type: LedgerEventType, _ finding: Finding, of finalised: Submission, actor: LedgerActor) -> LedgerEventDraft {
        submission(
            type, finalised, actor: actor,
            payload: [
                "itemId": .string(finding.itemId.rawValue), "questionId": .string(finding.questionId.rawValue),
                "optionId": .string(finding.optionId), "severity": .string(finding.severity.rawValue),
                "subjectIds": .array(finalised.subjects.map { .string($0.subjectId.rawValue) }),
            ])
    }

    static func scores(_ result: ScoreResult) -> [String: JSONValue] {
        [
            "outcome": .string(result.outcome.rawValue), "rawScore": .number(result.rawScore), "maxScore": .number(result.maxScore),
            "scaledScore": .number(result.scaledScore), "passed": result.passed.map(JSONValue.bool) ?? .null,
            "pendingItemIds": .array(result.pendingItems.map { .string($0.rawValue) }),
        ]
    }
}
