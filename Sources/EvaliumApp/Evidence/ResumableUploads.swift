import Crypto
import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import _NIOFileSystem

/// Resumable uploads, TUS 1.0 (core, creation, termination and checksum), for large video and field
/// networks that drop. An upload resource is a declared asset: creation names it in `Upload-Metadata`
/// (`assetId`) and must give its declared length. Bytes are appended to a partial file on this server's
/// disk, so the offset is the file's size; once the last byte arrives the file goes to the evidence store
/// and the asset is `uploaded`, to be verified by `complete` like any other upload.
struct ResumableUploads: Sendable {
    let database: Database
    let store: any EvidenceStore
    let settings: EvidenceSettings
    let appending = AppendLocks()

    static let version = "1.0.0"
    static let extensions = "creation,termination,checksum"
    static let checksumAlgorithms = "sha1,sha256"

    struct Progress: Sendable {
        var offset: Int64
        var length: Int64
    }

    /// Creation: the upload resource of a declared asset the caller may upload.
    func create(length: Int64?, metadata: String?, user: UserPrincipal) async throws -> AssetID {
        guard let id = Self.metadata(metadata)["assetId"].flatMap({ AssetID($0) }) else {
            throw Problem(.malformedRequest, "name the declared asset in Upload-Metadata: `assetId <base64 of ast_…>` (POST /v1/assets declares it)")
        }
        let asset = try await ownAsset(id, user: user)
        guard let length, length == asset.byteSize else {
            throw Problem(.malformedRequest, "Upload-Length must be the declared size of asset \(id), \(asset.byteSize) bytes")
        }
        guard asset.status.acceptsBytes else { throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue); it takes no more bytes") }
        return id
    }

    func progress(_ id: AssetID, user: UserPrincipal) async throws -> Progress {
        let asset = try await ownAsset(id, user: user)
        let offset = asset.status.acceptsBytes ? try await partialSize(id) : asset.receivedBytes
        return Progress(offset: offset, length: asset.byteSize)
    }

    /// Appends one chunk at `offset`, the current size of the partial file, checking it against
    /// `Upload-Checksum` when given; a chunk that fails is cut off again, so the offset never moves past
    /// bytes that were refused. The last chunk hands the file to the store.
    func append<Body: AsyncSequence & Sendable>(
        _ id: AssetID, offset: Int64, checksum: String?, body: Body, user: UserPrincipal
    ) async throws -> Progress where Body.Element == ByteBuffer {
        let expected = try checksum.map(Self.parseChecksum)
        guard appending.claim(id) else { throw Problem(.conflict, "another chunk of asset \(id) is being appended; retry after it") }
        defer { appending.release(id) }
        var asset = try await ownAsset(id, user: user)
        guard asset.status.acceptsBytes else { throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue); it takes no more bytes") }
        let current = try await partialSize(id)
        guard offset == current else { throw Problem(.conflict, "Upload-Offset is \(offset) but the upload is at \(current); ask with HEAD") }
        if asset.status == .created { asset = try await transition(asset, to: .uploading, event: "asset.uploading", payload: [:], user: user) }

        let path = FilePath(partialFile(id).path)
        try await FileSystem.shared.createDirectory(at: FilePath(partialFile(id).deletingLastPathComponent().path), withIntermediateDirectories: true)
        let room = asset.byteSize - current
        var written: Int64 = 0
        var sha1 = Insecure.SHA1()
        var sha256 = SHA256()
        let outcome: (any Error)? = try await FileSystem.shared.withFileHandle(
            forWritingAt: path, options: .modifyFile(createIfNecessary: true)
        ) { handle in
            do {
                try await handle.withBufferedWriter(startingAtAbsoluteOffset: current) { writer in
                    for try await buffer in body {
                        written += Int64(buffer.readableBytes)
                        if written > room { throw Problem(.payloadTooLarge, "asset \(id) is \(asset.byteSize) bytes; this chunk goes past its end") }
                        buffer.withUnsafeReadableBytes { bytes in
                            sha1.update(bufferPointer: bytes)
                            sha256.update(bufferPointer: bytes)
                        }
                        _ = try await writer.write(contentsOf: buffer)
                    }
                }
                if let expected {
                    let actual = expected.algorithm == "sha1" ? Array(sha1.finalize()) : Array(sha256.finalize())
                    if actual != expected.digest { throw Problem(.checksumMismatch, "the chunk's \(expected.algorithm) does not match Upload-Checksum") }
                }
                return nil
            } catch {
                try await handle.resize(to: .bytes(current))
                return error
            }
        }
        if let outcome { throw outcome }
        let offsetNow = current + written
        if offsetNow == asset.byteSize { try await finish(asset, user: user) }
        return Progress(offset: offsetNow, length: asset.byteSize)
    }

