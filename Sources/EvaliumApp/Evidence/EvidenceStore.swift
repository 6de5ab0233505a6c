import Crypto
import EvaliumCore
import Foundation
import Hummingbird
import NIOCore
import _NIOFileSystem

/// Where evidence bytes live (seed 001 §14.3): the database keeps metadata and references, the store keeps
/// bytes. An upload is staged first and promoted to its content address (`sha256/ab/cd/<hash>`) only once
/// its bytes are known to match their declaration, so nothing unverified is ever at a content address.
protocol EvidenceStore: Sendable {
    /// Streams `bytes` into the staging place of `upload`, counting and hashing them on the way, and
    /// refuses (`EvidenceStoreError.tooLarge`) the moment they pass `limit`, before writing more.
    func stage<Bytes: AsyncSequence & Sendable>(_ bytes: Bytes, upload: AssetID, limit: Int64) async throws -> StoredBytes
    where Bytes.Element == ByteBuffer

    /// Size and SHA-256 of the bytes staged for `upload`, read back from the store; nil when none are.
    func inspectStaged(_ upload: AssetID) async throws -> StoredBytes?

    /// Moves the staged bytes of `upload` to the content address of `sha256` in `tier`; returns its key.
    func promote(_ upload: AssetID, sha256: String, tier: StorageTier) async throws -> String

    func discardStaged(_ upload: AssetID) async

    /// The bytes at `key`, in chunks, from `tier` or else the other tier (a file being moved between tiers
    /// is in one of them at every moment); nil when neither holds it.
    func read(key: String, tier: StorageTier) async throws -> ResponseBody?

    /// Copies the bytes at `key` into `destination` (from the other tier, unless `destination` holds them
    /// already) and answers what `destination` now holds, read back from it.
    func copy(key: String, to destination: StorageTier) async throws -> StoredBytes?

    func remove(key: String, from tier: StorageTier) async

    /// Where a client can put the bytes of `upload` itself, signed by the store, when the store offers that.
    func directUploadURL(_ upload: AssetID, expiresAt: Date) -> String?

    /// Where a client can fetch the bytes at `key` itself, signed by the store, when the store offers that.
    func directDownloadURL(key: String, tier: StorageTier, expiresAt: Date) -> String?
}

extension StorageTier {
    var other: StorageTier { self == .hot ? .cold : .hot }
}

struct StoredBytes: Sendable, Equatable {
    var count: Int64
    var sha256: String
}

enum EvidenceStoreError: Error, Equatable {
    case tooLarge(limit: Int64)
    case unavailable(String)
}

/// The zero-setup store: two local folders, hot and cold. Writes go to a staging file and are renamed
/// into place, so a reader never sees a half-written file at a content address.
struct FolderEvidenceStore: EvidenceStore {
    let hot: URL
    let cold: URL
    let chunk = 128 * 1024

