-- One finalisation of a 30-item observation with two findings, as pgbench transactions against the schema of
-- `schema.sql`: the rows `DeliveryService.submit` writes, statement for statement as `Transaction.finalise`,
-- `appendLedgerEvent` and `publish` send them. Run it with `-M extended`, the protocol PostgresNIO speaks
-- (an unnamed statement parsed and planned each time, values bound as parameters).
--
-- Per transaction: 1 session claimed FOR UPDATE; 1 submissions row; 30 submission_items rows updated (the
-- answers were inserted while the session ran; finalising links them); 1 submission_subjects row;
-- 1 delivery_sessions row updated (closed); 3 ledger_events rows, each with its ledger_seal_queue row
-- (submission.finalised, finding.detected twice); 3 outbox rows (assessment.submission.finalised.v1,
-- assessment.finding.detected.v1 twice). No event_dispatch_queue rows: no listener of the default server
-- wants assessment events (`Transaction.publish` queues only what a listener named). The submission keeps
-- its snapshot's frame (policy, org unit, assignment) and the hash of the frozen content it shares with
-- its assignment, as a finalisation since migration 0014 does.
--
-- pgbench reads `:name` as a variable even inside a string literal, so a JSON value that is not a string
-- follows its colon after a space (`"findingCount": 2`), and times come from `baseline.rfc3339`.

BEGIN;

