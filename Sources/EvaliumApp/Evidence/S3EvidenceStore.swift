import AsyncHTTPClient
import Crypto
import EvaliumCore
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import _NIOFileSystem

/// An S3-compatible evidence store (path-style addressing, AWS Signature V4 written by `S3Presigner`): the
/// scale-out option. Clients put bytes straight into `staging/<asset>` of the hot bucket through a presigned
/// URL; verification reads them back, copies them to their content address and removes the staged object.
/// Bytes this server receives itself (resumable uploads) are staged on local disk first, because S3 needs
/// an object's length before its body.
struct S3EvidenceStore: EvidenceStore {
    let http: HTTPClient
    let hot: S3Presigner
    let cold: S3Presigner
    let local: FolderEvidenceStore

    static let emptyPayload = Array(SHA256.hash(data: [UInt8]())).hexString

    func stage<Bytes: AsyncSequence & Sendable>(_ bytes: Bytes, upload: AssetID, limit: Int64) async throws -> StoredBytes
    where Bytes.Element == ByteBuffer {
        let stored = try await local.stage(bytes, upload: upload, limit: limit)
        do {
            var request = HTTPClientRequest(url: hot.objectURL(key: Self.stagingKey(upload)).absoluteString)
            request.method = .PUT
            request.headers = headers(hot, "PUT", key: Self.stagingKey(upload), payload: "UNSIGNED-PAYLOAD")
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(local.stagedFile(upload).path)) { handle in
                request.body = .stream(handle.readChunks(chunkLength: .kibibytes(256)), length: .known(stored.count))
                try await expectSuccess(try await http.execute(request, timeout: .minutes(30)), "storing \(upload)")
            }
        } catch {
            await local.discardStaged(upload)
            throw error
        }
        await local.discardStaged(upload)
        return stored
    }

    func inspectStaged(_ upload: AssetID) async throws -> StoredBytes? {
        try await hash(hot, key: Self.stagingKey(upload))
    }

    func promote(_ upload: AssetID, sha256: String, tier: StorageTier) async throws -> String {
        let key = FolderEvidenceStore.contentKey(sha256)
        try await copyObject(from: hot, key: Self.stagingKey(upload), to: signer(tier), key: key)
        await discardStaged(upload)
        return key
    }

    func discardStaged(_ upload: AssetID) async {
        await delete(hot, key: Self.stagingKey(upload))
    }

    /// The bytes, fetched from the bucket and passed on in chunks, from `tier` or else the other one.
    func read(key: String, tier: StorageTier) async throws -> ResponseBody? {
        for signer in [signer(tier), signer(tier.other)] {
            let response = try await get(signer, key: key)
            guard response.status == .ok else {
                _ = try? await response.body.collect(upTo: 1 << 20)
                continue
            }
            let length = response.headers.first(name: "content-length").flatMap(Int.init)
            return ResponseBody(contentLength: length) { writer in
                for try await buffer in response.body { try await writer.write(buffer) }
                try await writer.finish(nil)
            }
        }
        return nil
    }

    func copy(key: String, to destination: StorageTier) async throws -> StoredBytes? {
        if try await hash(signer(destination), key: key) == nil {
            guard try await hash(signer(destination.other), key: key) != nil else { return nil }
            try await copyObject(from: signer(destination.other), key: key, to: signer(destination), key: key)
        }
        return try await hash(signer(destination), key: key)
    }

    func remove(key: String, from tier: StorageTier) async {
        await delete(signer(tier), key: key)
    }

    func directUploadURL(_ upload: AssetID, expiresAt: Date) -> String? {
        let now = ServerClock.now()
        return hot.presign(method: "PUT", key: Self.stagingKey(upload), expiresIn: Self.seconds(until: expiresAt, from: now), at: now)
            .absoluteString
    }

    func directDownloadURL(key: String, tier: StorageTier, expiresAt: Date) -> String? {
        let now = ServerClock.now()
        return signer(tier).presign(method: "GET", key: key, expiresIn: Self.seconds(until: expiresAt, from: now), at: now).absoluteString
    }

    static func stagingKey(_ upload: AssetID) -> String { "staging/\(upload)" }

    // MARK: Private

    private func signer(_ tier: StorageTier) -> S3Presigner { tier == .hot ? hot : cold }

    private static func seconds(until date: Date, from now: Date) -> Int {
        min(max(Int(date.timeIntervalSince(now).rounded(.up)), S3Presigner.expiryRange.lowerBound), S3Presigner.expiryRange.upperBound)
    }

    private func headers(_ signer: S3Presigner, _ method: String, key: String, payload: String, extra: [String: String] = [:]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in extra { headers.add(name: name, value: value) }
        for (name, value) in signer.authorizationHeaders(method: method, key: key, payloadSHA256Hex: payload, at: ServerClock.now(), extraHeaders: extra) {
            headers.replaceOrAdd(name: name, value: value)
        }
        return headers
    }

    private func get(_ signer: S3Presigner, key: String) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: signer.objectURL(key: key).absoluteString)
        request.headers = headers(signer, "GET", key: key, payload: Self.emptyPayload)
        return try await http.execute(request, timeout: .minutes(30))
    }

    /// Size and SHA-256 of the object, streamed through the hash; nil when there is none.
    private func hash(_ signer: S3Presigner, key: String) async throws -> StoredBytes? {
        let response = try await get(signer, key: key)
        if response.status == .notFound {
            _ = try? await response.body.collect(upTo: 1 << 20)
            return nil
        }
        guard response.status == .ok else { try await expectSuccess(response, "reading \(key)"); return nil }
        var hasher = SHA256()
        var count: Int64 = 0
        for try await buffer in response.body {
            count += Int64(buffer.readableBytes)
            buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return StoredBytes(count: count, sha256: Array(hasher.finalize()).hexString)
    }

    private func copyObject(from source: S3Presigner, key sourceKey: String, to destination: S3Presigner, key: String) async throws {
        var request = HTTPClientRequest(url: destination.objectURL(key: key).absoluteString)
        request.method = .PUT
        let copySource = source.objectURL(key: sourceKey).path
        request.headers = headers(destination, "PUT", key: key, payload: Self.emptyPayload, extra: ["x-amz-copy-source": copySource])
        try await expectSuccess(try await http.execute(request, timeout: .minutes(30)), "copying \(sourceKey) to \(key)")
    }

    private func delete(_ signer: S3Presigner, key: String) async {
        var request = HTTPClientRequest(url: signer.objectURL(key: key).absoluteString)
        request.method = .DELETE
        request.headers = headers(signer, "DELETE", key: key, payload: Self.emptyPayload)
        if let response = try? await http.execute(request, timeout: .seconds(60)) { _ = try? await response.body.collect(upTo: 1 << 20) }
    }

    /// Refuses a response outside 2xx with the store's own words; either way its body is consumed.
    private func expectSuccess(_ response: HTTPClientResponse, _ what: String) async throws {
        guard (200..<300).contains(response.status.code) else {
            let detail = String(buffer: try await response.body.collect(upTo: 64 * 1024))
            throw EvidenceStoreError.unavailable("the S3 store refused \(what): \(response.status.code) \(detail.prefix(300))")
        }
        _ = try await response.body.collect(upTo: 1 << 20)
    }
}
