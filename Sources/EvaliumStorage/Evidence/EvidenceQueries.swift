import EvaliumCore
import Foundation
import PostgresNIO

extension Transaction {
    public func insertAsset(_ asset: MediaAsset) async throws {
        try await run(
            """
            INSERT INTO media_assets (id, tenant_id, org_unit_id, owner_user_id, status, content_type, byte_size, sha256, original_filename,
                                      capture, storage_key, storage_tier, received_bytes, created_at, verified_at)
            VALUES (\(asset.id.rawValue), \(asset.tenantId.rawValue), \(asset.orgUnitId.rawValue), \(asset.ownerUserId.rawValue),
                    \(asset.status.rawValue), \(asset.contentType), \(asset.byteSize), \(asset.sha256), \(asset.originalFilename),
                    \(try storedJSON(asset.capture))::jsonb, \(asset.storageKey), \(asset.storageTier.rawValue), \(asset.receivedBytes),
                    \(MillisecondTimestamp(asset.createdAt)), \(asset.verifiedAt.map(MillisecondTimestamp.init)))
            """)
    }

    /// The asset, its row held until the transaction ends when `lockingForChange`, so two uploads or
    /// verifications of one asset are decided one after the other.
    public func fetchAsset(_ id: AssetID, lockingForChange: Bool = false) async throws -> MediaAsset? {
        let condition: PostgresQuery = "WHERE id = \(id.rawValue)"
        return try await assets(condition.wrapped("SELECT \(Self.assetColumns) FROM media_assets", lockingForChange ? "FOR UPDATE" : "")).first
    }

    /// Moves an asset along its lifecycle, with what the move learned (bytes received, where they are, why it failed).
    public func updateAsset(_ asset: MediaAsset) async throws {
        try await run(
            """
            UPDATE media_assets SET status = \(asset.status.rawValue), storage_key = \(asset.storageKey), storage_tier = \(asset.storageTier.rawValue),
                   received_bytes = \(asset.receivedBytes), failure_reason = \(asset.failureReason),
                   verified_at = \(asset.verifiedAt.map(MillisecondTimestamp.init))
            WHERE id = \(asset.id.rawValue)
            """)
    }

    /// Tenants with verified evidence still in the hot tier that was verified before `cutoff`.
    public func evidenceTenantsDueForCold(before cutoff: Date) async throws -> [TenantID] {
        let rows = try await run("SELECT id FROM evidence_tenants_due_for_cold(\(MillisecondTimestamp(cutoff))) AS t(id)")
        var tenants: [TenantID] = []
        for try await id in rows.decode(String.self) { tenants.append(TenantID(unchecked: id)) }
        return tenants
    }

    /// Up to `limit` of the scope's hot assets verified before `cutoff`, oldest first and after `after` (the
    /// last one a previous batch looked at), held for this transaction; rows another worker holds are
    /// skipped, so two servers never move one file at once.
    public func lockAssetsDueForCold(before cutoff: Date, after: MediaAsset?, limit: Int) async throws -> [MediaAsset] {
        let condition: PostgresQuery = """
            WHERE status = 'verified' AND storage_tier = 'hot' AND verified_at < \(MillisecondTimestamp(cutoff))
              AND (\(after?.id.rawValue)::text IS NULL
                   OR (verified_at, id) > (\(after?.verifiedAt.map(MillisecondTimestamp.init)), \(after?.id.rawValue)))
            ORDER BY verified_at, id LIMIT \(limit)
            """
        return try await assets(condition.wrapped("SELECT \(Self.assetColumns) FROM media_assets", "FOR UPDATE SKIP LOCKED"))
    }

    public func recordTier(of asset: AssetID, _ tier: StorageTier, at date: Date) async throws {
        try await run(
            "UPDATE media_assets SET storage_tier = \(tier.rawValue), tiered_at = \(MillisecondTimestamp(date)) WHERE id = \(asset.rawValue)")
    }

    public func insertAttachment(_ attachment: Attachment, tenant: TenantID, orgUnit: OrgUnitID) async throws {
        try await run(
            """
            INSERT INTO submission_item_assets (tenant_id, org_unit_id, session_id, item_id, asset_id, role, attached_by, attached_at)
            VALUES (\(tenant.rawValue), \(orgUnit.rawValue), \(attachment.sessionId.rawValue), \(attachment.itemId.rawValue),
                    \(attachment.assetId.rawValue), \(attachment.role.rawValue), \(attachment.attachedBy.rawValue),
                    \(MillisecondTimestamp(attachment.attachedAt)))
            """)
    }

    /// The evidence attached to a session's items (or one item), oldest first, with each asset's hash.
    public func listAttachments(session: AttemptID, item: ItemID? = nil) async throws -> [Attachment] {
        try await attachments(
            "WHERE l.session_id = \(session.rawValue) AND (\(item?.rawValue)::text IS NULL OR l.item_id = \(item?.rawValue))")
    }

