-- Send conditions: at least min_rows rows (skip_if_empty is the min_rows = 1 case), and only when the file
-- differs from the last one sent for the schedule (compared by the SHA-256 recorded with each run).
ALTER TABLE shared_report_schedules
    ADD COLUMN min_rows        integer NOT NULL DEFAULT 0 CHECK (min_rows >= 0),
    ADD COLUMN only_if_changed boolean NOT NULL DEFAULT false;
ALTER TABLE shared_report_runs ADD COLUMN content_sha256 text;
CREATE INDEX shared_report_runs_last_sent_idx ON shared_report_runs (schedule_id, finished_at DESC)
    WHERE status IN ('sent', 'partial') AND content_sha256 IS NOT NULL;
