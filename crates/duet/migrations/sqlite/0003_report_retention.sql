-- Reports gain a state (open, dismissed, actioned) with the time it was resolved, and
-- their evidence a retention: once it has been kept its time, from the report or from
-- its resolution if that came later, the copied messages are erased.
ALTER TABLE reports ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
ALTER TABLE reports ADD COLUMN resolved_at BIGINT;
ALTER TABLE reports ADD COLUMN evidence_purged_at BIGINT;
CREATE INDEX reports_evidence_kept ON reports (evidence_purged_at);
