import EvaliumCore
import Foundation
import Testing

/// A tag the test knows to be well-formed.
private func tag(_ text: String) -> LocaleTag { LocaleTag(text)! }

private func makeEncoder(projecting requested: LocaleTag? = nil) -> (JSONEncoder, LocaleProjection?) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let projection = requested.map(LocaleProjection.init(requested:))
    if let projection { encoder.userInfo[.localeProjection] = projection }
    return (encoder, projection)
}

private func decode<T: Decodable>(_ type: T.Type, _ json: String, plainTextLocale: LocaleTag? = nil) throws -> T {
    let decoder = JSONDecoder()
    if let plainTextLocale { decoder.userInfo[.plainTextLocale] = plainTextLocale }
    return try decoder.decode(type, from: Data(json.utf8))
}

/// The coding path and message of the `dataCorrupted` error that decoding `json` must throw.
private func corruption(_ json: String) throws -> (path: [String], message: String) {
    do {
        _ = try decode(Titled.self, json)
    } catch DecodingError.dataCorrupted(let context) {
        return (context.codingPath.map(\.stringValue), context.debugDescription)
    }
    Issue.record("decoding \(json) should have failed")
    return ([], "")
}

private struct Titled: Codable, Equatable {
    var title: LocalizedText
}

@Suite("Localization", .timeLimit(.minutes(2)))
struct LocalizationTests {}

extension LocalizationTests {
    @Suite("Locale tags")
    struct LocaleTags {
        @Test("well-formed tags are stored in RFC 5646 canonical case", arguments: [
            ("EN-us", "en-US"), ("zh-hant-tw", "zh-Hant-TW"), ("SR-LATN-rs", "sr-Latn-RS"), ("es-419", "es-419"),
            ("de-CH-1996", "de-CH-1996"), ("en-a-bbb-x-a-ccc", "en-a-bbb-x-a-ccc"), ("x-whatever", "x-whatever"),
            ("X-WHATEVER", "x-whatever"), ("i-klingon", "i-klingon"), ("I-Klingon", "i-klingon"), ("sgn-BE-FR", "sgn-BE-FR"),
            ("sgn-be-fr", "sgn-BE-FR"), ("EN-gb-OED", "en-GB-oed"), ("zh-min-nan", "zh-min-nan"), ("zh-YUE-hk", "zh-yue-HK"),
            ("de-de-U-CO-PHONEBK", "de-DE-u-co-phonebk"), ("AZ-LATN-X-LATN", "az-Latn-x-latn"), ("en-ca-x-ca", "en-CA-x-ca"),
            ("sl-rozaj-biske-1994", "sl-rozaj-biske-1994"), ("hy-Latn-IT-arevela", "hy-Latn-IT-arevela"), ("qaa-Qaaa-QM-x-southern", "qaa-Qaaa-QM-x-southern"),
        ])
        func canonicalCase(text: String, expected: String) {
            #expect(LocaleTag(text)?.rawValue == expected)
            #expect(LocaleTag(text)?.description == expected)
        }

        @Test("ill-formed tags are refused", arguments: [
            "", "e", "en-", "-en", "en--US", "en_US", "toolonglanguage", "en-US-US", "de-1996-1996", "en-a-bbb-a-ccc",
            "fr-CA ", " fr-CA", "fr-ÇA", "日本", "x", "x-", "en-x", "en-a", "en-a-x-b", "i-foo", "en-abcdefghi",
            "zh-abc-def-ghi-jkl", "en-US-419", "en-Latn-Latn", "en-a-b", "1en", "en.US",
            "en-x-" + Array(repeating: "abcdefgh", count: 8).joined(separator: "-"),
        ])
        func refused(text: String) {
            #expect(LocaleTag(text) == nil)
        }

        @Test("the primary language is the first subtag, lower case")
        func language() {
            #expect(tag("ZH-Hant-TW").language == "zh")
            #expect(tag("sgn-BE-FR").language == "sgn")
            #expect(LocaleTag.english.rawValue == "en")
        }

