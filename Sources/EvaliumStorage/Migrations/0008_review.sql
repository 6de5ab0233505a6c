-- Review, rework (seed 002 §1.2, seed 004 "Rejection / Change Request"): rejected or sent-back work is never
-- reopened for editing; rework is a new session whose submission names the one it replaces.
ALTER TABLE delivery_sessions ADD COLUMN rework_of text;
ALTER TABLE submissions ADD COLUMN replaces text;
ALTER TABLE submissions ADD FOREIGN KEY (tenant_id, replaces) REFERENCES submissions (tenant_id, id);

-- One rework at a time per replaced submission.
CREATE UNIQUE INDEX delivery_sessions_one_rework ON delivery_sessions (rework_of) WHERE rework_of IS NOT NULL;

CREATE INDEX submissions_review_queue ON submissions (tenant_id, submitted_at, id) WHERE approval_status = 'pending_review';
CREATE INDEX submissions_by_operator ON submissions (tenant_id, operator_id, submitted_at);
