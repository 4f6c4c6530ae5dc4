-- XLSX may be zipped like the other formats: some mail gateways hold back Office attachments but pass a zip.
ALTER TABLE shared_report_schedules DROP CONSTRAINT shared_report_schedules_format_check;
ALTER TABLE shared_report_schedules
    ADD CONSTRAINT shared_report_schedules_format_check
    CHECK (format IN ('csv', 'csv.zip', 'ndjson', 'ndjson.zip', 'xlsx', 'xlsx.zip'));
