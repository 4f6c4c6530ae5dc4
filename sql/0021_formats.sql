-- Several formats in one run: one export per format from the same snapshot, delivered together. The API's
-- `formats` is `format` followed by `extra_formats`, so rows and clients that know one format keep working.
ALTER TABLE shared_report_schedules
    ADD COLUMN extra_formats text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT shared_report_schedules_extra_formats_check CHECK (
        cardinality(extra_formats) <= 2
        AND extra_formats <@ ARRAY['csv', 'csv.zip', 'ndjson', 'ndjson.zip', 'xlsx', 'xlsx.zip']
        AND NOT format = ANY (extra_formats)
    );

-- What a run delivered, one entry per file: {"format", "filename", "bytes", "sha256"}. The run's filename,
-- byte_count and content_sha256 stay those of the first file.
ALTER TABLE shared_report_runs ADD COLUMN files jsonb;
