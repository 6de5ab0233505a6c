-- Events (seed 003, seed 000 §3): a transactional outbox for what Evalium publishes, a journal of what it
-- receives, and one dispatch path to the in-process listeners with an inbox, retries and dead letters.
-- Every table is a tenant's: events carry a tenant in their envelope and are handled in its scope.

-- One order for both journals, so a listener that hears published and received events hears them in the
-- order they were written.
CREATE SEQUENCE event_sequence;
GRANT USAGE ON SEQUENCE event_sequence TO evalium_app;

-- Each published event, written in the same transaction as the state change and its ledger event.
-- `envelope` is the exact JSON that goes on the wire; `relayed_at` is set only after JetStream's ack.
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

-- Each event received from another service (seed 003 §2), kept as it arrived; the event id de-duplicates
-- a redelivery.
CREATE TABLE inbound_events (
    event_id       text PRIMARY KEY,
    sequence       bigint NOT NULL DEFAULT nextval('event_sequence') UNIQUE,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    subject        text NOT NULL,
    partition_key  text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    envelope       text NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX inbound_events_by_sequence ON inbound_events (tenant_id, sequence);

-- Events some listener may still have to hear. A row leaves when every listener that wants it (of any
-- server: see event_consumers) has handled it or given it up as a dead letter; a replay puts rows back.
CREATE TABLE event_dispatch_queue (
    event_id       text PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    source         text NOT NULL CHECK (source IN ('outbox', 'inbound')),
    subject        text NOT NULL,
    sequence       bigint NOT NULL
);

-- The listeners the running servers have, with the subject prefixes each wants, so that a server never
-- drops from the queue an event that another server's listener (a newer release's, say) has still to
-- hear. A listener no server has named for a while (ten minutes by default) no longer holds events back.
CREATE TABLE event_consumers (
    name           text PRIMARY KEY,
    subjects       text[] NOT NULL,
    last_seen_at   timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE ON event_consumers TO evalium_app;

CREATE INDEX event_dispatch_queue_by_sequence ON event_dispatch_queue (tenant_id, sequence);

-- What each listener has handled (seed 003 §8 "inbox_events dedup on eventId"), written in the same
-- transaction as the listener's own effects.
CREATE TABLE event_inbox (
    consumer       text NOT NULL,
    event_id       text NOT NULL,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    handled_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, consumer)
);

-- A listener's failures of one event, waiting for the next attempt (seed 003 §6 backoff).
CREATE TABLE event_delivery_failures (
    consumer         text NOT NULL,
    event_id         text NOT NULL,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    partition_key    text NOT NULL,
    attempts         integer NOT NULL CHECK (attempts >= 1),
    next_attempt_at  timestamptz NOT NULL,
    last_error       text NOT NULL,
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, consumer)
);

-- Events a listener gave up on after its redeliveries (seed 003 §6 `ASSESSMENT.dlq`). `relayed_at` is set
-- once the dead letter is on the JetStream dead-letter subject; `replayed_at` once a replay succeeded.
CREATE TABLE event_dead_letters (
    id             text PRIMARY KEY,
    consumer       text NOT NULL,
    event_id       text NOT NULL,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    source         text NOT NULL CHECK (source IN ('outbox', 'inbound')),
    subject        text NOT NULL,
    attempts       integer NOT NULL,
    last_error     text NOT NULL,
    dead_at        timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz,
    relayed_at     timestamptz,
    UNIQUE (event_id, consumer)
);

CREATE INDEX event_dead_letters_by_tenant ON event_dead_letters (tenant_id, dead_at DESC, id);
CREATE INDEX event_dead_letters_to_relay ON event_dead_letters (tenant_id) WHERE relayed_at IS NULL;

-- Links between content blocks of the authoring service and evaluations (seed 003 UC-20).
CREATE TABLE evaluation_block_links (
    block_id       text NOT NULL,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    evaluation_id  text NOT NULL REFERENCES evaluations (id),
    org_unit_id    text NOT NULL,
    block_kind     text NOT NULL,
    linked_at      timestamptz NOT NULL,
    linked_by_event text NOT NULL,
    PRIMARY KEY (tenant_id, block_id)
);

CREATE INDEX evaluation_block_links_by_evaluation ON evaluation_block_links (tenant_id, evaluation_id);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
ALTER TABLE inbound_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE inbound_events FORCE ROW LEVEL SECURITY;
ALTER TABLE event_dispatch_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_dispatch_queue FORCE ROW LEVEL SECURITY;
ALTER TABLE event_inbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_inbox FORCE ROW LEVEL SECURITY;
ALTER TABLE event_delivery_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_delivery_failures FORCE ROW LEVEL SECURITY;
ALTER TABLE event_dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_dead_letters FORCE ROW LEVEL SECURITY;
ALTER TABLE evaluation_block_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE evaluation_block_links FORCE ROW LEVEL SECURITY;

