-- Row-level policies written so that the planner's estimate of the rows they let through is not near zero.
-- PostgreSQL rates `current_setting(…) = 'true'` (an equality it has no statistics for) as 0.5 % of the rows,
-- so the org-scope check made every tenant-wide query look as if it returned a row or two. The findings list
-- (`ORDER BY detected_at … LIMIT 50`) was then planned as a scan and sort of all the tenant's findings
-- (0.9 ms for 831 findings, and growing with the tenant) instead of reading its index in order and stopping
-- after fifty (0.06 ms). As a boolean cast, and the portal lens's test as a boolean sub-select, each is
-- estimated at one half; the org-scope function stays a plain expression that PostgreSQL inlines.

CREATE OR REPLACE FUNCTION app_org_unit_in_scope(org_unit text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(NULLIF(current_setting('app.org_scope_all', true), '')::boolean, false)
        OR org_unit = ANY (string_to_array(NULLIF(current_setting('app.org_unit_ids', true), ''), ','))
    $$;

DROP POLICY portal_lens ON submissions;
CREATE POLICY portal_lens ON submissions AS RESTRICTIVE FOR ALL TO evalium_app
    USING ((SELECT COALESCE(current_setting('app.link_id', true), '') = '')
           OR (id = (SELECT app_portal_scope('submission')) AND approval_status = 'approved'));
