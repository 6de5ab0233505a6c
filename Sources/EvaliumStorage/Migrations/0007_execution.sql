-- The execution world (seed 001 §8–§9, seed 000 §3.1): assignments with their frozen policy and
-- subjects, delivery sessions (runtime, retention-bound) with their telemetry and recorded items, and
-- the durable, immutable submissions they finalise into.

-- The signed-in person of the unit of work (`app.user_id`), for policies that let people reach their
-- own work outside their org scope.
CREATE FUNCTION app_current_user() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '') $$;

-- Whether an assignment's target is the current person: by id, by membership of the target group, or by
-- the invited email being theirs. It reads people and memberships as the owner (policies below), because
-- an external inspector cannot see the group or person rows of another org unit.
CREATE POLICY assignment_target_members ON group_members AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION app_assignment_targets_me(p_tenant text, p_user text, p_group text, p_email text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT app_current_user() IS NOT NULL AND (
        p_user = app_current_user()
        OR (p_group IS NOT NULL AND EXISTS (SELECT 1 FROM public.group_members m
                                            WHERE m.tenant_id = p_tenant AND m.group_id = p_group AND m.user_id = app_current_user()))
        OR (p_email IS NOT NULL AND EXISTS (SELECT 1 FROM public.users u
                                            WHERE u.tenant_id = p_tenant AND u.id = app_current_user() AND u.email = p_email)))
    $$;

REVOKE ALL ON FUNCTION app_assignment_targets_me(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_assignment_targets_me(text, text, text, text) TO evalium_app;

CREATE TABLE assignments (
    id                  text PRIMARY KEY CHECK (id ~ '^asg_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id           text NOT NULL REFERENCES tenants (id),
    org_unit_id         text NOT NULL,
    evaluation_id       text NOT NULL,
    evaluation_version  integer NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('knowledge', 'observation', 'evidence')),
    target_user_id      text,
    target_group_id     text,
    target_email        text CHECK (target_email = lower(target_email)),
    status              text NOT NULL CHECK (status IN ('active', 'withdrawn')),
    cohort              text CHECK (length(cohort) BETWEEN 1 AND 200),
    batch_id            text CHECK (batch_id ~ '^bat_[0-9A-HJKMNP-TV-Z]{26}$'),
    overrides           jsonb NOT NULL,
    policy              jsonb NOT NULL,
    -- The evaluation version and every question version it pins, frozen at issue: what sessions show and
    -- submissions keep, readable by the target even when the template lives in another org unit.
    content             jsonb NOT NULL,
    available_from      timestamptz,
    available_until     timestamptz,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL,
    withdrawn_at        timestamptz,
    UNIQUE (tenant_id, id),
    CHECK (num_nonnulls(target_user_id, target_group_id, target_email) = 1),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id),
    FOREIGN KEY (tenant_id, evaluation_id, evaluation_version) REFERENCES evaluation_versions (tenant_id, evaluation_id, version),
    FOREIGN KEY (tenant_id, target_user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, target_group_id) REFERENCES groups (tenant_id, id)
);

CREATE INDEX assignments_by_user ON assignments (tenant_id, target_user_id) WHERE target_user_id IS NOT NULL;
CREATE INDEX assignments_by_group ON assignments (tenant_id, target_group_id) WHERE target_group_id IS NOT NULL;
CREATE INDEX assignments_by_batch ON assignments (tenant_id, batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE assignment_subjects (
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    assignment_id  text NOT NULL,
    subject_id     text NOT NULL,
    role           text NOT NULL CHECK (role IN ('primary', 'secondary')),
    PRIMARY KEY (assignment_id, subject_id),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, id)
);

CREATE INDEX assignment_subjects_by_subject ON assignment_subjects (tenant_id, subject_id);

CREATE TABLE delivery_sessions (
    id               text PRIMARY KEY CHECK (id ~ '^att_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id        text NOT NULL,
    org_unit_id      text NOT NULL,
    assignment_id    text NOT NULL,
    operator_id      text NOT NULL,
    attempt_number   integer NOT NULL CHECK (attempt_number >= 1),
    status           text NOT NULL CHECK (status IN ('active', 'submitted')),
    mode             text NOT NULL CHECK (mode IN ('online', 'offline')),
    started_at       timestamptz NOT NULL,
    expires_at       timestamptz,
    current_item_id  text,
    submission_id    text,
    submitted_at     timestamptz,
    UNIQUE (tenant_id, id),
    UNIQUE (assignment_id, operator_id, attempt_number),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id),
    FOREIGN KEY (tenant_id, operator_id) REFERENCES users (tenant_id, id)
);

-- One active attempt per person and assignment.
CREATE UNIQUE INDEX delivery_sessions_one_active ON delivery_sessions (assignment_id, operator_id) WHERE status = 'active';

-- Telemetry: navigation and client events, kept apart from the ledger because it is purged (seed 000 §6).
CREATE TABLE delivery_session_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         text NOT NULL,
    org_unit_id       text NOT NULL,
    session_id        text NOT NULL,
    event_type        text NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_.]{0,62}$'),
    payload           jsonb NOT NULL,
    client_timestamp  timestamptz,
    received_at       timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, session_id) REFERENCES delivery_sessions (tenant_id, id)
);