    /// Termination: the partial bytes are deleted and the asset ends `failed`, recorded with the reason.
    func terminate(_ id: AssetID, user: UserPrincipal) async throws {
        let asset = try await ownAsset(id, user: user)
        guard asset.status.acceptsBytes else { throw Problem(.conflict, "asset \(id) is \(asset.status.rawValue); there is no upload to end") }
        _ = try? await FileSystem.shared.removeItem(at: FilePath(partialFile(id).path))
        var failed = asset
        failed.failureReason = "the resumable upload was terminated by the client"
        _ = try await transition(failed, to: .failed, event: "asset.failed", payload: ["reason": .string(failed.failureReason!)], user: user)
    }

    // MARK: Private

    private func finish(_ asset: MediaAsset, user: UserPrincipal) async throws {
        let file = FilePath(partialFile(asset.id).path)
        let stored = try await FileSystem.shared.withFileHandle(forReadingAt: file) { handle in
            try await store.stage(handle.readChunks(chunkLength: .kibibytes(256)), upload: asset.id, limit: asset.byteSize)
        }
        _ = try? await FileSystem.shared.removeItem(at: file)
        var uploaded = asset
        uploaded.receivedBytes = stored.count
        _ = try await transition(
            uploaded, to: .uploaded, event: "asset.uploaded", payload: ["receivedBytes": .number(Double(stored.count)), "resumable": true], user: user)
    }

    private func transition(
        _ asset: MediaAsset, to status: AssetStatus, event: LedgerEventType, payload: [String: JSONValue], user: UserPrincipal
    ) async throws -> MediaAsset {
        try await database.transaction(scope(user)) { transaction in
            var current = try await transaction.fetchAsset(asset.id, lockingForChange: true).orThrow(EvidenceService.notFound(asset.id))
            guard current.status.allows(status) else {
                throw Problem(.conflict, "asset \(asset.id) is \(current.status.rawValue) and cannot become \(status.rawValue)")
            }
            current.status = status
            current.receivedBytes = asset.receivedBytes
            current.failureReason = asset.failureReason
            try await transaction.updateAsset(current)
            try await transaction.appendLedgerEvent(EvidenceService.event(event, current, actor: user.ledgerActor, payload: payload))
            return current
        }
    }

    /// The asset, when the caller owns it or holds `evidence.manage` where it belongs; 404 otherwise.
    private func ownAsset(_ id: AssetID, user: UserPrincipal) async throws -> MediaAsset {
        let asset = try await database.transaction(scope(user)) { try await $0.fetchAsset(id) }
        guard let asset, asset.ownerUserId == user.userId || (try? user.scope(for: .evidenceManage)) != nil else {
            throw EvidenceService.notFound(id)
        }
        return asset
    }

    private func scope(_ user: UserPrincipal) -> Scope { (try? user.scope(for: .evidenceManage)) ?? user.ownScope }

    private func partialFile(_ id: AssetID) -> URL { settings.hotFolder.appendingPathComponent("partial").appendingPathComponent(id.rawValue) }

    private func partialSize(_ id: AssetID) async throws -> Int64 {
        try await FileSystem.shared.info(forFileAt: FilePath(partialFile(id).path)).map { Int64($0.size) } ?? 0
    }

    /// `Upload-Metadata`: comma-separated `key base64value` pairs (a key alone has an empty value).
    static func metadata(_ header: String?) -> [String: String] {
        var pairs: [String: String] = [:]
        for entry in (header ?? "").split(separator: ",") {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            guard let key = parts.first else { continue }
            pairs[String(key)] = parts.count > 1 ? Data(base64Encoded: String(parts[1])).flatMap { String(data: $0, encoding: .utf8) } : ""
        }
        return pairs
    }

    /// `Upload-Checksum: <algorithm> <base64 digest>`, for the algorithms this server computes.
    static func parseChecksum(_ header: String) throws -> (algorithm: String, digest: [UInt8]) {
        let parts = header.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, let digest = Data(base64Encoded: parts[1]) else {
            throw Problem(.malformedRequest, "Upload-Checksum is `<algorithm> <base64 digest>`")
        }
        guard ["sha1", "sha256"].contains(parts[0]) else {
            throw Problem(.malformedRequest, "checksum algorithm \(parts[0]) is not supported; use one of \(checksumAlgorithms)")
        }
        return (parts[0], Array(digest))
    }
}

/// Which uploads have a chunk being appended in this process: a second chunk at the same time is refused
/// rather than interleaved into the same file.
final class AppendLocks: Sendable {
    private let claimed = Mutex<Set<AssetID>>([])

    func claim(_ id: AssetID) -> Bool { claimed.withLock { $0.insert(id).inserted } }
    func release(_ id: AssetID) { _ = claimed.withLock { $0.remove(id) } }
}
