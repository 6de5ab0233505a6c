-- The authoring world (seed 001 §4.1, §6): tag vocabularies, questions and evaluations as stable
-- identities with numbered versions. A draft version is edited freely; once published a version is
-- frozen by the triggers below, whoever asks (the API or raw SQL as the application role); it can only
-- be archived, never changed or deleted.

-- Tag vocabularies belong to the whole tenant: anyone in it reads them, tenant-wide principals define them.
CREATE TABLE taxonomies (
    id           text PRIMARY KEY CHECK (id ~ '^tax_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id    text NOT NULL REFERENCES tenants (id),
    key          text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_-]{0,62}$'),
    name         jsonb NOT NULL,
    description  jsonb,
    status       text NOT NULL CHECK (status IN ('active', 'archived')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (tenant_id, key),
    UNIQUE (tenant_id, id)
);

CREATE TABLE tags (
    id           text PRIMARY KEY CHECK (id ~ '^tag_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id    text NOT NULL,
    taxonomy_id  text NOT NULL,
    key          text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_-]{0,62}$'),
    label        jsonb NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'archived')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (taxonomy_id, key),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, taxonomy_id) REFERENCES taxonomies (tenant_id, id)
);

-- Questions: the identity carries the kind, the owning org unit and whether published versions are
-- offered to every org unit of the tenant (`shared`); versions carry the content.
CREATE TABLE questions (
    id              text PRIMARY KEY CHECK (id ~ '^qst_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id       text NOT NULL REFERENCES tenants (id),
    org_unit_id     text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('single_choice', 'multiple_choice', 'true_false', 'numeric', 'short_text',
                                                  'long_text', 'rubric', 'evidence_request')),
    shared          boolean NOT NULL DEFAULT false,
    status          text NOT NULL CHECK (status IN ('active', 'archived')),
    latest_version  integer NOT NULL CHECK (latest_version >= 1),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

CREATE INDEX questions_by_org_unit ON questions (tenant_id, org_unit_id, id);

CREATE TABLE question_versions (
    tenant_id      text NOT NULL,
    org_unit_id    text NOT NULL,
    question_id    text NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    status         text NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    content        jsonb NOT NULL,
    tags           jsonb NOT NULL DEFAULT '[]',
    content_hash   text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    published_by   text,
    published_at   timestamptz,
    archived_by    text,
    archived_at    timestamptz,
    PRIMARY KEY (question_id, version),
    UNIQUE (tenant_id, question_id, version),
    FOREIGN KEY (tenant_id, question_id) REFERENCES questions (tenant_id, id),
    CHECK ((status = 'draft') = (published_at IS NULL)),
    CHECK ((status = 'archived') = (archived_at IS NOT NULL))
);

-- One draft at a time: the next version of a question is being written in one place.
CREATE UNIQUE INDEX question_versions_one_draft ON question_versions (question_id) WHERE status = 'draft';
CREATE INDEX question_versions_by_tag ON question_versions USING gin (tags jsonb_path_ops);

-- Evaluations: `active_version` is the one version offered for new work, so there is never more than
-- one; the guard below lets it point only at a published version.
CREATE TABLE evaluations (
    id              text PRIMARY KEY CHECK (id ~ '^evl_[0-9A-HJKMNP-TV-Z]{26}$'),
    tenant_id       text NOT NULL REFERENCES tenants (id),
    org_unit_id     text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('knowledge', 'observation', 'evidence')),
    shared          boolean NOT NULL DEFAULT false,
    status          text NOT NULL CHECK (status IN ('active', 'archived')),
    active_version  integer,
    latest_version  integer NOT NULL CHECK (latest_version >= 1),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, org_unit_id) REFERENCES org_units (tenant_id, id)
);

CREATE INDEX evaluations_by_org_unit ON evaluations (tenant_id, org_unit_id, id);

CREATE TABLE evaluation_versions (
    tenant_id       text NOT NULL,
    org_unit_id     text NOT NULL,
    evaluation_id   text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    status          text NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    definition      jsonb NOT NULL,
    content_hash    text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    published_by    text,
    published_at    timestamptz,
    archived_by     text,
    archived_at     timestamptz,
    PRIMARY KEY (evaluation_id, version),
    UNIQUE (tenant_id, evaluation_id, version),
    FOREIGN KEY (tenant_id, evaluation_id) REFERENCES evaluations (tenant_id, id),
    CHECK ((status = 'draft') = (published_at IS NULL)),
    CHECK ((status = 'archived') = (archived_at IS NOT NULL))
);

