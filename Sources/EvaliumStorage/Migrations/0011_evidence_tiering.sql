-- Storage tiering (seed 000 §6): the tiering worker discovers which tenants have verified evidence in the hot
-- tier older than the cut-off, seeing only tenant ids, and then works inside each tenant's own scope.
CREATE POLICY platform_tiering_discovery ON media_assets AS PERMISSIVE FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION evidence_tenants_due_for_cold(cutoff timestamptz) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
        SELECT DISTINCT tenant_id FROM public.media_assets
        WHERE status = 'verified' AND storage_tier = 'hot' AND verified_at < cutoff
    $$;

REVOKE ALL ON FUNCTION evidence_tenants_due_for_cold(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION evidence_tenants_due_for_cold(timestamptz) TO evalium_app;
