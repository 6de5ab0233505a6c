import EvaliumCore
import EvaliumStorage
import HTTPTypes
import Hummingbird

/// Evidence over HTTP: declaring assets, the signed upload and download addresses, completing
/// (verifying) an upload, reading an asset, attaching evidence to recorded work, and decisions about it.
struct EvidenceRoutes {
    let evidence: EvidenceService
    let resumable: ResumableUploads
    let database: Database
    let configuration: AppConfiguration

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/assets", requires: .evidenceManage) { request, context, access in
            let input = try await decode(EvidenceService.NewAsset.self, request)
            return try context.response(
                try await evidence.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.put, "/v1/uploads/:assetId", public: { request, context in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            return try JSONBody.response(try await evidence.receive(id, request: request))
        })
        router.on(.post, "/v1/assets/:assetId/complete", signedIn: { request, context, user in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            return try context.response(try await evidence.complete(id, user: user, runner: context.write(database, status: .ok)))
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
            return try context.response(
                try await evidence.attach(session, item: item, input, access: access, runner: context.write(database, status: .created)),
                status: .created)
        }
        router.on(.post, "/v1/assets/:assetId/decisions", requires: .submissionsReview) { request, context, access in
            let id = try request.pathId("assetId", context, as: AssetID.self)
            let input = try await decode(EvidenceService.DecisionInput.self, request)
            return try context.response(try await evidence.decide(id, input, access: access, runner: context.write(database, status: .ok)))
        }
    }

    /// TUS 1.0 (https://tus.io/protocols/resumable-upload): every answer carries `Tus-Resumable`.
    func registerResumable(on router: Router<AppRequestContext>) {
        router.on(.options, "/v1/tus", public: { _, _ in
            Response(status: .noContent, headers: tusHeaders([
                "Tus-Version": ResumableUploads.version, "Tus-Extension": ResumableUploads.extensions,
                "Tus-Max-Size": "\(configuration.evidence.maxUploadBytes)", "Tus-Checksum-Algorithm": ResumableUploads.checksumAlgorithms,
            ]))
        })
        router.on(.post, "/v1/tus", signedIn: { request, _, user in
            try Self.requireTusVersion(request)
            let id = try await resumable.create(
                length: request.headers[HTTPField.Name("Upload-Length")!].flatMap { Int64($0) },
                metadata: request.headers[HTTPField.Name("Upload-Metadata")!], user: user)
            return Response(status: .created, headers: tusHeaders(["Location": "/v1/tus/\(id)"]))
        })
        router.on(.head, "/v1/tus/:assetId", signedIn: { request, context, user in
            let progress = try await resumable.progress(try request.pathId("assetId", context, as: AssetID.self), user: user)
            return Response(status: .ok, headers: tusHeaders([
                "Upload-Offset": "\(progress.offset)", "Upload-Length": "\(progress.length)", "Cache-Control": "no-store",
            ]))
        })
        router.on(.patch, "/v1/tus/:assetId", signedIn: { request, context, user in
            try Self.requireTusVersion(request)
            guard request.headers[.contentType] == "application/offset+octet-stream" else {
                throw Problem(.unsupportedMediaType, "send a chunk as application/offset+octet-stream")
            }
            guard let offset = request.headers[HTTPField.Name("Upload-Offset")!].flatMap({ Int64($0) }), offset >= 0 else {
                throw Problem(.malformedRequest, "Upload-Offset is required: the offset this chunk starts at")
            }
            let progress = try await resumable.append(
                try request.pathId("assetId", context, as: AssetID.self), offset: offset,
                checksum: request.headers[HTTPField.Name("Upload-Checksum")!], body: request.body, user: user)
            return Response(status: .noContent, headers: tusHeaders(["Upload-Offset": "\(progress.offset)"]))
        })
        router.on(.delete, "/v1/tus/:assetId", signedIn: { request, context, user in
            try Self.requireTusVersion(request)
            try await resumable.terminate(try request.pathId("assetId", context, as: AssetID.self), user: user)
            return Response(status: .noContent, headers: tusHeaders([:]))
        })
    }

    private static func requireTusVersion(_ request: Request) throws {
        guard request.headers[HTTPField.Name("Tus-Resumable")!] == ResumableUploads.version else {
            throw Problem(.resumableVersionUnsupported, "send Tus-Resumable: \(ResumableUploads.version)")
        }
    }

    private func tusHeaders(_ extra: [String: String]) -> HTTPFields {
        var headers = HTTPFields()
        headers[HTTPField.Name("Tus-Resumable")!] = ResumableUploads.version
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        return headers
    }

    private func decode<Body: Codable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decodeStrictly(type, from: request, limit: configuration.maxRequestBodyBytes)
    }
}
