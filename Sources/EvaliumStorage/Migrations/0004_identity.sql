-- Identity and access (seed 001 §5, §12, §17, §19.4): people, groups, roles and their grants,
-- magic-link sign-in, sessions with rotating refresh tokens, TOTP authenticators and portal links.

-- A principal may hold a capability in several org units, so the org scope of a unit of work is a
-- list: `app.org_unit_ids`, comma-separated. The policies written for a single `app.org_unit_id`
-- are replaced with the list form; an empty list matches nothing.
DROP POLICY org_scope ON org_units;
CREATE POLICY org_scope ON org_units AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

DROP POLICY org_scope ON ledger_events;
CREATE POLICY org_scope ON ledger_events AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

DROP POLICY org_scope ON ledger_seal_queue;
CREATE POLICY org_scope ON ledger_seal_queue AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

-- People. The home org unit decides which org-scoped administrators see them. `authz_version` moves
-- whenever anything that decides the person's access changes (a grant, a group membership, a role's
-- capabilities, suspension), which makes every access token issued before it out of date.
CREATE TABLE users (
    id             text PRIMARY KEY CHECK (id ~ '^usr_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id      text NOT NULL REFERENCES tenants (id),
    org_unit_id    text NOT NULL,
    email          text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    status         text NOT NULL CHECK (status IN ('active', 'suspended')),
    authz_version  integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (tenant_id, email),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

CREATE INDEX users_by_org_unit ON users (tenant_id, org_unit_id, id);

CREATE TABLE groups (
    id           text PRIMARY KEY CHECK (id ~ '^grp_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id    text NOT NULL REFERENCES tenants (id),
    org_unit_id  text NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status       text NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

CREATE UNIQUE INDEX groups_unique_name ON groups (tenant_id, lower(name));

-- Membership rows carry the group's org unit, so the group's silo decides who sees its members.
CREATE TABLE group_members (
    tenant_id    text NOT NULL,
    org_unit_id  text NOT NULL,
    group_id     text NOT NULL,
    user_id      text NOT NULL,
    added_at     timestamptz NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX group_members_by_user ON group_members (tenant_id, user_id);

-- Roles. Built-in roles belong to no tenant, have fixed ids, and take their capabilities from the
-- code catalogue (the column holds what the catalogue said when the row was written, for readers of
-- the database). Tenant-defined roles are the tenant's own and bump `version` on every change.
CREATE TABLE roles (
    id            text PRIMARY KEY CHECK (id ~ '^rol_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id     text REFERENCES tenants (id),
    builtin_key   text UNIQUE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    capabilities  text[] NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK ((tenant_id IS NULL) = (builtin_key IS NOT NULL))
);

CREATE UNIQUE INDEX roles_unique_name ON roles (coalesce(tenant_id, ''), lower(name));

INSERT INTO roles (id, tenant_id, builtin_key, name, capabilities, version, created_at, updated_at) VALUES
    ('rol_00000000000000000000000001', NULL, 'admin', 'Administrator',
     ARRAY['assignments.manage', 'authoring.manage', 'evidence.manage', 'ledger.read', 'portal.links.manage',
           'reporting.read', 'sessions.execute', 'subjects.manage', 'submissions.approve', 'submissions.reject',
           'submissions.review', 'tenant.admin', 'users.manage'], 0, now(), now()),
    ('rol_00000000000000000000000002', NULL, 'author', 'Author', ARRAY['authoring.manage'], 0, now(), now()),
    ('rol_00000000000000000000000003', NULL, 'assigner', 'Assigner', ARRAY['assignments.manage', 'subjects.manage'], 0, now(), now()),
    ('rol_00000000000000000000000004', NULL, 'inspector', 'Operator / inspector', ARRAY['evidence.manage', 'sessions.execute'], 0, now(), now()),
    ('rol_00000000000000000000000005', NULL, 'reviewer', 'Reviewer',
     ARRAY['submissions.approve', 'submissions.reject', 'submissions.review'], 0, now(), now()),
    ('rol_00000000000000000000000006', NULL, 'analyst', 'Analyst', ARRAY['ledger.read', 'reporting.read'], 0, now(), now());

-- A role given to a person or a group, tenant-wide (org_unit_id NULL) or in one org unit.
CREATE TABLE role_grants (
    id           text PRIMARY KEY CHECK (id ~ '^rgr_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id    text NOT NULL REFERENCES tenants (id),
    role_id      text NOT NULL REFERENCES roles (id),
    user_id      text,
    group_id     text,
    org_unit_id  text,
    granted_at   timestamptz NOT NULL,
    granted_by   text NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id),
    UNIQUE NULLS NOT DISTINCT (tenant_id, role_id, user_id, group_id, org_unit_id)
);

CREATE INDEX role_grants_by_user ON role_grants (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX role_grants_by_group ON role_grants (tenant_id, group_id) WHERE group_id IS NOT NULL;

-- One row per magic link sent. Only the SHA-256 of the token is kept; consuming sets consumed_at in
-- one conditional UPDATE, so of two concurrent consumers exactly one wins.
CREATE TABLE magic_links (
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    tenant_id       text NOT NULL,
    org_unit_id     text NOT NULL,
    user_id         text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    consumed_at     timestamptz,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX magic_links_expiry ON magic_links (expires_at);

-- A session is one sign-in and the family of refresh tokens rotated from it.
CREATE TABLE auth_sessions (
    id              text PRIMARY KEY CHECK (id ~ '^ses_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id       text NOT NULL,
    org_unit_id     text NOT NULL,
    user_id         text NOT NULL,
    auth_methods    text[] NOT NULL,
    authenticated_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoke_reason   text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX auth_sessions_by_user ON auth_sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

-- Refresh tokens, hashed. A token is used once; presenting a used one again means it was copied, and
-- the whole session is revoked (reuse detection).
CREATE TABLE refresh_tokens (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    tenant_id    text NOT NULL,
    org_unit_id  text NOT NULL,
    session_id   text NOT NULL REFERENCES auth_sessions (id),
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- One TOTP authenticator per person. The secret is sealed with AES-GCM under a server key, so a copy
-- of the database alone cannot produce codes. `last_used_step` refuses a code's replay.
CREATE TABLE totp_authenticators (
    user_id         text PRIMARY KEY,
    tenant_id       text NOT NULL,
    org_unit_id     text NOT NULL,
    sealed_secret   bytea NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'active')),
    created_at      timestamptz NOT NULL,
    confirmed_at    timestamptz,
    last_used_step  bigint,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

-- Client-portal link principals (seed 001 §12): one scope each, optionally one recipient.
CREATE TABLE portal_links (
    id               text PRIMARY KEY CHECK (id ~ '^lnk_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id        text NOT NULL REFERENCES tenants (id),
    org_unit_id      text NOT NULL,
    scope_type       text NOT NULL CHECK (scope_type IN ('engagement', 'submission', 'programme_enrolment')),
    scope_id         text NOT NULL CHECK (length(scope_id) BETWEEN 1 AND 64),
    recipient_email  text CHECK (recipient_email = lower(recipient_email)),
    label            text CHECK (length(label) <= 200),
    token_hash       bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at       timestamptz NOT NULL,
    created_by       text NOT NULL,
    expires_at       timestamptz NOT NULL,
    revoked_at       timestamptz,
    revoked_by       text,
    last_used_at     timestamptz,
    use_count        integer NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

CREATE INDEX portal_links_by_scope ON portal_links (tenant_id, scope_type, scope_id);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
ALTER TABLE groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE groups FORCE ROW LEVEL SECURITY;
ALTER TABLE group_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE group_members FORCE ROW LEVEL SECURITY;
ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
ALTER TABLE role_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE role_grants FORCE ROW LEVEL SECURITY;
ALTER TABLE magic_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE magic_links FORCE ROW LEVEL SECURITY;
ALTER TABLE auth_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
ALTER TABLE totp_authenticators ENABLE ROW LEVEL SECURITY;
ALTER TABLE totp_authenticators FORCE ROW LEVEL SECURITY;
ALTER TABLE portal_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE portal_links FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON users AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON users AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON groups AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON groups AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON group_members AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON group_members AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

-- Every tenant reads the shared built-in roles; it writes only its own.
CREATE POLICY tenant_isolation ON roles AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id IS NULL OR tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
-- Roles carry no org unit: anyone in the tenant may read them, only tenant-wide principals define them.
CREATE POLICY org_scope ON roles AS RESTRICTIVE FOR ALL TO evalium_app
    USING (true)
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

-- A tenant-wide grant (no org unit) is visible and writable only tenant-wide.
CREATE POLICY tenant_isolation ON role_grants AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON role_grants AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON magic_links AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON magic_links AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON auth_sessions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON auth_sessions AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON refresh_tokens AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON refresh_tokens AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON totp_authenticators AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON totp_authenticators AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

CREATE POLICY tenant_isolation ON portal_links AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON portal_links AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = ANY ((SELECT string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))::text[]));

GRANT SELECT, INSERT, UPDATE ON users, groups, roles, magic_links, auth_sessions, refresh_tokens, totp_authenticators, portal_links TO evalium_app;
GRANT SELECT, INSERT, DELETE ON group_members, role_grants TO evalium_app;
GRANT DELETE ON totp_authenticators TO evalium_app;

-- Whether the principal behind a unit of work may still act: the transaction manager calls this in
-- the same statement that sets the scope. It runs as the owner, whose policies below let it read the
-- three tables it needs, and answers one word: live, stale (access changed: refresh the token) or ended.
CREATE POLICY principal_state_users ON users AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY principal_state_sessions ON auth_sessions AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY principal_state_links ON portal_links AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION auth_principal_state(p_tenant text, p_kind text, p_principal text, p_session text, p_authz_version integer)
    RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT coalesce(CASE p_kind
        WHEN 'user' THEN (
            SELECT CASE
                WHEN s.revoked_at IS NOT NULL OR s.expires_at <= now() OR u.status <> 'active' OR t.status <> 'active' THEN 'ended'
                WHEN u.authz_version <> p_authz_version THEN 'stale'
                ELSE 'live' END
            FROM public.auth_sessions s
            JOIN public.users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id
            JOIN public.tenants t ON t.id = s.tenant_id
            WHERE s.id = p_session AND s.tenant_id = p_tenant AND s.user_id = p_principal)
        WHEN 'link' THEN (
            SELECT CASE WHEN l.revoked_at IS NULL AND l.expires_at > now() AND t.status = 'active' THEN 'live' ELSE 'ended' END
            FROM public.portal_links l JOIN public.tenants t ON t.id = l.tenant_id
            WHERE l.id = p_principal AND l.tenant_id = p_tenant)
        END, 'ended')
    $$;

REVOKE ALL ON FUNCTION auth_principal_state(text, text, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_principal_state(text, text, text, text, integer) TO evalium_app;
