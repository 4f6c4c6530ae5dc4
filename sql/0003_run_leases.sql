-- A running run is held by one worker through a lease it renews; an expired lease is taken back by the sweep.
ALTER TABLE shared_report_runs
    ADD COLUMN lease_token      uuid,
    ADD COLUMN lease_expires_at timestamptz,
    -- Set when the schedule's creator was told that this run failed, so the notice goes out once per run.
    ADD COLUMN notice_sent_at   timestamptz;

-- Runs left running by an older version get a lease that has already expired, so the sweep recovers them.
UPDATE shared_report_runs SET lease_expires_at = now() WHERE status = 'running';

CREATE INDEX shared_report_runs_running_idx ON shared_report_runs (lease_expires_at) WHERE status = 'running';
-- The sweep walks queued runs in (created_at, id) order, one bounded page at a time.
DROP INDEX shared_report_runs_queued_idx;
CREATE INDEX shared_report_runs_queued_idx ON shared_report_runs (created_at, id) WHERE status = 'queued';

-- 'sending' is the intent written before a provider call; 'unconfirmed' is an intent whose outcome was lost.
ALTER TABLE shared_report_notifications DROP CONSTRAINT shared_report_notifications_status_check;
ALTER TABLE shared_report_notifications
    ADD CONSTRAINT shared_report_notifications_status_check
    CHECK (status IN ('sending', 'sent', 'failed', 'unconfirmed'));

-- Poison messages keep a bounded head of what was popped, with the original size and why it could not run.
ALTER TABLE shared_report_dead_letters
    ADD COLUMN payload_bytes integer,
    ADD COLUMN poison        boolean NOT NULL DEFAULT false;