        @Test("lookup chains truncate one subtag at a time and drop dangling singletons", arguments: [
            ("zh-Hant-TW", ["zh-Hant-TW", "zh-Hant", "zh"]),
            ("zh-Hant-CN-x-private1-private2", ["zh-Hant-CN-x-private1-private2", "zh-Hant-CN-x-private1", "zh-Hant-CN", "zh-Hant", "zh"]),
            ("en-a-bbb-x-a-ccc", ["en-a-bbb-x-a-ccc", "en-a-bbb-x-a", "en-a-bbb", "en"]),
            ("en-GB-oed", ["en-GB-oed", "en-GB", "en"]),
            ("x-a-b", ["x-a-b", "x-a"]),
            ("i-klingon", ["i-klingon"]),
            ("en", ["en"]),
        ])
        func lookupChain(text: String, expected: [String]) {
            #expect(tag(text).lookupChain.map(\.rawValue) == expected)
        }

        @Test("tags are JSON strings, decoded into canonical case; an ill-formed one is a data error")
        func codable() throws {
            let (encoder, _) = makeEncoder()
            #expect(String(decoding: try encoder.encode([tag("zh-Hant-TW")]), as: UTF8.self) == #"["zh-Hant-TW"]"#)
            #expect(try decode([LocaleTag].self, #"["EN-us"]"#) == [tag("en-US")])
            do {
                _ = try decode([LocaleTag].self, #"["en_US"]"#)
                Issue.record("en_US should not decode")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription == "is not a well-formed BCP-47 language tag (e.g. en, fr-CA, zh-Hant-TW)")
                #expect(context.codingPath.map { $0.intValue } == [0])
            }
        }

        @Test("tags order lexically by their canonical text")
        func ordering() {
            #expect([tag("fr-CA"), tag("en"), tag("en-GB")].sorted() == [tag("en"), tag("en-GB"), tag("fr-CA")])
        }
    }

    @Suite("Localized text")
    struct Texts {
        static let colour = LocalizedText(defaultLocale: tag("fr"), locales: [
            tag("en"): "Colour", tag("en-GB"): "Colour (GB)", tag("fr"): "Couleur", tag("fr-CA"): "Couleur (CA)",
            tag("pt-PT"): "Cor (PT)", tag("pt-BR"): "Cor (BR)", tag("x-a"): "private",
        ])

        @Test("resolution tries the lookup chain, then the same language, then the default, then any locale", arguments: [
            ("fr-CA", "fr-CA"), ("EN-gb", "en-GB"), ("fr-CA-x-quebec", "fr-CA"), ("en-GB-oed", "en-GB"), ("en-US", "en"),
            ("pt", "pt-BR"), ("pt-AO", "pt-BR"), ("de", "fr"), ("x-b", "fr"), ("x-a-b", "x-a"),
        ])
        func resolution(requested: String, expected: String) throws {
            let resolved = try #require(Self.colour.resolve(tag(requested)))
            #expect(resolved.locale == tag(expected))
            #expect(resolved.text == Self.colour.locales[tag(expected)])
        }

        @Test("without text in the default locale the lexically smallest locale is used; empty text resolves to nothing")
        func resolutionWithoutDefault() {
            let text = LocalizedText(defaultLocale: tag("de"), locales: [tag("ja"): "色", tag("es"): "Color"])
            #expect(text.resolve(tag("it"))?.locale == tag("es"))
            #expect(text.missingDefault)
            #expect(text.defaultText == nil)
            #expect(LocalizedText(defaultLocale: .english, locales: [:]).resolve(.english) == nil)
        }

