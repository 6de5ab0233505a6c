import Foundation

/// Server time, the only authoritative clock, always in whole milliseconds so that a value written to
/// PostgreSQL (microseconds) and read back compares equal, and so RFC 3339 text round-trips exactly.
public enum ServerClock {
    public static func now() -> Date { Date().roundedToMilliseconds() }
}

extension Date {
    public func roundedToMilliseconds() -> Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000)
    }

    /// UTC RFC 3339 with exactly three fractional digits, e.g. `2026-11-22T05:41:00.123Z`.
    ///
    /// Built from whole milliseconds rather than with a format style, which truncates: a time held as
    /// …​.12299999 would print as .122 and no longer match the value it was hashed from. And built by
    /// arithmetic on the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`), because every
    /// response and ledger event carries times: the format style and `String(format:)` were 4 % of the
    /// server's time encoding a submission.
    public var rfc3339: String {
        let milliseconds = Int64((timeIntervalSince1970 * 1000).rounded())
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let ofDay = milliseconds - days * 86_400_000
        let (year, month, day) = Self.civil(fromDays: days)
        var text = [UInt8]()
        text.reserveCapacity(24)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        if year < 0 { text.append(UInt8(ascii: "-")) }
        digits(abs(year), max(4, String(abs(year)).count))
        text.append(UInt8(ascii: "-"))
        digits(month, 2)
        text.append(UInt8(ascii: "-"))
        digits(day, 2)
        text.append(UInt8(ascii: "T"))
        digits(ofDay / 3_600_000, 2)
        text.append(UInt8(ascii: ":"))
        digits(ofDay / 60_000 % 60, 2)
        text.append(UInt8(ascii: ":"))
        digits(ofDay / 1000 % 60, 2)
        text.append(UInt8(ascii: "."))
        digits(ofDay % 1000, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }

    /// Year, month and day of the proleptic Gregorian calendar `days` after 1970-01-01.
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468  // days since 0000-03-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// The one wire format for time: UTC RFC 3339 with milliseconds.
public enum RFC3339 {
    static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    /// Formats whole seconds exactly; `rfc3339` appends the milliseconds itself.
    static let styleWithoutFraction = Date.ISO8601FormatStyle(timeZone: .gmt)

    /// Parses RFC 3339 text with or without fractional seconds (to whole milliseconds, like every time
    /// Evalium keeps); nil when it is not a timestamp.
    public static func parse(_ text: String) -> Date? {
        let date = (try? style.parse(text)) ?? (try? styleWithoutFraction.parse(text))
        return date?.roundedToMilliseconds()
    }
}

/// Encoders and decoders shared by the API, ledger payloads, events and tests, so that every date
/// on the wire has the same shape.
public enum WireJSON {
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.rfc3339)
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected an RFC 3339 timestamp such as 2026-11-22T05:41:00.123Z")
            }
            return date
        }
        return decoder
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval` for date arithmetic.
    public var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