    /// How many assets are attached to each of `sessions` (a session with none is left out).
    public func attachmentCounts(sessions: [AttemptID]) async throws -> [AttemptID: Int] {
        let rows = try await run(
            """
            SELECT l.session_id, count(*)::int FROM submission_item_assets l JOIN media_assets a ON a.id = l.asset_id
            WHERE l.session_id = ANY(\(sessions.map(\.rawValue))::text[]) GROUP BY l.session_id
            """)
        var counts: [AttemptID: Int] = [:]
        for try await (session, count) in rows.decode((String, Int).self) { counts[AttemptID(unchecked: session)] = count }
        return counts
    }

    /// Every item an asset is attached to: its chain of custody.
    public func custody(of asset: AssetID) async throws -> [Attachment] {
        try await attachments("WHERE l.asset_id = \(asset.rawValue)")
    }

    public func insertEvidenceDecision(
        _ decision: EvidenceDecision, of asset: MediaAsset, note: String?, by person: UserID, at date: Date
    ) async throws {
        try await run(
            """
            INSERT INTO evidence_decisions (tenant_id, org_unit_id, asset_id, decision, note, decided_by, decided_at)
            VALUES (\(asset.tenantId.rawValue), \(asset.orgUnitId.rawValue), \(asset.id.rawValue), \(decision.rawValue), \(note),
                    \(person.rawValue), \(MillisecondTimestamp(date)))
            """)
    }

    /// The latest decision about an asset, pending when nobody has decided yet.
    public func latestEvidenceDecision(of asset: AssetID) async throws -> EvidenceDecision {
        let rows = try await run("SELECT decision FROM evidence_decisions WHERE asset_id = \(asset.rawValue) ORDER BY id DESC LIMIT 1")
        for try await decision in rows.decode(String.self) { return try storedEnum(EvidenceDecision.self, decision) }
        return .pending
    }

    static let assetColumns = """
        id, tenant_id, org_unit_id, owner_user_id, status, content_type, byte_size, sha256, original_filename, capture::text,
        storage_key, storage_tier, received_bytes, failure_reason, created_at, verified_at
        """

    private func attachments(_ condition: PostgresQuery) async throws -> [Attachment] {
        let rows = try await run(
            condition.wrapped(
                """
                SELECT l.asset_id, l.session_id, l.item_id, l.role, l.attached_by, l.attached_at, a.content_type, a.byte_size, a.sha256
                FROM submission_item_assets l JOIN media_assets a ON a.id = l.asset_id
                """, "ORDER BY l.attached_at, l.asset_id"))
        var attachments: [Attachment] = []
        for try await (asset, session, item, role, attachedBy, attachedAt, contentType, byteSize, sha256) in rows.decode(
            (String, String, String, String, String, Date, String, Int64, String).self)
        {
            attachments.append(
                Attachment(
                    assetId: AssetID(unchecked: asset), sessionId: AttemptID(unchecked: session), itemId: ItemID(unchecked: item),
                    role: try storedEnum(AttachmentRole.self, role), attachedBy: UserID(unchecked: attachedBy),
                    attachedAt: attachedAt.roundedToMilliseconds(), contentType: contentType, byteSize: byteSize, sha256: sha256))
        }
        return attachments
    }

    private func assets(_ query: PostgresQuery) async throws -> [MediaAsset] {
        var assets: [MediaAsset] = []
        for try await row in try await run(query) {
            let cells = Array(row)
            func text(_ index: Int) throws -> String { try cells[index].decode(String.self) }
            func optional(_ index: Int) throws -> String? { try cells[index].decode(String?.self) }
            let declaration = AssetDeclaration(
                contentType: try text(5), byteSize: try cells[6].decode(Int64.self), sha256: try text(7), originalFilename: try optional(8),
                capture: try storedValue(CaptureContext.self, try text(9)))
            assets.append(
                MediaAsset(
                    id: AssetID(unchecked: try text(0)), tenantId: TenantID(unchecked: try text(1)), orgUnitId: OrgUnitID(unchecked: try text(2)),
                    ownerUserId: UserID(unchecked: try text(3)), status: try storedEnum(AssetStatus.self, try text(4)), declaration: declaration,
                    storageKey: try optional(10), storageTier: try storedEnum(StorageTier.self, try text(11)),
                    receivedBytes: try cells[12].decode(Int64.self), failureReason: try optional(13),
                    createdAt: try cells[14].decode(Date.self).roundedToMilliseconds(),
                    verifiedAt: try cells[15].decode(Date?.self)?.roundedToMilliseconds()))
        }
        return assets
    }
}
