import Crypto
import Foundation

/// AWS Signature Version 4 for an S3-compatible object store addressed path-style (`{endpoint}/{bucket}/{key}`),
/// which every store accepts without per-bucket DNS. Written out over swift-crypto rather than taken from an SDK so
/// the core stays free of one; presigned URLs let clients move evidence bytes to and from the store without the
/// server relaying them, and header signing covers the server's own requests.
public struct S3Presigner: Sendable {
    /// SigV4 refuses presigned URLs that last longer than seven days.
    public static let expiryRange = 1...604_800

    public let endpoint: URL
    public let region: String
    public let accessKeyId: String
    public let bucket: String
    private let secretAccessKey: String
    /// The Host header clients will send. The store recomputes the signature from it, and clients leave a default
    /// port out of it, so a default port is dropped here (and from the URLs) while any other is kept.
    private let host: String
    private let origin: String

    public init(endpoint: URL, region: String, accessKeyId: String, secretAccessKey: String, bucket: String) {
        let scheme = endpoint.scheme?.lowercased() ?? "https"
        let name = endpoint.host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        let port = endpoint.port.flatMap { $0 == (scheme == "https" ? 443 : 80) ? nil : $0 }
        self.endpoint = endpoint
        self.region = region
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.bucket = bucket
        self.host = port.map { "\(name):\($0)" } ?? name
        self.origin = "\(scheme)://\(host)"
    }

    /// The object's URL. Requests must use exactly this URL, because the signature covers its encoded path.
    public func objectURL(key: String) -> URL { URL(string: origin + canonicalURI(key: key))! }

    /// A URL that performs `method` on the object until `seconds` after `date`. Any `headers` are signed too, so a
    /// client using the URL must send them with these values (for instance to pin an upload's content type).
    public func presign(
        method: String, key: String, expiresIn seconds: Int, at date: Date, headers: [String: String] = [:]
    ) -> URL {
        let path = canonicalURI(key: key)
        let query = presignedQuery(
            method: method, host: host, canonicalURI: path, expiresIn: seconds, at: date, headers: headers)
        return URL(string: "\(origin)\(path)?\(query)")!
    }

    /// Headers that authenticate a request to `objectURL(key:)`. The payload hash is the caller's because only it
    /// has the body; `host` is signed from the endpoint and left to the HTTP client to send.
    public func authorizationHeaders(
        method: String, key: String, payloadSHA256Hex: String, at date: Date, extraHeaders: [String: String] = [:]
    ) -> [String: String] {
        authorizationHeaders(
            method: method, host: host, canonicalURI: canonicalURI(key: key), payloadSHA256Hex: payloadSHA256Hex,
            at: date, extraHeaders: extraHeaders)
    }

    /// The presigned query string for any host and path, so AWS's virtual-hosted examples can be reproduced.
    package func presignedQuery(
        method: String, host: String, canonicalURI: String, expiresIn seconds: Int, at date: Date,
        headers: [String: String]
    ) -> String {
        precondition(Self.expiryRange.contains(seconds), "SigV4 presigned URLs expire after 1...604800 seconds")
        let (timestamp, scope) = Self.stamps(date, region: region)
        let canonical = Self.canonicalHeaders(headers, own: ["host": host])
        let query = [
            "X-Amz-Algorithm": Self.algorithm, "X-Amz-Credential": "\(accessKeyId)/\(scope)", "X-Amz-Date": timestamp,
            "X-Amz-Expires": String(seconds), "X-Amz-SignedHeaders": canonical.signed,
        ]
        .map { (Self.uriEncode($0.key), Self.uriEncode($0.value)) }.sorted { $0.0 < $1.0 }
        .map { "\($0)=\($1)" }.joined(separator: "&")
        let signature = signature(
            method: method, canonicalURI: canonicalURI, query: query, headers: canonical,
            payloadHash: "UNSIGNED-PAYLOAD", timestamp: timestamp, scope: scope)
        return "\(query)&X-Amz-Signature=\(signature)"
    }

    /// Header authentication for any host and path, for the same reason as `presignedQuery`.
    package func authorizationHeaders(
        method: String, host: String, canonicalURI: String, payloadSHA256Hex: String, at date: Date,
        extraHeaders: [String: String]
    ) -> [String: String] {
        let (timestamp, scope) = Self.stamps(date, region: region)
        let own = ["x-amz-date": timestamp, "x-amz-content-sha256": payloadSHA256Hex]
        let canonical = Self.canonicalHeaders(extraHeaders, own: own.merging(["host": host]) { $1 })
        let signature = signature(
            method: method, canonicalURI: canonicalURI, query: "", headers: canonical,
            payloadHash: payloadSHA256Hex, timestamp: timestamp, scope: scope)
        let credential = "Credential=\(accessKeyId)/\(scope), SignedHeaders=\(canonical.signed), Signature=\(signature)"
        return own.merging(["Authorization": "\(Self.algorithm) \(credential)"]) { $1 }
    }

    private static let algorithm = "AWS4-HMAC-SHA256"
    private static let timestampStyle = Date.ISO8601FormatStyle(
        dateSeparator: .omitted, timeSeparator: .omitted, timeZone: .gmt)

    /// The path is signed exactly as sent: S3 keys are opaque, so empty segments and dots are kept, not normalised.
    private func canonicalURI(key: String) -> String {
        let prefix = endpoint.path.split(separator: "/").map { "/" + Self.uriEncode(String($0)) }.joined()
        let segments = [bucket] + key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        return prefix + segments.map { "/" + Self.uriEncode($0) }.joined()
    }

    private static func stamps(_ date: Date, region: String) -> (timestamp: String, scope: String) {
        let timestamp = date.formatted(timestampStyle)
        return (timestamp, "\(timestamp.prefix(8))/\(region)/s3/aws4_request")
    }

    /// Names are compared case-insensitively, so giving one header twice in different case traps. The signer's own
    /// headers win over the caller's, since a different value would only produce a signature the store rejects.
    private static func canonicalHeaders(
        _ given: [String: String], own: [String: String]
    ) -> (block: String, signed: String) {
        let headers = Dictionary(uniqueKeysWithValues: given.map { ($0.key.lowercased(), $0.value) })
            .merging(own) { $1 }.sorted { $0.key < $1.key }
        let block = headers.map { name, value in
            "\(name):\(value.split(whereSeparator: \.isWhitespace).joined(separator: " "))\n"
        }
        return (block.joined(), headers.map(\.key).joined(separator: ";"))
    }

    private func signature(
        method: String, canonicalURI: String, query: String, headers: (block: String, signed: String),
        payloadHash: String, timestamp: String, scope: String
    ) -> String {
        let request = [method, canonicalURI, query, headers.block, headers.signed, payloadHash].joined(separator: "\n")
        let requestHash = Array(SHA256.hash(data: Data(request.utf8))).hexString
        let stringToSign = [Self.algorithm, timestamp, scope, requestHash].joined(separator: "\n")
        let signingKey = [String(timestamp.prefix(8)), region, "s3", "aws4_request"]
            .reduce(SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))) { key, part in
                SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key))
            }
        return Array(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey)).hexString
    }

    /// AWS's UriEncode: only RFC 3986 unreserved characters pass, every other UTF-8 byte becomes upper-case `%XX`.
    /// Foundation's percent-encoding sets keep sub-delimiters such as `+` and `=`, which the store would encode
    /// differently when it recomputes the signature.
    private static func uriEncode(_ text: String) -> String {
        text.utf8.map { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                String(UnicodeScalar(byte))
            default: String(format: "%%%02X", byte)
            }
        }.joined()
    }
}
