import Crypto
import EvaliumCore
import Foundation
import Testing

/// The schema files against their released copies: a change seed 003 §5 forbids fails here until it is
/// published as a new version instead.
@Suite("Event schemas: every file is released, and no released contract is broken")
struct EventSchemaEvolutionTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let current = repository.appendingPathComponent("schemas/events")
    static let released = repository.appendingPathComponent("schemas/released")

    /// Every schema file under `folder`, by its path relative to it (`assessment/attempt_result/scored/v1.json`).
    static func schemas(in folder: URL) throws -> [String: JSONValue] {
        let files = try #require(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil), "no folder \(folder.path)")
        var schemas: [String: JSONValue] = [:]
        for case let file as URL in files where file.pathExtension == "json" {
            let relative = String(file.standardizedFileURL.path.dropFirst(folder.standardizedFileURL.path.count + 1))
            schemas[relative] = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: file))
        }
        try #require(!schemas.isEmpty, "no schema files in \(folder.path)")
        return schemas
    }

    @Test("no released schema is changed in a way seed 003 §5 forbids")
    func releasedContractsHold() throws {
        let current = try Self.schemas(in: Self.current)
        for (path, contract) in try Self.schemas(in: Self.released).sorted(by: { $0.key < $1.key }) {
            guard let schema = current[path] else {
                Issue.record("schemas/events/\(path) was released and is gone: publish a v2 beside it instead (seed 003 §5)")
                continue
            }
            let changes = SchemaCompatibility.breakingChanges(from: contract, to: schema)
            #expect(changes.isEmpty, "schemas/events/\(path): \(changes.joined(separator: "; ")); publish a v2 instead (seed 003 §5)")
        }
    }

    @Test("a released copy never changes: its SHA-256 is the one recorded when it was released")
    func releasedCopiesAreFrozen() throws {
        // Editing a schema and its released copy together would hide a breaking change from the test above.
        let sums = try String(contentsOf: Self.released.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        var recorded: [String: String] = [:]
        for line in sums.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { recorded[String(parts[1].drop { $0 == " " || $0 == "*" })] = String(parts[0]) }
        }
        for path in try Self.schemas(in: Self.released).keys.sorted() {
            let bytes = try Data(contentsOf: Self.released.appendingPathComponent(path))
            let hash = Array(SHA256.hash(data: bytes)).hexString
            #expect(recorded[path] == hash, "schemas/released/\(path) differs from its release (or was released without a line in SHA256SUMS)")
        }
    }

    @Test("every schema is released deliberately, and every $id names its path")
    func everySchemaIsReleased() throws {
        let released = try Self.schemas(in: Self.released)
        for (path, schema) in try Self.schemas(in: Self.current) {
            #expect(released[path] != nil, "schemas/events/\(path) has no copy in schemas/released: release it deliberately")
            #expect(schema["$id"]?.stringValue == "schemas://" + path.dropLast(".json".count), "schemas/events/\(path)")
        }
        for (path, schema) in released {
            #expect(schema["$id"]?.stringValue == "schemas://" + path.dropLast(".json".count), "schemas/released/\(path)")
        }
    }
}