CREATE INDEX delivery_session_events_by_session ON delivery_session_events (session_id, id);

CREATE TABLE submissions (
    id                  text PRIMARY KEY CHECK (id ~ '^sub_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id           text NOT NULL,
    org_unit_id         text NOT NULL,
    session_id          text NOT NULL UNIQUE,
    assignment_id       text NOT NULL,
    evaluation_id       text NOT NULL,
    evaluation_version  integer NOT NULL,
    kind                text NOT NULL,
    operator_id         text NOT NULL,
    batch_id            text,
    cohort              text,
    lifecycle_status    text NOT NULL CHECK (lifecycle_status IN ('in_progress', 'completed')),
    outcome             text NOT NULL CHECK (outcome IN ('pass', 'fail', 'pending')),
    approval_status     text NOT NULL CHECK (approval_status IN ('approved', 'pending_review', 'rejected', 'changes_requested')),
    raw_score           double precision NOT NULL,
    max_score           double precision NOT NULL,
    scaled_score        double precision NOT NULL,
    result              jsonb NOT NULL,
    snapshot            jsonb NOT NULL,
    snapshot_hash       text NOT NULL CHECK (snapshot_hash ~ '^[0-9a-f]{64}$'),
    subjects            jsonb NOT NULL,
    context             jsonb,
    started_at          timestamptz NOT NULL,
    submitted_at        timestamptz NOT NULL,
    reviewed_by         text,
    reviewed_at         timestamptz,
    review_note         text,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES delivery_sessions (tenant_id, id),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id)
);

CREATE INDEX submissions_by_assignment ON submissions (tenant_id, assignment_id);
CREATE INDEX submissions_by_batch ON submissions (tenant_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX submissions_by_approval ON submissions (tenant_id, approval_status, submitted_at);

ALTER TABLE delivery_sessions ADD FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id)
    DEFERRABLE INITIALLY DEFERRED;

-- The recorded items: runtime state while the session is active, durable truth once linked to a submission.
CREATE TABLE submission_items (
    tenant_id         text NOT NULL,
    org_unit_id       text NOT NULL,
    session_id        text NOT NULL,
    item_id           text NOT NULL CHECK (item_id ~ '^itm_[0-9A-HJKMNP-TV-Z]{26}$'),
    question_id       text NOT NULL,
    answer            jsonb NOT NULL,
    comment           text CHECK (length(comment) <= 20000),
    complete          boolean NOT NULL,
    missing           jsonb NOT NULL,
    client_timestamp  timestamptz,
    context           jsonb,
    recorded_by       text NOT NULL,
    recorded_at       timestamptz NOT NULL,
    submission_id     text,
    PRIMARY KEY (session_id, item_id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES delivery_sessions (tenant_id, id),
    FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id)
);

