-- The pgbench baseline for one finalisation (issue 10): the tables a finalisation writes, copied from the
-- migrations into a schema of their own, so that `finalisation.sql` can write the same rows PostgreSQL
-- writes for Evalium's submit, and pgbench can tell how fast PostgreSQL alone can take them.
--
-- Copied as they are (columns, types, CHECK constraints, primary keys, unique constraints, indexes, and the
-- foreign keys between copied tables, the deferred one included), merged with the later migrations that
-- change them (0008 `rework_of`, `replaces` and their indexes; 0009 `submissions_by_replaced`):
--   0001 tenants; 0002 ledger_events, ledger_seal_queue; 0006 subjects; 0007 assignments,
--   delivery_sessions, submissions, submission_items, submission_subjects; 0013 event_sequence, outbox,
--   event_dispatch_queue; 0014 frozen_contents (assignments and submissions name their content by hash).
-- tenants, subjects, frozen_contents and assignments are here only because the written rows' foreign keys check them: each
-- check reads the parent and takes a key-share lock on it, which is part of what these writes cost.
--
-- Deliberately left out:
--   - row-level security (the policies and the app_* functions they call) and the roles and grants: the
--     baseline runs as whoever connects, outside any tenant scope;
--   - the triggers: the immutability guards of submissions, submission_items and delivery_sessions (on a
--     finalisation they fire once per updated item and once for the session) and the ledger's
--     append-only triggers (which never fire on an insert anyway);
--   - foreign keys to tables not copied here (org_units, users, groups, evaluation_versions).
-- The comparison is still fair because the baseline is meant as PostgreSQL's ceiling for the same writes:
-- the same rows, of realistic size, into the same indexes and constraints, statement for statement as
-- Evalium sends them. Everything Evalium adds on top (the scope it sets, its policies and triggers, the
-- reads before the writes, the round trips, its own CPU) is the overhead the benchmark measures against it.
--
-- Loading this file drops and recreates the schema `baseline`. It seeds 10 tenants with 10 observation
-- assignments each (30 rubric items, one subject per assignment); the delivery sessions a run finalises are
-- seeded separately by `baseline.seed_sessions`, because a finalisation closes its session for good and
-- each level needs as many fresh ones as it will finalise.

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS baseline CASCADE;
CREATE SCHEMA baseline;
SET search_path = baseline;

-- MARK: The copied tables

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^tnt_[0-9A-HJKMNP-TV-Z]{26}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL
);

CREATE TABLE ledger_events (
    id                   text PRIMARY KEY CHECK (id ~ '^evt_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id            text NOT NULL,
    org_unit_id          text,
    event_type           text NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    aggregate_type       text NOT NULL,
    aggregate_id         text NOT NULL,
    actor_kind           text NOT NULL CHECK (actor_kind IN ('user', 'platform', 'system', 'link')),
    actor_id             text NOT NULL,
    occurred_at          timestamptz NOT NULL,
    client_occurred_at   timestamptz,
    payload              jsonb NOT NULL,
    context_metadata     jsonb NOT NULL,
    verification_level   text CHECK (verification_level IN ('L1', 'L2', 'L3', 'L4')),
    verification_outcome jsonb,
    idempotency_key      text,
    canonical_bytes      bytea NOT NULL,
    leaf_hash            bytea NOT NULL CHECK (length(leaf_hash) = 32)
);

CREATE INDEX ledger_events_by_aggregate ON ledger_events (tenant_id, aggregate_type, aggregate_id, occurred_at);
CREATE INDEX ledger_events_by_time ON ledger_events (tenant_id, occurred_at, id);

CREATE TABLE ledger_seal_queue (
    event_id     text PRIMARY KEY,
    tenant_id    text NOT NULL,
    org_unit_id  text
);

CREATE INDEX ledger_seal_queue_by_tenant ON ledger_seal_queue (tenant_id, event_id);

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
    UNIQUE (tenant_id, id, org_unit_id)
);

CREATE UNIQUE INDEX subjects_unique_external_ref ON subjects (tenant_id, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX subjects_by_org_unit ON subjects (tenant_id, org_unit_id, id);
CREATE INDEX subjects_by_type ON subjects (tenant_id, subject_type, id);
CREATE INDEX subjects_by_tag ON subjects USING gin (tags);

CREATE TABLE frozen_contents (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    content_hash  text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    content       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, content_hash),
    CHECK (encode(sha256(convert_to(content, 'UTF8')), 'hex') = content_hash)
);

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
    content_hash        text NOT NULL,
    available_from      timestamptz,
    available_until     timestamptz,
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL,
    withdrawn_at        timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, content_hash) REFERENCES frozen_contents (tenant_id, content_hash),
    CHECK (num_nonnulls(target_user_id, target_group_id, target_email) = 1)
);

