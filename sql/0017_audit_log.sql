-- Who changed what: one row per change to a schedule, its recipients, a destination, an organization's policy,
-- and per run-now and replay, written in the transaction of the change itself. No foreign key to the schedule
-- or destination: the row outlives what it describes. Retention prunes it after AUDIT_RETENTION_DAYS.
CREATE TABLE shared_report_audit_log (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- The token's sub (a user id), or 'service' for the service role.
    actor           text NOT NULL,
    actor_role      text NOT NULL,
    action          text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    schedule_id     uuid,
    destination_id  uuid,
    -- {"field": {"before": ..., "after": ...}}; secrets are "***".
    changes         jsonb NOT NULL DEFAULT '{}',
    request_id      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX shared_report_audit_log_org_idx ON shared_report_audit_log (organization_id, created_at DESC, id DESC);
CREATE INDEX shared_report_audit_log_schedule_idx
    ON shared_report_audit_log (schedule_id, created_at DESC, id DESC) WHERE schedule_id IS NOT NULL;
CREATE INDEX shared_report_audit_log_created_idx ON shared_report_audit_log (created_at);
