@testable import EvaliumApp
import Crypto
import EvaliumCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// TUS 1.0 with the real `tuspy` client (installed by `scripts/test`, which names its Python in
/// `EVALIUM_TEST_PYTHON`), and the protocol's refusals over plain HTTP.
@Suite(
    "Resumable uploads (TUS 1.0): interrupted and resumed with tuspy, checksums, offsets, termination", .timeLimit(.minutes(2)),
    .enabled(if: ProcessInfo.processInfo.environment["EVALIUM_TEST_PYTHON"] != nil))
struct ResumableUploadTests {
    static let tus: HTTPFields = [HTTPField.Name("Tus-Resumable")!: "1.0.0"]

    /// Runs scripts/lib/tus_upload.py; answers the upload URL and offset it printed. A client still
    /// running after a minute is killed.
    static func tuspy(_ arguments: [String]) async throws -> (url: String, offset: Int) {
        let argv = [ProcessInfo.processInfo.environment["EVALIUM_TEST_PYTHON"]!, "scripts/lib/tus_upload.py"] + arguments
        let (status, printed) = try await ChildProcess.run(argv, timeout: .seconds(60))
        #expect(status == 0, "\(printed)")
        let lines = printed.split(separator: "\n").map(String.init)
        return (lines.dropLast().last ?? "", Int(lines.last ?? "") ?? -1)
    }

    static func bearer(_ person: SignedIn) -> String { person.accessToken }

    @Test("tuspy uploads part of a file, stops, resumes from the server's offset to the end, and the asset verifies")
    func interruptedAndResumed() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("tus-\(ULID().text).mp4")
            try Data(bytes).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let declared = try await EvidenceTests.declare(client, bytes, type: "video/mp4", as: tenant.admin)
            let endpoint = "http://127.0.0.1:\(try #require(client.port))/v1/tus"
            let common = ["--endpoint", endpoint, "--token", Self.bearer(tenant.admin), "--file", file.path, "--chunk-size", "65536"]

            let first = try await Self.tuspy(common + ["--asset", declared.assetId, "--chunks", "2"])
            #expect(first.offset == 131_072 && first.url.hasSuffix("/v1/tus/\(declared.assetId)"), "\(first)")
            let head = try await client.send(.head, "/v1/tus/\(declared.assetId)", as: tenant.admin, headers: Self.tus)
            #expect(head.headers[HTTPField.Name("Upload-Offset")!] == "131072" && head.headers[HTTPField.Name("Upload-Length")!] == "300000")
            #expect(try await client.send(.get, "/v1/assets/\(declared.assetId)", as: tenant.admin).json()["asset"]?["status"] == "uploading")

