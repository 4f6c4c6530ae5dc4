-- The organization-wide run list (GET /v1/runs) pages one organization's runs newest first without visiting
-- other organizations' runs, so each run carries its schedule's organization (a schedule never changes it).
-- A trigger fills it in from the schedule, so no writer has to.
ALTER TABLE shared_report_runs ADD COLUMN organization_id uuid;

UPDATE shared_report_runs r SET organization_id = s.organization_id
FROM shared_report_schedules s WHERE s.id = r.schedule_id;

CREATE FUNCTION shared_report_runs_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organization_id IS NULL THEN
        SELECT organization_id INTO NEW.organization_id FROM shared_report_schedules WHERE id = NEW.schedule_id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER shared_report_runs_organization BEFORE INSERT ON shared_report_runs
    FOR EACH ROW EXECUTE FUNCTION shared_report_runs_organization();

CREATE INDEX shared_report_runs_org_idx ON shared_report_runs (organization_id, created_at DESC, id DESC);
-- "What failed this week": one status of one organization, newest first.
CREATE INDEX shared_report_runs_org_status_idx
    ON shared_report_runs (organization_id, status, created_at DESC, id DESC);
