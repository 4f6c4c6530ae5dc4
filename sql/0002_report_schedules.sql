-- Tables owned by the scheduled-reports service.

-- Lets a schedule reference (link, organization) together so the two can never disagree.
CREATE UNIQUE INDEX IF NOT EXISTS shared_links_id_org_key ON shared_links (id, organization_id);

CREATE TABLE shared_report_schedules (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    shared_link_id        uuid NOT NULL,
    created_by            uuid REFERENCES users (id) ON DELETE SET NULL,
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    cadence               text NOT NULL
        CHECK (cadence IN ('daily', 'weekly', 'monthly', 'quarterly', 'custom')),
    scheduled_time        text CHECK (scheduled_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    day_of_week           smallint CHECK (day_of_week BETWEEN 0 AND 6),
    day_of_month          smallint CHECK (day_of_month BETWEEN 1 AND 28 OR day_of_month = -1),
    cron_expression       text NOT NULL CHECK (length(cron_expression) BETWEEN 1 AND 200),
    timezone              text NOT NULL DEFAULT 'UTC',
    send_email            boolean NOT NULL DEFAULT true,
    send_telegram         boolean NOT NULL DEFAULT false,
    format                text NOT NULL DEFAULT 'csv' CHECK (format IN ('csv', 'csv.zip')),
    misfire_policy        text NOT NULL DEFAULT 'fire_once'
        CHECK (misfire_policy IN ('fire_once', 'skip', 'fire_all')),
    misfire_grace_seconds integer NOT NULL DEFAULT 3600 CHECK (misfire_grace_seconds >= 0),
    jitter_seconds        integer NOT NULL DEFAULT 0 CHECK (jitter_seconds BETWEEN 0 AND 3600),
    skip_if_empty         boolean NOT NULL DEFAULT false,
    enabled               boolean NOT NULL DEFAULT true,
    next_run_at           timestamptz,
    last_run_at           timestamptz,
    last_run_status       text
        CHECK (last_run_status IN ('queued', 'running', 'sent', 'partial', 'failed', 'skipped', 'dead')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz,
    CONSTRAINT schedule_link_same_org FOREIGN KEY (shared_link_id, organization_id)
        REFERENCES shared_links (id, organization_id),
    CONSTRAINT schedule_custom_has_no_time CHECK ((cadence = 'custom') = (scheduled_time IS NULL)),
    CONSTRAINT schedule_weekday_only_weekly CHECK (day_of_week IS NULL OR cadence = 'weekly'),
    CONSTRAINT schedule_monthday_only_monthly
        CHECK (day_of_month IS NULL OR cadence IN ('monthly', 'quarterly'))
);

CREATE INDEX shared_report_schedules_due_idx
    ON shared_report_schedules (next_run_at) WHERE enabled AND deleted_at IS NULL;
CREATE INDEX shared_report_schedules_org_idx
    ON shared_report_schedules (organization_id, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE shared_report_schedule_recipients (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id      uuid NOT NULL REFERENCES shared_report_schedules (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('email', 'telegram')),
    user_id          uuid REFERENCES users (id) ON DELETE CASCADE,
    email            text CHECK (length(email) <= 320),
    telegram_chat_id bigint,
    target           text GENERATED ALWAYS AS
        (coalesce(user_id::text, lower(email), telegram_chat_id::text)) STORED,
    CONSTRAINT recipient_target_matches_channel CHECK (
        (channel = 'email' AND telegram_chat_id IS NULL AND num_nonnulls(user_id, email) = 1)
        OR (channel = 'telegram' AND telegram_chat_id IS NOT NULL AND user_id IS NULL AND email IS NULL)
    ),
    CONSTRAINT recipient_unique_target UNIQUE (schedule_id, channel, target)
);

-- At most 100 recipients per schedule, enforced where every writer passes.
CREATE FUNCTION shared_report_recipients_cap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM shared_report_schedules WHERE id = NEW.schedule_id FOR UPDATE;
    IF (SELECT count(*) FROM shared_report_schedule_recipients WHERE schedule_id = NEW.schedule_id) >= 100 THEN
        RAISE EXCEPTION 'a schedule has at most 100 recipients' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER shared_report_recipients_cap
    BEFORE INSERT ON shared_report_schedule_recipients
    FOR EACH ROW EXECUTE FUNCTION shared_report_recipients_cap();

CREATE TABLE shared_report_runs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id   uuid NOT NULL REFERENCES shared_report_schedules (id) ON DELETE CASCADE,
    fire_at       timestamptz NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('cron', 'manual', 'replay')),
    status        text NOT NULL
        CHECK (status IN ('queued', 'running', 'sent', 'partial', 'failed', 'skipped', 'dead')),
    attempts      integer NOT NULL DEFAULT 0,
    row_count     bigint,
    byte_count    bigint,
    filename      text,
    error         text,
    -- The exact queue message, kept so a sweep can re-enqueue a run whose enqueue was lost.
    job_id        text,
    message       jsonb,
    defer_until   timestamptz,
    -- A replay points at the run it repeats, so recipients served by either are not served again.
    origin_run_id uuid REFERENCES shared_report_runs (id) ON DELETE SET NULL,
    enqueued_at   timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- This constraint, not a lock, makes a scheduled fire happen at most once.
CREATE UNIQUE INDEX shared_report_runs_cron_once
    ON shared_report_runs (schedule_id, fire_at) WHERE trigger = 'cron';
CREATE INDEX shared_report_runs_history_idx ON shared_report_runs (schedule_id, created_at DESC, id);
CREATE INDEX shared_report_runs_queued_idx ON shared_report_runs (created_at) WHERE status = 'queued';
CREATE INDEX shared_report_runs_origin_idx ON shared_report_runs (origin_run_id) WHERE origin_run_id IS NOT NULL;

CREATE TABLE shared_report_notifications (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id       uuid NOT NULL REFERENCES shared_report_schedules (id) ON DELETE CASCADE,
    run_id            uuid NOT NULL REFERENCES shared_report_runs (id) ON DELETE CASCADE,
    channel           text NOT NULL CHECK (channel IN ('email', 'telegram')),
    recipient_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    email             text,
    telegram_chat_id  bigint,
    recipient         text NOT NULL,
    status            text NOT NULL CHECK (status IN ('sent', 'failed')),
    payload           jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- A retried run never re-sends to a recipient already served.
CREATE UNIQUE INDEX shared_report_notifications_sent_once
    ON shared_report_notifications (run_id, channel, recipient) WHERE status = 'sent';
CREATE INDEX shared_report_notifications_run_idx ON shared_report_notifications (run_id, created_at);

CREATE TABLE shared_report_dead_letters (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id          uuid REFERENCES shared_report_runs (id) ON DELETE SET NULL,
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    job_id          text NOT NULL,
    payload         jsonb NOT NULL,
    error           text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    failed_at       timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz,
    replay_count    integer NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX shared_report_dead_letters_run_once
    ON shared_report_dead_letters (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX shared_report_dead_letters_org_idx ON shared_report_dead_letters (organization_id, failed_at DESC);

-- Wakes sleeping producers when timing changes, so a new or edited schedule fires on time.
CREATE FUNCTION shared_report_schedules_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A constant payload lets PostgreSQL fold the notifications of one transaction into one.
    PERFORM pg_notify('shared_report_schedules', '');
    RETURN NULL;
END $$;

CREATE TRIGGER shared_report_schedules_notify
    AFTER INSERT OR UPDATE OF next_run_at, enabled, deleted_at ON shared_report_schedules
    FOR EACH ROW EXECUTE FUNCTION shared_report_schedules_notify();
