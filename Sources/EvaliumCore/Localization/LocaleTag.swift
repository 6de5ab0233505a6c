import Foundation

/// A well-formed BCP-47 language tag (RFC 5646 §2.1 syntax), stored in its canonical case (§2.1.1).
///
/// Two spellings of one tag (`EN-us`, `en-US`) are the same value, so a tag can key a dictionary of texts.
/// Well-formed is stricter than "looks like a locale": subtags are separated by `-` only (`en_US` is refused),
/// only ASCII letters and digits are allowed, no variant or extension singleton may repeat, and a tag is at most
/// 64 characters. Whether the subtags are registered in the IANA registry is not checked.
public struct LocaleTag: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    /// The tag in canonical case, or nil when `text` is not well-formed.
    public init?(_ text: String) {
        guard let canonical = Self.canonicalForm(of: text) else { return nil }
        rawValue = canonical
    }

    private init(canonical: String) { rawValue = canonical }

    public static let english = LocaleTag(canonical: "en")

    /// What a client is told when it sends an ill-formed tag; the JSON pointer of the field names the subject.
    static let illFormedMessage = "is not a well-formed BCP-47 language tag (e.g. en, fr-CA, zh-Hant-TW)"

    /// The primary language subtag, lower case. For a private-use tag (`x-…`) or an irregular grandfathered
    /// one (`i-…`) this is the singleton `x` or `i`, which names no language.
    public var language: String { String(rawValue.prefix { $0 != "-" }) }

    /// RFC 4647 §3.4 lookup truncation: "zh-Hant-TW" → ["zh-Hant-TW", "zh-Hant", "zh"]; a subtag left dangling
    /// by a singleton (e.g. "-x") is removed together with it.
    ///
    /// A prefix of a well-formed tag is ill-formed exactly when it ends in a singleton, so skipping the
    /// ill-formed prefixes is that rule. Every element is well-formed and already in canonical case.
    public var lookupChain: [LocaleTag] {
        var chain = [self]
        var subtags = rawValue.split(separator: "-")
        while subtags.count > 1 {
            subtags.removeLast()
            if let shorter = LocaleTag(subtags.joined(separator: "-")) { chain.append(shorter) }
        }
        return chain
    }

    public var description: String { rawValue }

    public static func < (lhs: LocaleTag, rhs: LocaleTag) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let tag = LocaleTag(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.illFormedMessage)
        }
        self = tag
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

// MARK: - RFC 5646 §2.1 syntax

extension LocaleTag {
    private static let maximumLength = 64

    /// RFC 5646 §2.2.8: the tags registered before RFC 4646 that the langtag production does not (all) cover,
    /// keyed by their lower-case spelling, valued in the case the registry records (which is the canonical case).
    private static let grandfathered: [String: String] = {
        let irregular = [
            "en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux", "i-mingo",
            "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE",
        ]
        let regular = ["art-lojban", "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan", "zh-xiang"]
        return Dictionary(uniqueKeysWithValues: (irregular + regular).map { ($0.lowercased(), $0) })
    }()

    /// `Language-Tag = langtag / privateuse / grandfathered`, returned in canonical case, or nil.
    private static func canonicalForm(of text: String) -> String? {
        guard !text.isEmpty, text.utf8.count <= maximumLength,
              text.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || isASCIIAlphanumeric($0) })
        else { return nil }
        let lowered = text.lowercased()
        if let registered = grandfathered[lowered] { return registered }
        let subtags = lowered.split(separator: "-", omittingEmptySubsequences: false)
        guard subtags.allSatisfy({ (1...8).contains($0.count) }) else { return nil }
        if subtags[0] == "x" { return isPrivateUse(subtags[...]) ? lowered : nil }
        return langtag(subtags)
    }

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `privateuse = "x" 1*("-" (1*8alphanum))`; the subtag lengths and characters are already checked.
    private static func isPrivateUse(_ subtags: ArraySlice<Substring>) -> Bool {
        subtags.first == "x" && subtags.count >= 2
    }

    /// `langtag = language ["-" script] ["-" region] *("-" variant) *("-" extension) ["-" privateuse]`, read
    /// greedily left to right (the productions never compete for one subtag), with lower-case `subtags` of
    /// 1–8 ASCII letters and digits. Script subtags become title case and region subtags upper case (§2.1.1).
    private static func langtag(_ subtags: [Substring]) -> String? {
        var index = subtags.startIndex
        var canonical: [String] = []
        /// Consumes the next subtag when `production` accepts it.
        func next(_ production: (Substring) -> Bool) -> Substring? {
            guard index < subtags.endIndex, production(subtags[index]) else { return nil }
            defer { index += 1 }
            return subtags[index]
        }
        func letters(_ subtag: Substring) -> Bool { subtag.allSatisfy(\.isLetter) }
        func digits(_ subtag: Substring) -> Bool { subtag.allSatisfy(\.isNumber) }

        // language = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA; extlang = 3ALPHA *2("-" 3ALPHA)
        guard let language = next({ $0.count >= 2 && letters($0) }) else { return nil }
        canonical.append(String(language))
        if language.count <= 3 {
            while canonical.count < 4, let extlang = next({ $0.count == 3 && letters($0) }) {
                canonical.append(String(extlang))
            }
        }
        // script = 4ALPHA
        if let script = next({ $0.count == 4 && letters($0) }) {
            canonical.append(script.prefix(1).uppercased() + script.dropFirst())
        }
        // region = 2ALPHA / 3DIGIT
        if let region = next({ ($0.count == 2 && letters($0)) || ($0.count == 3 && digits($0)) }) {
            canonical.append(region.uppercased())
        }
        // variant = 5*8alphanum / (DIGIT 3alphanum), none repeated
        var variants: Set<Substring> = []
        while let variant = next({ $0.count >= 5 || ($0.count == 4 && $0.first?.isNumber == true) }) {
            guard variants.insert(variant).inserted else { return nil }
            canonical.append(String(variant))
        }
        // extension = singleton 1*("-" (2*8alphanum)), singleton = any alphanum but x, none repeated
        var singletons: Set<Substring> = []
        while let singleton = next({ $0.count == 1 && $0 != "x" }) {
            guard singletons.insert(singleton).inserted else { return nil }
            canonical.append(String(singleton))
            let firstSubtag = canonical.count
            while let subtag = next({ $0.count >= 2 }) { canonical.append(String(subtag)) }
            guard canonical.count > firstSubtag else { return nil }
        }
        // ["-" privateuse], which runs to the end of the tag
        if index < subtags.endIndex {
            guard isPrivateUse(subtags[index...]) else { return nil }
            canonical += subtags[index...].map(String.init)
        }
        return canonical.joined(separator: "-")
    }
}
