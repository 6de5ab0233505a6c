-- Frozen content, stored once. An assignment freezes the evaluation version it runs with every question
-- version that version pins, and each of its submissions keeps that content in its snapshot. A batch of a
-- thousand assignments of one template, and every submission made under them, used to store the same
-- tens of kilobytes a thousand times (and read and decode them on every answer). Now the content is stored
-- once per tenant under the SHA-256 of its bytes, which the database itself checks, and assignments and
-- submissions name it by that hash.
CREATE TABLE frozen_contents (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    content_hash  text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    -- The JSON whose SHA-256 is `content_hash`, byte for byte (text, not jsonb, which would reorder it).
    content       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, content_hash),
    CHECK (encode(sha256(convert_to(content, 'UTF8')), 'hex') = content_hash)
);


-- Tenant isolation only (see NO_ORG_SCOPE in scripts/check_guardrails.py): content is reached by its hash,
-- which only an assignment or a submission the reader may see names, and one content serves every org
-- unit that runs it, as the assignments' own content always did for targets outside the template's unit.
CREATE POLICY tenant_isolation ON frozen_contents AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

-- Written once, never changed: no UPDATE or DELETE for the application.
GRANT SELECT, INSERT ON frozen_contents TO evalium_app;

-- Assignments name their content by hash. The owner moves every tenant's existing content, so row-level
-- security (forced, which binds the owner too) is lifted from assignments for these statements and comes
-- on for the new table only once it is filled.
ALTER TABLE assignments NO FORCE ROW LEVEL SECURITY;
INSERT INTO frozen_contents (tenant_id, content_hash, content)
SELECT DISTINCT tenant_id, encode(sha256(convert_to(content::text, 'UTF8')), 'hex'), content::text FROM assignments;
ALTER TABLE assignments ADD COLUMN content_hash text;
UPDATE assignments SET content_hash = encode(sha256(convert_to(content::text, 'UTF8')), 'hex');
ALTER TABLE assignments ALTER COLUMN content_hash SET NOT NULL;
ALTER TABLE assignments ADD FOREIGN KEY (tenant_id, content_hash) REFERENCES frozen_contents (tenant_id, content_hash);
ALTER TABLE assignments DROP COLUMN content;
ALTER TABLE assignments FORCE ROW LEVEL SECURITY;
ALTER TABLE frozen_contents ENABLE ROW LEVEL SECURITY;
ALTER TABLE frozen_contents FORCE ROW LEVEL SECURITY;

-- New submissions keep, in `snapshot`, only what is theirs (policy, org unit, assignment link) and name the
-- content by hash; their `snapshot_hash` is the SHA-256 of that frame with `contentHash` in it. Submissions
-- finalised before keep their whole snapshot (and the hash of it) as they were: a finalised record is
-- never rewritten, so `content_hash` is NULL for them.
ALTER TABLE submissions ADD COLUMN content_hash text;
ALTER TABLE submissions ADD FOREIGN KEY (tenant_id, content_hash) REFERENCES frozen_contents (tenant_id, content_hash);
