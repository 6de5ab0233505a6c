import Foundation
import Synchronization

/// Authored text in one or more locales: the canonical envelope of seed §19.7,
/// `{ "defaultLocale": "en", "locales": { "en": "…", "fr-CA": "…" } }`.
///
/// Decoding also accepts plain text, stored under the locale in `decoder.userInfo[.plainTextLocale]` (else
/// English). Encoding writes the envelope, or — when `encoder.userInfo[.localeProjection]` holds a
/// `LocaleProjection` — only the text resolved for the requested locale, recording the locale used.
/// A draft may lack text in its default locale; `publishProblems()` is what refuses that.
public struct LocalizedText: Hashable, Sendable, Codable {
    public var defaultLocale: LocaleTag
    public var locales: [LocaleTag: String]

    public init(defaultLocale: LocaleTag, locales: [LocaleTag: String]) {
        self.defaultLocale = defaultLocale
        self.locales = locales
    }

    /// A single-locale envelope whose default locale is `locale`.
    public init(_ text: String, locale: LocaleTag = .english) {
        self.init(defaultLocale: locale, locales: [locale: text])
    }

    /// The text in the default locale, if present.
    public var defaultText: String? { locales[defaultLocale] }

    /// True when the default locale has no text (allowed in drafts, refused on publishing).
    public var missingDefault: Bool { locales[defaultLocale] == nil }

    /// Best text for `requested`: the first of requested.lookupChain present, then any present locale with the same
    /// primary language (the lexically smallest tag, so the choice is deterministic), then the default locale, then the
    /// lexically smallest present locale. nil only when `locales` is empty.
    ///
    /// Private-use (`x-…`) and `i-…` tags share no language with each other, so they never match on language alone.
    public func resolve(_ requested: LocaleTag) -> (text: String, locale: LocaleTag)? {
        let sameLanguage = requested.language.count > 1 ? locales.keys.filter { $0.language == requested.language }.min() : nil
        let chosen = requested.lookupChain.first { locales[$0] != nil }
            ?? sameLanguage
            ?? (missingDefault ? nil : defaultLocale)
            ?? locales.keys.min()
        guard let chosen, let text = locales[chosen] else { return nil }
        return (text, chosen)
    }
}

extension LocalizedText {
    /// Problems that keep this text from being published: the default locale has no text, or a text is blank
    /// (only whitespace). Returns human sentences, e.g. "has no text in its default locale en".
    public func publishProblems() -> [String] {
        var problems: [String] = []
        if missingDefault { problems.append("has no text in its default locale \(defaultLocale)") }
        for (locale, text) in locales.sorted(by: { $0.key < $1.key })
        where text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            problems.append("has blank text in locale \(locale)")
        }
        return problems
    }
}

// MARK: - Codable

extension CodingUserInfoKey {
    /// The `LocaleTag` under which a decoder stores plain (non-envelope) text; English when absent.
    public static let plainTextLocale = CodingUserInfoKey(rawValue: "evalium.plainTextLocale")!
    /// The `LocaleProjection` that makes an encoder write projected text instead of envelopes.
    public static let localeProjection = CodingUserInfoKey(rawValue: "evalium.localeProjection")!
}

