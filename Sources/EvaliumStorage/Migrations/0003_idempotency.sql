-- Idempotency-Key records (IETF httpapi idempotency-key draft; seed 001 §19.3, 000 §7).
-- A key belongs to one caller in one tenant. The row is claimed (in_flight) before the handler runs
-- and completed in the same transaction as the handler's durable write, so a committed effect always
-- has its stored response and a crash before commit leaves only a lease that runs out.
-- Keys hold no org-unit data (they belong to a caller), so the org-scope policy does not apply.

CREATE TABLE idempotency_keys (
    tenant_id              text NOT NULL,
    caller_id              text NOT NULL,
    idempotency_key        text NOT NULL,
    fingerprint            bytea NOT NULL,
    claim_token            text NOT NULL,
    status                 text NOT NULL CHECK (status IN ('in_flight', 'completed')),
    locked_until           timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    response_status        integer,
    response_content_type  text,
    response_location      text,
    response_body          bytea,
    created_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, caller_id, idempotency_key)
);

CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON idempotency_keys AS PERMISSIVE FOR ALL TO evalium_app
    USING (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')))
    WITH CHECK (tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')));

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO evalium_app;

-- Expired keys are removed across tenants by the maintenance worker through this function only.
CREATE POLICY platform_purge_expired ON idempotency_keys AS PERMISSIVE FOR ALL TO CURRENT_USER
    USING (expires_at < now());

CREATE FUNCTION purge_expired_idempotency_keys() RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$ WITH purged AS (DELETE FROM public.idempotency_keys WHERE expires_at < now() RETURNING 1)
          SELECT count(*) FROM purged $$;

REVOKE ALL ON FUNCTION purge_expired_idempotency_keys() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_idempotency_keys() TO evalium_app;
