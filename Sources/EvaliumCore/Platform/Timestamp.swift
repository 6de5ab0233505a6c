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
    /// …​.12299999 would print as .122 and no longer match the value it was hashed from.
    public var rfc3339: String {
        let milliseconds = Int64((timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let wholeSeconds = Date(timeIntervalSince1970: TimeInterval(fraction < 0 ? seconds - 1 : seconds))
        let base = wholeSeconds.formatted(RFC3339.styleWithoutFraction).dropLast()  // drop the "Z"
        return "\(base).\(String(format: "%03lld", (fraction + 1000) % 1000))Z"
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
