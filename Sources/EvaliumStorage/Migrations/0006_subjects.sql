-- Subjects (seed 004, Option A): who or what is inspected. `subjects` is the generic core; a person
-- subject is linked to its user in `subject_users`, an asset has its typed extension in `assets`.
-- Subjects are mutable scaffolding: submissions refer to them by id, the ledger by id only.
-- `subject_imports` keeps previewed CSV imports until they are committed (or expire).

CREATE TABLE subjects (
    id            text PRIMARY KEY CHECK (id ~ '^sbj_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id     text NOT NULL REFERENCES tenants (id),
    org_unit_id   text NOT NULL,
    subject_type  text NOT NULL CHECK (subject_type IN ('user', 'asset', 'location')),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    external_ref  text CHECK (length(external_ref) BETWEEN 1 AND 200),
    status        text NOT NULL CHECK (status IN ('active', 'archived')),
    tags          text[] NOT NULL DEFAULT '{}' CHECK (tags::text = lower(tags::text) AND cardinality(tags) <= 50),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    -- The typed extensions name the subject's org unit too, so they can never sit in another silo.
    UNIQUE (tenant_id, id, org_unit_id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

-- An external ref names one subject per tenant (imports match rows by it); other tenants may reuse it.
CREATE UNIQUE INDEX subjects_unique_external_ref ON subjects (tenant_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX subjects_by_org_unit ON subjects (tenant_id, org_unit_id, id);
CREATE INDEX subjects_by_type ON subjects (tenant_id, subject_type, id);
CREATE INDEX subjects_by_tag ON subjects USING gin (tags);

-- A person subject is one person, and a person is at most one subject of the tenant.
CREATE TABLE subject_users (
    subject_id   text PRIMARY KEY,
    tenant_id    text NOT NULL,
    org_unit_id  text NOT NULL,
    user_id      text NOT NULL,
    UNIQUE (tenant_id, user_id),
    FOREIGN KEY (tenant_id, subject_id, org_unit_id) REFERENCES subjects (tenant_id, id, org_unit_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

-- The typed extension of an asset subject. `identifiers` maps names to values ({"serialNumber": "EXT-0042"});
-- the GIN index serves "any identifier equals X" (`identifiers @? '$.* ? (@ == "X")'`).
CREATE TABLE assets (
    subject_id   text PRIMARY KEY,
    tenant_id    text NOT NULL,
    org_unit_id  text NOT NULL,
    asset_type   text NOT NULL CHECK (asset_type ~ '^[a-z0-9][a-z0-9_.:-]{0,62}$'),
    identifiers  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(identifiers) = 'object'),
    metadata     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    FOREIGN KEY (tenant_id, subject_id, org_unit_id) REFERENCES subjects (tenant_id, id, org_unit_id)
);

CREATE INDEX assets_by_type ON assets (tenant_id, asset_type);
CREATE INDEX assets_by_identifier ON assets USING gin (identifiers);

-- A previewed import: the file as read and what committing it would do, kept until `expires_at`.
-- Committing applies every row in one transaction and marks the preview committed.
CREATE TABLE subject_imports (
    id            text PRIMARY KEY CHECK (id ~ '^imp_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id     text NOT NULL REFERENCES tenants (id),
    org_unit_id   text NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('previewed', 'committed', 'expired')),
    preview       jsonb NOT NULL,
    committed_by  text,
    committed_at  timestamptz,
    CHECK ((status = 'committed') = (committed_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

CREATE INDEX subject_imports_by_expiry ON subject_imports (tenant_id, expires_at) WHERE status = 'previewed';

ALTER TABLE subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE subjects FORCE ROW LEVEL SECURITY;
ALTER TABLE subject_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE subject_users FORCE ROW LEVEL SECURITY;
ALTER TABLE assets ENABLE ROW LEVEL SECURITY;
ALTER TABLE assets FORCE ROW LEVEL SECURITY;
ALTER TABLE subject_imports ENABLE ROW LEVEL SECURITY;
ALTER TABLE subject_imports FORCE ROW LEVEL SECURITY;

-- Tenants are isolated; within a tenant each row is read and written only inside the org units of the
-- unit of work (a later migration widens reading `subjects` for assignment targets by replacing
-- `org_scope` on it).
CREATE POLICY tenant_isolation ON subjects AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON subjects AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON subject_users AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON subject_users AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON assets AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON assets AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON subject_imports AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON subject_imports AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

GRANT SELECT, INSERT, UPDATE ON subjects, subject_users, assets, subject_imports TO evalium_app;

-- Which of some external refs and people already belong to a subject of the caller's tenant, visible to the
-- caller or not. An import preview uses it to report a row that would collide with a subject outside the
-- importer's org units (the unique indexes would refuse it at commit anyway, so it tells nothing they
-- would not). It answers only those keys, only for the tenant of the unit of work.
CREATE POLICY subject_keys_owner ON subjects AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY subject_keys_owner ON subject_users AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION subject_keys_in_use(p_external_refs text[], p_user_ids text[])
    RETURNS TABLE (kind text, key text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT 'external_ref', s.external_ref FROM public.subjects s
    WHERE s.tenant_id = NULLIF(current_setting('app.tenant_id', true), '') AND s.external_ref = ANY (p_external_refs)
    UNION ALL
    SELECT 'user', u.user_id FROM public.subject_users u
    WHERE u.tenant_id = NULLIF(current_setting('app.tenant_id', true), '') AND u.user_id = ANY (p_user_ids)
    $$;

REVOKE ALL ON FUNCTION subject_keys_in_use(text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION subject_keys_in_use(text[], text[]) TO evalium_app;
