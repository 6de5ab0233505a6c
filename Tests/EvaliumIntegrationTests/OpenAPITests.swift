import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The contract in `openapi/evalium.yaml` and the server agree: every route the server registers is
/// documented, every documented operation is registered, and `GET /openapi.yaml` serves that very file.
/// (`scripts/check_openapi.py` checks the document itself: OpenAPI 3.1, the localization contract.)
@Suite("OpenAPI: the contract and the server agree", .timeLimit(.minutes(2)))
struct OpenAPITests {
    /// One operation, written as the document writes it: `GET /v1/users/{userId}`.
    struct Operation: Hashable, Comparable, CustomStringConvertible {
        var method: String
        var path: String

        var description: String { "\(method) \(path)" }
        static func < (left: Operation, right: Operation) -> Bool { (left.path, left.method) < (right.path, right.method) }
    }

    /// The repository's `openapi/evalium.yaml`, found from this file's place in it.
    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // EvaliumIntegrationTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()
        .appendingPathComponent("openapi/evalium.yaml")

    /// The operations listed under `paths:` of a document laid out as `openapi/evalium.yaml` is: each path key
    /// alone on its line indented two spaces (`  /v1/users/{userId}:`), each operation key indented four
    /// (`    get:`), nothing else at those two indentations but path-level `parameters:`. Lines that break the
    /// layout come back as errors, so an operation written another way fails the test instead of vanishing.
    static func documentedOperations(in yaml: String) -> (operations: Set<Operation>, layoutErrors: [String]) {
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var operations: Set<Operation> = []
        var errors: [String] = []
        var inPaths = false
        var path: String?
        for (number, line) in yaml.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard inPaths else {
                inPaths = line.trimmingCharacters(in: .whitespaces) == "paths:" && !line.hasPrefix(" ")
                continue
            }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            guard line.hasPrefix(" ") else { break }  // the next top-level key
            let indent = line.prefix { $0 == " " }.count
            guard indent == 2 || indent == 4, text.hasSuffix(":") else {
                if indent == 2 || indent == 4 { errors.append("line \(number + 1): \(line)") }
                continue
            }
            let key = String(text.dropLast())
            if indent == 2, key.hasPrefix("/"), !key.contains(" ") {
                path = key
            } else if indent == 4, methods.contains(key), let path {
                operations.insert(Operation(method: key.uppercased(), path: path))
            } else if !(indent == 4 && key == "parameters") {
                errors.append("line \(number + 1): \(line)")
            }
        }
        return (operations, errors)
    }

    /// A Hummingbird route path in OpenAPI form: `/v1/users/:userId` → `/v1/users/{userId}`.
    static func openAPIPath(_ routerPath: String) -> String {
        routerPath.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            .joined(separator: "/")
    }

    /// Every (method, path) the real router registers. Building it opens no database connection.
    static func registeredOperations() -> Set<Operation> {
        let mailbox = TestMailbox()
        defer { mailbox.remove() }
        let server = EvaliumServer(
            configuration: TestEnvironment.configuration(),
            database: Database(endpoint: TestEnvironment.application, maximumConnections: 1, logger: TestEnvironment.logger),
            migrations: [], mailer: FolderMailer(folder: mailbox.folder, from: "tests@evalium.local", logger: TestEnvironment.logger),
            logger: TestEnvironment.logger)
        return Set(server.buildRouter().routes.map { Operation(method: $0.method.rawValue, path: openAPIPath($0.path.description)) })
    }

    @Test("the line-based reader finds paths and operations and flags lines that break the layout")
    func lineReader() {
        let yaml = """
            openapi: 3.1.0
            paths:
              /v1/users/{userId}:
                parameters:
                  - $ref: '#/components/parameters/UserIdPath'
                get:
                  responses: {}
                patch:
                  responses: {}
              /healthz: {get: {}}
            components:
              /v1/not-a-path:
                get: {}
            """
        let (operations, errors) = Self.documentedOperations(in: yaml)
        #expect(operations == [Operation(method: "GET", path: "/v1/users/{userId}"), Operation(method: "PATCH", path: "/v1/users/{userId}")])
        #expect(errors == ["line 10:   /healthz: {get: {}}"])
        #expect(Self.openAPIPath("/v1/groups/:groupId/members/:userId") == "/v1/groups/{groupId}/members/{userId}")
        #expect(Self.openAPIPath("/v1/groups/{groupId}") == "/v1/groups/{groupId}")
    }

    @Test("every registered route is documented in openapi/evalium.yaml, and every documented operation is registered")
    func routesAndDocumentAgree() throws {
        let document = Self.documentedOperations(in: try String(contentsOf: Self.documentURL, encoding: .utf8))
        #expect(document.layoutErrors.isEmpty, "openapi/evalium.yaml breaks the paths layout:\n  \(document.layoutErrors.joined(separator: "\n  "))")
        let registered = Self.registeredOperations()
        #expect(!registered.isEmpty && !document.operations.isEmpty)
        let undocumented = registered.subtracting(document.operations).sorted()
        let unregistered = document.operations.subtracting(registered).sorted()
        #expect(
            undocumented.isEmpty,
            "registered by the server but missing from openapi/evalium.yaml:\n  \(undocumented.map(\.description).joined(separator: "\n  "))")
        #expect(
            unregistered.isEmpty,
            "in openapi/evalium.yaml but not registered by the server:\n  \(unregistered.map(\.description).joined(separator: "\n  "))")
    }

    @Test("GET /openapi.yaml serves exactly openapi/evalium.yaml, to anyone, as application/yaml")
    func servesTheDocument() async throws {
        let file = try Data(contentsOf: Self.documentURL)
        try await TestEnvironment.withServer { client, _ in
            let response = try await client.send(.get, "/openapi.yaml", authenticated: false)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/yaml")
            #expect(response.headers[.cacheControl] == "no-cache")
            #expect(Array(response.body.readableBytesView) == Array(file))
            let etag = try #require(response.headers[.eTag])
            let unchanged = try await client.send(.get, "/openapi.yaml", headers: [.ifNoneMatch: etag], authenticated: false)
            #expect(unchanged.status == .notModified)
            #expect(unchanged.body.readableBytes == 0)
            let changed = try await client.send(.get, "/openapi.yaml", headers: [.ifNoneMatch: #""0000""#], authenticated: false)
            #expect(changed.status == .ok)
        }
    }
}
