-- NDJSON (optionally zipped) and XLSX join CSV. XLSX is a zip container already, so it has no .zip variant.
ALTER TABLE shared_report_schedules DROP CONSTRAINT shared_report_schedules_format_check;
ALTER TABLE shared_report_schedules
    ADD CONSTRAINT shared_report_schedules_format_check
    CHECK (format IN ('csv', 'csv.zip', 'ndjson', 'ndjson.zip', 'xlsx'));
