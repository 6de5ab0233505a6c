-- Corrections (seed 001 §11): amendments and voids are appended, never edits. A submission's current state
-- is its finalised record with the amendments applied in order; its history shows every step.
CREATE TABLE submission_amendments (
    id             text PRIMARY KEY CHECK (id ~ '^amd_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    submission_id  text NOT NULL,
    sequence       integer NOT NULL CHECK (sequence >= 1),
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    changes        jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'array' AND jsonb_array_length(changes) >= 1),
    content_hash   text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    amended_by     text NOT NULL,
    amended_at     timestamptz NOT NULL,
    -- Two amendments racing for the same place in the chain: one wins, the other is told to retry.
    UNIQUE (submission_id, sequence),
    FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id)
);

-- At most one void per submission: the primary key decides between two racing voids.
CREATE TABLE submission_voids (
    submission_id  text PRIMARY KEY,
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    voided_by      text NOT NULL,
    voided_at      timestamptz NOT NULL,
    step_up        jsonb,
    FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id)
);

CREATE TRIGGER submission_amendments_append_only BEFORE UPDATE OR DELETE ON submission_amendments
    FOR EACH ROW EXECUTE FUNCTION append_only_guard();
CREATE TRIGGER submission_voids_append_only BEFORE UPDATE OR DELETE ON submission_voids
    FOR EACH ROW EXECUTE FUNCTION append_only_guard();

-- Corrections are read and written through the submission they correct.
ALTER TABLE submission_amendments ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_amendments FORCE ROW LEVEL SECURITY;
ALTER TABLE submission_voids ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_voids FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON submission_amendments AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submission_amendments AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_id))
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_id AND s.org_unit_id = org_unit_id));

CREATE POLICY tenant_isolation ON submission_voids AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submission_voids AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_id))
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_id AND s.org_unit_id = org_unit_id));

GRANT SELECT, INSERT ON submission_amendments, submission_voids TO evalium_app;

CREATE INDEX submission_amendments_by_submission ON submission_amendments (tenant_id, submission_id, sequence);
-- A history names the rework that replaced a submission.
CREATE INDEX submissions_by_replaced ON submissions (replaces) WHERE replaces IS NOT NULL;

-- The client portal's Submission Glass Box (seed 001 §12): a portal link reaches the one submission it
-- was issued for, and only once that submission is approved. `app.link_id` is set per transaction for
-- portal sessions; the link's scope is looked up past the portal_links policies.
CREATE FUNCTION app_portal_scope(scope_kind text) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
        SELECT l.scope_id FROM public.portal_links l
        WHERE l.id = NULLIF(current_setting('app.link_id', true), '') AND l.scope_type = scope_kind
          AND l.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')
    $$;
REVOKE ALL ON FUNCTION app_portal_scope(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_portal_scope(text) TO evalium_app;

CREATE POLICY portal_lens ON submissions AS RESTRICTIVE FOR ALL TO evalium_app
    USING (COALESCE(current_setting('app.link_id', true), '') = ''
           OR (id = app_portal_scope('submission') AND approval_status = 'approved'));

-- The built-in roles gain the correction capabilities (the code is the catalogue; this keeps the rows true).
UPDATE roles SET capabilities = ARRAY['assignments.manage', 'authoring.manage', 'evidence.manage', 'ledger.read',
           'portal.links.manage', 'reporting.read', 'sessions.execute', 'subjects.manage', 'submissions.amend',
           'submissions.approve', 'submissions.reject', 'submissions.review', 'submissions.void', 'tenant.admin', 'users.manage']
    WHERE builtin_key = 'admin';
UPDATE roles SET capabilities = ARRAY['submissions.amend', 'submissions.approve', 'submissions.reject', 'submissions.review']
    WHERE builtin_key = 'reviewer';
