import EvaliumCore
import Foundation
import Synchronization

/// Encodes submission views for every response that carries one. The operator form is most of a view's
/// JSON and the same for every submission of one content, and encoding it was a tenth of the server's CPU
/// under a load of reads (`perf`), so each distinct form is encoded once and its bytes are spliced into the
/// rest of the view.
///
/// The splice: the view is encoded with a stand-in form (no sections, its title a random marker this
/// process alone knows), the stand-in's own encoding is found in that output (the marker makes it occur
/// once) and replaced by the form's. Compact JSON encodes a nested value as it encodes it alone, so the
/// bytes are the ones a plain encoding of the view gives; a test compares them. The rest of the view is
/// written by `WireJSONEncoder`, the same bytes as `JSONEncoder` at a fraction of its cost.
final class SubmissionViewEncoder: Sendable {
    private let marker = LocalizedText(defaultLocale: LocaleTag("en")!, locales: [LocaleTag("en")!: "form-\(UUID().uuidString)"])
    private let forms = Mutex<[OperatorForm: [UInt8]]>([:])
    /// Distinct forms kept; the forms being read at one time are few (one per published version in use).
    let capacity = 64

    /// The one the server uses: every response that carries a submission view (a read, a submit, a grade)
    /// shares its forms.
    static let shared = SubmissionViewEncoder()

    func encode(_ view: SubmissionView) throws -> [UInt8] {
        var outline = view
        outline.form.sections = []
        outline.form.title = marker
        let rest = try WireJSONEncoder.encode(outline)
        let standIn = try WireJSONEncoder.encode(outline.form)
        guard let place = Self.offset(of: standIn, in: rest) else { return try WireJSONEncoder.encode(view) }
        var bytes = Array(rest[..<place])
        bytes.append(contentsOf: try encodedForm(view.form))
        bytes.append(contentsOf: rest[(place + standIn.count)...])
        return bytes
    }

    /// Where `needle` first occurs in `haystack`: `memchr` to each place its first byte occurs, `memcmp` for the
    /// rest. (The generic `firstRange(of:)` took 4 % of the server's CPU under reads.)
    static func offset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard let first = needle.first, needle.count <= haystack.count else { return nil }
        return haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                guard let base = hay.baseAddress, let pinBase = pin.baseAddress else { return nil }
                let lastStart = hay.count - pin.count
                var start = 0
                while start <= lastStart, let hit = memchr(base + start, Int32(first), lastStart - start + 1) {
                    let offset = UnsafeRawPointer(hit) - base
                    if memcmp(base + offset, pinBase, pin.count) == 0 { return offset }
                    start = offset + 1
                }
                return nil
            }
        }
    }

    private func encodedForm(_ form: OperatorForm) throws -> [UInt8] {
        if let known = forms.withLock({ $0[form] }) { return known }
        let bytes = try WireJSONEncoder.encode(form)
        forms.withLock { forms in
            // Starting again when full keeps this simple; the forms in use come back after one encoding each.
            if forms.count >= capacity { forms.removeAll(keepingCapacity: true) }
            forms[form] = bytes
        }
        return bytes
    }
}

extension SubmissionView: WireEncodable {
    func wireBytes() throws -> [UInt8] { try SubmissionViewEncoder.shared.encode(self) }
}

extension DeliveryService.Finalised: WireEncodable {
    func wireBytes() throws -> [UInt8] { try view.wireBytes() }
}