CREATE INDEX assignments_by_user ON assignments (tenant_id, target_user_id) WHERE target_user_id IS NOT NULL;
CREATE INDEX assignments_by_group ON assignments (tenant_id, target_group_id) WHERE target_group_id IS NOT NULL;
CREATE INDEX assignments_by_batch ON assignments (tenant_id, batch_id) WHERE batch_id IS NOT NULL;

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
    rework_of        text,
    UNIQUE (tenant_id, id),
    UNIQUE (assignment_id, operator_id, attempt_number),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id)
);

CREATE UNIQUE INDEX delivery_sessions_one_active ON delivery_sessions (assignment_id, operator_id) WHERE status = 'active';
CREATE UNIQUE INDEX delivery_sessions_one_rework ON delivery_sessions (rework_of) WHERE rework_of IS NOT NULL;

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
    content_hash        text,
    subjects            jsonb NOT NULL,
    context             jsonb,
    started_at          timestamptz NOT NULL,
    submitted_at        timestamptz NOT NULL,
    reviewed_by         text,
    reviewed_at         timestamptz,
    review_note         text,
    replaces            text,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES delivery_sessions (tenant_id, id),
    FOREIGN KEY (tenant_id, assignment_id) REFERENCES assignments (tenant_id, id),
    FOREIGN KEY (tenant_id, replaces) REFERENCES submissions (tenant_id, id),
    FOREIGN KEY (tenant_id, content_hash) REFERENCES frozen_contents (tenant_id, content_hash)
);

CREATE INDEX submissions_by_assignment ON submissions (tenant_id, assignment_id);
CREATE INDEX submissions_by_batch ON submissions (tenant_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX submissions_by_approval ON submissions (tenant_id, approval_status, submitted_at);
CREATE INDEX submissions_review_queue ON submissions (tenant_id, submitted_at, id) WHERE approval_status = 'pending_review';
CREATE INDEX submissions_by_operator ON submissions (tenant_id, operator_id, submitted_at);
CREATE INDEX submissions_by_replaced ON submissions (replaces) WHERE replaces IS NOT NULL;

ALTER TABLE delivery_sessions ADD FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, id)
    DEFERRABLE INITIALLY DEFERRED;

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

CREATE SEQUENCE event_sequence;

