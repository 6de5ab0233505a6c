-- A sealer pass was a transaction per tenant with events pending: BEGIN, the scope, the tenant's seal turn, the
-- head of its chain, its pending events, the seals, the dequeue, COMMIT. Eight round trips and a commit (a WAL
-- flush) per tenant, every 50 ms under a stream of appends: at 250 submission reads a second over ten tenants,
-- some 1,600 sealer statements and 160 commits a second beside the reads' 500 statements. A pass is now two
-- statements for every tenant at once: ledger_seal_work reads each tenant's head and pending events, the server
-- computes the chain (LedgerChainHead.sealing, the one implementation, which verification checks), and
-- ledger_write_seals writes every tenant's seals and dequeues their events in one transaction.
--
-- The two statements are two transactions, so nothing is held while the server hashes. What keeps the chain
-- whole is the write: under the tenant's seal turn (the advisory lock every sealer takes), it seals only if the
-- chain's head is still the one the read saw; otherwise another sealer sealed since, and the tenant is left for
-- the next pass to read again. The sequence is the table's key and an event's seal is unique, so no race could
-- write a fork or seal an event twice either way.
--
-- Each tenant's statements run under that tenant's scope, set by apply_scope as a tenant-wide unit of work's
-- (the sealer's scope before), so the row-level policies still confine every read and write to the tenant
-- whose chain it is. Both functions are VOLATILE PL/pgSQL: apply_scope sets settings, and the plans are kept.

-- Tenants with committed events not yet sealed, the one whose oldest pending event is oldest first: a pass that
-- takes only so many tenants serves the longest-waiting, so a tenant with a backlog does not keep the others out.
-- Found by skipping from tenant to tenant along the queue's index rather than reading the whole queue, which a
-- backlog (a million events bulk-loaded, a sealer stopped for a while) makes long, at every pass.
CREATE OR REPLACE FUNCTION ledger_tenants_awaiting_seal() RETURNS SETOF text
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
        WITH RECURSIVE awaiting(tenant_id) AS (
            (SELECT q.tenant_id FROM public.ledger_seal_queue q ORDER BY q.tenant_id LIMIT 1)
            UNION ALL
            SELECT (SELECT q.tenant_id FROM public.ledger_seal_queue q WHERE q.tenant_id > a.tenant_id ORDER BY q.tenant_id LIMIT 1)
            FROM awaiting a WHERE a.tenant_id IS NOT NULL)
        SELECT a.tenant_id FROM awaiting a
        WHERE a.tenant_id IS NOT NULL
        ORDER BY (SELECT min(q.event_id) FROM public.ledger_seal_queue q WHERE q.tenant_id = a.tenant_id);
    END
    $$;

-- Up to p_events_per_tenant pending events (in id order, which is time order) of each of up to p_tenants
-- tenants, each row with the head of the tenant's chain when it was read (sequence 0 and no hash before the
-- first seal).
CREATE OR REPLACE FUNCTION ledger_seal_work(p_events_per_tenant integer, p_tenants integer)
    RETURNS TABLE (tenant text, head_sequence bigint, head_chain_hash bytea, pending_event_id text, pending_leaf_hash bytea)
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        FOR tenant IN SELECT awaiting.id FROM ledger_tenants_awaiting_seal() AS awaiting(id) LIMIT p_tenants LOOP
            PERFORM apply_scope(ROW(tenant, '', 'true', NULL, NULL, NULL, NULL, false)::unit_scope);
            head_sequence := 0;
            head_chain_hash := NULL;
            SELECT s.sequence, s.chain_hash INTO head_sequence, head_chain_hash
            FROM ledger_seals s WHERE s.tenant_id = (SELECT tenant) ORDER BY s.sequence DESC LIMIT 1;
            RETURN QUERY
            SELECT tenant, coalesce(head_sequence, 0), head_chain_hash, q.event_id, e.leaf_hash
            FROM ledger_seal_queue q JOIN ledger_events e ON e.id = q.event_id
            WHERE q.tenant_id = (SELECT tenant)
            ORDER BY q.event_id
            LIMIT p_events_per_tenant;
        END LOOP;
    END
    $$;

-- Writes the seals of each tenant in p_tenants (sorted, so sealers waiting for turns take them in one order and
-- cannot deadlock): its p_counts[i] seals are the next slice of the seal arrays, numbered after
-- p_after_sequences[i], the head its chain was computed from. A tenant whose turn another sealer has is left to
-- it unless p_waiting_for_turn; a tenant whose head moved since is left for the next read. Every sealed event
-- must come off the tenant's own queue, or nothing is written. Answers how many seals each tenant got (0 when it
-- was left).
CREATE OR REPLACE FUNCTION ledger_write_seals(p_waiting_for_turn boolean, p_tenants text[], p_after_sequences bigint[],
                                   p_counts integer[], p_event_ids text[], p_leaf_hashes bytea[],
                                   p_chain_hashes bytea[])
    RETURNS TABLE (tenant text, sealed integer)
    LANGUAGE plpgsql VOLATILE
    AS $$
    DECLARE
        first_seal integer := 1;
        last_seal integer;
        turn bigint;
        has_turn boolean;
        current_head bigint;
        dequeued integer;
    BEGIN
        FOR tenant_index IN 1 .. coalesce(array_length(p_tenants, 1), 0) LOOP
            tenant := p_tenants[tenant_index];
            last_seal := first_seal + p_counts[tenant_index] - 1;
            sealed := 0;
            turn := hashtextextended('evalium.ledger.seal:' || tenant, 0);
            PERFORM apply_scope(ROW(tenant, '', 'true', NULL, NULL, NULL, NULL, false)::unit_scope);
            IF p_waiting_for_turn THEN
                PERFORM pg_advisory_xact_lock(turn);
                has_turn := true;
            ELSE
                has_turn := pg_try_advisory_xact_lock(turn);
            END IF;
            IF has_turn THEN
                SELECT coalesce(max(s.sequence), 0) INTO current_head FROM ledger_seals s WHERE s.tenant_id = (SELECT tenant);
                IF current_head = p_after_sequences[tenant_index] THEN
                    INSERT INTO ledger_seals (tenant_id, sequence, event_id, leaf_hash, chain_hash)
                    SELECT tenant, p_after_sequences[tenant_index] + n.place, n.event_id, n.leaf_hash, n.chain_hash
                    FROM unnest(p_event_ids[first_seal:last_seal], p_leaf_hashes[first_seal:last_seal],
                                p_chain_hashes[first_seal:last_seal]) WITH ORDINALITY AS n(event_id, leaf_hash, chain_hash, place);
                    DELETE FROM ledger_seal_queue q USING unnest(p_event_ids[first_seal:last_seal]) AS n(event_id)
                    WHERE q.event_id = n.event_id;
                    GET DIAGNOSTICS dequeued = ROW_COUNT;
                    IF dequeued <> p_counts[tenant_index] THEN
                        RAISE EXCEPTION 'only % of the % events sealed for tenant % were pending there', dequeued,
                            p_counts[tenant_index], tenant;
                    END IF;
                    sealed := p_counts[tenant_index];
                END IF;
            END IF;
            RETURN NEXT;
            first_seal := last_seal + 1;
        END LOOP;
    END
    $$;

REVOKE ALL ON FUNCTION ledger_seal_work(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION ledger_write_seals(boolean, text[], bigint[], integer[], text[], bytea[], bytea[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_seal_work(integer, integer) TO evalium_app;
GRANT EXECUTE ON FUNCTION ledger_write_seals(boolean, text[], bigint[], integer[], text[], bytea[], bytea[]) TO evalium_app;
