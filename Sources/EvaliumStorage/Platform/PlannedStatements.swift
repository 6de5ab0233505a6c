import PostgresNIO
import Synchronization

/// Names a statement that PostgreSQL should plan once per connection instead of at every execution. A
/// statement run with `run(_:plannedAs:)` is prepared on each connection the first time it runs there, and
/// later runs send only its bindings.
///
/// It exists because planning, not executing, was most of PostgreSQL's work on a read of a submission:
/// `pg_stat_statements` with planning tracked showed 0.4–0.5 ms to plan each of the amendments, void and
/// responses reads (their row-level policies expand into subqueries) against 0.01–0.3 ms to run them, about
/// 2 ms of planning per read in all. PostgreSQL still plans a prepared statement afresh for its first five
/// runs, and afterwards only while a generic plan would cost more than those custom plans did, so a
/// statement whose best plan depends on its values keeps getting it; row-level scope is read from the
/// transaction's settings when the plan runs, never fixed in it.
///
/// A call site names its statement with a type of its own (`private enum FetchSubmissions: PlannedStatement {}`)
/// and keeps building the query by interpolation: the SQL text of one call site is the same every time (only
/// the bindings change), and the first text is the one prepared. Two rules follow from preparing once:
/// - a binding that may be NULL is written `\(nullable: value)`: the first run on a connection fixes the
///   types of the parameters, and a NULL there lets PostgreSQL infer one from its context (`$1::jsonb` makes
///   it jsonb, an `integer` column integer) that later values, sent as text or bigint, do not fit;
/// - a statement for one value (`id = $1`) is its own statement, not `= ANY($1)` with one element: for an
///   array PostgreSQL expects ten elements, finds its generic plan dearer than the plan for one, and goes
///   on planning every time;
/// - a statement whose plan for a given value is rated cheaper than its generic plan (PostgreSQL estimates
///   `session_id = 'att_…'` at one row and `session_id = $1` at two) is planned afresh at every run, which for the
///   responses of a session (their policy joins the sessions) cost 0.4 ms a run, twice the run itself. Binding
///   the value through a sub-select (`= (SELECT $1::text)`) hides it from both plans alike, so the generic plan
///   wins. Not for a list of ids to match (`= ANY($1)`): hidden, it cannot be hashed, and the generic plan compared
///   every row with every element (the sealer's dequeue took 53 s for 20,000 ids behind a queue of 200,000).
protocol PlannedStatement {}

extension ScopedConnection {
    /// Runs `query` as the prepared statement `Statement`; `query`'s text must be the same at every run.
    @discardableResult
    func run<Statement: PlannedStatement>(_ query: PostgresQuery, plannedAs statement: Statement.Type) async throws -> PlannedRows {
        PlannedText.record(query.sql, for: statement)
        return try await connection.execute(Prepared<Statement>(bindings: query.binds), logger: logger)
    }
}

typealias PlannedRows = AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow>

/// `Statement` as PostgresNIO prepares it: named after the type, with the text its call site built.
private struct Prepared<Statement: PlannedStatement>: PostgresPreparedStatement {
    typealias Row = PostgresRow

    static var name: String { "evalium:" + String(reflecting: Statement.self) }
    static var sql: String { PlannedText.text(of: Statement.self) }

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// The SQL text of each planned statement, kept from its first run.
private enum PlannedText {
    static let texts = Mutex<[ObjectIdentifier: String]>([:])

    static func record(_ sql: String, for statement: Any.Type) {
        texts.withLock { texts in
            let known = texts[ObjectIdentifier(statement), default: sql]
            precondition(known == sql, "the planned statement \(statement) was built with two different texts")
            texts[ObjectIdentifier(statement)] = known
        }
    }

    static func text(of statement: Any.Type) -> String {
        texts.withLock { $0[ObjectIdentifier(statement)] } ?? ""
    }
}

extension PostgresQuery.StringInterpolation {
    /// A binding that may be NULL, cast to the type its values are sent as (`$4::TEXT`), so that a planned
    /// statement whose first run sends NULL there expects the same type as one whose first run sends a value.
    mutating func appendInterpolation<Value: PostgresNonThrowingEncodable>(nullable value: Value?) {
        guard let typeName = Value.psqlType.knownSQLName else { preconditionFailure("\(Value.self) has no SQL type name to cast to") }
        appendInterpolation(value)
        appendLiteral("::" + typeName)
    }
}
