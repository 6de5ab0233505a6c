-- The policies that let a subject be read through work (its assignments and submissions) and its person link
-- and asset details be read wherever the subject is, written as PL/pgSQL functions instead of sub-queries.
-- As sub-queries, each policy was expanded into every statement that reads the table, with the policies of the
-- tables it names expanded inside it: reading one subject with its person link and asset details became a
-- plan of 171 sub-plans. PostgreSQL planned it in 3–7 ms (37 ms under load), and starting that plan took
-- 0.4 ms of a 0.44 ms run, though with an org scope that covers the subject none of the sub-plans runs.
-- A PL/pgSQL function is opaque to the planner and keeps its own plans; it runs as the caller (SECURITY
-- INVOKER), so the tables it reads are filtered by their own policies exactly as the sub-queries were. Who may
-- read what does not change.

CREATE FUNCTION app_subject_reached_through_work(subject text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN EXISTS (SELECT 1 FROM public.assignment_subjects x WHERE x.subject_id = subject)
            OR EXISTS (SELECT 1 FROM public.submission_subjects x WHERE x.subject_id = subject);
    END
    $$;

CREATE FUNCTION app_subject_visible(subject text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN EXISTS (SELECT 1 FROM public.subjects s WHERE s.id = subject);
    END
    $$;

REVOKE ALL ON FUNCTION app_subject_reached_through_work(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION app_subject_visible(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_subject_reached_through_work(text) TO evalium_app;
GRANT EXECUTE ON FUNCTION app_subject_visible(text) TO evalium_app;

DROP POLICY org_scope_read ON subjects;
CREATE POLICY org_scope_read ON subjects AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR app_subject_reached_through_work(id));

DROP POLICY org_scope_read ON subject_users;
CREATE POLICY org_scope_read ON subject_users AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR app_subject_visible(subject_id));

DROP POLICY org_scope_read ON assets;
CREATE POLICY org_scope_read ON assets AS RESTRICTIVE FOR SELECT TO evalium_app
    USING (app_org_unit_in_scope(org_unit_id) OR app_subject_visible(subject_id));
