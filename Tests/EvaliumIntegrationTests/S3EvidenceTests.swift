import AsyncHTTPClient
@testable import EvaliumApp
import EvaliumCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Testing

/// The S3-compatible store against a real S3 protocol server (moto, started by `scripts/test` with two
/// buckets made by boto3): clients put and get bytes through the bucket's own presigned URLs.
@Suite(
    "Evidence in an S3-compatible store: presigned upload and download, verification, tiering between buckets",
    .timeLimit(.minutes(2)), .enabled(if: ProcessInfo.processInfo.environment["EVALIUM_TEST_S3_URL"] != nil))
struct S3EvidenceTests {
    static func configure(_ configuration: inout AppConfiguration) {
        let endpoint = URL(string: ProcessInfo.processInfo.environment["EVALIUM_TEST_S3_URL"] ?? "http://127.0.0.1:1")!
        configuration.evidence.s3 = S3Settings(
            endpoint: endpoint, region: "us-east-1", accessKeyId: "test", secretAccessKey: "test", bucket: "evidence-hot",
            coldBucket: "evidence-cold")
    }

    static func put(_ url: String, _ bytes: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    static func get(_ url: String) async throws -> [UInt8] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(15))
        #expect(response.status == .ok)
        return Array(buffer: try await response.body.collect(upTo: 1 << 24))
    }

    @Test("a presigned PUT straight to the bucket, verified by the server, downloaded through the bucket's presigned URL")
    func presignedRoundTrip() async throws {
        try await TestEnvironment.withServer(configure: Self.configure) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let bytes = Array("a photo for the bucket \(ULID().text)".utf8)
            let declared = try await client.send(
                .post, "/v1/assets", json: #"{"contentType":"image/jpeg","byteSize":\#(bytes.count),"sha256":"\#(EvidenceTests.sha256(bytes))"}"#,
                as: tenant.admin).json()
            let asset = try #require(declared["asset"]?["id"]?.stringValue)
            let uploadURL = try #require(declared["upload"]?["url"]?.stringValue)
            #expect(uploadURL.hasPrefix(ProcessInfo.processInfo.environment["EVALIUM_TEST_S3_URL"]!) && uploadURL.contains("X-Amz-Signature="))
            #expect(try await Self.put(uploadURL, bytes) == 200)

            let completed = try await client.send(.post, "/v1/assets/\(asset)/complete", as: tenant.admin).json()
            #expect(completed["status"] == "verified", "\(completed)")
            let view = try await client.send(.get, "/v1/assets/\(asset)", as: tenant.admin).json()
            let downloadURL = try #require(view["download"]?["url"]?.stringValue)
            #expect(downloadURL.contains("/evidence-hot/sha256/"))
            #expect(EvidenceTests.sha256(try await Self.get(downloadURL)) == EvidenceTests.sha256(bytes))

            let worker = EvidenceTiering(
                database: server.database, store: { var c = TestEnvironment.configuration(); Self.configure(&c); return c.evidence.store }(),
                coldAfter: .seconds(0), interval: .seconds(60), logger: TestEnvironment.logger)
            #expect(try await worker.moveDue(of: tenant.tenantId, at: ServerClock.now().addingTimeInterval(1)) == 1)
            let moved = try await client.send(.get, "/v1/assets/\(asset)", as: tenant.admin).json()
            #expect(moved["asset"]?["storageTier"] == "cold")
            let coldURL = try #require(moved["download"]?["url"]?.stringValue)
            #expect(coldURL.contains("/evidence-cold/"))
            #expect(EvidenceTests.sha256(try await Self.get(coldURL)) == EvidenceTests.sha256(bytes))
        }
    }

    @Test("bytes in the bucket that do not match the declaration end failed")
    func mismatchInTheBucket() async throws {
        try await TestEnvironment.withServer(configure: Self.configure) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let declared = try await client.send(
                .post, "/v1/assets", json: #"{"contentType":"image/png","byteSize":5,"sha256":"\#(EvidenceTests.sha256(Array("hello".utf8)))"}"#,
                as: tenant.admin).json()
            let asset = try #require(declared["asset"]?["id"]?.stringValue)
            #expect(try await Self.put(try #require(declared["upload"]?["url"]?.stringValue), Array("HELLO".utf8)) == 200)
            let completed = try await client.send(.post, "/v1/assets/\(asset)/complete", as: tenant.admin).json()
            #expect(completed["status"] == "failed" && completed["failureReason"]?.stringValue?.contains("hash mismatch") == true)
        }
    }
}
