import Foundation
import Synchronization

/// A ULID: 48 bits of milliseconds since the Unix epoch followed by 80 random bits,
/// written as 26 characters of Crockford base32. Sorting the text sorts by creation time.
public struct ULID: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    /// Each byte's value in the alphabet, or nil: a table, as every id read from a request or a row is checked.
    private static let values: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    /// A new ULID for `date` from the process-wide generator (see `ULIDGenerator`).
    public init(date: Date = Date()) {
        self = ULIDGenerator.shared.next(at: date)
    }

    /// Encodes 48 bits of milliseconds and 10 random bytes: 128 bits written as 130 with two leading zeros.
    init(milliseconds: UInt64, random: [UInt8]) {
        let bytes = (0..<6).map { UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - $0))) } + random
        var characters = [UInt8](repeating: 0, count: 26)
        for characterIndex in 0..<26 {
            // Bit position of this character's first bit within the 128-bit value (may start at -2).
            let firstBit = characterIndex * 5 - 2
            var value = 0
            for bit in firstBit..<(firstBit + 5) {
                value <<= 1
                if bit >= 0, (bytes[bit / 8] >> (7 - UInt8(bit % 8))) & 1 == 1 { value |= 1 }
            }
            characters[characterIndex] = Self.alphabet[value]
        }
        text = String(decoding: characters, as: UTF8.self)
    }

    /// Accepts exactly 26 upper-case Crockford base32 characters whose first character is 0–7.
    public init?(_ text: String) {
        guard Self.isValid(text.utf8) else { return nil }
        self.text = text
    }

    static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        guard bytes.count == 26, let first = bytes.first, let firstValue = values[Int(first)], firstValue <= 7 else { return false }
        return bytes.allSatisfy { values[Int($0)] != nil }
    }

    public var description: String { text }
}

/// Makes ULIDs that are strictly increasing within one millisecond: the random part of a tie is the
/// previous one plus one, so the order in which a unit of work made its events is the order of their
/// ids. A date earlier than the last one used (a clock stepping back, an explicit past date) gets fresh
/// randomness.
public final class ULIDGenerator: Sendable {
    public static let shared = ULIDGenerator()
    private let last = Mutex<(milliseconds: UInt64, random: [UInt8])>((0, []))

    public init() {}

    public func next(at date: Date) -> ULID {
        let milliseconds = UInt64(max(0, (date.timeIntervalSince1970 * 1000).rounded()))
        let random = last.withLock { last -> [UInt8] in
            if milliseconds == last.milliseconds {
                for index in stride(from: 9, through: 0, by: -1) {
                    last.random[index] &+= 1
                    if last.random[index] != 0 { break }
                }
                return last.random
            }
            var generator = SystemRandomNumberGenerator()
            let fresh = (0..<10).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            if milliseconds > last.milliseconds { last = (milliseconds, fresh) }
            return fresh
        }
        return ULID(milliseconds: milliseconds, random: random)
    }
}

/// An identifier shown on the wire as `prefix_ULID` (for example `tnt_01HN…`), as the events seed defines.
public protocol PrefixedIdentifier: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    static var prefix: String { get }
    var rawValue: String { get }
    init(unchecked rawValue: String)
}

extension PrefixedIdentifier {
    /// A new identifier stamped with `date` (default: now).
    public static func generate(at date: Date = Date()) -> Self { Self(unchecked: "\(prefix)_\(ULID(date: date).text)") }

    /// Parses `prefix_ULID`; anything else (another prefix, a malformed ULID) is nil.
    public init?(_ description: String) {
        let prefix = Self.prefix.utf8
        let text = description.utf8
        guard text.starts(with: prefix), text.dropFirst(prefix.count).first == UInt8(ascii: "_"),
              ULID.isValid(text.dropFirst(prefix.count + 1))
        else { return nil }
        self.init(unchecked: description)
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let identifier = Self(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an identifier of the form \(Self.prefix)_<ULID>")
        }
        self = identifier
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct TenantID: PrefixedIdentifier {
    public static let prefix = "tnt"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct OrgUnitID: PrefixedIdentifier {
    public static let prefix = "org"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct LedgerEventID: PrefixedIdentifier {
    public static let prefix = "evt"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// An event Evalium publishes on the bus: its own id, never a ledger event's, which stays internal.
public struct EventID: PrefixedIdentifier {
    public static let prefix = "evt"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A dead letter: an event a listener gave up on (seed 003 §6).
public struct DeadLetterID: PrefixedIdentifier {
    public static let prefix = "dlq"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct RequestID: PrefixedIdentifier {
    public static let prefix = "req"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct UserID: PrefixedIdentifier {
    public static let prefix = "usr"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct GroupID: PrefixedIdentifier {
    public static let prefix = "grp"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct RoleID: PrefixedIdentifier {
    public static let prefix = "rol"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct RoleGrantID: PrefixedIdentifier {
    public static let prefix = "rgr"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// One signed-in session: the family of refresh tokens that descend from one magic-link sign-in.
public struct SessionID: PrefixedIdentifier {
    public static let prefix = "ses"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A client-portal link principal (seed 001 §12).
public struct PortalLinkID: PrefixedIdentifier {
    public static let prefix = "lnk"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A tenant-defined tag vocabulary (topic, skill, difficulty, or the tenant's own).
public struct TaxonomyID: PrefixedIdentifier {
    public static let prefix = "tax"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

public struct TagID: PrefixedIdentifier {
    public static let prefix = "tag"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// The stable identity of a question; its content lives in numbered, immutable-once-published versions.
public struct QuestionID: PrefixedIdentifier {
    public static let prefix = "qst"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// The stable identity of an evaluation (knowledge check, observation template or evidence task).
public struct EvaluationID: PrefixedIdentifier {
    public static let prefix = "evl"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A section of an evaluation version; kept across versions so answers can be compared over time.
public struct SectionID: PrefixedIdentifier {
    public static let prefix = "sec"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// An item of an evaluation version (one pinned question version in one place); kept across versions.
public struct ItemID: PrefixedIdentifier {
    public static let prefix = "itm"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// What is inspected or assessed: a person, an asset or a location (seed 004, Option A).
public struct SubjectID: PrefixedIdentifier {
    public static let prefix = "sbj"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// An uploaded subject CSV waiting, as a preview, to be committed.
public struct SubjectImportID: PrefixedIdentifier {
    public static let prefix = "imp"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A task issued to a person, a group or an invited email: one pinned evaluation version under one policy.
public struct AssignmentID: PrefixedIdentifier {
    public static let prefix = "asg"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// Assignments issued together, one per subject (seed 004 batch mode).
public struct BatchID: PrefixedIdentifier {
    public static let prefix = "bat"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A delivery session: one attempt at an assignment (the events seed's `attemptId`).
public struct AttemptID: PrefixedIdentifier {
    public static let prefix = "att"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// The durable, immutable record of a finalised attempt.
public struct SubmissionID: PrefixedIdentifier {
    public static let prefix = "sub"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// One amendment of a submission: an appended correction, never an edit (seed 001 §11).
public struct AmendmentID: PrefixedIdentifier {
    public static let prefix = "amd"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}

/// A media asset: a file of evidence, its declared hash and its lifecycle.
public struct AssetID: PrefixedIdentifier {
    public static let prefix = "ast"
    public let rawValue: String
    public init(unchecked rawValue: String) { self.rawValue = rawValue }
}
