-- The findings list's first page without filters, which is what a dashboard opens and most reads of the list
-- ask for, as a static statement whose plan PostgreSQL keeps: its only parameters are whether voided work is
-- included and the page's size, so the kept plan is the one each call was planned to (the tenant's findings in
-- time order, a page long). Planning it anew, as the dynamic statement does for every call, was 0.25 ms of the
-- 0.5 ms of PostgreSQL's time one page took (pg_stat_statements under the bench's fixed-rate reads). Filtered
-- pages and pages after a cursor are still planned for their values: a kept plan could not use a filter or the
-- cursor as a bound of the index it reads, and would read the tenant's findings from the start.
CREATE OR REPLACE FUNCTION scoped_findings(p_scope unit_scope,
                                           p_submission text, p_severity text, p_subject text, p_batch text,
                                           p_from timestamptz, p_to timestamptz, p_include_voided boolean,
                                           p_after_detected timestamptz, p_after_submission text, p_after_item text,
                                           p_limit bigint)
    RETURNS SETOF reporting_finding
    LANGUAGE plpgsql VOLATILE
    AS $$
    BEGIN
        PERFORM apply_scope(p_scope);
        IF num_nonnulls(p_submission, p_severity, p_subject, p_batch, p_from, p_to, p_after_submission) = 0 THEN
            RETURN QUERY SELECT * FROM reporting_findings(NULL, NULL, NULL, NULL, NULL, NULL, p_include_voided, NULL, NULL, NULL, p_limit);
        ELSE
            RETURN QUERY EXECUTE 'SELECT * FROM reporting_findings($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)'
                USING p_submission, p_severity, p_subject, p_batch, p_from, p_to, p_include_voided, p_after_detected,
                      p_after_submission, p_after_item, p_limit;
        END IF;
    END
    $$;
