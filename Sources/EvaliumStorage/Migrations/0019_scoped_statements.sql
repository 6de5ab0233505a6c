-- Reading a subject ran five statements, each a round trip between the server and PostgreSQL: BEGIN, the
-- scope, the subject, its subject.viewed event, COMMIT. Each round trip costs both sides more than the work in
-- it (the executor's share of the whole read was 0.27 ms of about 1 ms of PostgreSQL's CPU). A statement that
-- applies its own scope needs no transaction block: it runs in the implicit transaction of its own round trip,
-- and the transaction-local settings end with it. PL/pgSQL runs its statements in order, so the scope is set
-- before the statement its policies guard; one SQL statement could not promise that order.

-- The scope of one unit of work, as Scope.bind(into:checkingPrincipal:) binds it (Scope.parameters writes
-- ROW(...)::unit_scope around those parameters): the tenant, the org units (comma-separated) and whether the
-- scope is every org unit, the principal (its kind, 'user' or 'link', or NULL for none; its id; the session and
-- the access version its token carries), and whether to check that the principal may still act.
CREATE TYPE unit_scope AS (
    tenant_id text, org_unit_ids text, org_scope_all text, principal_kind text, principal_id text, session_id text,
    authz_version integer, check_principal boolean);

-- Applies a unit of work's scope, as Transaction.applyScope always set it, and, when asked, checks that its
-- principal may still act: 'EV001' when the token predates a change to the person's access, 'EV002' when
-- the session or link has ended (StorageError.accessOutOfDate and .sessionEnded). A unit of work checks once, in
-- its first statement, as a transaction does: the check was 15 % of PostgreSQL's CPU under subject reads when
-- both of a read's statements made it.
CREATE FUNCTION apply_scope(p_scope unit_scope)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    DECLARE
        state text;
    BEGIN
        PERFORM set_config('app.tenant_id', p_scope.tenant_id, true),
                set_config('app.org_unit_ids', p_scope.org_unit_ids, true),
                set_config('app.org_scope_all', p_scope.org_scope_all, true),
                set_config('app.user_id', CASE WHEN p_scope.principal_kind = 'user' THEN p_scope.principal_id ELSE '' END, true),
                set_config('app.link_id', CASE WHEN p_scope.principal_kind = 'link' THEN p_scope.principal_id ELSE '' END, true);
        IF p_scope.check_principal AND p_scope.principal_kind IS NOT NULL THEN
            state := auth_principal_state(p_scope.tenant_id, p_scope.principal_kind, p_scope.principal_id, p_scope.session_id,
                                          p_scope.authz_version);
            IF state = 'stale' THEN
                RAISE EXCEPTION 'the access token predates a change to the person''s access' USING ERRCODE = 'EV001';
            ELSIF state <> 'live' THEN
                RAISE EXCEPTION 'the session has ended' USING ERRCODE = 'EV002';
            END IF;
        END IF;
    END
    $$;