-- Anyone whose unit of work publishes an event writes its outbox row and queue entry (people reach their own
-- work outside their org scope, and the event about it goes with it); only tenant-wide work (the relay, the
-- dispatcher, the operator's tools) reads them back or touches the rest.
CREATE POLICY tenant_isolation ON outbox AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON outbox AS RESTRICTIVE FOR SELECT TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true');
CREATE POLICY org_scope_insert ON outbox AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (true);
CREATE POLICY org_scope_update ON outbox AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON event_dispatch_queue AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope_read ON event_dispatch_queue AS RESTRICTIVE FOR SELECT TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true');
CREATE POLICY org_scope_insert ON event_dispatch_queue AS RESTRICTIVE FOR INSERT TO evalium_app
    WITH CHECK (true);
CREATE POLICY org_scope_update ON event_dispatch_queue AS RESTRICTIVE FOR UPDATE TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');
CREATE POLICY org_scope_delete ON event_dispatch_queue AS RESTRICTIVE FOR DELETE TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON inbound_events AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON inbound_events AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON event_inbox AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON event_inbox AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON event_delivery_failures AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON event_delivery_failures AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON event_dead_letters AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON event_dead_letters AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT current_setting('app.org_scope_all', true)) = 'true')
    WITH CHECK ((SELECT current_setting('app.org_scope_all', true)) = 'true');

CREATE POLICY tenant_isolation ON evaluation_block_links AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));
CREATE POLICY org_scope ON evaluation_block_links AS RESTRICTIVE FOR ALL TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id)) WITH CHECK (app_org_unit_in_scope(org_unit_id));

GRANT SELECT, INSERT, UPDATE ON outbox TO evalium_app;
GRANT SELECT, INSERT ON inbound_events TO evalium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON event_dispatch_queue TO evalium_app;
GRANT SELECT, INSERT, DELETE ON event_inbox TO evalium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON event_delivery_failures TO evalium_app;
GRANT SELECT, INSERT, UPDATE ON event_dead_letters TO evalium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON evaluation_block_links TO evalium_app;

-- The dispatcher and the relay discover which tenants have work, seeing only tenant ids; the sweep removes
-- from every tenant's queue what every live listener is done with.
CREATE POLICY platform_event_discovery ON event_dispatch_queue AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY platform_event_sweep ON event_dispatch_queue AS PERMISSIVE FOR DELETE TO CURRENT_USER USING (true);
CREATE POLICY platform_event_discovery ON outbox AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY platform_event_discovery ON event_dead_letters AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY platform_event_discovery ON event_inbox AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

-- Tenants with queued events that one of the caller's listeners (names[i] wanting subjects that start with
-- prefixes[i]) has neither handled nor given up.
CREATE FUNCTION events_tenants_to_dispatch(names text[], prefixes text[]) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
        SELECT DISTINCT q.tenant_id
        FROM public.event_dispatch_queue q, unnest(names, prefixes) AS c(name, prefix)
        WHERE starts_with(q.subject, c.prefix)
          AND NOT EXISTS (SELECT 1 FROM public.event_inbox x WHERE x.event_id = q.event_id AND x.consumer = c.name)
          AND NOT EXISTS (SELECT 1 FROM public.event_dead_letters d
                          WHERE d.event_id = q.event_id AND d.consumer = c.name AND d.replayed_at IS NULL)
    $$;

-- Removes, across tenants, queued events no listener named within `liveness_seconds` still has to hear;
-- answers how many. One server sweeps at a time, and rows a dispatcher holds are left for the next sweep, so
-- the sweep never waits on a lock.
CREATE FUNCTION events_sweep(liveness_seconds double precision) RETURNS integer
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
        WITH swept AS (
            DELETE FROM public.event_dispatch_queue
            WHERE event_id IN (
                SELECT q.event_id FROM public.event_dispatch_queue q
                WHERE pg_try_advisory_xact_lock(hashtextextended('evalium.events.sweep', 0))
                  AND NOT EXISTS (
                    SELECT 1 FROM public.event_consumers c, unnest(c.subjects) AS prefix
                    WHERE c.last_seen_at > now() - make_interval(secs => liveness_seconds) AND starts_with(q.subject, prefix)
                      AND NOT EXISTS (SELECT 1 FROM public.event_inbox x WHERE x.event_id = q.event_id AND x.consumer = c.name)
                      AND NOT EXISTS (SELECT 1 FROM public.event_dead_letters d
                                      WHERE d.event_id = q.event_id AND d.consumer = c.name AND d.replayed_at IS NULL))
                FOR UPDATE SKIP LOCKED)
            RETURNING 1)
        SELECT count(*)::integer FROM swept
    $$;

REVOKE ALL ON FUNCTION events_sweep(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events_sweep(double precision) TO evalium_app;

CREATE FUNCTION events_tenants_to_relay() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
        SELECT t.id FROM public.tenants t
        WHERE EXISTS (SELECT 1 FROM public.outbox o WHERE o.tenant_id = t.id AND o.relayed_at IS NULL)
           OR EXISTS (SELECT 1 FROM public.event_dead_letters d WHERE d.tenant_id = t.id AND d.relayed_at IS NULL)
    $$;

REVOKE ALL ON FUNCTION events_tenants_to_dispatch(text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION events_tenants_to_relay() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION events_tenants_to_dispatch(text[], text[]) TO evalium_app;
GRANT EXECUTE ON FUNCTION events_tenants_to_relay() TO evalium_app;