CREATE TABLE outbox (
    event_id       text PRIMARY KEY,
    sequence       bigint NOT NULL DEFAULT nextval('event_sequence') UNIQUE,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    org_unit_id    text,
    subject        text NOT NULL CHECK (subject ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+\.v[0-9]+$'),
    partition_key  text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    envelope       text NOT NULL,
    relayed_at     timestamptz
);

CREATE INDEX outbox_by_sequence ON outbox (tenant_id, sequence);
CREATE INDEX outbox_to_relay ON outbox (tenant_id, sequence) WHERE relayed_at IS NULL;

CREATE TABLE event_dispatch_queue (
    event_id       text PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    source         text NOT NULL CHECK (source IN ('outbox', 'inbound')),
    subject        text NOT NULL,
    sequence       bigint NOT NULL
);

CREATE INDEX event_dispatch_queue_by_sequence ON event_dispatch_queue (tenant_id, sequence);

-- MARK: What the script needs besides the tables

-- Identifiers of the seeded world and of what the script writes: the real prefix and 26 decimal digits (a
-- subset of the Crockford alphabet the CHECKs accept), 30 characters like a real ULID-based id. Numbers
-- that grow, as ULIDs do, so that inserts land at the right edge of the indexes as Evalium's do.
CREATE FUNCTION seeded_id(prefix text, ordinal bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT prefix || '_' || lpad(ordinal::text, 26, '0') $$;

-- RFC 3339 with milliseconds in UTC, as the envelopes and canonical documents write time. Kept out of the
-- pgbench script, where the colons of a time format would read as variables.
CREATE FUNCTION rfc3339(moment timestamptz) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- The form every assignment runs: 30 rubric items, the 8th (major) and the 23rd (minor) answered with an
-- option that raises a finding.
CREATE FUNCTION finding_severity(item integer) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE item WHEN 8 THEN 'major' WHEN 23 THEN 'minor' END $$;

-- Inspection-flavoured words to build prompts, labels and comments from, so the JSON compresses like text a
-- person wrote rather than like one repeated string.
CREATE FUNCTION prose(seed integer, words integer) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT string_agg(vocabulary[1 + abs(hashint4(seed * 131 + n)::bigint) % cardinality(vocabulary)], ' ' ORDER BY n)
    FROM generate_series(1, words) AS n,
         (SELECT ARRAY['check', 'whether', 'the', 'guard', 'rail', 'is', 'fitted', 'and', 'secure', 'on', 'every', 'side',
                       'of', 'platform', 'ladder', 'scaffold', 'extinguisher', 'inspected', 'within', 'last', 'twelve',
                       'months', 'signage', 'visible', 'from', 'entrance', 'walkway', 'clear', 'obstructions', 'spill',
                       'kit', 'stocked', 'operator', 'wears', 'required', 'protective', 'equipment', 'lockout', 'tag',
                       'applied', 'before', 'maintenance', 'emergency', 'stop', 'tested', 'at', 'start', 'shift',
                       'housekeeping', 'standard', 'met', 'work', 'permit', 'displayed', 'area', 'lighting',
                       'adequate', 'task', 'chemicals', 'stored', 'labelled', 'cabinets']) AS words(vocabulary)
    $$;

-- Payloads written whole by every finalisation: the snapshot's frame (the effective policy, the org unit
-- and the assignment link; the evaluation version with its 30 question versions, ~50 kB of JSON, is the
-- frozen content the assignment already stored, named by its hash), the score result, the submitted context. They are kept as text and cast to jsonb in the script, so PostgreSQL
-- parses them on every insert as it parses the text Evalium binds; the text is compact, without nulls,
-- as Swift's encoder writes it.
CREATE TABLE fixtures (
    name  text PRIMARY KEY,
    body  text NOT NULL
);

CREATE FUNCTION compact_json(document jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT replace(replace(replace(jsonb_strip_nulls(document)::text, '": ', '":'), ', "', ',"'), '}, {', '},{') $$;

INSERT INTO fixtures (name, body)
SELECT 'policy', compact_json(jsonb_build_object(
    'navigation', jsonb_build_object('mode', 'free', 'shuffleItems', false, 'allowSkip', true),
    'grading', jsonb_build_object('partialCreditDefault', 'none', 'showCorrectAnswers', 'never'),
    'disclosure', jsonb_build_object('operator', 'score', 'admin', 'full', 'client', 'outcome'),
    'reviewPolicy', 'single', 'autoApprove', false, 'approvalRequired', true, 'verificationLevel', 'L1',
    'requiredContext', '[]'::jsonb, 'offlinePolicy', jsonb_build_object('allowed', true, 'maxOfflineHours', 72),
    'maxAttempts', 3));

INSERT INTO fixtures (name, body)
SELECT 'snapshot', compact_json(jsonb_build_object(
    'evaluation', jsonb_build_object(
        'evaluationId', seeded_id('evl', 1), 'version', 4, 'kind', 'observation', 'status', 'published',
        'contentHash', encode(sha256('evaluation'), 'hex'),
        'history', jsonb_build_object('createdBy', seeded_id('usr', 900001), 'createdAt', '2025-01-06T08:12:44.120Z',
                                      'updatedAt', '2025-02-11T14:03:09.532Z', 'publishedBy', seeded_id('usr', 900002),
                                      'publishedAt', '2025-02-12T09:30:00.000Z'),
        'definition', jsonb_build_object(
            'title', jsonb_build_object('en', 'Site safety walk ' || prose(1, 3)),
            'description', jsonb_build_object('en', prose(2, 30)),
            'instructions', jsonb_build_object('en', prose(3, 30)),
            'sections', (SELECT jsonb_agg(jsonb_build_object(
                              'id', seeded_id('sec', s), 'title', jsonb_build_object('en', prose(100 + s, 4)),
                              'items', (SELECT jsonb_agg(jsonb_build_object(
                                               'id', seeded_id('itm', i), 'questionId', seeded_id('qst', i), 'version', 1 + i % 3,
                                               'points', 1, 'required', true) ORDER BY i)
                                        FROM generate_series(s * 10 - 9, s * 10) AS i)) ORDER BY s)
                         FROM generate_series(1, 3) AS s),
            'reviewPolicy', 'single', 'approvalRequired', true, 'verificationLevel', 'L1')),
    'questions', (SELECT jsonb_agg(jsonb_build_object(
                      'questionId', seeded_id('qst', q), 'version', 1 + q % 3, 'kind', 'rubric', 'status', 'published',
                      'content', jsonb_build_object(
                          'prompt', jsonb_build_object('en', prose(1000 + q, 16 + q % 9)),
                          'explanation', jsonb_build_object('en', prose(2000 + q, 12)),
                          'options', (SELECT jsonb_agg(jsonb_build_object(
                                              'id', 'opt_' || o, 'label', jsonb_build_object('en', prose(3000 + q * 4 + o, 3 + o)),
                                              'points', CASE o WHEN 1 THEN 1 WHEN 2 THEN 0.5 ELSE 0 END,
                                              'finding', o >= 3, 'severity', CASE o WHEN 3 THEN 'minor' WHEN 4 THEN 'major' END,
                                              'requiresComment', o >= 3, 'requiresEvidence', o = 4) ORDER BY o)
                                      FROM generate_series(1, 4) AS o)),
                      'tags', jsonb_build_array(jsonb_build_object('tagId', seeded_id('tag', q % 7 + 1), 'taxonomy', 'hazard',
                                                                   'key', 'hazard-' || q % 7, 'label', jsonb_build_object('en', prose(4000 + q % 7, 2)))),
                      'contentHash', encode(sha256(convert_to('question ' || q, 'UTF8')), 'hex'),
                      'history', jsonb_build_object('createdBy', seeded_id('usr', 900001), 'createdAt', '2024-11-18T10:41:07.311Z',
                                                    'updatedAt', '2025-01-30T16:22:51.004Z', 'publishedBy', seeded_id('usr', 900002),
                                                    'publishedAt', '2025-02-03T08:00:00.000Z')) ORDER BY q)
                  FROM generate_series(1, 30) AS q),
    'policy', (SELECT body::jsonb FROM fixtures WHERE name = 'policy'),
    'orgUnitId', seeded_id('org', 1),
    'assignment', jsonb_build_object('assignmentId', seeded_id('asg', 1), 'cohort', '2025-Q1', 'batchId', seeded_id('bat', 1))));

INSERT INTO fixtures (name, body)
SELECT 'frame', compact_json(jsonb_build_object(
    'policy', snapshot::jsonb -> 'policy', 'orgUnitId', snapshot::jsonb -> 'orgUnitId', 'assignment', snapshot::jsonb -> 'assignment'))
FROM (SELECT body AS snapshot FROM fixtures WHERE name = 'snapshot') AS fixture;

INSERT INTO fixtures (name, body)
SELECT 'result', compact_json(jsonb_build_object(
    'items', (SELECT jsonb_agg(jsonb_build_object(
                  'itemId', seeded_id('itm', i), 'questionId', seeded_id('qst', i), 'kind', 'rubric',
                  'correct', finding_severity(i) IS NULL, 'pointsEarned', CASE WHEN finding_severity(i) IS NULL THEN 1 ELSE 0 END,
                  'pointsPossible', 1, 'gradedBy', 'deterministic') ORDER BY i)
              FROM generate_series(1, 30) AS i),
    'rawScore', 28, 'maxScore', 30, 'scaledScore', 28.0 / 30, 'passed', false, 'outcome', 'fail',
    'findings', (SELECT jsonb_agg(jsonb_build_object(
                     'itemId', seeded_id('itm', i), 'questionId', seeded_id('qst', i),
                     'optionId', CASE finding_severity(i) WHEN 'major' THEN 'opt_4' ELSE 'opt_3' END,
                     'severity', finding_severity(i)) ORDER BY i)
                 FROM generate_series(1, 30) AS i WHERE finding_severity(i) IS NOT NULL),
    'pendingItems', '[]'::jsonb));

INSERT INTO fixtures (name, body)
SELECT 'context', compact_json(jsonb_build_object(
    'gps', jsonb_build_object('latitude', 52.370216, 'longitude', 4.895168, 'accuracyMeters', 8.5),
    'device_id', 'dev-7f3c2a91-4b1e-4d0a-9c55-2e8b6f1d0a47', 'client_timestamp', '2025-03-04T09:41:12.318Z',
    'site_reference', 'SITE-AMS-0042'));

-- MARK: The seeded world

INSERT INTO tenants (id, name, status, created_at)
SELECT seeded_id('tnt', t), 'Tenant ' || t, 'active', now() - interval '400 days'
FROM generate_series(1, 10) AS t;

-- Assignment a (1…100) belongs to tenant ceil(a / 10), is issued to a group, and is about subject a.
INSERT INTO subjects (id, tenant_id, org_unit_id, subject_type, display_name, external_ref, status, tags, created_at, updated_at)
SELECT seeded_id('sbj', a), seeded_id('tnt', (a + 9) / 10), seeded_id('org', (a + 9) / 10), 'location', 'Site ' || a,
       'SITE-' || lpad(a::text, 4, '0'), 'active', ARRAY['warehouse'], now() - interval '300 days', now() - interval '30 days'
FROM generate_series(1, 100) AS a;

-- Each tenant's assignments share one frozen content: the evaluation version and its questions.
INSERT INTO frozen_contents (tenant_id, content_hash, content)
SELECT seeded_id('tnt', t), encode(sha256(convert_to(content, 'UTF8')), 'hex'), content
FROM generate_series(1, 10) AS t,
     (SELECT compact_json(jsonb_build_object('evaluation', body::jsonb -> 'evaluation', 'questions', body::jsonb -> 'questions')) AS content
      FROM fixtures WHERE name = 'snapshot') AS fixture;

INSERT INTO assignments (id, tenant_id, org_unit_id, evaluation_id, evaluation_version, kind, target_group_id, status, cohort,
                         batch_id, overrides, policy, content_hash, created_by, created_at)
SELECT seeded_id('asg', a), seeded_id('tnt', (a + 9) / 10), seeded_id('org', (a + 9) / 10), seeded_id('evl', (a + 9) / 10), 4,
       'observation', seeded_id('grp', a), 'active', '2025-Q1', seeded_id('bat', a), '{}',
       (SELECT body::jsonb FROM fixtures WHERE name = 'policy'),
       (SELECT f.content_hash FROM frozen_contents f WHERE f.tenant_id = seeded_id('tnt', (a + 9) / 10)),
       seeded_id('usr', 900001), now() - interval '60 days'
FROM generate_series(1, 100) AS a;

-- The sessions `finalisation.sql` claims, one per transaction, in the order of this sequence.
CREATE SEQUENCE session_claims;

-- Makes sure `wanted` sessions beyond the last one claimed are active and fully answered, as a session is
-- just before its operator submits it: session n runs assignment (n - 1) % 100 + 1, has an operator of
-- its own (one active attempt per person and assignment) and all 30 items recorded, complete, with the
-- two finding answers commented. Answers how many sessions it added.
CREATE FUNCTION seed_sessions(wanted bigint) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
    DECLARE
        claimed bigint := (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM baseline.session_claims);
        seeded bigint := coalesce((SELECT substr(max(id), 5)::bigint FROM baseline.delivery_sessions), 0);
        first_new bigint := seeded + 1;
        last_new bigint := claimed + wanted;
    BEGIN
        IF last_new < first_new THEN RETURN 0; END IF;
        INSERT INTO baseline.delivery_sessions (id, tenant_id, org_unit_id, assignment_id, operator_id, attempt_number, status, mode,
                                                started_at, current_item_id)
        SELECT baseline.seeded_id('att', n), baseline.seeded_id('tnt', (a + 9) / 10), baseline.seeded_id('org', (a + 9) / 10),
               baseline.seeded_id('asg', a), baseline.seeded_id('usr', n), 1, 'active', 'online', now() - interval '25 minutes',
               baseline.seeded_id('itm', 30)
        FROM generate_series(first_new, last_new) AS n, LATERAL (SELECT ((n - 1) % 100 + 1)::integer AS a) AS assignment;
        INSERT INTO baseline.submission_items (tenant_id, org_unit_id, session_id, item_id, question_id, answer, comment, complete, missing,
                                               client_timestamp, recorded_by, recorded_at)
        SELECT baseline.seeded_id('tnt', (a + 9) / 10), baseline.seeded_id('org', (a + 9) / 10), baseline.seeded_id('att', n),
               baseline.seeded_id('itm', i), baseline.seeded_id('qst', i),
               jsonb_build_object('optionIds', jsonb_build_array(
                   CASE baseline.finding_severity(i) WHEN 'major' THEN 'opt_4' WHEN 'minor' THEN 'opt_3' ELSE 'opt_1' END)),
               CASE WHEN baseline.finding_severity(i) IS NOT NULL THEN baseline.prose(i, 24) END, true, '[]',
               now() - interval '25 minutes' + i * interval '40 seconds', baseline.seeded_id('usr', n),
               now() - interval '25 minutes' + i * interval '40 seconds'
        FROM generate_series(first_new, last_new) AS n, LATERAL (SELECT ((n - 1) % 100 + 1)::integer AS a) AS assignment,
             generate_series(1, 30) AS i;
        RETURN last_new - first_new + 1;
    END
    $$;

RESET search_path;
