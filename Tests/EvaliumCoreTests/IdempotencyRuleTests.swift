import EvaliumCore
import Testing

@Suite("Idempotency-Key rules", .timeLimit(.minutes(2)))
struct IdempotencyRuleTests {
    static let stored = StoredResponse(status: 201, contentType: "application/json", location: nil, body: Array("{}".utf8))

    @Test("the decision for a key already known", arguments: [
        (true, true, IdempotencyDecision.replay(stored)),
        (true, false, .stillInFlight),
        (false, true, .reusedWithDifferentRequest),
        (false, false, .reusedWithDifferentRequest),
    ])
    func decision(sameRequest: Bool, completed: Bool, expected: IdempotencyDecision) {
        let original = RequestFingerprint(method: "POST", path: "/v1/tenants", body: Array(#"{"name":"a"}"#.utf8))
        let record = IdempotencyRecord(fingerprint: original, state: completed ? .completed(Self.stored) : .inFlight)
        let incoming = sameRequest ? original : RequestFingerprint(method: "POST", path: "/v1/tenants", body: Array(#"{"name":"b"}"#.utf8))
        #expect(IdempotencyDecision.decide(existing: record, fingerprint: incoming) == expected)
    }

    @Test("fingerprints ignore JSON formatting but not content, method or path")
    func fingerprints() {
        let base = RequestFingerprint(method: "POST", path: "/v1/tenants", body: Array(#"{"a":1,"b":2}"#.utf8))
        #expect(base == RequestFingerprint(method: "POST", path: "/v1/tenants", body: Array(#"{ "b": 2, "a": 1.0 }"#.utf8)))
        #expect(base != RequestFingerprint(method: "POST", path: "/v1/tenants", body: Array(#"{"a":1,"b":3}"#.utf8)))
        #expect(base != RequestFingerprint(method: "PUT", path: "/v1/tenants", body: Array(#"{"a":1,"b":2}"#.utf8)))
        #expect(base != RequestFingerprint(method: "POST", path: "/v1/other", body: Array(#"{"a":1,"b":2}"#.utf8)))
    }

    @Test("keys are 1–255 visible ASCII characters, bare or quoted", arguments: [
        ("abc-123", "abc-123"), ("\"quoted\"", "quoted"), ("", nil), ("has space", nil), ("ünï", nil),
        (String(repeating: "k", count: 256), nil),
    ] as [(String, String?)])
    func keys(header: String, expected: String?) {
        #expect(IdempotencyKey(header)?.value == expected)
    }
}
