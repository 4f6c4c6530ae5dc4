-- One-click unsubscribes: an address (by the SHA-256 of its lower-case form, as the signed link carries it)
-- that asked to receive no more of one schedule's reports, or (schedule_id NULL) of any of the organization's.
-- An owner lifting one deletes its row (audited).
CREATE TABLE shared_report_unsubscribes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    schedule_id     uuid REFERENCES shared_report_schedules (id) ON DELETE CASCADE,
    address_sha256  bytea NOT NULL CHECK (length(address_sha256) = 32),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX shared_report_unsubscribes_once
    ON shared_report_unsubscribes (organization_id, coalesce(schedule_id, '00000000-0000-0000-0000-000000000000'),
                                   address_sha256);

-- A suppressed address is logged, not sent to.
ALTER TABLE shared_report_notifications DROP CONSTRAINT shared_report_notifications_status_check;
ALTER TABLE shared_report_notifications
    ADD CONSTRAINT shared_report_notifications_status_check
    CHECK (status IN ('sending', 'sent', 'failed', 'unconfirmed', 'blocked_by_policy', 'unsubscribed'));