-- One subject in the scope, with its person and asset: the columns of SubjectQueries.subjectColumns, in order.
CREATE FUNCTION scoped_subject(p_scope unit_scope, p_id text)
    RETURNS TABLE (id text, tenant_id text, org_unit_id text, subject_type text, display_name text, external_ref text,
                   status text, tags text[], user_id text, asset_type text, identifiers text, metadata text,
                   created_at timestamptz, updated_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        RETURN QUERY
        SELECT s.id, s.tenant_id, s.org_unit_id, s.subject_type, s.display_name, s.external_ref, s.status, s.tags, su.user_id,
               a.asset_type, a.identifiers::text, a.metadata::text, s.created_at, s.updated_at
        FROM subjects s LEFT JOIN subject_users su ON su.subject_id = s.id LEFT JOIN assets a ON a.subject_id = s.id
        WHERE s.id = p_id;
    END
    $$;

-- Ledger events to append, as LedgerAppend binds them (its bind(into:), in this order): the tenant and the time,
-- then an array per column, the events in order. The scoped_* functions that append take one, written
-- ROW(...)::ledger_batch around those parameters.
CREATE TYPE ledger_batch AS (
    tenant_id text, occurred_at timestamptz, ids text[], org_unit_ids text[], event_types text[], aggregate_types text[],
    aggregate_ids text[], actor_kinds text[], actor_ids text[], client_occurred_at text[], payloads text[], contexts text[],
    verification_levels text[], verification_outcomes text[], idempotency_keys text[], canonical_bytes bytea[],
    leaf_hashes bytea[]);

-- Appends a batch's ledger events and their seal-queue rows: the statement LedgerAppend writes inside a
-- transaction (PL/pgSQL, so its plan is kept).
CREATE FUNCTION ledger_append(p_batch ledger_batch)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        WITH appended AS (
            INSERT INTO ledger_events (
                id, tenant_id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
                occurred_at, client_occurred_at, payload, context_metadata, verification_level,
                verification_outcome, idempotency_key, canonical_bytes, leaf_hash)
            SELECT e.id, p_batch.tenant_id, NULLIF(e.org_unit_id, ''), e.event_type, e.aggregate_type, e.aggregate_id, e.actor_kind,
                   e.actor_id, p_batch.occurred_at, NULLIF(e.client_occurred_at, '')::timestamptz, e.payload::jsonb,
                   e.context_metadata::jsonb, NULLIF(e.verification_level, ''), NULLIF(e.verification_outcome, '')::jsonb,
                   NULLIF(e.idempotency_key, ''), e.canonical_bytes, e.leaf_hash
            FROM unnest(p_batch.ids, p_batch.org_unit_ids, p_batch.event_types, p_batch.aggregate_types, p_batch.aggregate_ids,
                        p_batch.actor_kinds, p_batch.actor_ids, p_batch.client_occurred_at, p_batch.payloads, p_batch.contexts,
                        p_batch.verification_levels, p_batch.verification_outcomes, p_batch.idempotency_keys,
                        p_batch.canonical_bytes, p_batch.leaf_hashes)
                 WITH ORDINALITY AS e(id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
                                      client_occurred_at, payload, context_metadata, verification_level, verification_outcome,
                                      idempotency_key, canonical_bytes, leaf_hash, position)
            ORDER BY e.position
            RETURNING ledger_events.id, ledger_events.tenant_id, ledger_events.org_unit_id)
        INSERT INTO ledger_seal_queue (event_id, tenant_id, org_unit_id)
        SELECT appended.id, appended.tenant_id, appended.org_unit_id FROM appended;
    END
    $$;

-- Appends a batch of ledger events in the scope.
CREATE FUNCTION scoped_ledger_append(p_scope unit_scope, p_batch ledger_batch)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        PERFORM ledger_append(p_batch);
    END
    $$;

REVOKE ALL ON FUNCTION apply_scope(unit_scope) FROM PUBLIC;
REVOKE ALL ON FUNCTION ledger_append(ledger_batch) FROM PUBLIC;
REVOKE ALL ON FUNCTION scoped_subject(unit_scope, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scoped_ledger_append(unit_scope, ledger_batch) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION apply_scope(unit_scope) TO evalium_app;
GRANT EXECUTE ON FUNCTION ledger_append(ledger_batch) TO evalium_app;
GRANT EXECUTE ON FUNCTION scoped_subject(unit_scope, text) TO evalium_app;
GRANT EXECUTE ON FUNCTION scoped_ledger_append(unit_scope, ledger_batch) TO evalium_app;

-- A finding as the findings list and the export read it.
CREATE TYPE reporting_finding AS (
    submission_id text, item_id text, org_unit_id text, question_id text, option_id text, severity text,
    subject_ids text[], batch_id text, ledger_event_id text, detected_at timestamptz, voided boolean);

-- A tenant's findings, filtered and paged as ReportingQueries' FindingFilter asks: the one text of that query,
-- for the CSV export inside a transaction and for scoped_findings outside one. A SQL function of one SELECT that
-- PostgreSQL inlines into the statement calling it, so each call is planned for its filters and its rows stream,
-- as the statement written out was.
CREATE FUNCTION reporting_findings(p_submission text, p_severity text, p_subject text, p_batch text,
                                   p_from timestamptz, p_to timestamptz, p_include_voided boolean,
                                   p_after_detected timestamptz, p_after_submission text, p_after_item text, p_limit bigint)
    RETURNS SETOF reporting_finding
    LANGUAGE sql STABLE
    AS $$
    SELECT f.submission_id, f.item_id, f.org_unit_id, f.question_id, f.option_id, f.severity, f.subject_ids, f.batch_id,
           f.ledger_event_id, f.detected_at, f.voided
    FROM reporting.findings f
    WHERE (p_submission IS NULL OR f.submission_id = p_submission)
      AND (p_severity IS NULL OR f.severity = p_severity)
      AND (p_subject IS NULL OR f.subject_ids @> ARRAY[p_subject])
      AND (p_batch IS NULL OR f.batch_id = p_batch)
      AND (p_from IS NULL OR f.detected_at >= p_from)
      AND (p_to IS NULL OR f.detected_at < p_to)
      AND (p_include_voided OR NOT f.voided)
      AND (p_after_submission IS NULL
           OR (f.detected_at, f.submission_id, f.item_id) > (p_after_detected, p_after_submission, p_after_item))
    ORDER BY f.detected_at, f.submission_id, f.item_id
    LIMIT p_limit
    $$;

-- A page of findings in the scope. The query is run by EXECUTE, which plans it for this call's filters: a
-- plan kept for the function would be one plan for every combination of filters.
CREATE FUNCTION scoped_findings(p_scope unit_scope,
                                p_submission text, p_severity text, p_subject text, p_batch text,
                                p_from timestamptz, p_to timestamptz, p_include_voided boolean,
                                p_after_detected timestamptz, p_after_submission text, p_after_item text, p_limit bigint)
    RETURNS SETOF reporting_finding
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        RETURN QUERY EXECUTE 'SELECT * FROM reporting_findings($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)'
            USING p_submission, p_severity, p_subject, p_batch, p_from, p_to, p_include_voided, p_after_detected,
                  p_after_submission, p_after_item, p_limit;
    END
    $$;

REVOKE ALL ON FUNCTION reporting_findings(text, text, text, text, timestamptz, timestamptz, boolean, timestamptz, text, text,
                                          bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scoped_findings(unit_scope, text, text, text, text, timestamptz,
                                       timestamptz, boolean, timestamptz, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting_findings(text, text, text, text, timestamptz, timestamptz, boolean, timestamptz, text, text,
                                             bigint) TO evalium_app;
GRANT EXECUTE ON FUNCTION scoped_findings(unit_scope, text, text, text, text, timestamptz,
                                          timestamptz, boolean, timestamptz, text, text, bigint) TO evalium_app;

-- A read of a submission ran five statements: BEGIN, the scope, the submission, its record with its
-- submission.viewed event, COMMIT. Here it is two, as a subject read is: the submission, then (once the reader's
-- level is known) its record with the event.

-- One submission in the scope, as the submissions table holds it: the caller selects DeliveryQueries'
-- submissionColumns from it, as from the table.
CREATE FUNCTION scoped_submission(p_scope unit_scope, p_id text)
    RETURNS SETOF submissions
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        RETURN QUERY SELECT * FROM submissions s WHERE s.id = p_id;
    END
    $$;

-- The content a submission names, in the scope, for the rare read whose content the server does not hold yet.
CREATE FUNCTION scoped_frozen_content(p_scope unit_scope, p_hash text)
    RETURNS SETOF text
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        RETURN QUERY SELECT c.content FROM frozen_contents c WHERE c.tenant_id = p_scope.tenant_id AND c.content_hash = p_hash;
    END
    $$;

-- A row of a submission's record as CorrectionQueries decodes it: its kind ('response', 'amendment', 'void' or
-- 'grade'), the submission, then the columns each kind fills.
CREATE TYPE submission_record_row AS (
    kind text, submission_id text, amendment_id text, sequence integer, reason text, document text, actor text,
    acted_at timestamptz, item_id text, points double precision, question_id text, answer text, comment text,
    complete boolean, missing text, client_timestamp timestamptz, context text);

-- The amendments, void and latest grade of each item of the submissions of p_submissions: every view of a
-- submission's current state reads them, one submission at a time or a rebuild's page at once. Inlined into the
-- statement calling it (one SELECT, STABLE), so one id (ARRAY[$1]) is planned as one.
CREATE FUNCTION submission_corrections(p_submissions text[])
    RETURNS SETOF submission_record_row
    LANGUAGE sql STABLE
    AS $$
    SELECT 'amendment', submission_id, id, sequence, reason, changes::text, amended_by, amended_at, NULL, NULL::double precision,
           NULL, NULL, NULL, NULL::boolean, NULL, NULL::timestamptz, NULL
    FROM submission_amendments WHERE submission_id = ANY(p_submissions)
    UNION ALL
    SELECT 'void', submission_id, NULL, NULL, reason, step_up::text, voided_by, voided_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL
    FROM submission_voids WHERE submission_id = ANY(p_submissions)
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (submission_id, item_id) 'grade', submission_id, NULL, NULL::integer, NULL, NULL, graded_by, graded_at,
               item_id, points, NULL, NULL, NULL, NULL::boolean, NULL, NULL::timestamptz, NULL
        FROM submission_grades WHERE submission_id = ANY(p_submissions) ORDER BY submission_id, item_id, id DESC) AS latest
    $$;

-- A submission's record: the responses of its session as they were recorded, then its corrections. The session
-- is compared with a sub-select, which hides its value from the planner: PostgreSQL rated `session_id = 'att_…'`
-- at one row and a parameter at two, so a kept plan never looked cheaper and each run was planned again (the rule
-- in PlannedStatements.swift).
CREATE FUNCTION submission_record(p_submission text, p_session text)
    RETURNS SETOF submission_record_row
    LANGUAGE sql STABLE
    AS $$
    SELECT 'response', p_submission, NULL, NULL, NULL, NULL, recorded_by, recorded_at, item_id, NULL, question_id, answer::text,
           comment, complete, missing::text, client_timestamp, context::text
    FROM submission_items WHERE session_id = (SELECT p_session)
    UNION ALL
    SELECT * FROM submission_corrections(ARRAY[p_submission])
    $$;

-- A submission's record in the scope, in the order CorrectionQueries reads it, after appending a batch of
-- ledger events: a read of a submission and its submission.viewed event in one statement.
CREATE FUNCTION scoped_submission_record(p_scope unit_scope,
                                         p_submission text, p_submission_session text, p_batch ledger_batch)
    RETURNS SETOF submission_record_row
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        PERFORM ledger_append(p_batch);
        RETURN QUERY SELECT * FROM submission_record(p_submission, p_submission_session) r ORDER BY 1, 4, 8, 9;
    END
    $$;

REVOKE ALL ON FUNCTION scoped_submission(unit_scope, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scoped_frozen_content(unit_scope, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION submission_corrections(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION submission_record(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scoped_submission_record(unit_scope, text, text, ledger_batch) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scoped_submission(unit_scope, text) TO evalium_app;
GRANT EXECUTE ON FUNCTION scoped_frozen_content(unit_scope, text) TO evalium_app;
GRANT EXECUTE ON FUNCTION submission_corrections(text[]) TO evalium_app;
GRANT EXECUTE ON FUNCTION submission_record(text, text) TO evalium_app;
GRANT EXECUTE ON FUNCTION scoped_submission_record(unit_scope, text, text, ledger_batch) TO evalium_app;
