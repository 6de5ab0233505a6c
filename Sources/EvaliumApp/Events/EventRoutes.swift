import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird

/// Platform-operator endpoints for a tenant's events: dead letters and replays (seed 003 §6 "DLQ
/// inspection, platform-admin only", §8).
struct EventRoutes {
    let events: EventService
    let database: Database
    let configuration: AppConfiguration

    struct DeadLetterList: Encodable { var items: [DeadLetter] }

    struct ReplayRequest: Decodable {
        var fromSequence: Int64?
        var since: Date?
    }

    func register(on router: Router<AppRequestContext>) {
        router.on(.get, "/v1/tenants/:tenantId/events/dead-letters", platformOperator: { request, context in
            let includeReplayed = request.uri.queryParameters.get("includeReplayed") == "true"
            return try JSONBody.response(
                DeadLetterList(items: try await events.deadLetters(of: try context.tenantIdParameter(), includeReplayed: includeReplayed)))
        })
        router.on(.post, "/v1/tenants/:tenantId/events/dead-letters/:deadLetterId/replay", platformOperator: { _, context in
            let tenant = try context.tenantIdParameter()
            guard let id = context.parameters.get("deadLetterId").flatMap(DeadLetterID.init) else {
                throw Problem(.notFound, "no such dead letter (dead letter ids look like dlq_01HN…)")
            }
            return try context.response(try await events.replay(id, of: tenant, runner: context.write(database, status: .ok)))
        })
        router.on(.post, "/v1/tenants/:tenantId/events/replay", platformOperator: { request, context in
            let tenant = try context.tenantIdParameter()
            let input = try await JSONBody.decode(ReplayRequest.self, from: request, limit: configuration.maxRequestBodyBytes)
            if let sequence = input.fromSequence, sequence < 0 {
                throw Problem(.validationFailed, "fromSequence cannot be negative", errors: [.init(pointer: "/fromSequence", detail: "at least 0")])
            }
            return try context.response(
                try await events.replayEvents(of: tenant, fromSequence: input.fromSequence, since: input.since, runner: context.write(database, status: .ok)))
        })
    }
}
