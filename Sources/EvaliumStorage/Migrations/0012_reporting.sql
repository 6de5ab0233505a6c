-- The reporting world (seed 000 "Analytics truth", seed 001 §4.3): projections derived from durable truth
-- (submissions, their frozen snapshots, corrections, evidence) and rebuildable from it at any time. Each
-- row is recomputed whole from the submission it describes, so replaying an event changes nothing.
CREATE SCHEMA reporting;
GRANT USAGE ON SCHEMA reporting TO evalium_app;

-- One row per submission, as it stands now (after grades, amendments and a void).
CREATE TABLE reporting.submission_facts (
    submission_id       text PRIMARY KEY,
    tenant_id           text NOT NULL,
    org_unit_id         text NOT NULL,
    evaluation_id       text NOT NULL,
    evaluation_version  integer NOT NULL,
    kind                text NOT NULL,
    cohort              text,
    batch_id            text,
    subject_ids         text[] NOT NULL,
    operator_id         text NOT NULL,
    started_at          timestamptz NOT NULL,
    submitted_at        timestamptz NOT NULL,
    outcome             text NOT NULL,
    raw_score           double precision NOT NULL,
    max_score           double precision NOT NULL,
    scaled_score        double precision NOT NULL,
    passed              boolean,
    approval_status     text NOT NULL,
    amendment_count     integer NOT NULL,
    voided              boolean NOT NULL,
    finding_count       integer NOT NULL,
    evidence_count      integer NOT NULL,
    replaces            text
);

CREATE INDEX submission_facts_by_time ON reporting.submission_facts (tenant_id, submitted_at, submission_id);
CREATE INDEX submission_facts_by_evaluation ON reporting.submission_facts (tenant_id, evaluation_id, evaluation_version);
CREATE INDEX submission_facts_by_batch ON reporting.submission_facts (tenant_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX submission_facts_by_subject ON reporting.submission_facts USING gin (subject_ids);

-- The current findings of each submission, each tied to the `finding.detected` ledger event that raised it,
-- so a claim or dispute can name the exact event.
CREATE TABLE reporting.findings (
    submission_id    text NOT NULL,
    item_id          text NOT NULL,
    tenant_id        text NOT NULL,
    org_unit_id      text NOT NULL,
    question_id      text NOT NULL,
    option_id        text NOT NULL,
    severity         text NOT NULL,
    subject_ids      text[] NOT NULL,
    batch_id         text,
    ledger_event_id  text NOT NULL,
    detected_at      timestamptz NOT NULL,
    voided           boolean NOT NULL,
    PRIMARY KEY (submission_id, item_id)
);

CREATE INDEX findings_by_time ON reporting.findings (tenant_id, detected_at, submission_id, item_id);
CREATE INDEX findings_by_subject ON reporting.findings USING gin (subject_ids);

-- Each item's result in each submission, the ground of the item analytics per question version.
CREATE TABLE reporting.item_results (
    submission_id     text NOT NULL,
    item_id           text NOT NULL,
    tenant_id         text NOT NULL,
    org_unit_id       text NOT NULL,
    evaluation_id     text NOT NULL,
    evaluation_version integer NOT NULL,
    question_id       text NOT NULL,
    question_version  integer NOT NULL,
    correct           text NOT NULL,
    points_earned     double precision,
    points_possible   double precision NOT NULL,
    seconds_spent     double precision,
    voided            boolean NOT NULL,
    PRIMARY KEY (submission_id, item_id)
);

CREATE INDEX item_results_by_question ON reporting.item_results (tenant_id, evaluation_id, evaluation_version, question_id);

-- How far the projection has read each tenant's sealed ledger: it resumes here after a restart.
CREATE TABLE reporting.checkpoints (
    tenant_id      text PRIMARY KEY,
    last_sequence  bigint NOT NULL CHECK (last_sequence >= 0)
);

ALTER TABLE reporting.submission_facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.submission_facts FORCE ROW LEVEL SECURITY;
ALTER TABLE reporting.findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.findings FORCE ROW LEVEL SECURITY;
ALTER TABLE reporting.item_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.item_results FORCE ROW LEVEL SECURITY;
ALTER TABLE reporting.checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE reporting.checkpoints FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON reporting.submission_facts AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON reporting.submission_facts AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON reporting.findings AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON reporting.findings AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON reporting.item_results AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON reporting.item_results AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON reporting.checkpoints AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

GRANT SELECT, INSERT, UPDATE, DELETE ON reporting.submission_facts, reporting.findings, reporting.item_results TO evalium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON reporting.checkpoints TO evalium_app;

-- The projection worker discovers which tenants have sealed events it has not read, seeing only tenant ids.
CREATE POLICY platform_projection_discovery ON reporting.checkpoints AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY platform_projection_discovery ON ledger_seals AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION reporting_tenants_behind() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
        SELECT t.id FROM public.tenants t
        WHERE (SELECT max(s.sequence) FROM public.ledger_seals s WHERE s.tenant_id = t.id)
              > coalesce((SELECT c.last_sequence FROM reporting.checkpoints c WHERE c.tenant_id = t.id), 0)
    $$;

REVOKE ALL ON FUNCTION reporting_tenants_behind() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting_tenants_behind() TO evalium_app;

-- Reviewers read findings (seed 004: findings are surfaced in reviewer dashboards), so the built-in reviewer
-- role reads reporting too (the code is the catalogue; this keeps its row true).
UPDATE roles SET capabilities = ARRAY['reporting.read', 'submissions.amend', 'submissions.approve', 'submissions.reject', 'submissions.review']
    WHERE builtin_key = 'reviewer';
