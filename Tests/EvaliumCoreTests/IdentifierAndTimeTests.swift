import EvaliumCore
import Foundation
import Testing

@Suite("Identifiers and time", .timeLimit(.minutes(2)))
struct IdentifierAndTimeTests {
    @Test("generated ids are prefixed ULIDs that parse back and sort by time")
    func ulids() throws {
        let earlier = ULID(date: Date(timeIntervalSince1970: 1_700_000_000))
        let later = ULID(date: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(earlier.text < later.text)
        #expect(earlier.text.count == 26)
        // 1_700_000_000_000 ms in the 48-bit time field, in Crockford base32.
        #expect(earlier.text.hasPrefix("01HF7YAT00"))
        let id = TenantID.generate()
        #expect(id.rawValue.hasPrefix("tnt_"))
        #expect(TenantID(id.rawValue) == id)
    }

    @Test("malformed or wrongly prefixed ids are refused", arguments: [
        "usr_01M80XGF3VBWS4Z887JTHDK0HM", "tnt_01M80XGF3VBWS4Z887JTHDK0H", "tnt_01M80XGF3VBWS4Z887JTHDK0HI",
        "tnt_81M80XGF3VBWS4Z887JTHDK0HM", "tnt_01m80xgf3vbws4z887jthdk0hm", "01M80XGF3VBWS4Z887JTHDK0HM", "",
    ])
    func refused(text: String) {
        #expect(TenantID(text) == nil)
    }

    @Test("times are UTC RFC 3339 with milliseconds and round-trip exactly")
    func time() throws {
        let date = Date(timeIntervalSince1970: 1_795_333_260.1237).roundedToMilliseconds()
        #expect(date.rfc3339 == "2026-11-22T07:41:00.124Z")
        #expect(RFC3339.parse(date.rfc3339) == date)
        #expect(RFC3339.parse("2026-11-22T05:41:00Z") != nil)
        #expect(RFC3339.parse("yesterday") == nil)
    }

    @Test("times print as Foundation's ISO 8601 style prints their whole seconds, with the milliseconds, from 1600 to 9999")
    func timesMatchFoundation() {
        var generator = SystemRandomNumberGenerator()
        let wholeSeconds = Date.ISO8601FormatStyle(timeZone: .gmt)
        let edges: [Int64] = [0, -1, 1, 999, -999, 951_782_400_000, 4_107_542_399_999, -11_676_096_000_000, 253_402_300_799_999]
        let random = (0..<20_000).map { _ in Int64.random(in: -11_676_096_000_000...253_402_300_799_999, using: &generator) }
        for milliseconds in edges + random {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
            let fraction = milliseconds - seconds * 1000
            let expected = Date(timeIntervalSince1970: Double(seconds)).formatted(wholeSeconds).dropLast() + "." + String(1000 + fraction).dropFirst() + "Z"
            #expect(date.rfc3339 == expected, "\(milliseconds)")
            #expect(RFC3339.parse(date.rfc3339) == date)
        }
    }

    @Test("ledger cursors round-trip and reject anything else")
    func cursors() {
        let cursor = LedgerCursor(occurredAt: ServerClock.now(), eventId: .generate())
        #expect(LedgerCursor(token: cursor.token) == cursor)
        #expect(LedgerCursor(token: "not a cursor") == nil)
    }

    @Test("display names are trimmed and checked", arguments: [
        ("  Acme  ", "Acme"), ("", nil), ("   ", nil), (String(repeating: "x", count: 201), nil), ("bell\u{07}", nil),
    ] as [(String, String?)])
    func displayNames(raw: String, expected: String?) {
        let result = try? DisplayName.validate(raw, pointer: "/name").get()
        #expect(result == expected)
    }
}

@Suite("ULID ordering", .timeLimit(.minutes(1)))
struct ULIDOrderingTests {
    @Test("ids made in the same millisecond still sort in the order they were made")
    func monotonicWithinMillisecond() {
        let generator = ULIDGenerator()
        let instant = Date()
        let ids = (0..<1000).map { _ in generator.next(at: instant).text }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids.map { $0.prefix(10) }).count == 1)
    }
}
