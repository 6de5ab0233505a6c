#!/usr/bin/env python3
"""Guardrails the seeds ask for, checked on every test run (seed 001 §19.4, §21, §5.4).

1. Only the storage layer (Sources/EvaliumStorage) touches PostgreSQL: nothing else imports PostgresNIO
   or names its client types, so every query goes through the transaction manager.
2. Scope is only ever set transaction-locally: no session-level SET of an app.* setting anywhere.
3. Every SECURITY DEFINER function puts pg_temp last on its search_path, so a caller's temporary
   objects can never shadow the tables it reads as the owner.
4. Every table a migration creates with a tenant_id has ENABLE and FORCE row-level security and a
   tenant isolation policy, and an org-scope policy unless it is listed below with the reason: one
   restrictive `org_scope` policy for all commands, or one restrictive policy per command the table
   allows (`org_scope_read` FOR SELECT, `org_scope_insert`, `org_scope_update`, and `org_scope_delete`
   where DELETE is granted), for tables whose reading and writing rules differ.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
STORAGE = ROOT / "Sources" / "EvaliumStorage"
MIGRATIONS = STORAGE / "Migrations"
DRIVER = re.compile(r"\bimport\s+PostgresNIO\b|\bPostgres(Client|Connection|Query|RowSequence)\b")
SESSION_SET = re.compile(r"\bSET\s+(SESSION\s+)?app\.|set_config\([^)]*,\s*false\s*\)", re.IGNORECASE)
# Tables whose rows carry no org unit, with the reason the org-scope policy does not apply.
NO_ORG_SCOPE = {
    "idempotency_keys": "keys belong to a caller, not to an org unit; they hold no org data",
    "frozen_contents": "content is reached by its SHA-256, named only by assignments and submissions the reader may see, "
    "and one content serves every org unit that runs it",
}

problems = []

for path in sorted((ROOT / "Sources").rglob("*.swift")):
    text = path.read_text()
    if STORAGE not in path.parents and DRIVER.search(text):
        problems.append(f"{path.relative_to(ROOT)}: touches PostgreSQL directly; go through the storage layer")
    if SESSION_SET.search(text):
        problems.append(f"{path.relative_to(ROOT)}: sets scope at session level; use set_config(..., true)")

schema = "\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))
for header in re.findall(r"CREATE (?:OR REPLACE )?FUNCTION \w+\(.*?AS \$", schema, re.S):
    if "SECURITY DEFINER" in header and not re.search(r"SET search_path = [^\n]*pg_temp\s*\n", header):
        name = re.match(r"CREATE (?:OR REPLACE )?FUNCTION (\w+)", header).group(1)
        problems.append(f"function {name}: SECURITY DEFINER without pg_temp last on its search_path")
deletable = {
    table.strip()
    for privileges, tables in re.findall(r"GRANT ([A-Z, ]+) ON ([\w, ]+) TO evalium_app", schema)
    if "DELETE" in privileges
    for table in tables.split(",")
}
for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", schema, re.S):
    if "tenant_id" not in body and table != "tenants":
        continue
    for required in (f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY", f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"):
        if required not in schema:
            problems.append(f"table {table}: missing `{required}`")
    if not re.search(rf"CREATE POLICY tenant_isolation ON {table} .*?USING .*?WITH CHECK", schema, re.S):
        problems.append(f"table {table}: missing a tenant_isolation policy with USING and WITH CHECK")
    if table in NO_ORG_SCOPE or re.search(rf"CREATE POLICY org_scope ON {table} AS RESTRICTIVE .*?USING .*?WITH CHECK", schema, re.S):
        continue
    per_command = {
        "read": rf"CREATE POLICY org_scope_read ON {table} AS RESTRICTIVE FOR SELECT TO \w+\s+USING",
        "insert": rf"CREATE POLICY org_scope_insert ON {table} AS RESTRICTIVE FOR INSERT TO \w+\s+WITH CHECK",
        "update": rf"CREATE POLICY org_scope_update ON {table} AS RESTRICTIVE FOR UPDATE TO \w+\s+USING .*?WITH CHECK",
    }
    if table in deletable:
        per_command["delete"] = rf"CREATE POLICY org_scope_delete ON {table} AS RESTRICTIVE FOR DELETE TO \w+\s+USING"
    missing = [command for command, pattern in per_command.items() if not re.search(pattern, schema, re.S)]
    if missing:
        problems.append(
            f"table {table}: missing a restrictive org_scope policy with USING and WITH CHECK "
            f"(or per-command policies; missing: {', '.join(missing)})")

if problems:
    print("guardrails failed:")
    for problem in problems:
        print(f"  - {problem}")
    sys.exit(1)
print("guardrails passed: database access only in the storage layer; every tenant table has forced RLS and its policies")
