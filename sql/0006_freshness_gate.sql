-- The freshness gate: a run waits until the organization's statistics were updated within
-- require_fresh_within_seconds of the fire time, re-checking for up to fresh_wait_max_seconds, then sends
-- with a "may be stale" line or ends skipped, as stale_action says. NULL means no gate.
ALTER TABLE shared_report_schedules
    ADD COLUMN require_fresh_within_seconds integer CHECK (require_fresh_within_seconds > 0),
    ADD COLUMN fresh_wait_max_seconds       integer NOT NULL DEFAULT 3600 CHECK (fresh_wait_max_seconds >= 0),
    ADD COLUMN stale_action                 text NOT NULL DEFAULT 'send' CHECK (stale_action IN ('send', 'skip'));
