-- Slack channels, webhooks and SFTP directories: recipients whose settings and secret live here, per
-- schedule or (schedule_id NULL) organization-wide, as a fallback for schedules that enable the channel.
CREATE TABLE shared_report_destinations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    schedule_id     uuid REFERENCES shared_report_schedules (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel ~ '^[a-z][a-z0-9_]{0,31}$'),
    -- What a person reads in the history: a Slack channel id, a webhook URL, user@host:port/dir.
    target          text NOT NULL CHECK (length(target) BETWEEN 1 AND 2048),
    label           text CHECK (length(label) <= 200),
    -- Everything but the secret, as the API accepted it.
    config          jsonb NOT NULL DEFAULT '{}',
    -- A Fernet token (CREDENTIALS_KEYS); never returned by the API.
    secret          text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX shared_report_destinations_unique
    ON shared_report_destinations (organization_id, coalesce(schedule_id, '00000000-0000-0000-0000-000000000000'),
                                   channel, target);
CREATE INDEX shared_report_destinations_schedule_idx ON shared_report_destinations (schedule_id, channel, target);

-- An organization's credential for a whole channel (the Slack bot token), encrypted like the above.
CREATE TABLE shared_report_channel_credentials (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel ~ '^[a-z][a-z0-9_]{0,31}$'),
    secret          text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, channel)
);

-- Channels beyond email and Telegram that a schedule delivers to.
ALTER TABLE shared_report_schedules ADD COLUMN channels text[] NOT NULL DEFAULT '{}';

-- The delivery log takes any channel's name; the channel registry, not the schema, says which exist.
ALTER TABLE shared_report_notifications DROP CONSTRAINT shared_report_notifications_channel_check;
ALTER TABLE shared_report_notifications
    ADD CONSTRAINT shared_report_notifications_channel_check CHECK (channel ~ '^[a-z][a-z0-9_]{0,31}$'),
    ADD COLUMN destination_id uuid;