-- The session to submit, locked as `fetchSession(id, lockingForChange: true)` locks it, with what the
-- rows below need from it and its assignment. Each transaction takes the next seeded session, so every id
-- written is new: each derives from the session's number, an event's with two digits more (00 for the
-- submission's own ledger event, the item's number for a finding's, plus 50 for the published copies).
SELECT s.id AS session_id, s.tenant_id, s.org_unit_id, s.assignment_id, s.operator_id, s.started_at,
       a.evaluation_id, a.evaluation_version, a.batch_id, a.cohort,
       substr(s.id, 7) AS event_serial,
       'sub_' || substr(s.id, 5) AS submission_id,
       'sbj_' || substr(s.assignment_id, 5) AS subject_id,
       encode(sha256(convert_to(a.id, 'UTF8')), 'hex') AS snapshot_hash,
       a.content_hash,
       baseline.rfc3339(now()) AS submitted_at
FROM baseline.delivery_sessions s JOIN baseline.assignments a ON a.id = s.assignment_id
WHERE s.id = (SELECT baseline.seeded_id('att', nextval('baseline.session_claims')))
FOR UPDATE OF s \gset

-- MARK: Transaction.finalise

INSERT INTO baseline.submissions (id, tenant_id, org_unit_id, session_id, assignment_id, evaluation_id, evaluation_version, kind,
                                  operator_id, batch_id, cohort, lifecycle_status, outcome, approval_status, raw_score, max_score,
                                  scaled_score, result, snapshot, snapshot_hash, content_hash, subjects, context, started_at, submitted_at,
                                  replaces)
VALUES (:submission_id, :tenant_id, :org_unit_id, :session_id, :assignment_id, :evaluation_id, :evaluation_version, 'observation',
        :operator_id, :batch_id, :cohort, 'completed', 'fail', 'pending_review', 28, 30, 0.9333333333333333,
        (SELECT body FROM baseline.fixtures WHERE name = 'result')::jsonb,
        (SELECT body FROM baseline.fixtures WHERE name = 'frame')::jsonb, :snapshot_hash, :content_hash,
        format('[{"role":"primary","subjectId":"%s"}]', :subject_id::text)::jsonb,
        (SELECT body FROM baseline.fixtures WHERE name = 'context')::jsonb,
        :started_at, :submitted_at, NULL);

UPDATE baseline.submission_items SET submission_id = :submission_id WHERE session_id = :session_id;

INSERT INTO baseline.submission_subjects (tenant_id, org_unit_id, submission_id, subject_id, role)
SELECT :tenant_id, :org_unit_id, :submission_id, subject_id, role
FROM unnest(ARRAY[:subject_id]::text[], ARRAY['primary']::text[]) AS s(subject_id, role);

UPDATE baseline.delivery_sessions SET status = 'submitted', submission_id = :submission_id, submitted_at = :submitted_at
WHERE id = :session_id;

-- MARK: appendLedgerEvent, once per event

-- submission.finalised, with the submitted context and the verification it passed.
WITH event AS (
    SELECT 'evt_' || :event_serial::text || '00' AS id,
           format('{"approvalStatus":"pending_review","assignmentId":"%s","batchId":"%s","contentHash":"%s","evaluationId":"%s",'
                  '"evaluationVersion": %s,"findingCount": 2,"maxScore": 30,"outcome":"fail","passed": false,"pendingItemIds":[],'
                  '"rawScore": 28,"scaledScore": 0.9333333333333333,"sessionId":"%s","snapshotHash":"%s","subjectIds":["%s"],'
                  '"submissionId":"%s"}',
                  :assignment_id::text, :batch_id::text, :content_hash::text, :evaluation_id::text, :evaluation_version::text,
                  :session_id::text, :snapshot_hash::text, :subject_id::text, :submission_id::text) AS payload,
           (SELECT body FROM baseline.fixtures WHERE name = 'context') AS context,
           '{"requiredContext":[],"satisfied": true}' AS verification
),
canonical AS (
    SELECT event.*, convert_to(format(
               '{"actor":{"id":"%s","kind":"user"},"aggregateId":"%s","aggregateType":"submission","clientOccurredAt": null,'
               '"contextMetadata":%s,"eventType":"submission.finalised","id":"%s","idempotencyKey": null,"occurredAt":"%s",'
               '"orgUnitId":"%s","payload":%s,"tenantId":"%s","verificationLevel":"L1","verificationOutcome":%s}',
               :operator_id::text, :submission_id::text, context, id, :submitted_at::text, :org_unit_id::text, payload,
               :tenant_id::text, verification), 'UTF8') AS bytes
    FROM event
),
appended AS (
    INSERT INTO baseline.ledger_events (
        id, tenant_id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
        occurred_at, client_occurred_at, payload, context_metadata, verification_level,
        verification_outcome, idempotency_key, canonical_bytes, leaf_hash)
    SELECT id, :tenant_id, :org_unit_id, 'submission.finalised', 'submission', :submission_id, 'user', :operator_id,
           :submitted_at, NULL, payload::jsonb, context::jsonb, 'L1',
           verification::jsonb, NULL, bytes, sha256('\x00'::bytea || bytes)
    FROM canonical
    RETURNING id, tenant_id, org_unit_id)
INSERT INTO baseline.ledger_seal_queue (event_id, tenant_id, org_unit_id)
SELECT id, tenant_id, org_unit_id FROM appended;

-- finding.detected, once per finding (pgbench has no loop: the same statement for each finding's item).
\set finding_item 8
WITH event AS (
    SELECT 'evt_' || :event_serial::text || lpad(:finding_item::text, 2, '0') AS id,
           format('{"itemId":"%s","optionId":"%s","questionId":"%s","severity":"%s","subjectIds":["%s"],"submissionId":"%s"}',
                  baseline.seeded_id('itm', :finding_item), item.option_id, baseline.seeded_id('qst', :finding_item), item.severity,
                  :subject_id::text, :submission_id::text) AS payload
    FROM (SELECT baseline.finding_severity(:finding_item) AS severity,
                 CASE baseline.finding_severity(:finding_item) WHEN 'major' THEN 'opt_4' ELSE 'opt_3' END AS option_id) AS item
),
canonical AS (
    SELECT event.*, convert_to(format(
               '{"actor":{"id":"%s","kind":"user"},"aggregateId":"%s","aggregateType":"submission","clientOccurredAt": null,'
               '"contextMetadata":{},"eventType":"finding.detected","id":"%s","idempotencyKey": null,"occurredAt":"%s",'
               '"orgUnitId":"%s","payload":%s,"tenantId":"%s","verificationLevel": null,"verificationOutcome": null}',
               :operator_id::text, :submission_id::text, id, :submitted_at::text, :org_unit_id::text, payload, :tenant_id::text),
               'UTF8') AS bytes
    FROM event
),
appended AS (
    INSERT INTO baseline.ledger_events (
        id, tenant_id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
        occurred_at, client_occurred_at, payload, context_metadata, verification_level,
        verification_outcome, idempotency_key, canonical_bytes, leaf_hash)
    SELECT id, :tenant_id, :org_unit_id, 'finding.detected', 'submission', :submission_id, 'user', :operator_id,
           :submitted_at, NULL, payload::jsonb, '{}'::jsonb, NULL,
           NULL, NULL, bytes, sha256('\x00'::bytea || bytes)
    FROM canonical
    RETURNING id, tenant_id, org_unit_id)
INSERT INTO baseline.ledger_seal_queue (event_id, tenant_id, org_unit_id)
SELECT id, tenant_id, org_unit_id FROM appended;

\set finding_item 23
WITH event AS (
    SELECT 'evt_' || :event_serial::text || lpad(:finding_item::text, 2, '0') AS id,
           format('{"itemId":"%s","optionId":"%s","questionId":"%s","severity":"%s","subjectIds":["%s"],"submissionId":"%s"}',
                  baseline.seeded_id('itm', :finding_item), item.option_id, baseline.seeded_id('qst', :finding_item), item.severity,
                  :subject_id::text, :submission_id::text) AS payload
    FROM (SELECT baseline.finding_severity(:finding_item) AS severity,
                 CASE baseline.finding_severity(:finding_item) WHEN 'major' THEN 'opt_4' ELSE 'opt_3' END AS option_id) AS item
),
canonical AS (
    SELECT event.*, convert_to(format(
               '{"actor":{"id":"%s","kind":"user"},"aggregateId":"%s","aggregateType":"submission","clientOccurredAt": null,'
               '"contextMetadata":{},"eventType":"finding.detected","id":"%s","idempotencyKey": null,"occurredAt":"%s",'
               '"orgUnitId":"%s","payload":%s,"tenantId":"%s","verificationLevel": null,"verificationOutcome": null}',
               :operator_id::text, :submission_id::text, id, :submitted_at::text, :org_unit_id::text, payload, :tenant_id::text),
               'UTF8') AS bytes
    FROM event
),
appended AS (
    INSERT INTO baseline.ledger_events (
        id, tenant_id, org_unit_id, event_type, aggregate_type, aggregate_id, actor_kind, actor_id,
        occurred_at, client_occurred_at, payload, context_metadata, verification_level,
        verification_outcome, idempotency_key, canonical_bytes, leaf_hash)
    SELECT id, :tenant_id, :org_unit_id, 'finding.detected', 'submission', :submission_id, 'user', :operator_id,
           :submitted_at, NULL, payload::jsonb, '{}'::jsonb, NULL,
           NULL, NULL, bytes, sha256('\x00'::bytea || bytes)
    FROM canonical
    RETURNING id, tenant_id, org_unit_id)
INSERT INTO baseline.ledger_seal_queue (event_id, tenant_id, org_unit_id)
SELECT id, tenant_id, org_unit_id FROM appended;

-- MARK: publish, once per event

-- assessment.submission.finalised.v1: the envelope exactly as it goes on the wire.
INSERT INTO baseline.outbox (event_id, sequence, tenant_id, org_unit_id, subject, partition_key, occurred_at, envelope)
SELECT 'evt_' || :event_serial::text || '50', sequence, :tenant_id, :org_unit_id, 'assessment.submission.finalised.v1',
       :session_id, :submitted_at,
       format('{"eventId":"%s","occurredAt":"%s","partitionKey":"%s","payload":{"assignmentId":"%s","attemptId":"%s",'
              '"evaluationId":"%s","evaluationVersion": %s,"finalisedAt":"%s","findingCount": 2,"kind":"observation",'
              '"orgUnitId":"%s","outcome":"fail","reviewStatus":"pending_review","subjectIds":["%s"],"submissionId":"%s",'
              '"tenantId":"%s","userId":"%s"},"schemaUri":"schemas://assessment/submission/finalised/v1",'
              '"subject":"assessment.submission.finalised.v1","tenantId":"%s"}',
              'evt_' || :event_serial::text || '50', :submitted_at::text, :session_id::text, :assignment_id::text,
              :session_id::text, :evaluation_id::text, :evaluation_version::text, :submitted_at::text, :org_unit_id::text,
              :subject_id::text, :submission_id::text, :tenant_id::text, :operator_id::text, :tenant_id::text)
FROM (SELECT nextval('baseline.event_sequence') AS sequence) AS next;

-- assessment.finding.detected.v1, once per finding.
\set finding_item 8
INSERT INTO baseline.outbox (event_id, sequence, tenant_id, org_unit_id, subject, partition_key, occurred_at, envelope)
SELECT 'evt_' || :event_serial::text || (50 + :finding_item)::text, sequence, :tenant_id, :org_unit_id,
       'assessment.finding.detected.v1', :session_id, :submitted_at,
       format('{"eventId":"%s","occurredAt":"%s","partitionKey":"%s","payload":{"attemptId":"%s","cause":"finalisation",'
              '"detectedAt":"%s","itemId":"%s","optionId":"%s","questionId":"%s","severity":"%s","subjectIds":["%s"],'
              '"submissionId":"%s","tenantId":"%s"},"schemaUri":"schemas://assessment/finding/detected/v1",'
              '"subject":"assessment.finding.detected.v1","tenantId":"%s"}',
              'evt_' || :event_serial::text || (50 + :finding_item)::text, :submitted_at::text, :session_id::text,
              :session_id::text, :submitted_at::text, baseline.seeded_id('itm', :finding_item),
              CASE baseline.finding_severity(:finding_item) WHEN 'major' THEN 'opt_4' ELSE 'opt_3' END,
              baseline.seeded_id('qst', :finding_item), baseline.finding_severity(:finding_item), :subject_id::text,
              :submission_id::text, :tenant_id::text, :tenant_id::text)
FROM (SELECT nextval('baseline.event_sequence') AS sequence) AS next;

\set finding_item 23
INSERT INTO baseline.outbox (event_id, sequence, tenant_id, org_unit_id, subject, partition_key, occurred_at, envelope)
SELECT 'evt_' || :event_serial::text || (50 + :finding_item)::text, sequence, :tenant_id, :org_unit_id,
       'assessment.finding.detected.v1', :session_id, :submitted_at,
       format('{"eventId":"%s","occurredAt":"%s","partitionKey":"%s","payload":{"attemptId":"%s","cause":"finalisation",'
              '"detectedAt":"%s","itemId":"%s","optionId":"%s","questionId":"%s","severity":"%s","subjectIds":["%s"],'
              '"submissionId":"%s","tenantId":"%s"},"schemaUri":"schemas://assessment/finding/detected/v1",'
              '"subject":"assessment.finding.detected.v1","tenantId":"%s"}',
              'evt_' || :event_serial::text || (50 + :finding_item)::text, :submitted_at::text, :session_id::text,
              :session_id::text, :submitted_at::text, baseline.seeded_id('itm', :finding_item),
              CASE baseline.finding_severity(:finding_item) WHEN 'major' THEN 'opt_4' ELSE 'opt_3' END,
              baseline.seeded_id('qst', :finding_item), baseline.finding_severity(:finding_item), :subject_id::text,
              :submission_id::text, :tenant_id::text, :tenant_id::text)
FROM (SELECT nextval('baseline.event_sequence') AS sequence) AS next;

COMMIT;