    func stage<Bytes: AsyncSequence & Sendable>(_ bytes: Bytes, upload: AssetID, limit: Int64) async throws -> StoredBytes
    where Bytes.Element == ByteBuffer {
        let file = stagingFile(upload)
        try await FileSystem.shared.createDirectory(at: FilePath(file.deletingLastPathComponent().path), withIntermediateDirectories: true)
        var hasher = SHA256()
        var count: Int64 = 0
        do {
            try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(file.path), options: .newFile(replaceExisting: true)) { handle in
                try await handle.withBufferedWriter { writer in
                    for try await buffer in bytes {
                        count += Int64(buffer.readableBytes)
                        if count > limit { throw EvidenceStoreError.tooLarge(limit: limit) }
                        buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        try await writer.write(contentsOf: buffer)
                    }
                }
            }
        } catch {
            await discardStaged(upload)
            throw error
        }
        return StoredBytes(count: count, sha256: Array(hasher.finalize()).hexString)
    }

    func inspectStaged(_ upload: AssetID) async throws -> StoredBytes? {
        try await hash(FilePath(stagingFile(upload).path))
    }

    func promote(_ upload: AssetID, sha256: String, tier: StorageTier) async throws -> String {
        let key = Self.contentKey(sha256)
        let destination = folder(tier).appendingPathComponent(key)
        try await FileSystem.shared.createDirectory(
            at: FilePath(destination.deletingLastPathComponent().path), withIntermediateDirectories: true)
        // rename(2) replaces any copy already there atomically: content addressing means it holds the same
        // bytes, so two uploads of one file promoted at once both succeed and a reader never sees a gap.
        guard rename(stagingFile(upload).path, destination.path) == 0 else {
            throw EvidenceStoreError.unavailable("could not move the upload of \(upload) into place (errno \(errno))")
        }
        return key
    }

    func discardStaged(_ upload: AssetID) async {
        _ = try? await FileSystem.shared.removeItem(at: FilePath(stagingFile(upload).path))
    }

    func read(key: String, tier: StorageTier) async throws -> ResponseBody? {
        for path in [tier, tier.other].map({ FilePath(folder($0).appendingPathComponent(key).path) }) {
            guard let info = try await FileSystem.shared.info(forFileAt: path) else { continue }
            let chunk = chunk
            return ResponseBody(contentLength: Int(info.size)) { writer in
                try await FileSystem.shared.withFileHandle(forReadingAt: path) { handle in
                    for try await buffer in handle.readChunks(chunkLength: .bytes(Int64(chunk))) { try await writer.write(buffer) }
                }
                try await writer.finish(nil)
            }
        }
        return nil
    }

    func copy(key: String, to destination: StorageTier) async throws -> StoredBytes? {
        let target = folder(destination).appendingPathComponent(key)
        if try await FileSystem.shared.info(forFileAt: FilePath(target.path)) == nil {
            let source = FilePath(folder(destination.other).appendingPathComponent(key).path)
            guard try await FileSystem.shared.info(forFileAt: source) != nil else { return nil }
            try await FileSystem.shared.createDirectory(
                at: FilePath(target.deletingLastPathComponent().path), withIntermediateDirectories: true)
            // Copied beside the target and renamed into place, so the cold tier never holds half a file.
            let partial = FilePath(target.path + ".partial")
            _ = try? await FileSystem.shared.removeItem(at: partial)
            try await FileSystem.shared.copyItem(at: source, to: partial)
            guard rename(partial.string, target.path) == 0 else {
                throw EvidenceStoreError.unavailable("could not move \(key) into the \(destination.rawValue) tier (errno \(errno))")
            }
        }
        return try await hash(FilePath(target.path))
    }

    func remove(key: String, from tier: StorageTier) async {
        _ = try? await FileSystem.shared.removeItem(at: FilePath(folder(tier).appendingPathComponent(key).path))
    }

    /// Bytes reach the folder store only through this server's own signed addresses.
    func directUploadURL(_ upload: AssetID, expiresAt: Date) -> String? { nil }

    func directDownloadURL(key: String, tier: StorageTier, expiresAt: Date) -> String? { nil }

    /// `sha256/ab/cd/abcd…`: two levels of fan-out keep folders small.
    static func contentKey(_ sha256: String) -> String {
        "sha256/\(sha256.prefix(2))/\(sha256.dropFirst(2).prefix(2))/\(sha256)"
    }

    /// The file `upload` is staged in, for a store that needs the bytes on local disk before sending them on.
    func stagedFile(_ upload: AssetID) -> URL { stagingFile(upload) }

    private func folder(_ tier: StorageTier) -> URL { tier == .hot ? hot : cold }

    private func stagingFile(_ upload: AssetID) -> URL { hot.appendingPathComponent("staging").appendingPathComponent(upload.rawValue) }

    private func hash(_ path: FilePath) async throws -> StoredBytes? {
        guard try await FileSystem.shared.info(forFileAt: path) != nil else { return nil }
        var hasher = SHA256()
        var count: Int64 = 0
        try await FileSystem.shared.withFileHandle(forReadingAt: path) { handle in
            for try await buffer in handle.readChunks(chunkLength: .bytes(Int64(chunk))) {
                count += Int64(buffer.readableBytes)
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            }
        }
        return StoredBytes(count: count, sha256: Array(hasher.finalize()).hexString)
    }
}
