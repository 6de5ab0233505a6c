import Crypto
import EvaliumCore
import Foundation
import PostgresNIO
import Synchronization

/// Content frozen into assignments and submissions (an evaluation version and the question versions it
/// pins), with the SHA-256 of its stored bytes, which is its name.
public struct FrozenContent: Sendable {
    public let hash: String
    public let content: AssignmentContent
}

/// Decoded frozen content, kept by this process so that an answer, a submit or a read does not fetch and
/// decode tens of kilobytes of JSON each time (decoding it was a quarter of the server's time, measured
/// with `perf`). Content never changes once stored (the database checks its hash and grants no update),
/// so an entry can never be stale. Entries are per tenant: a hash seen in one tenant answers nothing in
/// another, and reaching an entry takes a hash read through row-level security first.
final class FrozenContentCache: Sendable {
    private struct Key: Hashable {
        var tenantId: TenantID
        var hash: String
    }

    /// An evaluation version as one tenant issues it: what the last content frozen from it hashed to.
    private struct Source: Hashable {
        var tenantId: TenantID
        var evaluationId: EvaluationID
        var version: Int
    }

    private let entries = Mutex<(contents: [Key: AssignmentContent], order: [Key], hashes: [Source: String])>(([:], [], [:]))
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func content(tenantId: TenantID, hash: String) -> AssignmentContent? {
        entries.withLock { $0.contents[Key(tenantId: tenantId, hash: hash)] }
    }

    /// The hash `content` was frozen under before in this tenant, if it is the very content kept then:
    /// issuing the same published version again need not encode and hash tens of kilobytes again.
    func hash(of content: AssignmentContent, tenantId: TenantID) -> String? {
        let source = Source(tenantId: tenantId, evaluationId: content.evaluation.evaluationId, version: content.evaluation.version)
        return entries.withLock { entries in
            guard let hash = entries.hashes[source], entries.contents[Key(tenantId: tenantId, hash: hash)] == content else { return nil }
            return hash
        }
    }

    /// Keeps `content`, forgetting the oldest entry when full (the contents in use are few: one per
    /// published version being run).
    func keep(_ content: AssignmentContent, tenantId: TenantID, hash: String) {
        let key = Key(tenantId: tenantId, hash: hash)
        let source = Source(tenantId: tenantId, evaluationId: content.evaluation.evaluationId, version: content.evaluation.version)
        entries.withLock { entries in
            entries.hashes[source] = hash
            guard entries.contents.updateValue(content, forKey: key) == nil else { return }
            entries.order.append(key)
            if entries.order.count > capacity {
                let forgotten = entries.order.removeFirst()
                entries.contents[forgotten] = nil
                entries.hashes = entries.hashes.filter { $0.value != forgotten.hash || $0.key.tenantId != forgotten.tenantId }
            }
        }
    }
}

extension Transaction {
    /// Stores `content` (if this tenant does not hold it already) and answers it with its hash.
    public func freezeContent(_ content: AssignmentContent) async throws -> FrozenContent {
        let tenantId = try requireTenant()
        // Known content is still looked up: the transaction that stored it may have rolled back.
        if let hash = frozenContents.hash(of: content, tenantId: tenantId),
           try await exists("SELECT 1 FROM frozen_contents WHERE tenant_id = \(tenantId.rawValue) AND content_hash = \(hash)") {
            return FrozenContent(hash: hash, content: content)
        }
        let bytes = try CanonicalJSON.bytes(JSONValue(encoding: content))
        let hash = Array(SHA256.hash(data: bytes)).hexString
        try await run(
            """
            INSERT INTO frozen_contents (tenant_id, content_hash, content)
            VALUES (\(tenantId.rawValue), \(hash), \(String(decoding: bytes, as: UTF8.self)))
            ON CONFLICT (tenant_id, content_hash) DO NOTHING
            """)
        frozenContents.keep(content, tenantId: tenantId, hash: hash)
        return FrozenContent(hash: hash, content: content)
    }

    /// The content stored under `hash` in the scope's tenant.
    public func frozenContent(_ hash: String) async throws -> FrozenContent? {
        let tenantId = try requireTenant()
        return try await frozenContents.content(tenantId: tenantId, hash: hash) {
            try await run("SELECT content FROM frozen_contents WHERE tenant_id = \(tenantId.rawValue) AND content_hash = \(hash)")
        }
    }
}

extension ScopedStatements {
    /// The content stored under `hash` in the scope's tenant, read (when this process does not hold it) by a
    /// statement that applies the scope itself (`scoped_frozen_content`).
    public func frozenContent(_ hash: String) async throws -> FrozenContent? {
        try await frozenContents.content(tenantId: try requireTenant(), hash: hash) {
            var binds = PostgresBindings()
            bindScope(into: &binds)
            binds.append(hash)
            // Not prepared: a process reads each content once.
            return try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT * FROM scoped_frozen_content(\(Scope.parameters), $9)", binds: binds), logger: logger)
        }
    }
}

extension FrozenContentCache {
    /// The content under `hash` in `tenantId`: kept, or else decoded from the text of the first row `read`
    /// answers and kept from then on; nil when it answers none.
    func content(
        tenantId: TenantID, hash: String, readingWith read: () async throws -> PostgresRowSequence
    ) async throws -> FrozenContent? {
        if let content = content(tenantId: tenantId, hash: hash) { return FrozenContent(hash: hash, content: content) }
        for try await text in try await read().decode(String.self) {
            let content = try storedValue(AssignmentContent.self, text)
            keep(content, tenantId: tenantId, hash: hash)
            return FrozenContent(hash: hash, content: content)
        }
        return nil
    }
}
