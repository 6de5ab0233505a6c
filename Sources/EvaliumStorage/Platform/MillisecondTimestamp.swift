import EvaliumCore
import Foundation
import NIOCore
import PostgresNIO

/// A `timestamptz` parameter written as exact whole milliseconds.
///
/// PostgresNIO converts a `Date` through floating point and truncates, so 05:41:00.123 can be stored
/// as .122999; a hashed ledger event whose time read back differently would look tampered with.
struct MillisecondTimestamp: PostgresNonThrowingEncodable {
    let date: Date

    init(_ date: Date) { self.date = date }

    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }

    /// Milliseconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01T00:00:00Z.
    private static let postgresEpochMilliseconds: Int64 = 946_684_800_000

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        byteBuffer.writeInteger((milliseconds - Self.postgresEpochMilliseconds) * 1000)
    }
}

extension PostgresCell {
    /// A `timestamptz` column as whole milliseconds (see `MillisecondTimestamp`).
    func decodeMilliseconds() throws -> Date { try decode(Date.self).roundedToMilliseconds() }
    func decodeOptionalMilliseconds() throws -> Date? { try decode(Date?.self)?.roundedToMilliseconds() }
}
