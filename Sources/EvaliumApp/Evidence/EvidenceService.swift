import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird

/// Evidence as a ledger artefact (seed 002 §2, seed 001 §14): an asset is declared (type, size, SHA-256),
/// its bytes are streamed into the store through a signed address, checked against the declaration, and
/// only then count as evidence. Attaching one to a recorded item is the chain of custody. Every step is
/// a ledger event; the bytes never enter the database.
struct EvidenceService: Sendable {
    let database: Database
    let store: any EvidenceStore
    let urls: SignedEvidenceURL
    let settings: EvidenceSettings

    struct NewAsset: Codable, Sendable {
        var contentType: String
        var byteSize: Int64
        var sha256: String
        var originalFilename: String?
        var capture: CaptureContext?
        var orgUnitId: OrgUnitID?
        /// The session the evidence is for: the asset then belongs where the work does.
        var sessionId: AttemptID?
    }

    struct UploadInstructions: Codable, Sendable {
        var method = "PUT"
        var url: String
        var expiresAt: Date
        var headers: [String: String]
    }

    struct CreatedAsset: Codable, Sendable {
        var asset: MediaAsset
        var upload: UploadInstructions
        var resumable: ResumableInstructions
    }

    /// How to send the bytes with TUS 1.0 instead: create the upload at `endpoint` with this metadata.
    struct ResumableInstructions: Codable, Sendable {
        var endpoint: String
        var uploadMetadata: String
    }

    struct Received: Codable, Sendable {
        var assetId: AssetID
        var status: AssetStatus
        var receivedBytes: Int64
    }

    /// An asset as a reader sees it: its record, where it is attached, the latest decision about it, and
    /// while it is verified, a short-lived address to download it from.
    struct AssetView: Codable, Sendable {
        var asset: MediaAsset
        var decision: EvidenceDecision
        var custody: [Attachment]
        var download: Download?

        struct Download: Codable, Sendable {
            var url: String
            var expiresAt: Date
        }
    }

    struct AttachInput: Codable, Sendable {
        var assetId: AssetID
        var role: AttachmentRole?
    }

    struct Attached: Codable, Sendable {
        var attachment: Attachment
        var response: RecordedResponse
    }

    struct DecisionInput: Codable, Sendable {
        var decision: EvidenceDecision
        var note: String?
    }

    // MARK: Declaring and uploading

    func create(_ input: NewAsset, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> CreatedAsset {
        let declaration = AssetDeclaration(
            contentType: input.contentType, byteSize: input.byteSize, sha256: input.sha256.lowercased(), originalFilename: input.originalFilename,
            capture: input.capture)
        let problems = declaration.problems(maximumBytes: settings.maxUploadBytes)
        guard problems.isEmpty else { throw Problem(.validationFailed, "the asset declaration is not valid", errors: problems) }
        let now = ServerClock.now()
        // The upload instructions are part of the unit of work's output, so a retry with the same
        // Idempotency-Key answers them too, not the bare asset.
        return try await runner.run(access.scope) { transaction in
            let orgUnit = try await placement(input, access: access, in: transaction)
            var declared = declaration
            declared.contentType = MediaType.normalized(declaration.contentType) ?? declaration.contentType
            let asset = MediaAsset(
                id: .generate(at: now), tenantId: access.user.tenantId, orgUnitId: orgUnit, ownerUserId: access.user.userId, status: .created,
                declaration: declared, storageKey: nil, storageTier: .hot, receivedBytes: 0, failureReason: nil, createdAt: now, verifiedAt: nil)
            try await transaction.insertAsset(asset)
            var payload = Self.facts(asset)
            payload["capture"] = try JSONValue(encoding: asset.capture)
            try await transaction.appendLedgerEvent(Self.event("asset.created", asset, actor: access.actor, payload: payload))
            let expiresAt = now.addingTimeInterval(settings.uploadURLLifetime.seconds)
            return CreatedAsset(
                asset: asset,
                upload: UploadInstructions(
                    url: store.directUploadURL(asset.id, expiresAt: expiresAt) ?? urls.url(.upload, asset, by: access.user.userId, expiresAt: expiresAt),
                    expiresAt: expiresAt,
                    headers: ["Content-Type": asset.contentType]),
                resumable: ResumableInstructions(
                    endpoint: "\(urls.publicURL)/v1/tus", uploadMetadata: "assetId \(Data(asset.id.rawValue.utf8).base64EncodedString())"))
        }
    }

    /// Streams an upload into the store. The signed address is the credential; the bytes are refused the
    /// moment they pass the declared size (or the store's limit), and the asset then ends `failed`.
    func receive(_ id: AssetID, request: Request) async throws -> Received {
        let grant = try urls.verify(.upload, id, request: request, now: ServerClock.now())
        let scope = Scope.tenantWide(grant.tenantId)
        let asset = try await database.transaction(scope) { transaction in
            var asset = try await transaction.fetchAsset(id, lockingForChange: true).orThrow(Self.notFound(id))
            guard asset.status.acceptsBytes else {
                throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue); its bytes can no longer be sent")
            }
            asset.status = .uploading
            try await transaction.updateAsset(asset)
            try await transaction.appendLedgerEvent(Self.event("asset.uploading", asset, actor: grant.actor, payload: [:]))
            return asset
        }
        do {
            let stored = try await store.stage(request.body, upload: id, limit: min(asset.byteSize, settings.maxUploadBytes))
            return try await database.transaction(scope) { transaction in
                var uploaded = try await transaction.fetchAsset(id, lockingForChange: true).orThrow(Self.notFound(id))
                uploaded.status = .uploaded
                uploaded.receivedBytes = stored.count
                try await transaction.updateAsset(uploaded)
                try await transaction.appendLedgerEvent(
                    Self.event("asset.uploaded", uploaded, actor: grant.actor, payload: ["receivedBytes": .number(Double(stored.count))]))
                return Received(assetId: id, status: .uploaded, receivedBytes: stored.count)
            }
        } catch EvidenceStoreError.tooLarge(let limit) {
            try await fail(id, reason: "the upload passed the declared size of \(limit) bytes and was stopped", scope: scope, actor: grant.actor)
            throw Problem(.payloadTooLarge, "asset \(id) was declared as \(asset.byteSize) bytes; the upload sent more and was refused")
        }
    }

