-- Where an organization's reports may go. An empty list is no restriction; no row at all is the same as the
-- defaults. Checked by the API when recipients and destinations are written, and by the consumer when it sends.
CREATE TABLE shared_report_destination_policies (
    organization_id       uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    allowed_email_domains text[] NOT NULL DEFAULT '{}',
    allowed_webhook_hosts text[] NOT NULL DEFAULT '{}',
    allowed_sftp_hosts    text[] NOT NULL DEFAULT '{}',
    allow_telegram        boolean NOT NULL DEFAULT true,
    allow_slack           boolean NOT NULL DEFAULT true,
    updated_by            uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- A recipient the policy forbids at send time is logged, not sent to.
ALTER TABLE shared_report_notifications DROP CONSTRAINT shared_report_notifications_status_check;
ALTER TABLE shared_report_notifications
    ADD CONSTRAINT shared_report_notifications_status_check
    CHECK (status IN ('sending', 'sent', 'failed', 'unconfirmed', 'blocked_by_policy'));
