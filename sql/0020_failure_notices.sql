-- Whom to tell when a schedule's runs fail: 'owner' (the schedule's creator), 'admins' (the organization's
-- owners and admins), email addresses, and 'destination:<id>' (a Slack or webhook destination). NULL: the owner.
ALTER TABLE shared_report_schedules ADD COLUMN notify_on_failure text[];

-- A failing schedule's streak: told once per FAILURE_NOTICE_QUIET_HOURS with the count since; the row goes when a
-- run succeeds again (one "recovered" notice if anyone was told).
CREATE TABLE shared_report_failure_streaks (
    schedule_id   uuid PRIMARY KEY REFERENCES shared_report_schedules (id) ON DELETE CASCADE,
    failing_since timestamptz NOT NULL DEFAULT now(),
    -- Failures since the last notice (or since the streak began, when nobody was told yet).
    failures      integer NOT NULL DEFAULT 0,
    noticed_at    timestamptz
);