            let resumed = try await Self.tuspy(common + ["--url", first.url])
            #expect(resumed.offset == bytes.count)
            let completed = try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: tenant.admin).json()
            #expect(completed["status"] == "verified", "\(completed)")
            let events = try await EvidenceTests.events(client, declared.assetId, as: tenant.admin)
            #expect(events == ["asset.created", "asset.uploading", "asset.viewed", "asset.uploaded", "asset.verified"])
        }
    }

    @Test("done when: a finding's photo arrives by resumable upload, the history shows it with hash and custody, an auditor checks the download")
    func findingEvidenceEndToEnd() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let inspector = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.assigner.id, nil)])
            let auditor = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Authoring.rubricCheck], as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: template, as: inspector)
            let check = try #require(started.items.first)
            let finding = try await Delivery.answer(
                client, started.sessionId, check, #"{"answer":{"optionIds":["fail"]},"comment":"Gauge in the red"}"#, as: inspector)
            #expect(try finding.json()["complete"] == false)

            let photo = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 17) }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("finding-\(ULID().text).jpg")
            try Data(photo).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let declared = try await EvidenceTests.declare(client, photo, session: started.sessionId, as: inspector)
            let endpoint = "http://127.0.0.1:\(try #require(client.port))/v1/tus"
            let uploaded = try await Self.tuspy([
                "--endpoint", endpoint, "--token", inspector.accessToken, "--file", file.path, "--asset", declared.assetId,
                "--chunk-size", "200000", "--chunks", "1",
            ])
            #expect(uploaded.offset == photo.count)
            #expect(try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: inspector).json()["status"] == "verified")
            let attached = try await client.send(
                .post, "/v1/sessions/\(started.sessionId)/items/\(check)/attach-asset", json: #"{"assetId":"\#(declared.assetId)"}"#, as: inspector)
            #expect(try attached.json()["response"]?["complete"] == true, "\(attached.text)")
            let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: inspector).json()
            let submission = try #require(submitted["id"]?.stringValue)

            let history = try await client.send(.get, "/v1/submissions/\(submission)/history", as: auditor).json()
            let custody = try #require(history["evidence"]?[0])
            #expect(custody["attachment"]?["sha256"]?.stringValue == EvidenceTests.sha256(photo))
            #expect(custody["attachment"]?["attachedBy"]?.stringValue == inspector.userId.rawValue && custody["decision"] == "pending")
            let view = try await client.send(.get, "/v1/assets/\(declared.assetId)", as: auditor).json()
            let download = try await client.send(
                .get, EvidenceTests.path(of: try #require(view["download"]?["url"]?.stringValue)), authenticated: false)
            #expect(EvidenceTests.sha256(Array(buffer: download.body)) == EvidenceTests.sha256(photo), "the auditor's copy matches the ledger")
            let ledgered = try await EvidenceTests.events(client, declared.assetId, as: tenant.admin)
            #expect(ledgered.contains("asset.verified") && ledgered.contains("evidence.attached") && ledgered.contains("asset.downloaded"))
        }
    }

    @Test("the protocol's refusals: version, media type, offset, checksum, length, and termination")
    func refusals() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let bytes = Array("twelve bytes".utf8)
            let declared = try await EvidenceTests.declare(client, bytes, as: tenant.admin)
            let path = "/v1/tus/\(declared.assetId)"
            let options = try await client.send(.options, "/v1/tus", authenticated: false)
            #expect(options.status == .noContent && options.headers[HTTPField.Name("Tus-Extension")!] == "creation,termination,checksum")

            let metadata = "assetId \(Data(declared.assetId.utf8).base64EncodedString())"
            var create = Self.tus
            create[HTTPField.Name("Upload-Metadata")!] = metadata
            create[HTTPField.Name("Upload-Length")!] = "99"
            #expect(try await client.send(.post, "/v1/tus", as: tenant.admin, headers: create).status == .badRequest, "the declared length only")
            create[HTTPField.Name("Upload-Length")!] = "\(bytes.count)"
            let created = try await client.send(.post, "/v1/tus", as: tenant.admin, headers: create)
            #expect(created.status == .created && created.headers[.location] == path)
            var oldVersion = create
            oldVersion[HTTPField.Name("Tus-Resumable")!] = "0.2.2"
            #expect(try await client.send(.post, "/v1/tus", as: tenant.admin, headers: oldVersion).status.code == 412)

            func patch(_ chunk: [UInt8], offset: Int, checksum: String? = nil, type: String = "application/offset+octet-stream") async throws -> TestResponse {
                var headers = tenant.admin.bearer
                headers[HTTPField.Name("Tus-Resumable")!] = "1.0.0"
                headers[HTTPField.Name("Upload-Offset")!] = "\(offset)"
                headers[.contentType] = type
                if let checksum { headers[HTTPField.Name("Upload-Checksum")!] = checksum }
                return try await client.executeRequest(uri: path, method: .patch, headers: headers, body: ByteBuffer(bytes: chunk))
            }
            #expect(try await patch(Array(bytes[0..<4]), offset: 0, type: "application/json").status == .unsupportedMediaType)
            let wrongSum = "sha1 \(Data(Insecure.SHA1.hash(data: Array("other".utf8))).base64EncodedString())"
            #expect(try await patch(Array(bytes[0..<4]), offset: 0, checksum: wrongSum).status.code == 460)
            let rightSum = "sha1 \(Data(Insecure.SHA1.hash(data: Array(bytes[0..<4]))).base64EncodedString())"
            let first = try await patch(Array(bytes[0..<4]), offset: 0, checksum: rightSum)
            #expect(first.status == .noContent && first.headers[HTTPField.Name("Upload-Offset")!] == "4", "a refused chunk moved nothing")
            #expect(try await patch(Array(bytes[4...]), offset: 2).status == .conflict, "the offset must be where the upload stands")
            #expect(try await patch(Array(bytes[4...]) + [0, 0], offset: 4).status == .contentTooLarge)
            let head = try await client.send(.head, path, as: tenant.admin, headers: Self.tus)
            #expect(head.headers[HTTPField.Name("Upload-Offset")!] == "4")

            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await client.send(.head, path, as: other.admin, headers: Self.tus).status == .notFound)
            #expect(try await client.send(.delete, path, as: tenant.admin, headers: Self.tus).status == .noContent)
            let asset = try await client.send(.get, "/v1/assets/\(declared.assetId)", as: tenant.admin).json()
            #expect(asset["asset"]?["status"] == "failed" && asset["asset"]?["failureReason"]?.stringValue?.contains("terminated") == true)
            #expect(try await patch(Array(bytes[4...]), offset: 4).status == .conflict)
        }
    }
}
