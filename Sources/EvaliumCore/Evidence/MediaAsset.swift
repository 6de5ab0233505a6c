import Foundation

/// The lifecycle of a media asset (seed 002 §2.1), one state machine: declared (`created`), bytes arriving
/// (`uploading`), all bytes stored (`uploaded`), checked against the declaration (`verified` or `failed`),
/// and `deleted` when its bytes are erased. Only a verified asset counts as evidence.
public enum AssetStatus: String, Codable, Sendable, CaseIterable {
    case created, uploading, uploaded, verified, failed, deleted

    /// Whether the lifecycle may move from `self` to `next`.
    public func allows(_ next: AssetStatus) -> Bool {
        switch (self, next) {
        case (.created, .uploading), (.created, .uploaded), (.created, .failed), (.created, .deleted): true
        case (.uploading, .uploading), (.uploading, .uploaded), (.uploading, .failed), (.uploading, .deleted): true
        case (.uploaded, .verified), (.uploaded, .failed): true
        case (.verified, .deleted), (.failed, .deleted): true
        default: false
        }
    }

    /// Bytes may still be sent.
    public var acceptsBytes: Bool { self == .created || self == .uploading }
}

public enum StorageTier: String, Codable, Sendable {
    case hot, cold
}

/// Where and how the client captured the file: informational, recorded as the client says it.
public struct CaptureContext: Codable, Hashable, Sendable {
    public var capturedAt: Date?
    public var deviceId: String?
    public var gps: Coordinates?

    public struct Coordinates: Codable, Hashable, Sendable {
        public var latitude: Double
        public var longitude: Double
        public var accuracyMeters: Double?

        public init(latitude: Double, longitude: Double, accuracyMeters: Double? = nil) {
            self.latitude = latitude
            self.longitude = longitude
            self.accuracyMeters = accuracyMeters
        }
    }

    public init(capturedAt: Date? = nil, deviceId: String? = nil, gps: Coordinates? = nil) {
        self.capturedAt = capturedAt
        self.deviceId = deviceId
        self.gps = gps
    }
}

/// What a client declares when it creates an asset; the bytes must match it to be verified.
public struct AssetDeclaration: Codable, Hashable, Sendable {
    public var contentType: String
    public var byteSize: Int64
    public var sha256: String
    public var originalFilename: String?
    public var capture: CaptureContext?

    public init(contentType: String, byteSize: Int64, sha256: String, originalFilename: String? = nil, capture: CaptureContext? = nil) {
        self.contentType = contentType
        self.byteSize = byteSize
        self.sha256 = sha256
        self.originalFilename = originalFilename
        self.capture = capture
    }

    /// Every reason the declaration is refused, with its pointer; `maximumBytes` is the store's upload limit.
    public func problems(maximumBytes: Int64) -> [Problem.FieldError] {
        var problems: [Problem.FieldError] = []
        if MediaType.normalized(contentType) == nil {
            problems.append(.init(pointer: "/contentType", detail: "must be a media type such as image/jpeg"))
        }
        if byteSize < 1 || byteSize > maximumBytes {
            problems.append(.init(pointer: "/byteSize", detail: "must be from 1 to \(maximumBytes) bytes"))
        }
        if sha256.range(of: "^[0-9a-f]{64}$", options: .regularExpression) == nil {
            problems.append(.init(pointer: "/sha256", detail: "must be the SHA-256 of the file as 64 lower-case hex digits"))
        }
        if let name = originalFilename, name.isEmpty || name.count > 255 || name.contains("/") || name.contains("\0") {
            problems.append(.init(pointer: "/originalFilename", detail: "must be a file name of 1–255 characters without `/`"))
        }
        if let device = capture?.deviceId, device.isEmpty || device.count > 200 {
            problems.append(.init(pointer: "/capture/deviceId", detail: "must be 1–200 characters"))
        }
        if let gps = capture?.gps, !(-90...90).contains(gps.latitude) || !(-180...180).contains(gps.longitude) {
            problems.append(.init(pointer: "/capture/gps", detail: "latitude −90…90 and longitude −180…180"))
        }
        return problems
    }
}

/// A media asset as recorded: the declaration, who owns it, where its bytes are, and its lifecycle.
public struct MediaAsset: Codable, Hashable, Sendable {
    public var id: AssetID
    public var tenantId: TenantID
    public var orgUnitId: OrgUnitID
    public var ownerUserId: UserID
    public var status: AssetStatus
    public var contentType: String
    public var byteSize: Int64
    public var sha256: String
    public var originalFilename: String?
    public var capture: CaptureContext
    public var storageKey: String?
    public var storageTier: StorageTier
    public var receivedBytes: Int64
    public var failureReason: String?
    public var createdAt: Date
    public var verifiedAt: Date?