CREATE INDEX submission_items_by_submission ON submission_items (tenant_id, submission_id) WHERE submission_id IS NOT NULL;

CREATE TABLE submission_subjects (
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    submission_id  text NOT NULL,
    subject_id     text NOT NULL,
    role           text NOT NULL CHECK (role IN ('primary', 'secondary')),
    PRIMARY KEY (submission_id, subject_id),
    FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, id)
);

CREATE INDEX submission_subjects_by_subject ON submission_subjects (tenant_id, subject_id);

-- Human grades of items that needed a person: appended, never edited; the latest per item counts.
CREATE TABLE submission_grades (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    submission_id  text NOT NULL,
    item_id        text NOT NULL,
    points         double precision NOT NULL CHECK (points >= 0),
    note           text CHECK (length(note) <= 20000),
    graded_by      text NOT NULL,
    graded_at      timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id)
);

CREATE INDEX submission_grades_by_submission ON submission_grades (submission_id, item_id, id);

-- Immutability of the durable record. A submission changes only in its review columns (the approval
-- layer is metadata about trust, seed 002 §1.2); its items, once linked, and its subjects and grades never.
CREATE FUNCTION submissions_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'submission % is durable and is never deleted', OLD.id;
        END IF;
        IF to_jsonb(NEW) - 'approval_status' - 'reviewed_by' - 'reviewed_at' - 'review_note'
           IS DISTINCT FROM to_jsonb(OLD) - 'approval_status' - 'reviewed_by' - 'reviewed_at' - 'review_note' THEN
            RAISE EXCEPTION 'submission % is completed and immutable; corrections are amendments, not edits', OLD.id;
        END IF;
        RETURN NEW;
    END
    $$;

CREATE TRIGGER submissions_immutable BEFORE UPDATE OR DELETE ON submissions
    FOR EACH ROW EXECUTE FUNCTION submissions_guard();

CREATE FUNCTION submission_items_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF OLD.submission_id IS NOT NULL THEN
            RAISE EXCEPTION 'item % belongs to submission %, which is immutable', OLD.item_id, OLD.submission_id;
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END
    $$;

CREATE TRIGGER submission_items_immutable BEFORE UPDATE OR DELETE ON submission_items
    FOR EACH ROW EXECUTE FUNCTION submission_items_guard();

CREATE FUNCTION delivery_sessions_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF OLD.status = 'submitted' THEN
            RAISE EXCEPTION 'session % is submitted as %; it is closed for good', OLD.id, OLD.submission_id;
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END
    $$;

CREATE TRIGGER delivery_sessions_closed BEFORE UPDATE OR DELETE ON delivery_sessions
    FOR EACH ROW EXECUTE FUNCTION delivery_sessions_guard();

CREATE FUNCTION append_only_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END
    $$;

CREATE TRIGGER submission_subjects_append_only BEFORE UPDATE OR DELETE ON submission_subjects
    FOR EACH ROW EXECUTE FUNCTION append_only_guard();
CREATE TRIGGER submission_grades_append_only BEFORE UPDATE OR DELETE ON submission_grades
    FOR EACH ROW EXECUTE FUNCTION append_only_guard();

-- Row-level security. Tenants everywhere. Within a tenant: the org scope of the unit of work, and also
-- the person the work is for: an assignment's target reads it (and its subjects) from outside its org
-- unit; an operator reads and writes their own sessions, items and submissions.
ALTER TABLE assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE assignments FORCE ROW LEVEL SECURITY;
ALTER TABLE assignment_subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE assignment_subjects FORCE ROW LEVEL SECURITY;
ALTER TABLE delivery_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE delivery_session_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE delivery_session_events FORCE ROW LEVEL SECURITY;
ALTER TABLE submissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE submissions FORCE ROW LEVEL SECURITY;
ALTER TABLE submission_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_items FORCE ROW LEVEL SECURITY;
ALTER TABLE submission_subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_subjects FORCE ROW LEVEL SECURITY;
ALTER TABLE submission_grades ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_grades FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON assignments AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON assignments AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR app_assignment_targets_me(tenant_id, target_user_id, target_group_id, target_email));
CREATE POLICY org_scope_insert ON assignments AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON assignments AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON assignment_subjects AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON assignment_subjects AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (EXISTS (SELECT 1 FROM assignments a WHERE a.id = assignment_id));
CREATE POLICY org_scope_insert ON assignment_subjects AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON assignment_subjects AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON delivery_sessions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON delivery_sessions AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR operator_id = app_current_user())
    WITH CHECK (app_org_unit_in_scope(org_unit_id) OR operator_id = app_current_user());

