@testable import EvaliumApp
import Crypto
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Evidence: declared, uploaded through a signed address, verified against its hash, attached in custody", .timeLimit(.minutes(2)))
struct EvidenceTests {
    static let photo = Array("JPEG bytes of a pressure gauge in the red".utf8)

    static func sha256(_ bytes: [UInt8]) -> String { Array(SHA256.hash(data: bytes)).hexString }

    struct Declared {
        var assetId: String
        var uploadPath: String
    }

    /// Declares `bytes` (or another declaration) and returns the asset id and the path of its signed upload address.
    static func declare(
        _ client: some TestClientProtocol, _ bytes: [UInt8], type: String = "image/jpeg", sha256: String? = nil, size: Int? = nil,
        session: String? = nil, as person: SignedIn
    ) async throws -> Declared {
        let sessionField = session.map { #","sessionId":"\#($0)""# } ?? ""
        let body = """
            {"contentType":"\(type)","byteSize":\(size ?? bytes.count),"sha256":"\(sha256 ?? Self.sha256(bytes))","originalFilename":"gauge.jpg",
             "capture":{"capturedAt":"2026-11-22T09:00:00.000Z","deviceId":"tablet-7"}\(sessionField)}
            """
        let response = try await client.send(.post, "/v1/assets", json: body, as: person)
        #expect(response.status == .created, "\(response.text)")
        let json = try response.json()
        let url = try #require(json["upload"]?["url"]?.stringValue)
        return Declared(assetId: try #require(json["asset"]?["id"]?.stringValue), uploadPath: Self.path(of: url))
    }

    static func path(of url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?\($0)" } ?? "")
    }

    static func upload(_ client: some TestClientProtocol, _ path: String, _ bytes: [UInt8]) async throws -> TestResponse {
        try await client.executeRequest(
            uri: path, method: .put, headers: [.contentType: "application/octet-stream"], body: ByteBuffer(bytes: bytes))
    }

    /// A verified asset of `bytes`.
    static func verified(_ client: some TestClientProtocol, _ bytes: [UInt8], type: String = "image/jpeg", session: String? = nil, as person: SignedIn)
        async throws -> String
    {
        let declared = try await declare(client, bytes, type: type, session: session, as: person)
        #expect(try await upload(client, declared.uploadPath, bytes).status == .ok)
        let completed = try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: person)
        #expect(try completed.json()["status"] == "verified", "\(completed.text)")
        return declared.assetId
    }

    static func events(_ client: some TestClientProtocol, _ asset: String, as reader: SignedIn) async throws -> [String] {
        try await Delivery.events(client, about: asset, as: reader).compactMap { $0["eventType"]?.stringValue }
    }

    @Test("declare, upload, verify, read and download: the bytes come back with their SHA-256, every step in the ledger")
    func lifecycle() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let declared = try await Self.declare(client, Self.photo, as: tenant.admin)
            let early = try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: tenant.admin)
            #expect(early.status == .conflict, "nothing uploaded yet")
            let uploaded = try await Self.upload(client, declared.uploadPath, Self.photo)
            #expect(uploaded.status == .ok, "\(uploaded.text)")
            #expect(try uploaded.json()["receivedBytes"] == .number(Double(Self.photo.count)))
            let completed = try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: tenant.admin).json()
            #expect(completed["status"] == "verified" && completed["storageKey"]?.stringValue?.hasSuffix(Self.sha256(Self.photo)) == true, "\(completed)")
            #expect(try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: tenant.admin).json()["status"] == "verified")

            let view = try await client.send(.get, "/v1/assets/\(declared.assetId)", as: tenant.admin).json()
            #expect(view["asset"]?["capture"]?["deviceId"] == "tablet-7" && view["decision"] == "pending")
            let download = try await client.send(.get, Self.path(of: try #require(view["download"]?["url"]?.stringValue)), authenticated: false)
            #expect(download.status == .ok && Array(buffer: download.body) == Self.photo)
            let digest = Data(Array(SHA256.hash(data: Self.photo))).base64EncodedString()
            #expect(download.headers[HTTPField.Name("Repr-Digest")!] == "sha-256=:\(digest):")
            // The tiering test, running alongside, may move any verified file to the cold tier meanwhile.
            #expect(try await Self.events(client, declared.assetId, as: tenant.admin).filter { $0 != "asset.tiered" } == [
                "asset.created", "asset.uploading", "asset.uploaded", "asset.verified", "asset.viewed", "asset.downloaded",
            ])
        }
    }

    @Test("bytes that do not match the declaration end failed with the reason; more bytes than declared are refused while streaming")
    func mismatches() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let forged = try await Self.declare(client, Self.photo, sha256: Self.sha256(Array("another file".utf8)), as: tenant.admin)
            #expect(try await Self.upload(client, forged.uploadPath, Self.photo).status == .ok)
            let failed = try await client.send(.post, "/v1/assets/\(forged.assetId)/complete", as: tenant.admin).json()
            #expect(failed["status"] == "failed" && failed["failureReason"]?.stringValue?.contains("hash mismatch") == true)
            #expect(try await Self.upload(client, forged.uploadPath, Self.photo).status == .conflict, "a failed asset takes no more bytes")

            let short = try await Self.declare(client, Self.photo, size: Self.photo.count + 10, as: tenant.admin)
            _ = try await Self.upload(client, short.uploadPath, Self.photo)
            let shortFailed = try await client.send(.post, "/v1/assets/\(short.assetId)/complete", as: tenant.admin).json()
            #expect(shortFailed["failureReason"]?.stringValue?.contains("size mismatch") == true)

            let small = try await Self.declare(client, Array(Self.photo.prefix(8)), as: tenant.admin)
            let oversized = try await Self.upload(client, small.uploadPath, [UInt8](repeating: 7, count: 300_000))
            #expect(oversized.status == .contentTooLarge, "\(oversized.text)")
            let asset = try await client.send(.get, "/v1/assets/\(small.assetId)", as: tenant.admin).json()
            #expect(asset["asset"]?["status"] == "failed" && asset["download"] == nil)
            #expect(try await Self.events(client, small.assetId, as: tenant.admin).contains("asset.failed"))
        }
    }

    @Test("a signed address opens one asset for one action until it expires; altered or expired, it is refused")
    func signedAddresses() async throws {
        try await TestEnvironment.withServer(configure: { $0.evidence.uploadURLLifetime = .seconds(1) }) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let declared = try await Self.declare(client, Self.photo, as: tenant.admin)
            let other = try await Self.declare(client, Self.photo, as: tenant.admin)
            let tampered = declared.uploadPath.replacingOccurrences(of: declared.assetId, with: other.assetId)
            #expect(try await Self.upload(client, tampered, Self.photo).status == .forbidden, "a signature names its asset")
            let resigned = String(declared.uploadPath.dropLast(4)) + "0000"
            #expect(try await Self.upload(client, resigned, Self.photo).status == .forbidden)
            let unsigned = "/v1/uploads/\(declared.assetId)"
            #expect(try await Self.upload(client, unsigned, Self.photo).status == .forbidden)
            let asDownload = declared.uploadPath.replacingOccurrences(of: "/v1/uploads/", with: "/v1/downloads/")
            #expect(try await client.send(.get, asDownload, authenticated: false).status == .forbidden, "an upload address is not a download address")
            try await Task.sleep(for: .milliseconds(2100))
            let expired = try await Self.upload(client, declared.uploadPath, Self.photo)
            #expect(expired.status == .forbidden && expired.text.contains("expired"))
        }
    }

    @Test("attaching needs verified evidence of an allowed type in the work's org unit, counts toward the item's requirements, and stops at submit")
    func attach() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(
                client, kind: .observation, questions: [Authoring.rubricCheck, Authoring.evidenceRequest], as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: template, as: tenant.admin)
            let (check, tag) = (started.items[0], started.items[1])
            let failing = try await Delivery.answer(
                client, started.sessionId, check, #"{"answer":{"optionIds":["fail"]},"comment":"Needle in the red"}"#, as: tenant.admin)
            #expect(try failing.json()["complete"] == false && failing.text.contains("requires evidence"))

            let pending = try await Self.declare(client, Self.photo, session: started.sessionId, as: tenant.admin)
            let attachPath = "/v1/sessions/\(started.sessionId)/items/\(check)/attach-asset"
            #expect(try await client.send(.post, attachPath, json: #"{"assetId":"\#(pending.assetId)"}"#, as: tenant.admin).status == .conflict)
            let pdf = try await Self.verified(client, Array("%PDF-1.7".utf8), type: "application/pdf", session: started.sessionId, as: tenant.admin)
            let wrongType = try await client.send(.post, attachPath, json: #"{"assetId":"\#(pdf)"}"#, as: tenant.admin)
            #expect(wrongType.status == .unprocessableContent && wrongType.text.contains("not allowed"))

            let photo = try await Self.verified(client, Self.photo, session: started.sessionId, as: tenant.admin)
            let attached = try await client.send(.post, attachPath, json: #"{"assetId":"\#(photo)","role":"primary"}"#, as: tenant.admin)
            #expect(attached.status == .created, "\(attached.text)")
            #expect(try attached.json()["response"]?["complete"] == true, "the evidence completes the finding")
            #expect(try await client.send(.post, attachPath, json: #"{"assetId":"\#(photo)"}"#, as: tenant.admin).status == .unprocessableContent)

            let tagPath = "/v1/sessions/\(started.sessionId)/items/\(tag)/attach-asset"
            let tagged = try await client.send(.post, tagPath, json: #"{"assetId":"\#(pdf)"}"#, as: tenant.admin)
            #expect(tagged.status == .created, "\(tagged.text)")
            #expect(try tagged.json()["response"]?["missing"]?.arrayValue.map(\.stringValue) == ["needs a note (`text`)"])
            let noted = try await Delivery.answer(client, started.sessionId, tag, #"{"answer":{"text":"Tag dated November"}}"#, as: tenant.admin)
            #expect(try noted.json()["complete"] == true, "the note and the file together meet the evidence request")

            let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin)
            #expect(submitted.status == .created, "\(submitted.text)")
            let late = try await Self.verified(client, Self.photo + [1], session: started.sessionId, as: tenant.admin)
            #expect(try await client.send(.post, attachPath, json: #"{"assetId":"\#(late)"}"#, as: tenant.admin).status == .conflict)

            let history = try await client.send(.get, "/v1/submissions/\(try #require(try submitted.json()["id"]?.stringValue))/history", as: tenant.admin)
            let evidence = try history.json()["evidence"]?.arrayValue ?? []
            let hashes = evidence.compactMap { $0["attachment"]?["sha256"]?.stringValue }
            #expect(hashes.contains(Self.sha256(Self.photo)))
            #expect(evidence.allSatisfy { $0["attachment"]?["attachedBy"]?.stringValue == tenant.admin.userId.rawValue })
        }
    }

    @Test("a standalone evidence task completes only once its requirements are met, and then waits for review")
    func evidenceTask() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let task = try await Delivery.publishedEvaluation(client, kind: .evidence, questions: [Authoring.evidenceRequest], as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: task, as: tenant.admin)
            let item = try #require(started.items.first)
            let early = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin)
            #expect(early.status == .unprocessableContent, "nothing attached yet: \(early.text)")
            let scan = try await Self.verified(client, Array("%PDF-1.7 tag".utf8), type: "application/pdf", session: started.sessionId, as: tenant.admin)
            _ = try await client.send(
                .post, "/v1/sessions/\(started.sessionId)/items/\(item)/attach-asset", json: #"{"assetId":"\#(scan)"}"#, as: tenant.admin)
            let noNote = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin)
            #expect(noNote.status == .unprocessableContent && noNote.text.contains("note"))
            _ = try await Delivery.answer(client, started.sessionId, item, #"{"answer":{"text":"Tag checked on site"}}"#, as: tenant.admin)
            let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin)
            #expect(submitted.status == .created, "\(submitted.text)")
            #expect(try submitted.json()["approvalStatus"] == "pending_review")
        }
    }

    @Test("evidence does not cross tenants or org units; only its owner or a holder of evidence.manage completes it")
    func boundaries() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Authoring.rubricCheck], as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: template, as: tenant.admin)
            _ = try await Delivery.answer(
                client, started.sessionId, started.items[0], #"{"answer":{"optionIds":["fail"]},"comment":"x"}"#, as: tenant.admin)
            let attachPath = "/v1/sessions/\(started.sessionId)/items/\(started.items[0])/attach-asset"

            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let foreign = try await Self.verified(client, Self.photo, as: other.admin)
            #expect(try await client.send(.post, attachPath, json: #"{"assetId":"\#(foreign)"}"#, as: tenant.admin).status == .notFound)
            #expect(try await client.send(.get, "/v1/assets/\(foreign)", as: tenant.admin).status == .notFound)

            let north = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "North")
            let elsewhere = try await client.send(
                .post, "/v1/assets", json: #"{"contentType":"image/jpeg","byteSize":3,"sha256":"\#(Self.sha256([1, 2, 3]))","orgUnitId":"\#(north)"}"#,
                as: tenant.admin)
            let elsewhereId = try #require(try elsewhere.json()["asset"]?["id"]?.stringValue)
            _ = try await Self.upload(client, Self.path(of: try #require(try elsewhere.json()["upload"]?["url"]?.stringValue)), [1, 2, 3])
            _ = try await client.send(.post, "/v1/assets/\(elsewhereId)/complete", as: tenant.admin)
            let crossing = try await client.send(.post, attachPath, json: #"{"assetId":"\#(elsewhereId)"}"#, as: tenant.admin)
            #expect(crossing.status == .forbidden && crossing.text.contains("org unit"))

            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let declared = try await Self.declare(client, Self.photo, as: tenant.admin)
            _ = try await Self.upload(client, declared.uploadPath, Self.photo)
            #expect(try await client.send(.post, "/v1/assets/\(declared.assetId)/complete", as: inspector).status == .notFound)
            #expect(try await client.send(.post, "/v1/assets", json: "{}", as: inspector).status == .forbidden, "declaring needs evidence.manage")
        }
    }

    @Test("the tiering worker moves old evidence to the cold tier; the download still verifies against the recorded hash")
    func tiering() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let bytes = Array("a photo taken \(ULID().text)".utf8)
            let asset = try await Self.verified(client, bytes, as: tenant.admin)
            let settings = TestEnvironment.configuration().evidence
            let worker = EvidenceTiering(
                database: server.database, store: settings.store, coldAfter: .seconds(0), interval: .seconds(60), logger: TestEnvironment.logger)
            #expect(try await worker.moveDue(of: tenant.tenantId, at: ServerClock.now().addingTimeInterval(1)) == 1)

            let view = try await client.send(.get, "/v1/assets/\(asset)", as: tenant.admin).json()
            #expect(view["asset"]?["storageTier"] == "cold")
            let key = try #require(view["asset"]?["storageKey"]?.stringValue)
            #expect(!FileManager.default.fileExists(atPath: settings.hotFolder.appendingPathComponent(key).path), "the hot copy is gone")
            #expect(FileManager.default.fileExists(atPath: settings.coldFolder.appendingPathComponent(key).path))
            let download = try await client.send(.get, Self.path(of: try #require(view["download"]?["url"]?.stringValue)), authenticated: false)
            #expect(download.status == .ok && Self.sha256(Array(buffer: download.body)) == Self.sha256(bytes))
            #expect(try await Self.events(client, asset, as: tenant.admin).contains("asset.tiered"))
        }
    }

    @Test("decisions about evidence are appended and the latest counts")
    func decisions() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let asset = try await Self.verified(client, Self.photo, as: tenant.admin)
            let rejected = try await client.send(
                .post, "/v1/assets/\(asset)/decisions", json: #"{"decision":"rejected","note":"Blurred"}"#, as: tenant.admin)
            #expect(rejected.status == .ok, "\(rejected.text)")
            #expect(try rejected.json()["decision"] == "rejected")
            _ = try await client.send(.post, "/v1/assets/\(asset)/decisions", json: #"{"decision":"approved"}"#, as: tenant.admin)
            #expect(try await client.send(.get, "/v1/assets/\(asset)", as: tenant.admin).json()["decision"] == "approved")
            #expect(try await Self.events(client, asset, as: tenant.admin).filter { $0 == "evidence.decided" }.count == 2)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            #expect(try await client.send(.post, "/v1/assets/\(asset)/decisions", json: #"{"decision":"void"}"#, as: inspector).status == .forbidden)
        }
    }
}
