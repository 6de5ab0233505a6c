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

@Suite("Migrating existing data", .timeLimit(.minutes(2)))
struct DataMigrationTests {
    @Test("0014 moves every tenant's assignment content into frozen_contents under the SHA-256 of its bytes")
    func assignmentContentIsFrozenOnce() async throws {
        let database = try await TestEnvironment.isolatedDatabase("evalium_test_migration_0014", migrated: false)
        let migrations = try Migration.bundled()
        let before = try #require(migrations.firstIndex { $0.version.hasPrefix("0014") })
        try await MigrationRunner(migrations: Array(migrations[..<before]), logger: TestEnvironment.logger).apply(endpoint: database.owner)
        // Two tenants with assignments made before 0014 (as an old release wrote them), two sharing one content.
        let tenants = [TenantID.generate(), TenantID.generate()]
        var statements = ["SET session_replication_role = replica"]
        for (number, tenant) in tenants.enumerated() {
            statements.append("INSERT INTO tenants (id, name, created_at) VALUES ('\(tenant)', 'Tenant \(number)', now())")
            for copy in 0..<2 {
                statements.append(
                    """
                    INSERT INTO assignments (id, tenant_id, org_unit_id, evaluation_id, evaluation_version, kind, target_user_id, status,
                                             overrides, policy, content, created_by, created_at)
                    VALUES ('\(AssignmentID.generate())', '\(tenant)', 'org_x', 'evl_x', 1, 'knowledge', 'usr_x', 'active', '{}', '{}',
                            '{"evaluation": {"tenant": \(number)}, "questions": []}', 'usr_x', now() + interval '\(copy) second')
                    """)
            }
        }
        try await AdministrativeSQL.run(statements, on: database.superuser, logger: TestEnvironment.logger)
        try await MigrationRunner(migrations: migrations, logger: TestEnvironment.logger).apply(endpoint: database.owner)

        let frozen = try await TestEnvironment.sql(
            "SELECT tenant_id, (content_hash = encode(sha256(convert_to(content, 'UTF8')), 'hex'))::text FROM frozen_contents ORDER BY tenant_id",
            as: database.superuser)
        #expect(frozen == tenants.map(\.rawValue).sorted().map { [$0, "true"] }, "one content per tenant, stored under its hash")
        let assignments = try await TestEnvironment.sql(
            """
            SELECT count(*)::text FROM assignments a JOIN frozen_contents f USING (tenant_id, content_hash)
            WHERE f.content::jsonb = '{"evaluation": {"tenant": 0}, "questions": []}' OR f.content::jsonb = '{"evaluation": {"tenant": 1}, "questions": []}'
            """, as: database.superuser)
        #expect(assignments == [["4"]], "every assignment names its own tenant's content")
        let forced = try await TestEnvironment.sql(
            "SELECT relname, relforcerowsecurity::text FROM pg_class WHERE relname IN ('assignments', 'frozen_contents') ORDER BY relname",
            as: database.superuser)
        #expect(forced == [["assignments", "true"], ["frozen_contents", "true"]], "row-level security is forced again")
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