CREATE POLICY tenant_isolation ON delivery_session_events AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON delivery_session_events AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM delivery_sessions s WHERE s.id = session_id))
    WITH CHECK (EXISTS (SELECT 1 FROM delivery_sessions s WHERE s.id = session_id));

CREATE POLICY tenant_isolation ON submissions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submissions AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR operator_id = app_current_user())
    WITH CHECK (app_org_unit_in_scope(org_unit_id) OR operator_id = app_current_user());

CREATE POLICY tenant_isolation ON submission_items AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submission_items AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM delivery_sessions s WHERE s.id = session_id))
    WITH CHECK (EXISTS (SELECT 1 FROM delivery_sessions s WHERE s.id = session_id));

CREATE POLICY tenant_isolation ON submission_subjects AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submission_subjects AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_id))
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_id));

CREATE POLICY tenant_isolation ON submission_grades AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submission_grades AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id))
    WITH CHECK (app_org_unit_in_scope(org_unit_id));

-- Subjects: besides their org scope, a person reads the subjects of assignments they are the target of
-- and of submissions they can see (seed 004 "Integration Risk Controls" 1).
DROP POLICY org_scope ON subjects;
CREATE POLICY org_scope_read ON subjects AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)
           OR EXISTS (SELECT 1 FROM assignment_subjects x WHERE x.subject_id = subjects.id)
           OR EXISTS (SELECT 1 FROM submission_subjects x WHERE x.subject_id = subjects.id));
CREATE POLICY org_scope_insert ON subjects AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON subjects AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

-- A subject's person link and asset details are read wherever the subject is.
DROP POLICY org_scope ON subject_users;
CREATE POLICY org_scope_read ON subject_users AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR EXISTS (SELECT 1 FROM subjects s WHERE s.id = subject_users.subject_id));
CREATE POLICY org_scope_insert ON subject_users AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON subject_users AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));
DROP POLICY org_scope ON assets;
CREATE POLICY org_scope_read ON assets AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR EXISTS (SELECT 1 FROM subjects s WHERE s.id = assets.subject_id));
CREATE POLICY org_scope_insert ON assets AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON assets AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

-- The ledger: an operator working on an assignment from another org unit records its events in the org
-- unit the work belongs to; they may append (and read back) events they are the actor of. Their seal-queue
-- row is written by the same statement, which cannot see the event yet, so the queue (ids only, no data;
-- the sealer joins it to the events) accepts any row of the tenant.
DROP POLICY org_scope ON ledger_events;
CREATE POLICY org_scope ON ledger_events AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR (actor_kind = 'user' AND actor_id = app_current_user()))
    WITH CHECK (app_org_unit_in_scope(org_unit_id) OR (actor_kind = 'user' AND actor_id = app_current_user()));
DROP POLICY org_scope ON ledger_seal_queue;
CREATE POLICY org_scope ON ledger_seal_queue AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id))
    WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE ON assignments, delivery_sessions, submissions TO evalium_app;
GRANT SELECT, INSERT ON assignment_subjects, delivery_session_events, submission_subjects, submission_grades TO evalium_app;
GRANT SELECT, INSERT, UPDATE ON submission_items TO evalium_app;
GRANT EXECUTE ON FUNCTION app_current_user() TO evalium_app;
