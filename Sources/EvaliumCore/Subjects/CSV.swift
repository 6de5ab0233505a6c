/// Comma-separated values as RFC 4180 writes them: fields separated by `,`, records by CRLF (a bare LF or
/// CR is accepted too), a field in double quotes may hold commas, line breaks and `""` for one quote.
/// The text is UTF-8, with or without a byte-order mark.
public enum CSV {
    /// One record and the line of the file it starts on (1-based; quoted line breaks count).
    public struct Record: Sendable, Equatable {
        public var line: Int
        public var fields: [String]

        public init(line: Int, fields: [String]) {
            self.line = line
            self.fields = fields
        }
    }

    /// Why a file is not CSV.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case notUTF8
        /// A quoted field still open at the end of the file; the line where it opened.
        case unterminatedQuote(line: Int)
        /// A double quote inside a field that did not start with one.
        case quoteInUnquotedField(line: Int)
        /// Something other than a comma or a line break right after a quoted field's closing quote.
        case textAfterClosingQuote(line: Int)
        /// More records than `maxRecords`.
        case tooManyRecords(limit: Int)

        public var description: String {
            switch self {
            case .notUTF8: "the file is not UTF-8 text"
            case .unterminatedQuote(let line): "line \(line): a quoted field is never closed"
            case .quoteInUnquotedField(let line): "line \(line): a double quote inside a field that is not quoted (quote the field and double the quote)"
            case .textAfterClosingQuote(let line): "line \(line): text after a quoted field's closing quote"
            case .tooManyRecords(let limit): "the file has more than \(limit) records"
            }
        }
    }

    /// One record as RFC 4180 writes it, CRLF included: a field is quoted when it holds a comma, a quote or a
    /// line break, and its quotes are doubled.
    public static func record(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
        }.joined(separator: ",") + "\r\n"
    }

    /// Free text made safe to open in a spreadsheet: a leading `=`, `+`, `-` or `@` would start a formula, so
    /// such a cell is prefixed with `'` (OWASP's CSV-injection advice).
    public static func inert(_ text: String) -> String {
        guard let first = text.first, "=+-@\t\r".contains(first) else { return text }
        return "'" + text
    }

    /// The records of `bytes`, blank lines left out. Fails on the first thing that is not CSV.
    public static func parse(_ bytes: [UInt8], maxRecords: Int = .max) throws(Failure) -> [Record] {
        var bytes = bytes[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard Array(String(decoding: bytes, as: UTF8.self).utf8) == Array(bytes) else { throw .notUTF8 }
        var parser = Parser(maxRecords: maxRecords)
        for byte in bytes { try parser.consume(byte) }
        return try parser.finish()
    }

    private struct Parser {
        let maxRecords: Int
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var quoteLine = 1
        /// Inside a quoted field; `quotePending`: a quote was just read there (closing, or the first of `""`).
        var inQuotes = false
        var quotePending = false
        /// The current field was quoted and is closed: only a separator may follow.
        var closedQuote = false
        var recordWasQuoted = false
        /// The previous byte was a CR ending a record, so an LF right after it is the same line break.
        var afterCR = false

        init(maxRecords: Int) { self.maxRecords = maxRecords }

        mutating func consume(_ byte: UInt8) throws(Failure) {
            let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
            defer { if byte != cr { afterCR = false } }
            if afterCR, byte == lf { afterCR = false; return }
            if inQuotes {
                if quotePending {
                    quotePending = false
                    if byte == quote { field.append(quote); return }
                    inQuotes = false
                    closedQuote = true
                } else {
                    if byte == quote { quotePending = true; return }
                    if byte == lf { line += 1 }
                    field.append(byte)
                    return
                }
            }
            switch byte {
            case quote:
                guard field.isEmpty, !closedQuote else { throw .quoteInUnquotedField(line: line) }
                inQuotes = true
                recordWasQuoted = true
                quoteLine = line
            case comma:
                endField()
            case lf, cr:
                try endRecord()
                line += 1
                recordLine = line
                afterCR = byte == cr
            default:
                guard !closedQuote else { throw .textAfterClosingQuote(line: line) }
                field.append(byte)
            }
        }

        mutating func finish() throws(Failure) -> [Record] {
            if inQuotes, !quotePending { throw .unterminatedQuote(line: quoteLine) }
            if !field.isEmpty || !fields.isEmpty || inQuotes || closedQuote { inQuotes = false; try endRecord() }
            return records
        }

        private mutating func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
            closedQuote = false
        }

        private mutating func endRecord() throws(Failure) {
            endField()
            defer {
                fields = []
                recordWasQuoted = false
            }
            if fields == [""], !recordWasQuoted { return }
            guard records.count < maxRecords else { throw .tooManyRecords(limit: maxRecords) }
            records.append(Record(line: recordLine, fields: fields))
        }
    }
}
