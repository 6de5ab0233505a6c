-- The append-only execution ledger (seed 001 §4.2, 000 §3).
--
-- ledger_events holds each event and the RFC 8785 canonical bytes it was hashed from, with its
-- RFC 6962 leaf hash. Appends take no lock: a sealer gives each committed event its gapless per-tenant
-- sequence number and chain hash moments later, in ledger_seals, working from ledger_seal_queue.
-- There is deliberately no foreign key from the ledger to tenants or org units: a key check takes a
-- share lock on the tenant row for every append, which serialises a busy tenant's writers. The
-- tenant comes from the transaction's verified scope and the policies refuse any other.

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

CREATE TABLE ledger_seals (
    tenant_id   text NOT NULL,
    sequence    bigint NOT NULL CHECK (sequence > 0),
    event_id    text NOT NULL UNIQUE,
    leaf_hash   bytea NOT NULL CHECK (length(leaf_hash) = 32),
    chain_hash  bytea NOT NULL CHECK (length(chain_hash) = 32),
    sealed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, sequence)
);

-- Work list for the sealer: one row per committed, not yet sealed event. It is scaffolding, not
-- ledger: the sealer deletes a row in the same transaction that writes the event's seal.
CREATE TABLE ledger_seal_queue (
    event_id     text PRIMARY KEY,
    tenant_id    text NOT NULL,
    org_unit_id  text
);

CREATE INDEX ledger_seal_queue_by_tenant ON ledger_seal_queue (tenant_id, event_id);

ALTER TABLE ledger_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_events FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger_seals ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_seals FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger_seal_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_seal_queue FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON ledger_events AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

-- Events of one org unit are visible in that unit; tenant-level events (no org unit) only tenant-wide.
CREATE POLICY org_scope ON ledger_events AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = (SELECT NULLIF(current_setting('app.org_unit_id', true), '')))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = (SELECT NULLIF(current_setting('app.org_unit_id', true), '')));

CREATE POLICY tenant_isolation ON ledger_seal_queue AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

CREATE POLICY org_scope ON ledger_seal_queue AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = (SELECT NULLIF(current_setting('app.org_unit_id', true), '')))
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true'
           OR org_unit_id = (SELECT NULLIF(current_setting('app.org_unit_id', true), '')));

-- Seals are chain infrastructure: read and written only by tenant-wide principals (the sealer,
-- the verifier, auditors).
CREATE POLICY tenant_isolation ON ledger_seals AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

CREATE POLICY org_scope ON ledger_seals AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

GRANT SELECT, INSERT ON ledger_events TO evalium_app;
GRANT SELECT, INSERT ON ledger_seals TO evalium_app;
GRANT SELECT, INSERT, DELETE ON ledger_seal_queue TO evalium_app;

-- Append-only for every role, including the owner and superusers: row triggers refuse UPDATE and
-- DELETE, a statement trigger refuses TRUNCATE, and ENABLE ALWAYS keeps them firing under
-- session_replication_role = replica. What a superuser can still do (disable the triggers) the
-- hash chain detects.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'P0001', HINT = 'corrections are new events (amend, void), never edits';
END
$$;

CREATE TRIGGER ledger_events_refuse_update_delete BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_events_refuse_truncate BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_refuse_update_delete BEFORE UPDATE OR DELETE ON ledger_seals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_refuse_truncate BEFORE TRUNCATE ON ledger_seals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

ALTER TABLE ledger_events ENABLE ALWAYS TRIGGER ledger_events_refuse_update_delete;
ALTER TABLE ledger_events ENABLE ALWAYS TRIGGER ledger_events_refuse_truncate;
ALTER TABLE ledger_seals ENABLE ALWAYS TRIGGER ledger_seals_refuse_update_delete;
ALTER TABLE ledger_seals ENABLE ALWAYS TRIGGER ledger_seals_refuse_truncate;

-- The sealer discovers which tenants have work without seeing any event: only tenant ids.
CREATE POLICY platform_seal_discovery ON ledger_seal_queue AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION ledger_tenants_awaiting_seal() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$ SELECT DISTINCT tenant_id FROM public.ledger_seal_queue $$;

REVOKE ALL ON FUNCTION ledger_tenants_awaiting_seal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_tenants_awaiting_seal() TO evalium_app;
