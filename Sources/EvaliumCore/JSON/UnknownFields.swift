import Foundation

/// Finding the members of a request that the server did not understand.
extension JSONValue {
    /// JSON pointers (RFC 6901) of the non-null object members of `self` (what a client sent) that have
    /// no counterpart in `understood` (what the server decoded, encoded again). A misspelt
    /// `requiresEvidance` must be refused, not silently dropped. Member names are compared
    /// case-insensitively, because decoding may normalise keys such as locale tags (`EN-us` → `en-US`).
    public func unknownFieldPointers(comparedWith understood: JSONValue, at pointer: String = "") -> [String] {
        switch (self, understood) {
        case (.object(let sent), .object(let kept)):
            // Exact names claim their counterpart first; a name differing only in case may then claim one
            // left over, so `{"kind", "Kind"}` cannot hide a second member behind the first.
            var unclaimed = Dictionary(kept.filter { sent[$0.key] == nil }.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
            return sent.keys.sorted().flatMap { name -> [String] in
                let value = sent[name]!
                let child = pointer + "/" + name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                if value == .null { return [] }
                guard let counterpart = kept[name] ?? unclaimed.removeValue(forKey: name.lowercased()) else { return [child] }
                return value.unknownFieldPointers(comparedWith: counterpart, at: child)
            }
        case (.array(let sent), .array(let kept)):
            return zip(sent, kept).enumerated().flatMap { index, pair in
                pair.0.unknownFieldPointers(comparedWith: pair.1, at: "\(pointer)/\(index)")
            }
        default:
            return []
        }
    }
}
