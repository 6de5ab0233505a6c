import EvaliumApp
import EvaliumCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@Suite("HTTP: problems, request ids, health and metrics", .timeLimit(.minutes(2)))
struct HTTPBehaviourTests {
    /// Asserts an RFC 9457 problem with the given status and type, carrying the request id.
    static func expectProblem(_ response: TestResponse, status: Int, type: String) throws {
        #expect(response.status.code == status)
        #expect(response.headers[.contentType] == "application/problem+json")
        let problem = try response.json()
        #expect(problem["type"] == .string("urn:evalium:problem:\(type)"))
        #expect(problem["status"] == .number(Double(status)))
        #expect(problem["detail"]?.stringValue?.isEmpty == false)
        #expect(problem["requestId"]?.stringValue == response.headers[HTTPField.Name("X-Request-ID")!])
    }

    @Test("malformed JSON, or a member name given twice, is a 400 problem")
    func malformedJSON() async throws {
        try await TestEnvironment.withServer { client, _ in
            try Self.expectProblem(try await client.send(.post, "/v1/tenants", json: #"{"name":"#), status: 400, type: "malformed-request")
            // Which of two values a decoder would keep is undefined, so the body is refused whole.
            let twice = try await client.send(.post, "/v1/tenants", json: #"{"name":"Acme","name":"Other"}"#)
            try Self.expectProblem(twice, status: 400, type: "malformed-request")
            #expect(try twice.json()["detail"]?.stringValue?.contains(#"the member name "name" appears twice"#) == true)
        }
    }

    @Test("JSON with a wrong type or a missing field is a 422 problem pointing at the field")
    func wrongTypes() async throws {
        try await TestEnvironment.withServer { client, _ in
            let wrongType = try await client.send(.post, "/v1/tenants", json: #"{"name":42}"#)
            try Self.expectProblem(wrongType, status: 422, type: "validation-failed")
            #expect(try wrongType.json()["errors"] == [["pointer": "/name", "detail": "expected a string"]])
            let missing = try await client.send(.post, "/v1/tenants", json: #"{}"#)
            try Self.expectProblem(missing, status: 422, type: "validation-failed")
            #expect(try missing.json()["errors"] == [["pointer": "/name", "detail": "is required"]])
        }
    }

    @Test("an oversized body is a 413 problem")
    func oversizedBody() async throws {
        try await TestEnvironment.withServer { client, _ in
            let huge = #"{"name":""# + String(repeating: "a", count: 100_000) + #""}"#
            try Self.expectProblem(try await client.send(.post, "/v1/tenants", json: huge), status: 413, type: "payload-too-large")
        }
    }

    @Test("an unknown route is a 404 problem")
    func unknownRoute() async throws {
        try await TestEnvironment.withServer { client, _ in
            try Self.expectProblem(try await client.send(.get, "/v1/nothing-here"), status: 404, type: "not-found")
        }
    }

    @Test("a body that is not JSON is a 415 problem")
    func notJSON() async throws {
        try await TestEnvironment.withServer { client, _ in
            var headers = client.authorization
            headers[.contentType] = "text/plain"
            let response = try await client.execute(uri: "/v1/tenants", method: .post, headers: headers, body: ByteBuffer(string: "name=x"))
            try Self.expectProblem(response, status: 415, type: "unsupported-media-type")
        }
    }

    @Test("missing or forged credentials are refused")
    func credentials() async throws {
        try await TestEnvironment.withServer { client, _ in
            try Self.expectProblem(
                try await client.send(.post, "/v1/tenants", json: #"{"name":"x"}"#, authenticated: false), status: 401,
                type: "unauthenticated")
            let forged = try await client.send(
                .get, "/v1/tenants/tnt_01M80XGF3VBWS4Z887JTHDK0HM", headers: [.authorization: "Bearer evp_guessed"],
                authenticated: false)
            try Self.expectProblem(forged, status: 401, type: "unauthenticated")
        }
    }

    @Test("another tenant's id that does not exist, or a malformed one, is a 404")
    func unknownTenant() async throws {
        try await TestEnvironment.withServer { client, _ in
            try Self.expectProblem(try await client.send(.get, "/v1/tenants/tnt_01M80XGF3VBWS4Z887JTHDK0HM"), status: 404, type: "not-found")
            try Self.expectProblem(try await client.send(.get, "/v1/tenants/../etc"), status: 404, type: "not-found")
            try Self.expectProblem(try await client.send(.get, "/v1/tenants/usr_01M80XGF3VBWS4Z887JTHDK0HM/org-units"), status: 404, type: "not-found")
        }
    }

    @Test("a sane X-Request-ID is echoed; an unsafe one is replaced")
    func requestIds() async throws {
        try await TestEnvironment.withServer { client, _ in
            let echoed = try await client.send(.get, "/healthz", headers: [HTTPField.Name("X-Request-ID")!: "trace-123:abc"])
            #expect(echoed.headers[HTTPField.Name("X-Request-ID")!] == "trace-123:abc")
            let replaced = try await client.send(.get, "/healthz", headers: [HTTPField.Name("X-Request-ID")!: "bad id\" with quotes"])
            #expect(replaced.headers[HTTPField.Name("X-Request-ID")!]?.hasPrefix("req_") == true)
        }
    }

    @Test("every request writes one access-log line (method, route template, status, milliseconds, request id); a server logging warnings writes none")
    func accessLog() async throws {
        let lines = LogRecorder()
        try await TestEnvironment.withServer(serverLogger: lines.logger(at: .info)) { client, _ in
            _ = try await client.send(.get, "/v1/tenants/tnt_01JDQ4ZB5C7K9P2M3N4R5S6T7V", headers: [HTTPField.Name("X-Request-ID")!: "trace-access"])
        }
        let requests = lines.entries.filter { $0.message == "request" && $0.metadata["request_id"] == "trace-access" }
        #expect(requests.count == 1, "\(lines.entries)")
        let line = try #require(requests.first).metadata
        #expect(line["method"] == "GET")
        #expect(line["route"] == "/v1/tenants/{tenantId}")
        #expect(line["status"]?.description == "404")
        #expect(line["duration_ms"]?.description.wholeMatch(of: /[0-9]+\.[0-9]{3}/) != nil, "\(line)")

        let quiet = LogRecorder()
        try await TestEnvironment.withServer(serverLogger: quiet.logger(at: .warning)) { client, _ in
            _ = try await client.send(.get, "/healthz")
        }
        #expect(!quiet.entries.contains { $0.message == "request" })
    }

    @Test("health, readiness and metrics answer")
    func healthReadinessMetrics() async throws {
        try await TestEnvironment.withServer { client, _ in
            #expect(try await client.send(.get, "/healthz").status == .ok)
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .ok)
            #expect(try ready.json() == ["status": "ready"])
            let metrics = try await client.send(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"evalium_http_requests_total{method="GET",route="/readyz",status="200"} 1"#))
            #expect(metrics.text.contains("evalium_ledger_events_sealed_total"))
        }
    }

    @Test("a tenant created over HTTP shows its creation in its ledger, sealed and verified")
    func tenantLifecycleOverHTTP() async throws {
        try await TestEnvironment.withServer { client, _ in
            let created = try await client.send(.post, "/v1/tenants", json: #"{"name":"Acme Inspections"}"#)
            #expect(created.status == .created)
            let tenantId = try #require(created.json()["tenant"]?["id"]?.stringValue)
            let unit = try await client.send(.post, "/v1/tenants/\(tenantId)/org-units", json: #"{"name":"North region"}"#)
            #expect(unit.status == .created)
            var page = try await client.send(.get, "/v1/tenants/\(tenantId)/ledger/events")
            for _ in 0..<100 {
                let items = try page.json()["items"]
                if case .array(let events) = items, events.count == 3, events.allSatisfy({ $0["sequence"] != nil && $0["sequence"] != JSONValue.null }) { break }
                try await Task.sleep(for: .milliseconds(30))
                page = try await client.send(.get, "/v1/tenants/\(tenantId)/ledger/events")
            }
            guard case .array(let events) = try page.json()["items"] else { Issue.record("no items"); return }
            #expect(events.map { $0["eventType"]?.stringValue } == ["tenant.created", "org_unit.created", "org_unit.created"])
            #expect(events.map { $0["sequence"] } == [1, 2, 3])
            let verification = try await client.send(.get, "/v1/tenants/\(tenantId)/ledger/verification")
            #expect(try verification.json()["verified"] == true)
        }
    }
}
