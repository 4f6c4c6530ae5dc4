-- Optional per-schedule subject and message templates ({{ variable }} placeholders only).
ALTER TABLE shared_report_schedules
    ADD COLUMN subject_template text CHECK (length(subject_template) <= 200),
    ADD COLUMN message_template text CHECK (length(message_template) <= 2000);
