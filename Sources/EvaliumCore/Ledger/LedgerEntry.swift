import Foundation

/// An event as read back: the event, its leaf hash, and its seal once the sealer has reached it.
public struct LedgerEntry: Sendable, Equatable {
    public var event: LedgerEvent
    public var leafHash: [UInt8]
    public var sequence: Int64?
    public var chainHash: [UInt8]?

    public init(event: LedgerEvent, leafHash: [UInt8], sequence: Int64?, chainHash: [UInt8]?) {
        self.event = event
        self.leafHash = leafHash
        self.sequence = sequence
        self.chainHash = chainHash
    }
}

/// Position in a time-ordered listing of ledger events, shown to clients as an opaque cursor.
public struct LedgerCursor: Sendable, Equatable {
    public var occurredAt: Date
    public var eventId: LedgerEventID

    public init(occurredAt: Date, eventId: LedgerEventID) {
        self.occurredAt = occurredAt
        self.eventId = eventId
    }

    public var token: String {
        Data("\(occurredAt.rfc3339)|\(eventId.rawValue)".utf8).base64EncodedString()
    }

    public init?(token: String) {
        guard let data = Data(base64Encoded: token) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: "|")
        guard parts.count == 2, let date = RFC3339.parse(String(parts[0])), let id = LedgerEventID(String(parts[1])) else {
            return nil
        }
        self.init(occurredAt: date, eventId: id)
    }
}
