import EvaliumCore
import Foundation
import Testing

@Suite("S3 Signature Version 4 signing", .timeLimit(.minutes(2)))
struct S3PresignerTests {
    /// The credentials and instant of AWS's published S3 SigV4 examples.
    static func signer(endpoint: String = "http://127.0.0.1:9000") -> S3Presigner {
        S3Presigner(
            endpoint: URL(string: endpoint)!, region: "us-east-1", accessKeyId: "AKIAIOSFODNN7EXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", bucket: "evidence")
    }
    static let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let credential = "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"

    static func signature(_ url: URL) -> String? {
        URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == "X-Amz-Signature" }?.value
    }

    @Test("AWS's presigned GET example (virtual-hosted style) is reproduced exactly")
    func awsQueryExample() {
        let query = Self.signer().presignedQuery(
            method: "GET", host: "examplebucket.s3.amazonaws.com", canonicalURI: "/test.txt", expiresIn: 86400,
            at: Self.date, headers: [:])
        #expect(
            query == "X-Amz-Algorithm=AWS4-HMAC-SHA256&\(Self.credential)&X-Amz-Date=20130524T000000Z"
                + "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("AWS's header-authenticated GET Object example is reproduced exactly")
    func awsHeaderExample() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        let headers = Self.signer().authorizationHeaders(
            method: "GET", host: "examplebucket.s3.amazonaws.com", canonicalURI: "/test.txt", payloadSHA256Hex: empty,
            at: Self.date, extraHeaders: ["Range": "bytes=0-9"])
        #expect(
            headers == [
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                    + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                    + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
                "x-amz-date": "20130524T000000Z", "x-amz-content-sha256": empty,
            ])
    }

    // The expected signatures below were computed with botocore 1.43 (path-style, same credentials and instant).

    @Test("a path-style URL keeps a non-default port in the URL and in the signed host")
    func portKept() {
        let url = Self.signer().presign(method: "GET", key: "a/b.txt", expiresIn: 900, at: Self.date)
        #expect(url.absoluteString.hasPrefix("http://127.0.0.1:9000/evidence/a/b.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"))
        func query(host: String) -> String {
            Self.signer().presignedQuery(
                method: "GET", host: host, canonicalURI: "/evidence/a/b.txt", expiresIn: 900, at: Self.date, headers: [:])
        }
        #expect(url.query(percentEncoded: true) == query(host: "127.0.0.1:9000"))
        #expect(url.query(percentEncoded: true) != query(host: "127.0.0.1"))
    }

    @Test("a default port is left out of both the URL and the signed host")
    func defaultPortDropped() {
        let url = Self.signer(endpoint: "https://store.example:443").presign(
            method: "GET", key: "x.txt", expiresIn: 60, at: Self.date)
        #expect(url.absoluteString.hasPrefix("https://store.example/evidence/x.txt?"))
        #expect(Self.signature(url) == "5ea9d4ee2913eb86eafb1ad77c532b469c90c2d2af32406fe0475647510d01c9")
    }

    @Test("keys are encoded per segment the AWS way: spaces, '+', parentheses and UTF-8 as %XX, '/' kept")
    func keyEncoding() {
        let key = "reports/Q1 résumé+final (v2).pdf"
        let path = "/evidence/reports/Q1%20r%C3%A9sum%C3%A9%2Bfinal%20%28v2%29.pdf"
        #expect(Self.signer().objectURL(key: key).absoluteString == "http://127.0.0.1:9000" + path)
        let url = Self.signer().presign(method: "GET", key: key, expiresIn: 900, at: Self.date)
        #expect(url.absoluteString.hasPrefix("http://127.0.0.1:9000\(path)?"))
        #expect(Self.signature(url) == "b6627fe71bf2b8d8f99f7ec91bcfb9b05e255fe67ff5afdff86470b08c938f8d")
    }

    @Test("header signing of a path-style PUT signs the host with its port")
    func headerSigningPathStyle() {
        let hash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"  // SHA-256 of "hello"
        let headers = Self.signer().authorizationHeaders(
            method: "PUT", key: "reports/Q1 résumé.pdf", payloadSHA256Hex: hash, at: Self.date,
            extraHeaders: ["Content-Type": "application/pdf"])
        #expect(
            headers["Authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, "
                + "Signature=54dcfa43105bfeed6f7d0790d5e7bf0011d3fa757b84a1ca6dcfb51b5537fb98")
    }

    @Test("given headers are lower-cased, sorted among host, and signed")
    func signedHeadersSorted() {
        let url = Self.signer().presign(
            method: "PUT", key: "a/b.txt", expiresIn: 604_800, at: Self.date,
            headers: ["X-Amz-Meta-Owner": "t1", "Content-Type": "application/pdf"])
        #expect(url.absoluteString.contains("&X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-meta-owner&"))
        let pinned = Self.signer().presign(
            method: "PUT", key: "a/b.txt", expiresIn: 604_800, at: Self.date, headers: ["Content-Type": "application/pdf"])
        #expect(Self.signature(pinned) == "b7ef716d5b6fe3311bb5fb8fe04f31cc4d66df4163cdf9f1c0ccc4210da3e3d8")
    }

    @Test("expiry is accepted from one second to seven days")
    func expiryBounds() {
        for seconds in [1, 604_800] {
            let url = Self.signer().presign(method: "GET", key: "k", expiresIn: seconds, at: Self.date)
            #expect(url.absoluteString.contains("&X-Amz-Expires=\(seconds)&"))
        }
    }

    // Expiry outside 1 s to 7 days is a programmer error (a precondition); callers clamp to this range.
    // Not an exit test: Swift Testing's exit-test monitor waits on child processes, and the integration
    // tests run child processes of their own in the same test binary.
    @Test("the expiry range is AWS's: one second to seven days")
    func expiryRange() {
        #expect(S3Presigner.expiryRange == 1...604_800)
    }
}