    public init(
        id: AssetID, tenantId: TenantID, orgUnitId: OrgUnitID, ownerUserId: UserID, status: AssetStatus, declaration: AssetDeclaration,
        storageKey: String?, storageTier: StorageTier, receivedBytes: Int64, failureReason: String?, createdAt: Date, verifiedAt: Date?
    ) {
        self.id = id
        self.tenantId = tenantId
        self.orgUnitId = orgUnitId
        self.ownerUserId = ownerUserId
        self.status = status
        contentType = declaration.contentType
        byteSize = declaration.byteSize
        sha256 = declaration.sha256
        originalFilename = declaration.originalFilename
        capture = declaration.capture ?? CaptureContext()
        self.storageKey = storageKey
        self.storageTier = storageTier
        self.receivedBytes = receivedBytes
        self.failureReason = failureReason
        self.createdAt = createdAt
        self.verifiedAt = verifiedAt
    }

    /// Why the stored bytes do not match the declaration, or nil when they do.
    public func mismatch(storedBytes: Int64, storedSHA256: String) -> String? {
        if storedBytes != byteSize { return "size mismatch: declared \(byteSize) bytes, received \(storedBytes)" }
        if storedSHA256 != sha256 { return "hash mismatch: declared SHA-256 \(sha256), received \(storedSHA256)" }
        return nil
    }
}

/// Media types as authoring writes them (`image/jpeg`, `image/*`) and as clients declare them.
public enum MediaType {
    /// The lower-cased `type/subtype` without parameters, or nil when it is not one.
    public static func normalized(_ raw: String) -> String? {
        let bare = raw.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let token = "[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
        return bare.range(of: "^\(token)/\(token)$", options: .regularExpression) == nil ? nil : bare
    }

    /// Whether `type` is one of `allowed`, where `image/*` allows every image and `*/*` anything.
    public static func matches(_ type: String, allowed: [String]) -> Bool {
        guard let type = normalized(type) else { return false }
        let major = type.split(separator: "/").first.map(String.init) ?? ""
        return allowed.contains { pattern in
            let pattern = pattern.lowercased()
            return pattern == type || pattern == "*/*" || pattern == "\(major)/*"
        }
    }
}

/// How an attached file relates to the item: the evidence itself, material supporting it, or a file
/// derived from another (a crop, a transcode).
public enum AttachmentRole: String, Codable, Sendable, CaseIterable {
    case primary, supporting, derivative
}

/// A decision about a piece of evidence (seed 001 §4.2): appended, the latest counts.
public enum EvidenceDecision: String, Codable, Sendable, CaseIterable {
    case pending, approved, rejected, void
}

/// An asset in the chain of custody of one recorded item.
public struct Attachment: Codable, Hashable, Sendable {
    public var assetId: AssetID
    public var sessionId: AttemptID
    public var itemId: ItemID
    public var role: AttachmentRole
    public var attachedBy: UserID
    public var attachedAt: Date
    public var contentType: String
    public var byteSize: Int64
    public var sha256: String

    public init(
        assetId: AssetID, sessionId: AttemptID, itemId: ItemID, role: AttachmentRole, attachedBy: UserID, attachedAt: Date, contentType: String,
        byteSize: Int64, sha256: String
    ) {
        self.assetId = assetId
        self.sessionId = sessionId
        self.itemId = itemId
        self.role = role
        self.attachedBy = attachedBy
        self.attachedAt = attachedAt
        self.contentType = contentType
        self.byteSize = byteSize
        self.sha256 = sha256
    }
}

/// What attaching evidence to an item must satisfy (seed 002 §2.3, §4): verified bytes of an allowed
/// type and size, within the item's file limit.
public enum EvidenceRules {
    public static func attachProblems(_ asset: MediaAsset, to item: OperatorForm.Item, attached: [Attachment]) -> [String] {
        var problems: [String] = []
        if asset.status != .verified { problems.append("asset \(asset.id) is \(asset.status.rawValue); only verified evidence can be attached") }
        if attached.contains(where: { $0.assetId == asset.id }) { problems.append("asset \(asset.id) is already attached to this item") }
        guard let rules = item.evidence else {
            if item.kind != .rubric { problems.append("this \(item.kind.rawValue) item takes no evidence") }
            return problems
        }
        if !rules.allowedMediaTypes.isEmpty, !MediaType.matches(asset.contentType, allowed: rules.allowedMediaTypes) {
            problems.append("\(asset.contentType) is not allowed here (\(rules.allowedMediaTypes.joined(separator: ", ")))")
        }
        if let limit = rules.maxFileBytes, asset.byteSize > Int64(limit) { problems.append("the file is larger than \(limit) bytes") }
        if let limit = rules.maxFiles, attached.count >= limit { problems.append("at most \(limit) file\(limit == 1 ? "" : "s") may be attached") }
        return problems
    }
}
