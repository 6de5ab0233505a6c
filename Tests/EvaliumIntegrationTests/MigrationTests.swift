import EvaliumCore
import EvaliumStorage
import Foundation
import Testing

@Suite("Migrations", .timeLimit(.minutes(2)))
struct MigrationTests {
    @Test("every bundled migration is applied and re-running applies nothing")
    func currentSchema() async throws {
        let runner = MigrationRunner(migrations: try Migration.bundled(), logger: TestEnvironment.logger)
        #expect(try await runner.apply(endpoint: TestEnvironment.owner).isEmpty)
        try await TestEnvironment.withDatabase { database in
            try await database.checkMigrationsCurrent(try Migration.bundled())
        }
    }

    @Test("a migration changed after it was applied is refused with a clear error")
    func changedMigrationIsRefused() async throws {
        var migrations = try Migration.bundled()
        migrations[0].sql += "\n-- an innocent-looking edit\n"
        let runner = MigrationRunner(migrations: migrations, logger: TestEnvironment.logger)
        await #expect(throws: MigrationError.changedAfterApply(version: migrations[0].version)) {
            try await runner.apply(endpoint: TestEnvironment.owner)
        }
    }

    @Test("a build that lacks a migration the database has is refused, and readiness says the schema is behind")
    func olderBuildIsRefused() async throws {
        var migrations = try Migration.bundled()
        let newest = migrations.removeLast()
        await #expect(throws: MigrationError.unknownApplied(version: newest.version)) {
            try await MigrationRunner(migrations: migrations, logger: TestEnvironment.logger).apply(endpoint: TestEnvironment.owner)
        }
        let future = try Migration.bundled() + [Migration(version: "9999_future", sql: "SELECT 1")]
        try await TestEnvironment.withDatabase { database in
            await #expect(throws: MigrationError.pending(["9999_future"])) {
                try await database.checkMigrationsCurrent(future)
            }
        }
    }
}

@Suite("Splitting migration files into statements", .timeLimit(.minutes(2)))
struct SQLScriptTests {
    @Test("semicolons inside quotes, dollar quotes and comments do not split")
    func splitting() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (note text DEFAULT 'x;y');
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
            /* block; comment */ SELECT "odd;name" FROM a;
            CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
            SELECT $1;
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 5)
        #expect(statements[1].hasSuffix("END $$"))
        #expect(statements[3].hasSuffix("$body$"))
        #expect(statements[4] == "SELECT $1")
    }
}
