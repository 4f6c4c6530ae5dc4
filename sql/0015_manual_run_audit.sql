-- A manual run records who asked for it, and which of its recipients were outside the schedule's and the
-- organization's (allowed to owners and admins only).
ALTER TABLE shared_report_runs
    ADD COLUMN requested_by uuid,
    ADD COLUMN outside_recipients text[] NOT NULL DEFAULT '{}';