CREATE UNIQUE INDEX evaluation_versions_one_draft ON evaluation_versions (evaluation_id) WHERE status = 'draft';

ALTER TABLE evaluations ADD FOREIGN KEY (tenant_id, id, active_version)
    REFERENCES evaluation_versions (tenant_id, evaluation_id, version);

-- The items of a version, one row per pinned question version. The tenant is part of the reference, so
-- no version can pin another tenant's question even where row-level security does not reach (foreign
-- key checks run as the owner).
CREATE TABLE evaluation_version_items (
    tenant_id         text NOT NULL,
    org_unit_id       text NOT NULL,
    evaluation_id     text NOT NULL,
    version           integer NOT NULL,
    item_id           text NOT NULL CHECK (item_id ~ '^itm_[0-9A-HJKMNP-TV-Z]{26}$'),
    position          integer NOT NULL,
    question_id       text NOT NULL,
    question_version  integer NOT NULL,
    PRIMARY KEY (evaluation_id, version, item_id),
    UNIQUE (evaluation_id, version, position),
    FOREIGN KEY (tenant_id, evaluation_id, version) REFERENCES evaluation_versions (tenant_id, evaluation_id, version),
    FOREIGN KEY (tenant_id, question_id, question_version) REFERENCES question_versions (tenant_id, question_id, version)
);

CREATE INDEX evaluation_version_items_by_question ON evaluation_version_items (tenant_id, question_id, question_version);

-- Immutability. A draft row may change in any way (publishing is such a change); a published row may
-- only become archived, every other column untouched; a published or archived row is never deleted.
CREATE FUNCTION authoring_version_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.status <> 'draft' THEN
                RAISE EXCEPTION 'version % is %: published content is never deleted; archive it instead', OLD.version, OLD.status;
            END IF;
            RETURN OLD;
        END IF;
        IF OLD.status = 'draft' THEN
            RETURN NEW;
        END IF;
        IF OLD.status = 'published' AND NEW.status = 'archived'
           AND to_jsonb(NEW) - 'status' - 'archived_at' - 'archived_by' = to_jsonb(OLD) - 'status' - 'archived_at' - 'archived_by' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'version % is %: published content is immutable; create a new draft version instead', OLD.version, OLD.status;
    END
    $$;

CREATE TRIGGER question_versions_immutable BEFORE UPDATE OR DELETE ON question_versions
    FOR EACH ROW EXECUTE FUNCTION authoring_version_guard();
CREATE TRIGGER evaluation_versions_immutable BEFORE UPDATE OR DELETE ON evaluation_versions
    FOR EACH ROW EXECUTE FUNCTION authoring_version_guard();

-- The items of a version change only while it is a draft; and a version is published only when every
-- question version it pins is published too.
CREATE FUNCTION evaluation_items_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    DECLARE
        row_version record;
        version_status text;
    BEGIN
        row_version := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        SELECT status INTO version_status FROM evaluation_versions
        WHERE evaluation_id = row_version.evaluation_id AND version = row_version.version;
        IF version_status IS DISTINCT FROM 'draft' THEN
            RAISE EXCEPTION 'version % is %: its items are immutable', row_version.version, coalesce(version_status, 'missing');
        END IF;
        RETURN row_version;
    END
    $$;

CREATE TRIGGER evaluation_version_items_immutable BEFORE INSERT OR UPDATE OR DELETE ON evaluation_version_items
    FOR EACH ROW EXECUTE FUNCTION evaluation_items_guard();

CREATE FUNCTION evaluation_publish_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM evaluation_version_items i
                   JOIN question_versions q ON q.tenant_id = i.tenant_id AND q.question_id = i.question_id
                                           AND q.version = i.question_version
                   WHERE i.evaluation_id = NEW.evaluation_id AND i.version = NEW.version AND q.status = 'draft') THEN
            RAISE EXCEPTION 'version % pins a draft question version; publish it first', NEW.version;
        END IF;
        RETURN NEW;
    END
    $$;

