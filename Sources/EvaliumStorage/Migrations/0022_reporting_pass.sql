-- The reporting projector followed each tenant's sealed ledger in a transaction of its own per tenant behind:
-- BEGIN, the scope, the tenant's projection turn, its checkpoint, its sealed events after it (planned afresh
-- at every run: 0.39 ms), the checkpoint moved, COMMIT. Four times a second for every tenant with anything newly
-- sealed, and under reads what is newly sealed is mostly `viewed` events, which change no projection: at 250
-- submission reads a second over ten tenants, some 230 statements and 33 commits a second that projected nothing.
-- Now a pass reads every tenant's new events in one statement (reporting_ledger_work), and the tenants whose
-- events change no projection have their checkpoints moved past them in one more (reporting_skip_to); only a
-- tenant with a submission to project still gets the transaction that projects it and moves its checkpoint.
--
-- Each tenant's statements run under that tenant's scope, set by apply_scope as a tenant-wide unit of work's (the
-- projector's scope before), so the row-level policies still confine them to the tenant.

-- The checkpoint of each of up to p_tenants tenants behind, with up to p_events_per_tenant of the sealed events
-- after it, in chain order. Sequences are gapless, so those are the sequences up to the checkpoint plus
-- p_events_per_tenant, and saying so keeps the kept plan an index range: rated as more than the checkpoint
-- alone, a third of the tenant's seals, it was a bitmap of every seal after the checkpoint, then a sort.
CREATE OR REPLACE FUNCTION reporting_ledger_work(p_events_per_tenant integer, p_tenants integer)
    RETURNS TABLE (tenant text, checkpoint_sequence bigint, sealed_sequence bigint, sealed_event_type text,
                   sealed_aggregate_type text, sealed_aggregate_id text)
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        FOR tenant IN SELECT behind.id FROM reporting_tenants_behind() AS behind(id) LIMIT p_tenants LOOP
            PERFORM apply_scope(ROW(tenant, '', 'true', NULL, NULL, NULL, NULL, false)::unit_scope);
            checkpoint_sequence := coalesce((SELECT c.last_sequence FROM reporting.checkpoints c WHERE c.tenant_id = (SELECT tenant)), 0);
            RETURN QUERY
            SELECT tenant, checkpoint_sequence, s.sequence, e.event_type, e.aggregate_type, e.aggregate_id
            FROM ledger_seals s JOIN ledger_events e ON e.id = s.event_id
            WHERE s.tenant_id = (SELECT tenant)
              AND s.sequence > checkpoint_sequence AND s.sequence <= checkpoint_sequence + p_events_per_tenant
            ORDER BY s.sequence
            LIMIT p_events_per_tenant;
        END LOOP;
    END
    $$;

-- Moves the checkpoint of each tenant in p_tenants from p_from[i] to p_to[i], past events that change no
-- projection: under the tenant's projection turn (left to the projector that has it), and only if the checkpoint
-- is still p_from[i] (a projector or a rebuild moved it since: left for the next pass). Answers which moved.
CREATE OR REPLACE FUNCTION reporting_skip_to(p_tenants text[], p_from bigint[], p_to bigint[])
    RETURNS TABLE (tenant text, moved boolean)
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        FOR tenant_index IN 1 .. coalesce(array_length(p_tenants, 1), 0) LOOP
            tenant := p_tenants[tenant_index];
            moved := false;
            PERFORM apply_scope(ROW(tenant, '', 'true', NULL, NULL, NULL, NULL, false)::unit_scope);
            IF pg_try_advisory_xact_lock(hashtextextended('evalium.reporting.checkpoint:' || tenant, 0)) THEN
                IF coalesce((SELECT c.last_sequence FROM reporting.checkpoints c WHERE c.tenant_id = (SELECT tenant)), 0)
                   = p_from[tenant_index] THEN
                    INSERT INTO reporting.checkpoints (tenant_id, last_sequence) VALUES (tenant, p_to[tenant_index])
                    ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = excluded.last_sequence;
                    moved := true;
                END IF;
            END IF;
            RETURN NEXT;
        END LOOP;
    END
    $$;

REVOKE ALL ON FUNCTION reporting_ledger_work(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION reporting_skip_to(text[], bigint[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting_ledger_work(integer, integer) TO evalium_app;
GRANT EXECUTE ON FUNCTION reporting_skip_to(text[], bigint[], bigint[]) TO evalium_app;
