import Foundation

/// Splits a migration file into single statements, because PostgreSQL's extended protocol (which
/// PostgresNIO uses) accepts one statement per query. Semicolons inside quotes, quoted identifiers,
/// dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`) and comments do not end a statement.
public enum SQLScript {
    public static func statements(in script: String) -> [String] {
        let characters = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0

        func flush() {
            let statement = String(current).trimmingWhitespace()
            if !statement.isEmpty, !isOnlyComments(statement) { statements.append(statement) }
            current = String.UnicodeScalarView()
        }

        while index < characters.count {
            let character = characters[index]
            let next: Unicode.Scalar? = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where next == "-":
                while index < characters.count, characters[index] != "\n" {
                    current.append(characters[index])
                    index += 1
                }
                continue
            case "/" where next == "*":
                let end = find(["*", "/"], in: characters, from: index + 2) ?? characters.count
                current.append(contentsOf: characters[index..<min(end, characters.count)])
                index = end
                continue
            case "'", "\"":
                let end = find([character], in: characters, from: index + 1).map { $0 } ?? characters.count
                current.append(contentsOf: characters[index..<min(end, characters.count)])
                index = end
                continue
            case "$":
                if let tagEnd = dollarTagEnd(characters, from: index) {
                    let tag = Array(characters[index...tagEnd])
                    let end = find(tag, in: characters, from: tagEnd + 1) ?? characters.count
                    current.append(contentsOf: characters[index..<min(end, characters.count)])
                    index = end
                    continue
                }
            case ";":
                flush()
                index += 1
                continue
            default:
                break
            }
            current.append(character)
            index += 1
        }
        flush()
        return statements
    }

    /// Index just past the next occurrence of `token` at or after `start`.
    private static func find(_ token: [Unicode.Scalar], in characters: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start
        while index + token.count <= characters.count {
            if Array(characters[index..<(index + token.count)]) == token { return index + token.count }
            index += 1
        }
        return nil
    }

    /// For `$tag$` starting at `start`, the index of its closing `$`; nil for a positional parameter like `$1`.
    private static func dollarTagEnd(_ characters: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start + 1
        while index < characters.count {
            let character = characters[index]
            if character == "$" { return index }
            let isTagCharacter = character == "_" || character.properties.isAlphabetic
                || (index > start + 1 && ("0"..."9").contains(character))
            if !isTagCharacter { return nil }
            index += 1
        }
        return nil
    }

    private static func isOnlyComments(_ statement: String) -> Bool {
        statement.split(separator: "\n").allSatisfy {
            let line = $0.trimmingCharacters(in: .whitespaces)
            return line.isEmpty || line.hasPrefix("--")
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
