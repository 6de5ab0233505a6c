import EvaliumCore

/// The ledger events of people and grants, built in one place so every path (the API, tenant
/// bootstrap) records them identically. Payloads carry ids, never personal data.
enum IdentityEvents {
    static func user(_ type: LedgerEventType, _ user: User, actor: LedgerActor, payload: [String: JSONValue] = [:]) -> LedgerEventDraft {
        var payload = payload
        payload["userId"] = .string(user.id.rawValue)
        return LedgerEventDraft(
            eventType: type, aggregateType: "user", aggregateId: user.id.rawValue, orgUnitId: user.homeOrgUnitId, actor: actor,
            payload: .object(payload))
    }

    static func grant(_ type: LedgerEventType, _ grant: RoleGrant, actor: LedgerActor) -> LedgerEventDraft {
        var payload: [String: JSONValue] = ["grantId": .string(grant.id.rawValue), "roleId": .string(grant.roleId.rawValue)]
        switch grant.grantee {
        case .user(let user): payload["userId"] = .string(user.rawValue)
        case .group(let group): payload["groupId"] = .string(group.rawValue)
        }
        payload["orgUnitId"] = grant.orgUnitId.map { .string($0.rawValue) } ?? .null
        return LedgerEventDraft(
            eventType: type, aggregateType: "role_grant", aggregateId: grant.id.rawValue, orgUnitId: grant.orgUnitId, actor: actor,
            payload: .object(payload))
    }
}