extension LocalizedText {
    /// A key spelled at run time: envelope members are checked by name and locale keys are data.
    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ stringValue: String) { self.stringValue = stringValue }
        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }

        static let defaultLocale = Key("defaultLocale")
        static let locales = Key("locales")
    }

    /// Every refusal names the offending member in its coding path, so the API can answer with a JSON pointer
    /// such as `/title/locales/fr_CA`. Keys are examined in sorted order so the same body always gets the same error.
    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self.init(text, locale: decoder.userInfo[.plainTextLocale] as? LocaleTag ?? .english)
            return
        }
        let envelope: KeyedDecodingContainer<Key>
        do {
            envelope = try decoder.container(keyedBy: Key.self)
        } catch DecodingError.typeMismatch {
            throw DecodingError.typeMismatch(LocalizedText.self, .init(
                codingPath: decoder.codingPath, debugDescription: "expected text or an object with defaultLocale and locales"))
        }
        let members = envelope.allKeys.sorted { $0.stringValue < $1.stringValue }
        if let unknown = members.first(where: { ![Key.defaultLocale.stringValue, Key.locales.stringValue].contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: envelope.codingPath + [unknown],
                debugDescription: "unknown key \"\(unknown.stringValue)\": localized text has only defaultLocale and locales"))
        }
        let defaultLocale = try envelope.decode(LocaleTag.self, forKey: .defaultLocale)
        let texts = try envelope.nestedContainer(keyedBy: Key.self, forKey: .locales)
        var locales: [LocaleTag: String] = [:]
        for key in texts.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let path = texts.codingPath + [key]
            guard let locale = LocaleTag(key.stringValue) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: LocaleTag.illFormedMessage))
            }
            guard locales[locale] == nil else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: path, debugDescription: "names the locale \(locale) that another key already names"))
            }
            locales[locale] = try texts.decode(String.self, forKey: key)
        }
        guard !locales.isEmpty else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: texts.codingPath, debugDescription: "needs the text in at least one locale"))
        }
        self.init(defaultLocale: defaultLocale, locales: locales)
    }

    /// Under a projection, text with no locale at all (only possible when built in code: decoding refuses it)
    /// is written as null and not counted in the report.
    public func encode(to encoder: any Encoder) throws {
        if let projection = encoder.userInfo[.localeProjection] as? LocaleProjection {
            var container = encoder.singleValueContainer()
            guard let resolved = resolve(projection.requested) else { return try container.encodeNil() }
            projection.record(resolved.locale, at: Self.pointer(encoder.codingPath))
            return try container.encode(resolved.text)
        }
        var envelope = encoder.container(keyedBy: Key.self)
        try envelope.encode(defaultLocale, forKey: .defaultLocale)
        var texts = envelope.nestedContainer(keyedBy: Key.self, forKey: .locales)
        for (locale, text) in locales.sorted(by: { $0.key < $1.key }) {
            try texts.encode(text, forKey: Key(locale.rawValue))
        }
    }

    /// RFC 6901 pointer of `path`, with array positions as numbers (the keys `JSONEncoder` uses for array
    /// elements carry them as `intValue`, the same rule the API's decoding errors use).
    private static func pointer(_ path: [any CodingKey]) -> String {
        path.map { key in
            let token = key.intValue.map(String.init) ?? key.stringValue
            return "/" + token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        }.joined()
    }
}

// MARK: - Projection

/// Collects, while one response is encoded, which locale each localized field was projected to.
/// Shared by reference through `encoder.userInfo`, so it is filled in during encoding and read afterwards.
public final class LocaleProjection: Sendable {
    public let requested: LocaleTag
    /// Locale used, by JSON pointer of the field.
    private let projected = Mutex<[String: LocaleTag]>([:])

    public init(requested: LocaleTag) { self.requested = requested }

    fileprivate func record(_ locale: LocaleTag, at pointer: String) {
        projected.withLock { $0[pointer] = locale }
    }

    /// What the response reports: the locale most fields resolved to (ties: the one earlier in requested.lookupChain,
    /// then lexical order), and every field that resolved to a different locale.
    public var report: LocaleReport {
        let projected = self.projected.withLock { $0 }
        let counts = projected.values.reduce(into: [LocaleTag: Int]()) { $0[$1, default: 0] += 1 }
        let chain = requested.lookupChain
        func rank(_ locale: LocaleTag) -> Int { chain.firstIndex(of: locale) ?? chain.count }
        let resolved = counts.min { lhs, rhs in
            (-lhs.value, rank(lhs.key), lhs.key) < (-rhs.value, rank(rhs.key), rhs.key)
        }?.key
        let fallbacks = projected.filter { $0.value != resolved }
            .map { LocaleReport.Fallback(pointer: $0.key, locale: $0.value) }
            .sorted { $0.pointer < $1.pointer }
        return LocaleReport(requested: requested, resolved: resolved, fallbacks: fallbacks)
    }
}

/// The locale report of one projected response.
public struct LocaleReport: Sendable, Equatable, Codable {
    public var requested: LocaleTag
    /// The locale most fields resolved to; nil when the response had no localized field.
    public var resolved: LocaleTag?
    /// The fields that resolved to another locale, sorted by pointer.
    public var fallbacks: [Fallback]

    public init(requested: LocaleTag, resolved: LocaleTag?, fallbacks: [Fallback]) {
        self.requested = requested
        self.resolved = resolved
        self.fallbacks = fallbacks
    }

    /// `resolved` is always present, as null when nothing was localized, so clients need not tell
    /// "absent" from "none".
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requested, forKey: .requested)
        try container.encode(resolved, forKey: .resolved)
        try container.encode(fallbacks, forKey: .fallbacks)
    }

    /// A field (by RFC 6901 pointer) projected to another locale than `resolved`.
    public struct Fallback: Sendable, Equatable, Codable {
        public var pointer: String
        public var locale: LocaleTag

        public init(pointer: String, locale: LocaleTag) {
            self.pointer = pointer
            self.locale = locale
        }
    }
}
