-- Read-side tables. A deployment may already have them, so every statement tolerates their presence.

CREATE TABLE IF NOT EXISTS organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text NOT NULL UNIQUE,
    full_name   text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS organization_members (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    PRIMARY KEY (organization_id, user_id)
);

CREATE TABLE IF NOT EXISTS shared_links (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug            text NOT NULL UNIQUE,
    title           text NOT NULL DEFAULT '',
    filters         jsonb NOT NULL DEFAULT '{}',
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

CREATE TABLE IF NOT EXISTS videos (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title            text,
    video_url        text,
    platform         text,
    status           text,
    campaign_tag     text,
    channel_username text,
    published_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- Serves the export order (published_at DESC NULLS LAST, id) inside one organization.
CREATE INDEX IF NOT EXISTS videos_org_published_idx
    ON videos (organization_id, published_at DESC NULLS LAST, id);

CREATE TABLE IF NOT EXISTS video_statistics (
    video_id    uuid PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    views       bigint,
    likes       bigint,
    comments    bigint,
    reposts     bigint,
    updated_at  timestamptz
);

CREATE OR REPLACE VIEW videos_with_statistics_fast AS
SELECT v.id, v.organization_id, v.title, v.video_url, v.platform, v.status, v.campaign_tag,
       v.channel_username, v.published_at, v.created_at,
       s.views, s.likes, s.comments, s.reposts, s.updated_at AS stats_updated_at
FROM videos v
LEFT JOIN video_statistics s ON s.video_id = v.id;

CREATE TABLE IF NOT EXISTS organization_notification_email_recipients (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    email           text,
    CONSTRAINT org_email_recipient_one_target CHECK (num_nonnulls(user_id, email) = 1)
);

CREATE TABLE IF NOT EXISTS organization_notification_telegram_recipients (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    telegram_chat_id bigint NOT NULL,
    label            text
);
