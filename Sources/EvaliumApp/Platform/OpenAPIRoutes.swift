import Crypto
import EvaliumCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /openapi.yaml`: the API's contract, byte for byte the `openapi/evalium.yaml` this build shipped
/// with (a resource of this module; the repository's `openapi/evalium.yaml` is a link to it), so a client
/// generates code from exactly what this server implements.
struct OpenAPIRoutes {
    static let mediaType = "application/yaml"

    /// The document, read from the bundle once per process; nil only when the bundle lacks the file. Like the
    /// migrations, the bundle (`evalium_EvaliumApp.resources`) must sit next to the binary: without it
    /// SwiftPM's `Bundle.module` stops the process.
    static let bundled: Document? = {
        guard let url = Bundle.module.url(forResource: "evalium", withExtension: "yaml"),
              let data = try? Data(contentsOf: url)
        else { return nil }
        return Document(bytes: Array(data))
    }()

    struct Document: Sendable {
        let bytes: [UInt8]
        /// A strong entity tag: the quoted hex SHA-256 of the bytes.
        let etag: String

        init(bytes: [UInt8]) {
            self.bytes = bytes
            etag = "\"\(Array(SHA256.hash(data: bytes)).hexString)\""
        }
    }

    let document: Document?

    init(document: Document? = Self.bundled) { self.document = document }

    func register(on router: Router<AppRequestContext>) {
        router.on(.get, "/openapi.yaml", public: { request, _ in
            guard let document else {
                throw Problem(.internalError, "the API document is missing from this build's resources")
            }
            let headers: HTTPFields = [.eTag: document.etag, .cacheControl: "no-cache"]
            if let presented = request.headers[.ifNoneMatch], Self.matches(presented, document.etag) {
                return Response(status: .notModified, headers: headers)
            }
            var answer = headers
            answer[.contentType] = Self.mediaType
            return Response(status: .ok, headers: answer, body: ResponseBody(byteBuffer: ByteBuffer(bytes: document.bytes)))
        })
    }

    /// `If-None-Match` (RFC 9110 §13.1.2): `*`, or a list of tags compared weakly.
    static func matches(_ ifNoneMatch: String, _ etag: String) -> Bool {
        ifNoneMatch.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || (tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag) == etag
        }
    }
}