        @Test("plain text is stored under the decoder's plain-text locale, else English")
        func plainText() throws {
            let english = try decode(Titled.self, #"{"title":"Hello"}"#)
            #expect(english.title == LocalizedText("Hello"))
            #expect(english.title.defaultLocale == .english)
            #expect(english.title.defaultText == "Hello")
            let canadian = try decode(Titled.self, #"{"title":"Bonjour"}"#, plainTextLocale: tag("fr-CA"))
            #expect(canadian.title == LocalizedText(defaultLocale: tag("fr-CA"), locales: [tag("fr-CA"): "Bonjour"]))
        }

        @Test("envelope locale keys and the default locale are normalised; the default may be missing in a draft")
        func envelope() throws {
            let decoded = try decode(Titled.self, #"{"title":{"defaultLocale":"EN","locales":{"en":"Hi","fr-ca":"Salut","ZH-HANT-TW":"你好"}}}"#)
            #expect(decoded.title == LocalizedText(defaultLocale: .english, locales: [
                tag("en"): "Hi", tag("fr-CA"): "Salut", tag("zh-Hant-TW"): "你好",
            ]))
            #expect(!decoded.title.missingDefault)
            let draft = try decode(Titled.self, #"{"title":{"defaultLocale":"de","locales":{"en":"Hi"}}}"#)
            #expect(draft.title.missingDefault)
        }

        @Test("an ill-formed locale key is refused with the coding path at that key")
        func illFormedKey() throws {
            let key = try corruption(#"{"title":{"defaultLocale":"en","locales":{"en":"Hi","fr_CA":"Salut"}}}"#)
            #expect(key.path == ["title", "locales", "fr_CA"])
            #expect(key.message == "is not a well-formed BCP-47 language tag (e.g. en, fr-CA, zh-Hant-TW)")
            let defaultLocale = try corruption(#"{"title":{"defaultLocale":"en_GB","locales":{}}}"#)
            #expect(defaultLocale.path == ["title", "defaultLocale"])
        }

        @Test("two keys naming the same locale after normalisation are refused at the later key in sorted order")
        func duplicateKey() throws {
            let duplicate = try corruption(#"{"title":{"defaultLocale":"en","locales":{"en-us":"a","EN-US":"b"}}}"#)
            #expect(duplicate.path == ["title", "locales", "en-us"])
            #expect(duplicate.message.contains("en-US"))
        }

        @Test("an unknown key in the envelope is refused and named")
        func unknownKey() throws {
            let unknown = try corruption(#"{"title":{"defaultLocale":"en","locales":{"en":"Hi"},"fallback":"fr"}}"#)
            #expect(unknown.path == ["title", "fallback"])
            #expect(unknown.message.contains("\"fallback\""))
        }

        @Test("an envelope without any text is refused at its locales")
        func emptyEnvelope() throws {
            let empty = try corruption(#"{"title":{"defaultLocale":"en","locales":{}}}"#)
            #expect(empty.path == ["title", "locales"])
        }

        @Test("a value that is neither text nor an object is a type mismatch; a missing member is a missing key")
        func wrongShape() {
            let number = #expect(throws: DecodingError.self) { try decode(Titled.self, #"{"title":3}"#) }
            guard case .typeMismatch(_, let context) = number else { Issue.record("expected a type mismatch"); return }
            #expect(context.codingPath.map(\.stringValue) == ["title"])
            let missing = #expect(throws: DecodingError.self) { try decode(Titled.self, #"{"title":{"locales":{}}}"#) }
            guard case .keyNotFound(let key, _) = missing else { Issue.record("expected a missing key"); return }
            #expect(key.stringValue == "defaultLocale")
        }

        @Test("without a projection the envelope is written with sorted locale keys and reads back unchanged")
        func envelopeRoundTrip() throws {
            let (encoder, _) = makeEncoder()
            let titled = Titled(title: LocalizedText(defaultLocale: .english, locales: [tag("fr-CA"): "Salut", tag("en"): "Hi"]))
            let json = String(decoding: try encoder.encode(titled), as: UTF8.self)
            #expect(json == #"{"title":{"defaultLocale":"en","locales":{"en":"Hi","fr-CA":"Salut"}}}"#)
            #expect(try decode(Titled.self, json) == titled)
        }

        private struct Form: Encodable {
            var title: LocalizedText
            var sections: [Section]
            var labels: [String: LocalizedText]
        }

        private struct Section: Encodable {
            var heading: LocalizedText
            var hint: LocalizedText?
        }

        @Test("with a projection each field becomes text, and the report names the usual locale and every fallback by pointer")
        func projection() throws {
            let both = LocalizedText(defaultLocale: .english, locales: [.english: "Name", tag("fr-CA"): "Nom (CA)", tag("fr"): "Nom"])
            let form = Form(
                title: both,
                sections: [
                    Section(heading: LocalizedText(defaultLocale: .english, locales: [.english: "About", tag("fr"): "À propos"]), hint: nil),
                    Section(heading: both, hint: LocalizedText("Optional")),
                ],
                labels: ["a/b~c": both, "empty": LocalizedText(defaultLocale: .english, locales: [:])])
            let (encoder, projection) = makeEncoder(projecting: tag("fr-CA"))
            let json = String(decoding: try encoder.encode(form), as: UTF8.self)
            #expect(json == #"{"labels":{"a/b~c":"Nom (CA)","empty":null},"sections":[{"heading":"À propos"},{"heading":"Nom (CA)","hint":"Optional"}],"title":"Nom (CA)"}"#)
            #expect(projection?.report == LocaleReport(requested: tag("fr-CA"), resolved: tag("fr-CA"), fallbacks: [
                .init(pointer: "/sections/0/heading", locale: tag("fr")),
                .init(pointer: "/sections/1/hint", locale: .english),
            ]))
        }

        @Test("escaped pointers and report ties: earlier in the lookup chain wins, then lexical order")
        func reportTies() throws {
            let french = LocalizedText(defaultLocale: tag("fr"), locales: [tag("fr"): "Nom"])
            let canadian = LocalizedText(defaultLocale: tag("fr-CA"), locales: [tag("fr-CA"): "Nom (CA)"])
            let (encoder, projection) = makeEncoder(projecting: tag("fr-CA"))
            _ = try encoder.encode(["a/b~c": french, "z": french, "m": canadian, "n": canadian])
            #expect(projection?.report == LocaleReport(requested: tag("fr-CA"), resolved: tag("fr-CA"), fallbacks: [
                .init(pointer: "/a~1b~0c", locale: tag("fr")), .init(pointer: "/z", locale: tag("fr")),
            ]))

            // Neither locale is in the lookup chain of ja, so the lexically smaller one wins.
            let (japaneseEncoder, japanese) = makeEncoder(projecting: tag("ja"))
            _ = try japaneseEncoder.encode([LocalizedText("Name"), LocalizedText("Name", locale: tag("de"))])
            #expect(japanese?.report.resolved == tag("de"))
            #expect(japanese?.report.fallbacks == [.init(pointer: "/0", locale: .english)])
        }

