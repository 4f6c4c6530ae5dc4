-- An optional window a schedule fires in: no fire before starts_at or after ends_at. After its last fire a
-- schedule's next_run_at is NULL and the API says it has ended.
ALTER TABLE shared_report_schedules ADD COLUMN starts_at timestamptz;
ALTER TABLE shared_report_schedules ADD COLUMN ends_at timestamptz;
ALTER TABLE shared_report_schedules
    ADD CONSTRAINT shared_report_schedules_window_check CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at);
