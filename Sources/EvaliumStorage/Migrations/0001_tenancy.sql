-- Tenants and org units (seed 001 §5). Every tenant-scoped table follows the RLS checklist (§5.4):
-- tenant_id (+ org_unit_id), ENABLE + FORCE row-level security, a permissive tenant isolation policy
-- and a restrictive org-scope policy, both with explicit USING and WITH CHECK.
-- Policies compare plain columns with (SELECT current_setting(...)) so PostgreSQL evaluates the setting
-- once per statement, and NULLIF turns the '' a pooled connection reports after a transaction-local
-- setting ended into NULL, which matches nothing.

-- Nobody but the owner creates objects in the schema (PostgreSQL 14 and older let PUBLIC do it).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^tnt_[0-9A-HJKMNP-TV-Z]{26}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON tenants AS PERMISSIVE FOR ALL TO evalium_app
    USING (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

-- The tenant row itself carries no org unit: only tenant-wide principals may change it.
CREATE POLICY org_scope ON tenants AS RESTRICTIVE FOR ALL TO evalium_app
    USING (true)
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

GRANT SELECT, INSERT, UPDATE ON tenants TO evalium_app;

CREATE TABLE org_units (
    id          text PRIMARY KEY CHECK (id ~ '^org_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    parent_id   text,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    is_root     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    -- A parent is always in the same tenant; the hierarchy carries no enforced meaning (seed §5.2).
    FOREIGN KEY (tenant_id, parent_id) REFERENCES org_units (tenant_id, id),
    CHECK (is_root = (parent_id IS NULL))
);

CREATE UNIQUE INDEX org_units_one_root_per_tenant ON org_units (tenant_id) WHERE is_root;
CREATE INDEX org_units_parent ON org_units (tenant_id, parent_id);

ALTER TABLE org_units ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_units FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON org_units AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

CREATE POLICY org_scope ON org_units AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR id = (SELECT NULLIF(current_setting('app.org_unit_id', true), '')))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR id = (SELECT NULLIF(current_setting('app.org_unit_id', true), '')));

GRANT SELECT, INSERT, UPDATE ON org_units TO evalium_app;

-- Platform-level work (listing tenants for the ledger verifier) needs to see every tenant id and
-- nothing else. This function runs as the schema owner, which is the only role with a policy that
-- sees all tenant ids; the application role can call it but cannot read the table unscoped.
CREATE POLICY platform_tenant_ids ON tenants AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

-- Every SECURITY DEFINER function names its tables with their schema and puts pg_temp last on its
-- search_path: otherwise a caller's temporary view named like a table would run as the owner.
CREATE FUNCTION platform_tenant_ids() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT id FROM public.tenants ORDER BY id $$;

REVOKE ALL ON FUNCTION platform_tenant_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_tenant_ids() TO evalium_app;
