/// Database failures translated into what they mean for the domain, so that no module but the
/// storage layer needs to know PostgreSQL's error codes.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 23505: a unique constraint (named) already holds this value.
    case uniqueViolation(constraint: String)
    /// 23503: a referenced row does not exist (or is not visible in this scope).
    case foreignKeyViolation(constraint: String)
    /// 23514 / 23502 / 22xxx: the database refused the value itself.
    case invalidValue(detail: String)
    /// 42501: a privilege or row-level security policy refused the statement.
    case permissionDenied(detail: String)
    /// P0001 raised by a guard trigger (for example an append-only table).
    case guardRejected(detail: String)
    /// 40001 / 40P01 that persisted through the transaction manager's retries.
    case serializationFailure
    /// The session the unit of work was bound to has ended: signed out, revoked, expired, or its person
    /// or link suspended.
    case sessionEnded
    /// The session is live but the person's roles changed after its access token was issued.
    case accessOutOfDate
    /// The database could not be reached, was shutting down, or ran out of resources (SQLSTATE 08, 53, 57).
    case unavailable(detail: String)
    /// Anything else: a bug in a query or the schema; reported as a 500 and logged, never blamed on input.
    case unexpected(detail: String)

    public var description: String {
        switch self {
        case .uniqueViolation(let constraint): "unique violation on \(constraint)"
        case .foreignKeyViolation(let constraint): "foreign key violation on \(constraint)"
        case .invalidValue(let detail): "invalid value: \(detail)"
        case .permissionDenied(let detail): "permission denied: \(detail)"
        case .guardRejected(let detail): "rejected by guard: \(detail)"
        case .serializationFailure: "serialization failure after retries"
        case .sessionEnded: "the session has ended"
        case .accessOutOfDate: "the access token predates a change to the person's access"
        case .unavailable(let detail): "database unavailable: \(detail)"
        case .unexpected(let detail): "unexpected database error: \(detail)"
        }
    }
}
