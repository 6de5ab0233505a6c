-- Evidence as a first-class ledger artefact (seed 002 §2, seed 001 §4.2 and §14). The database keeps
-- metadata and references; the bytes live in an evidence store, addressed by their SHA-256.
CREATE TABLE media_assets (
    id                   text PRIMARY KEY CHECK (id ~ '^ast_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id            text NOT NULL,
    org_unit_id          text NOT NULL,
    owner_user_id        text NOT NULL,
    status               text NOT NULL CHECK (status IN ('created', 'uploading', 'uploaded', 'verified', 'failed', 'deleted')),
    content_type         text NOT NULL CHECK (content_type ~ '^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$'),
    byte_size            bigint NOT NULL CHECK (byte_size >= 0),
    sha256               text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    original_filename    text CHECK (length(original_filename) BETWEEN 1 AND 255),
    capture              jsonb NOT NULL,
    storage_key          text,
    storage_tier         text NOT NULL DEFAULT 'hot' CHECK (storage_tier IN ('hot', 'cold')),
    received_bytes       bigint NOT NULL DEFAULT 0 CHECK (received_bytes >= 0),
    failure_reason       text,
    created_at           timestamptz NOT NULL,
    verified_at          timestamptz,
    tiered_at            timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_user_id) REFERENCES users (tenant_id, id),
    CHECK ((status = 'verified') = (verified_at IS NOT NULL) OR status = 'deleted')
);

CREATE INDEX media_assets_by_owner ON media_assets (tenant_id, owner_user_id, created_at);
CREATE INDEX media_assets_for_tiering ON media_assets (verified_at) WHERE status = 'verified' AND storage_tier = 'hot';

-- What an asset's declared facts are never change; only its lifecycle, storage and upload progress move.
CREATE FUNCTION media_assets_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'asset % is evidence and is never deleted; its bytes are erased by the deletion workflow', OLD.id;
        END IF;
        IF (NEW.id, NEW.tenant_id, NEW.org_unit_id, NEW.owner_user_id, NEW.content_type, NEW.byte_size, NEW.sha256,
            NEW.original_filename, NEW.capture, NEW.created_at)
           IS DISTINCT FROM
           (OLD.id, OLD.tenant_id, OLD.org_unit_id, OLD.owner_user_id, OLD.content_type, OLD.byte_size, OLD.sha256,
            OLD.original_filename, OLD.capture, OLD.created_at) THEN
            RAISE EXCEPTION 'the declared facts of asset % never change', OLD.id;
        END IF;
        IF OLD.status IN ('verified', 'failed', 'deleted') AND NEW.status <> OLD.status
           AND NOT (OLD.status IN ('verified', 'failed') AND NEW.status = 'deleted') THEN
            RAISE EXCEPTION 'asset % is % and cannot become %', OLD.id, OLD.status, NEW.status;
        END IF;
        RETURN NEW;
    END
    $$;

CREATE TRIGGER media_assets_declared_facts BEFORE UPDATE OR DELETE ON media_assets
    FOR EACH ROW EXECUTE FUNCTION media_assets_guard();

-- The chain of custody between the work and its evidence: appended, never changed.
CREATE TABLE submission_item_assets (
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    session_id     text NOT NULL,
    item_id        text NOT NULL,
    asset_id       text NOT NULL,
    role           text NOT NULL CHECK (role IN ('primary', 'supporting', 'derivative')),
    attached_by    text NOT NULL,
    attached_at    timestamptz NOT NULL,
    PRIMARY KEY (session_id, item_id, asset_id),
    FOREIGN KEY (tenant_id, asset_id) REFERENCES media_assets (tenant_id, id),
    FOREIGN KEY (session_id, item_id) REFERENCES submission_items (session_id, item_id)
);

CREATE INDEX submission_item_assets_by_asset ON submission_item_assets (tenant_id, asset_id);

-- Decisions about a piece of evidence (seed 001 §4.2 decision ledger): appended; the latest counts.
CREATE TABLE evidence_decisions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     text NOT NULL,
    org_unit_id   text NOT NULL,
    asset_id      text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('pending', 'approved', 'rejected', 'void')),
    note          text CHECK (length(note) <= 20000),
    decided_by    text NOT NULL,
    decided_at    timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, asset_id) REFERENCES media_assets (tenant_id, id)
);

CREATE INDEX evidence_decisions_by_asset ON evidence_decisions (asset_id, id);

CREATE TRIGGER submission_item_assets_append_only BEFORE UPDATE OR DELETE ON submission_item_assets
    FOR EACH ROW EXECUTE FUNCTION append_only_guard();
CREATE TRIGGER evidence_decisions_append_only BEFORE UPDATE OR DELETE ON evidence_decisions
    FOR EACH ROW EXECUTE FUNCTION append_only_guard();

-- Row-level security: an asset is read by its owner and within the org scope, and through the sessions
-- it is attached to; custody and decisions follow the session and the asset.
ALTER TABLE media_assets ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_assets FORCE ROW LEVEL SECURITY;
ALTER TABLE submission_item_assets ENABLE ROW LEVEL SECURITY;
ALTER TABLE submission_item_assets FORCE ROW LEVEL SECURITY;
ALTER TABLE evidence_decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE evidence_decisions FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON media_assets AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON media_assets AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR owner_user_id = app_current_user()
           OR EXISTS (SELECT 1 FROM submission_item_assets l WHERE l.asset_id = media_assets.id));
CREATE POLICY org_scope_insert ON media_assets AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id) OR owner_user_id = app_current_user());
CREATE POLICY org_scope_update ON media_assets AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR owner_user_id = app_current_user())
    WITH CHECK (app_org_unit_in_scope(org_unit_id) OR owner_user_id = app_current_user());

CREATE POLICY tenant_isolation ON submission_item_assets AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON submission_item_assets AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM delivery_sessions s WHERE s.id = session_id))
    WITH CHECK (EXISTS (SELECT 1 FROM delivery_sessions s WHERE s.id = session_id AND s.org_unit_id = org_unit_id));

CREATE POLICY tenant_isolation ON evidence_decisions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON evidence_decisions AS RESTRICTIVE FOR ALL TO evalium_app
    USING (EXISTS (SELECT 1 FROM media_assets a WHERE a.id = asset_id))
    WITH CHECK (app_org_unit_in_scope(org_unit_id));

GRANT SELECT, INSERT, UPDATE ON media_assets TO evalium_app;
GRANT SELECT, INSERT ON submission_item_assets, evidence_decisions TO evalium_app;