CREATE TRIGGER evaluation_versions_publish BEFORE UPDATE ON evaluation_versions
    FOR EACH ROW WHEN (OLD.status = 'draft' AND NEW.status = 'published') EXECUTE FUNCTION evaluation_publish_guard();

CREATE FUNCTION evaluation_active_version_guard() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM evaluation_versions
                       WHERE evaluation_id = NEW.id AND version = NEW.active_version AND status = 'published') THEN
            RAISE EXCEPTION 'only a published version can be active (version % is not)', NEW.active_version;
        END IF;
        RETURN NEW;
    END
    $$;

CREATE TRIGGER evaluations_active_version BEFORE INSERT OR UPDATE OF active_version ON evaluations
    FOR EACH ROW WHEN (NEW.active_version IS NOT NULL) EXECUTE FUNCTION evaluation_active_version_guard();

-- Row-level security. Tenants are isolated everywhere. Within a tenant, authoring rows are written only
-- inside the org units of the unit of work; they are read there too, and published versions of content
-- its owners marked `shared` are read from every org unit (templates reused across sites and clients).
ALTER TABLE taxonomies ENABLE ROW LEVEL SECURITY;
ALTER TABLE taxonomies FORCE ROW LEVEL SECURITY;
ALTER TABLE tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE tags FORCE ROW LEVEL SECURITY;
ALTER TABLE questions ENABLE ROW LEVEL SECURITY;
ALTER TABLE questions FORCE ROW LEVEL SECURITY;
ALTER TABLE question_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE question_versions FORCE ROW LEVEL SECURITY;
ALTER TABLE evaluations ENABLE ROW LEVEL SECURITY;
ALTER TABLE evaluations FORCE ROW LEVEL SECURITY;
ALTER TABLE evaluation_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE evaluation_versions FORCE ROW LEVEL SECURITY;
ALTER TABLE evaluation_version_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE evaluation_version_items FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON taxonomies AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON taxonomies AS RESTRICTIVE FOR ALL TO evalium_app
    USING (true)
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON tags AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON tags AS RESTRICTIVE FOR ALL TO evalium_app
    USING (true)
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

-- Written once for the policies below; a plain SQL function, so the planner inlines it.
CREATE FUNCTION app_org_unit_in_scope(org_unit text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    SELECT current_setting('app.org_scope_all', true) = 'true'
        OR org_unit = ANY (string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))
    $$;

CREATE POLICY tenant_isolation ON questions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON questions AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (shared OR app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_insert ON questions AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON questions AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON question_versions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON question_versions AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)
           OR (status <> 'draft' AND EXISTS (SELECT 1 FROM questions q WHERE q.id = question_id AND q.shared)));
CREATE POLICY org_scope_insert ON question_versions AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON question_versions AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_delete ON question_versions AS RESTRICTIVE FOR DELETE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON evaluations AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON evaluations AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (shared OR app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_insert ON evaluations AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON evaluations AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

CREATE POLICY tenant_isolation ON evaluation_versions AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON evaluation_versions AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)
           OR (status <> 'draft' AND EXISTS (SELECT 1 FROM evaluations e WHERE e.id = evaluation_id AND e.shared)));
CREATE POLICY org_scope_insert ON evaluation_versions AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON evaluation_versions AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_delete ON evaluation_versions AS RESTRICTIVE FOR DELETE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id));

-- Items are read wherever their version is (the parent-EXISTS policy of seed 001 §5.4).
CREATE POLICY tenant_isolation ON evaluation_version_items AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON evaluation_version_items AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (EXISTS (SELECT 1 FROM evaluation_versions v
                   WHERE v.evaluation_id = evaluation_version_items.evaluation_id AND v.version = evaluation_version_items.version));
CREATE POLICY org_scope_insert ON evaluation_version_items AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_update ON evaluation_version_items AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));
CREATE POLICY org_scope_delete ON evaluation_version_items AS RESTRICTIVE FOR DELETE TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id));

GRANT SELECT, INSERT, UPDATE ON taxonomies, tags, questions, evaluations TO evalium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON question_versions, evaluation_versions, evaluation_version_items TO evalium_app;
GRANT EXECUTE ON FUNCTION app_org_unit_in_scope(text) TO evalium_app;
