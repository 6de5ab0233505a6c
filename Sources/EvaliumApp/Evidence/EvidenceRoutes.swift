import EvaliumCore
import EvaliumStorage
import Hummingbird

/// Evidence over HTTP: declaring assets, the signed upload and download addresses, completing
/// (verifying) an upload, reading an asset, attaching evidence to recorded work, and decisions about it.
struct EvidenceRoutes {
    let evidence: EvidenceService
    let database: Database
    let configuration: AppConfiguration

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/assets", requires: .evidenceManage) { request, context, access in
            let input = try await decode(EvidenceService.NewAsset.self, request)
            return try JSONBody.response(
                try await evidence.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.put, "/v1/uploads/:assetId", public: { request, context in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            return try JSONBody.response(try await evidence.receive(id, request: request))
        })
        router.on(.post, "/v1/assets/:assetId/complete", signedIn: { request, context, user in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            return try JSONBody.response(try await evidence.complete(id, user: user, runner: context.write(database, status: .ok)))
        })
        router.on(.get, "/v1/assets/:assetId", signedIn: { request, context, user in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            return try JSONBody.response(try await evidence.read(id, user: user))
        })
        router.on(.get, "/v1/downloads/:assetId", public: { request, context in
            try await evidence.download(try request.pathId("assetId", context, as: AssetID.self), request: request)
        })
        router.on(.post, "/v1/sessions/:sessionId/items/:itemId/attach-asset", requires: .sessionsExecute) { request, context, access in
            let session = try request.pathId("sessionId", context, as: AttemptID.self)
            let item = try request.pathId("itemId", context, as: ItemID.self)
            let input = try await decode(EvidenceService.AttachInput.self, request)
            return try JSONBody.response(
                try await evidence.attach(session, item: item, input, access: access, runner: context.write(database, status: .created)),
                status: .created)
        }
        router.on(.post, "/v1/assets/:assetId/decisions", requires: .submissionsReview) { request, context, access in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            let input = try await decode(EvidenceService.DecisionInput.self, request)
            return try JSONBody.response(try await evidence.decide(id, input, access: access, runner: context.write(database, status: .ok)))
        }
    }

    private func decode<Body: Codable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decodeStrictly(type, from: request, limit: configuration.maxRequestBodyBytes)
    }
}
