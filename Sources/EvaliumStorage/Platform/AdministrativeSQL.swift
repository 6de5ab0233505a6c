import EvaliumCore
import Logging
import PostgresNIO

/// Plain SQL on one dedicated connection, outside the transaction manager, for what is not the
/// application's work: tests that act as an attacker or an administrator (a superuser editing the
/// ledger with its triggers disabled, the application role trying UPDATE), and operational scripts.
/// The server's own code never uses it.
public enum AdministrativeSQL {
    /// Runs `statements` in order on one connection as the endpoint's role; returns every row of the
    /// last statement, whose columns must be text (cast with `::text`), NULL as nil.
    @discardableResult
    public static func run(_ statements: [String], on endpoint: DatabaseEndpoint, logger: Logger) async throws -> [[String?]] {
        try await translatingErrors {
            try await withSingleConnection(endpoint, logger: logger) { connection in
                var rows: [[String?]] = []
                for statement in statements {
                    rows = []
                    let result = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    for try await row in result {
                        rows.append(try row.map { cell in try cell.decode(String?.self) })
                    }
                }
                return rows
            }
        }
    }
}