    /// Checks what the store holds against the declaration: a match is `verified` (and moved to its
    /// content address), anything else `failed` with the reason. Completing a verified asset again is a no-op.
    func complete(_ id: AssetID, user: UserPrincipal, runner: some UnitOfWorkRunner) async throws -> MediaAsset {
        let now = ServerClock.now()
        let scope = (try? user.scope(for: .evidenceManage)) ?? user.ownScope
        return try await runner.run(scope) { transaction in
            var asset = try await transaction.fetchAsset(id, lockingForChange: true).orThrow(Self.notFound(id))
            guard asset.ownerUserId == user.userId || (try? user.scope(for: .evidenceManage)) != nil else { throw Self.notFound(id) }
            if asset.status == .verified { return asset }
            guard asset.status == .uploaded || asset.status == .created else {
                throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue) and cannot be completed")
            }
            guard let stored = try await store.inspectStaged(id) else {
                throw Problem(.conflict, "nothing has been uploaded for asset \(id) yet; PUT its bytes to the upload address first")
            }
            if let mismatch = asset.mismatch(storedBytes: stored.count, storedSHA256: stored.sha256) {
                await store.discardStaged(id)
                asset.status = .failed
                asset.failureReason = mismatch
                try await transaction.updateAsset(asset)
                try await transaction.appendLedgerEvent(
                    Self.event("asset.failed", asset, actor: user.ledgerActor, payload: ["reason": .string(mismatch)]))
                return asset
            }
            asset.storageKey = try await store.promote(id, sha256: asset.sha256, tier: .hot)
            asset.status = .verified
            asset.verifiedAt = now
            asset.receivedBytes = stored.count
            try await transaction.updateAsset(asset)
            var payload = Self.facts(asset)
            payload["storageKey"] = .string(asset.storageKey ?? "")
            try await transaction.appendLedgerEvent(Self.event("asset.verified", asset, actor: user.ledgerActor, payload: payload))
            return asset
        }
    }

    // MARK: Reading

    /// The asset for whoever may see it (its owner; holders of `evidence.manage`, `submissions.review` or
    /// `reporting.read` where it belongs; readers of the work it is attached to), recorded as `asset.viewed`.
    func read(_ id: AssetID, user: UserPrincipal) async throws -> AssetView {
        let now = ServerClock.now()
        let scope = [Capability.evidenceManage, .submissionsReview, .reportingRead].lazy.compactMap { try? user.scope(for: $0) }.first
            ?? user.ownScope
        return try await database.transaction(scope) { transaction in
            let asset = try await transaction.fetchAsset(id).orThrow(Self.notFound(id))
            try await transaction.appendLedgerEvent(Self.event("asset.viewed", asset, actor: user.ledgerActor, payload: [:]))
            let expiresAt = now.addingTimeInterval(settings.downloadURLLifetime.seconds)
            var download: AssetView.Download?
            if asset.status == .verified, let key = asset.storageKey {
                let url = store.directDownloadURL(key: key, tier: asset.storageTier, expiresAt: expiresAt)
                    ?? urls.url(.download, asset, by: user.userId, expiresAt: expiresAt)
                download = .init(url: url, expiresAt: expiresAt)
            }
            return AssetView(
                asset: asset, decision: try await transaction.latestEvidenceDecision(of: id), custody: try await transaction.custody(of: id),
                download: download)
        }
    }

    /// The bytes, through a signed download address, with their SHA-256 in `Repr-Digest` (RFC 9530) so the
    /// receiver can check them; recorded as `asset.downloaded` for the person the address was issued to.
    func download(_ id: AssetID, request: Request) async throws -> Response {
        let grant = try urls.verify(.download, id, request: request, now: ServerClock.now())
        let asset = try await database.transaction(.tenantWide(grant.tenantId)) { transaction in
            let asset = try await transaction.fetchAsset(id).orThrow(Self.notFound(id))
            guard asset.status == .verified else { throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue)") }
            try await transaction.appendLedgerEvent(Self.event("asset.downloaded", asset, actor: grant.actor, payload: [:]))
            return asset
        }
        guard let key = asset.storageKey, let body = try await store.read(key: key, tier: asset.storageTier) else {
            throw Problem(.notFound, "the bytes of asset \(id) are not in the store")
        }
        var headers = HTTPFields()
        headers[.contentType] = asset.contentType
        headers[HTTPField.Name("Repr-Digest")!] = "sha-256=:\(Data([UInt8](hex: asset.sha256) ?? []).base64EncodedString()):"
        headers[.cacheControl] = "private, no-store"
        return Response(status: .ok, headers: headers, body: body)
    }

    // MARK: Custody and decisions

    /// Attaches verified evidence to a recorded item of the caller's active session: the chain of custody.
    /// Refused for unverified assets, for another org unit's or tenant's assets, and once the work is submitted.
    func attach(
        _ sessionId: AttemptID, item itemId: ItemID, _ input: AttachInput, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> Attached {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let (session, frozen) = try await transaction.fetchSessionWithContentForChange(sessionId)
                .orThrow(DeliveryService.notFound(sessionId))
            guard session.operatorId == access.user.userId else { throw Problem(.forbidden, "session \(sessionId) is someone else's attempt") }
            guard session.status == .active else {
                throw Problem(.conflict, "session \(sessionId) is submitted; a completed submission receives no new evidence")
            }
            let content = frozen.content
            guard let item = content.form.sections.flatMap(\.items).first(where: { $0.id == itemId }) else {
                throw Problem(.notFound, "the form of session \(sessionId) has no item \(itemId)")
            }
            let asset = try await transaction.fetchAsset(input.assetId, lockingForChange: true).orThrow(Self.notFound(input.assetId))
            guard asset.orgUnitId == session.orgUnitId else {
                throw Problem(.forbidden, "asset \(asset.id) belongs to another org unit than this work; evidence does not cross org boundaries")
            }
            guard asset.status == .verified else {
                throw Problem(.conflict, "asset \(asset.id) is \(asset.status.rawValue); only verified evidence can be attached")
            }
            let attached = try await transaction.listAttachments(session: sessionId, item: itemId)
            let problems = EvidenceRules.attachProblems(asset, to: item, attached: attached)
            guard problems.isEmpty else {
                throw Problem(.validationFailed, "this evidence cannot be attached here", errors: problems.map { .init(pointer: "/assetId", detail: $0) })
            }
            let recorded = try await transaction.listResponses(session: sessionId).first { $0.itemId == itemId }
            guard let current = recorded ?? (item.kind == .evidenceRequest ? Self.emptyResponse(item, at: now) : nil) else {
                throw Problem(.conflict, "record the answer of item \(itemId) before attaching its evidence")
            }
            let attachment = Attachment(
                assetId: asset.id, sessionId: sessionId, itemId: itemId, role: input.role ?? .primary, attachedBy: access.user.userId,
                attachedAt: now, contentType: asset.contentType, byteSize: asset.byteSize, sha256: asset.sha256)
            if recorded == nil { try await transaction.saveResponse(current, in: session, by: access.user.userId) }
            try await transaction.insertAttachment(attachment, tenant: session.tenantId, orgUnit: session.orgUnitId)
            var response = current
            response.missing = CaptureRules.missing(current.answer, comment: current.comment, attachedEvidence: attached.count + 1, for: item)
            response.complete = response.missing.isEmpty
            try await transaction.saveResponse(response, in: session, by: access.user.userId)
            var payload = Self.facts(asset)
            payload.merge([
                "sessionId": .string(sessionId.rawValue), "itemId": .string(itemId.rawValue), "role": .string(attachment.role.rawValue),
            ]) { $1 }
            try await transaction.appendLedgerEvent(Self.event("evidence.attached", asset, actor: access.actor, payload: payload))
            return Attached(attachment: attachment, response: response)
        }
    }

    /// A reviewer's decision about a piece of evidence, appended (seed 001 §4.2 decision ledger).
    func decide(_ id: AssetID, _ input: DecisionInput, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> AssetView {
        if let note = input.note, note.count > 20_000 {
            throw Problem(.validationFailed, "the note is too long", errors: [.init(pointer: "/note", detail: "at most 20000 characters")])
        }
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let asset = try await transaction.fetchAsset(id, lockingForChange: true).orThrow(Self.notFound(id))
            guard asset.status == .verified else { throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue); only verified evidence is decided") }
            try await transaction.insertEvidenceDecision(input.decision, of: asset, note: input.note, by: access.user.userId, at: now)
            try await transaction.appendLedgerEvent(
                Self.event(
                    "evidence.decided", asset, actor: access.actor,
                    payload: ["decision": .string(input.decision.rawValue), "note": input.note.map(JSONValue.string) ?? .null]))
            return AssetView(asset: asset, decision: input.decision, custody: try await transaction.custody(of: id), download: nil)
        }
    }

    static func notFound(_ id: AssetID) -> Problem { Problem(.notFound, "no asset \(id) in your reach") }

    // MARK: Private

    /// Where a new asset belongs: with the work it is for (its operator's own session), else the org unit
    /// named or the only one the caller's `evidence.manage` reaches.
    private func placement(_ input: NewAsset, access: CapabilityAccess, in transaction: Transaction) async throws -> OrgUnitID {
        guard let sessionId = input.sessionId else { return try await access.orgUnit(input.orgUnitId, pointer: "/orgUnitId", in: transaction) }
        guard let session = try await transaction.fetchSession(sessionId), session.operatorId == access.user.userId else {
            throw Problem(.validationFailed, "no session of yours \(sessionId)", errors: [.init(pointer: "/sessionId", detail: "unknown")])
        }
        return session.orgUnitId
    }

    private func fail(_ id: AssetID, reason: String, scope: Scope, actor: LedgerActor) async throws {
        try await database.transaction(scope) { transaction in
            guard var asset = try await transaction.fetchAsset(id, lockingForChange: true), asset.status.allows(.failed) else { return }
            asset.status = .failed
            asset.failureReason = reason
            try await transaction.updateAsset(asset)
            try await transaction.appendLedgerEvent(Self.event("asset.failed", asset, actor: actor, payload: ["reason": .string(reason)]))
        }
    }

    private static func emptyResponse(_ item: OperatorForm.Item, at now: Date) -> RecordedResponse {
        RecordedResponse(
            itemId: item.id!, questionId: item.questionId, answer: Answer(), comment: nil, complete: false, missing: [], clientTimestamp: nil,
            context: nil, recordedAt: now)
    }

    private static func facts(_ asset: MediaAsset) -> [String: JSONValue] {
        [
            "assetId": .string(asset.id.rawValue), "contentType": .string(asset.contentType), "byteSize": .number(Double(asset.byteSize)),
            "sha256": .string(asset.sha256),
        ]
    }

    static func event(_ type: LedgerEventType, _ asset: MediaAsset, actor: LedgerActor, payload: [String: JSONValue]) -> LedgerEventDraft {
        var payload = payload
        payload["assetId"] = .string(asset.id.rawValue)
        return LedgerEventDraft(
            eventType: type, aggregateType: "asset", aggregateId: asset.id.rawValue, orgUnitId: asset.orgUnitId, actor: actor,
            payload: .object(payload))
    }
}
