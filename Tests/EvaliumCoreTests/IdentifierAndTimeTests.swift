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
