import EvaliumCore
import Foundation
import Testing

@Suite("Evidence rules: the asset lifecycle, media types, declarations and what an attachment must satisfy")
struct EvidenceRuleTests {
    @Test("the lifecycle moves forward only; verified and failed end it, except for erasure")
    func lifecycle() {
        let allowed: Set<String> = [
            "created→uploading", "created→uploaded", "created→failed", "created→deleted", "uploading→uploading", "uploading→uploaded",
            "uploading→failed", "uploading→deleted", "uploaded→verified", "uploaded→failed", "verified→deleted", "failed→deleted",
        ]
        for from in AssetStatus.allCases {
            for to in AssetStatus.allCases {
                #expect(from.allows(to) == allowed.contains("\(from.rawValue)→\(to.rawValue)"), "\(from) → \(to)")
            }
        }
    }

    @Test("media types match exactly, by `type/*` or `*/*`, case and parameters aside; malformed ones match nothing")
    func mediaTypes() {
        #expect(MediaType.matches("image/JPEG; quality=80", allowed: ["image/*"]))
        #expect(MediaType.matches("application/pdf", allowed: ["application/pdf"]))
        #expect(!MediaType.matches("application/pdf", allowed: ["image/*"]))
        #expect(MediaType.matches("video/mp4", allowed: ["*/*"]))
        #expect(!MediaType.matches("image", allowed: ["*/*"]))
        #expect(MediaType.normalized(" Image/PNG ") == "image/png" && MediaType.normalized("image/") == nil)
    }

    @Test("a declaration names every problem with its pointer")
    func declaration() {
        let bad = AssetDeclaration(
            contentType: "jpeg", byteSize: 0, sha256: "ABC", originalFilename: "../x",
            capture: CaptureContext(deviceId: "", gps: .init(latitude: 91, longitude: 0)))
        #expect(bad.problems(maximumBytes: 100).map(\.pointer) == [
            "/contentType", "/byteSize", "/sha256", "/originalFilename", "/capture/deviceId", "/capture/gps",
        ])
        let good = AssetDeclaration(contentType: "image/jpeg", byteSize: 100, sha256: String(repeating: "ab", count: 32))
        #expect(good.problems(maximumBytes: 100).isEmpty)
        #expect(good.problems(maximumBytes: 99).map(\.pointer) == ["/byteSize"])
    }

    @Test("an attachment must be verified, allowed, small enough, new, and within the file limit")
    func attachRules() throws {
        let json = """
            {"id":"\(ItemID.generate())","questionId":"\(QuestionID.generate())","questionVersion":1,"kind":"evidence_request","points":0,
             "required":true,"evidence":{"allowedMediaTypes":["image/*"],"maxFiles":2,"maxFileBytes":1000}}
            """
        let item = try JSONDecoder().decode(OperatorForm.Item.self, from: Data(json.utf8))
        func asset(_ type: String = "image/png", bytes: Int64 = 10, status: AssetStatus = .verified) -> MediaAsset {
            MediaAsset(
                id: .generate(), tenantId: .generate(), orgUnitId: .generate(), ownerUserId: .generate(), status: status,
                declaration: AssetDeclaration(contentType: type, byteSize: bytes, sha256: String(repeating: "0", count: 64)), storageKey: nil,
                storageTier: .hot, receivedBytes: bytes, failureReason: nil, createdAt: Date(), verifiedAt: status == .verified ? Date() : nil)
        }
        func attached(_ asset: MediaAsset) -> EvaliumCore.Attachment {
            EvaliumCore.Attachment(
                assetId: asset.id, sessionId: .generate(), itemId: item.id!, role: .primary, attachedBy: .generate(), attachedAt: Date(),
                contentType: asset.contentType, byteSize: asset.byteSize, sha256: asset.sha256)
        }
        let photo = asset()
        #expect(EvidenceRules.attachProblems(photo, to: item, attached: []).isEmpty)
        #expect(EvidenceRules.attachProblems(asset(status: .uploaded), to: item, attached: []).count == 1)
        #expect(EvidenceRules.attachProblems(asset("application/pdf"), to: item, attached: []).count == 1)
        #expect(EvidenceRules.attachProblems(asset(bytes: 1001), to: item, attached: []).count == 1)
        #expect(EvidenceRules.attachProblems(photo, to: item, attached: [attached(photo)]).count == 1, "the same file twice")
        #expect(EvidenceRules.attachProblems(photo, to: item, attached: [attached(asset()), attached(asset())]).count == 1, "maxFiles")
    }
}