        @Test("a response without localized fields reports no resolved locale, and the report is JSON")
        func emptyReport() throws {
            let (encoder, projection) = makeEncoder(projecting: tag("fr"))
            _ = try encoder.encode(["plain": "text"])
            let report = try #require(projection).report
            #expect(report == LocaleReport(requested: tag("fr"), resolved: nil, fallbacks: []))
            #expect(String(decoding: try encoder.encode(report), as: UTF8.self) == #"{"fallbacks":[],"requested":"fr","resolved":null}"#)
        }

        @Test("publishing needs text in the default locale and no blank text", arguments: [
            (LocalizedText(defaultLocale: .english, locales: [.english: "Hi", tag("fr"): "Salut"]), [String]()),
            (LocalizedText(defaultLocale: .english, locales: [tag("fr"): "Salut"]), ["has no text in its default locale en"]),
            (LocalizedText(defaultLocale: .english, locales: [.english: "Hi", tag("fr-CA"): " \n", tag("de"): ""]),
             ["has blank text in locale de", "has blank text in locale fr-CA"]),
            (LocalizedText(defaultLocale: tag("fr"), locales: [:]), ["has no text in its default locale fr"]),
        ])
        func publishProblems(text: LocalizedText, expected: [String]) {
            #expect(text.publishProblems() == expected)
        }
    }
}
