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

    static func schemas(in folder: URL) throws -> [String: JSONValue] {
        var schemas: [String: JSONValue] = [:]
        let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        for file in files where file.pathExtension == "json" {
            let relative = String(file.standardizedFileURL.path.dropFirst(folder.standardizedFileURL.path.count + 1))
            schemas[relative] = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: file))
        }
        return schemas
    }

    @Test("no released schema is changed in a way seed 003 §5 forbids")
    func releasedContractsHold() throws {
        let current = try Self.schemas(in: Self.current)
        let released = try Self.schemas(in: Self.released)
        #expect(released.count >= 20)
        for (path, contract) in released.sorted(by: { $0.key < $1.key }) {
            guard let schema = current[path] else {
                Issue.record("\(path) was released and is gone: publish a v2 beside it instead (seed 003 §5)")
                continue
            }
            let changes = SchemaCompatibility.breakingChanges(from: contract, to: schema)
            #expect(changes.isEmpty, "\(path): \(changes.joined(separator: "; ")); publish a v2 instead (seed 003 §5)")
        }
    }

    @Test("every schema is released, and its $id names its path")
    func everySchemaIsReleased() throws {
        let released = try Self.schemas(in: Self.released)
        for (path, schema) in try Self.schemas(in: Self.current) {
            #expect(released[path] != nil, "\(path) is not in schemas/released: release it deliberately")
            #expect(schema["$id"]?.stringValue == "schemas://" + path.dropLast(".json".count), "\(path)")
        }
    }
}
