"""Every SQL statement the consumer runs. Those with many parameters name them (shared/sqlbind.py)."""

from shared.sqlbind import Named

# A run is held by one worker at a time: a running run is claimable only once its lease has lapsed, and only by
# a message naming the run's own schedule ($4). The claim also reads that schedule and its link, as they are now
# (an edit made after the enqueue is honoured), in the same round trip.
CLAIM_RUN = """
WITH claimed AS (
    UPDATE shared_report_runs
    SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now()), error = NULL,
        lease_token = $2, lease_expires_at = now() + make_interval(secs => $3)
    WHERE id = $1 AND schedule_id = $4
      AND (status = 'queued' OR (status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
    RETURNING id, schedule_id, fire_at, trigger, attempts, coalesce(origin_run_id, id) AS origin
)
SELECT c.id, c.schedule_id, c.fire_at, c.trigger, c.attempts, c.origin,
       s.organization_id, s.shared_link_id, s.name, s.timezone, s.format, s.extra_formats,
       s.skip_if_empty, s.min_rows, s.only_if_changed, s.require_fresh_within_seconds, s.fresh_wait_max_seconds,
       s.stale_action, s.subject_template, s.message_template, s.deleted_at, s.created_by, s.csv_formula_guard,
       l.slug, l.title, l.filters, l.revoked_at
FROM claimed c
JOIN shared_report_schedules s ON s.id = c.schedule_id
LEFT JOIN shared_links l ON l.id = s.shared_link_id
"""

RENEW_LEASE = """
UPDATE shared_report_runs SET lease_expires_at = now() + make_interval(secs => $3)
WHERE id = $1 AND lease_token = $2 AND status = 'running'
RETURNING true
"""

RUN_STATUS = """
SELECT status, schedule_id, extract(epoch FROM lease_expires_at - now())::float8 AS lease_left
FROM shared_report_runs WHERE id = $1
"""

# Before delivering, in one statement: intents an earlier try of this run or of any run of its chain left without
# an outcome become 'unconfirmed' (kind 'unconfirmed', one row each), and the recipients already served by this
# run or by the run it replays, or settled for good in this run (failed permanently, or maybe delivered by a
# provider whose answer was unclear), are listed (kind 'done'). The update does not change what the listing
# sees: an intent is neither sent nor settled.
DELIVERY_STATE = """
WITH unconfirmed AS (
    UPDATE shared_report_notifications SET status = 'unconfirmed'
    WHERE status = 'sending' AND run_id IN (SELECT id FROM shared_report_runs WHERE id = $2 OR origin_run_id = $2)
    RETURNING channel
)
SELECT 'unconfirmed' AS kind, channel, NULL AS recipient FROM unconfirmed
UNION ALL
SELECT DISTINCT 'done', n.channel, n.recipient
FROM shared_report_notifications n
JOIN shared_report_runs r ON r.id = n.run_id
WHERE (r.id = $2 OR r.origin_run_id = $2)
  AND (n.status = 'sent' OR (n.run_id = $1 AND ((n.payload->>'permanent')::boolean
                                                 OR (n.payload->>'maybe_delivered')::boolean)))
"""

# What the chain (the original run and its replays) did for each recipient: served, or maybe served (an intent
# whose outcome is unknown, or a send whose answer was lost or unclear).
CHAIN_OUTCOMES = """
SELECT n.channel, n.recipient, bool_or(n.status = 'sent') AS sent,
       bool_or(n.status = 'unconfirmed' OR coalesce((n.payload->>'unconfirmed')::boolean, false)) AS maybe,
       bool_or(n.status IN ('blocked_by_policy', 'unsubscribed')) AS withheld
FROM shared_report_notifications n
JOIN shared_report_runs r ON r.id = n.run_id
WHERE coalesce(r.origin_run_id, r.id) = (SELECT coalesce(origin_run_id, id) FROM shared_report_runs WHERE id = $1)
GROUP BY n.channel, n.recipient
"""

# Recipients served by this run's chain (the original run and its replays), and those this run ($2) settled as
# maybe delivered (a provider's unclear answer).
SERVED = """
SELECT count(DISTINCT (n.channel, n.recipient)) FILTER (WHERE n.status = 'sent') AS served,
       count(DISTINCT (n.channel, n.recipient))
           FILTER (WHERE n.run_id = $2 AND (n.payload->>'maybe_delivered')::boolean) AS maybe,
       -- Recipients not sent to on purpose by this run (consumer/gate.py): they do not count against it.
       count(DISTINCT (n.channel, n.recipient))
           FILTER (WHERE n.run_id = $2 AND n.status IN ('blocked_by_policy', 'unsubscribed')) AS gated
FROM shared_report_notifications n
JOIN shared_report_runs r ON r.id = n.run_id
WHERE (r.id = $1 OR r.origin_run_id = $1) AND (n.status = 'sent' OR n.run_id = $2)
"""

# The intent is written before the provider is called, so an outcome lost with the worker is visible.
RECORD_INTENT = Named("""
INSERT INTO shared_report_notifications
    (schedule_id, run_id, channel, recipient_user_id, email, telegram_chat_id, recipient, status, payload,
     destination_id)
VALUES (:schedule_id, :run_id, :channel, :user_id, :email, :chat_id, :recipient, 'sending', :payload,
        :destination_id)
RETURNING id
""")

RECORD_OUTCOME = """
UPDATE shared_report_notifications SET status = $2, telegram_chat_id = coalesce($3, telegram_chat_id), payload = $4
WHERE id = $1
"""

# A recipient not sent to on purpose (consumer/gate.py): logged once per run, never a delivery.
RECORD_GATED = Named("""
INSERT INTO shared_report_notifications
    (schedule_id, run_id, destination_id, channel, recipient_user_id, email, telegram_chat_id, recipient, status,
     payload)
SELECT :schedule_id, :run_id, :destination_id, :channel, :user_id, :email, :chat_id, :recipient, :status, :payload
WHERE NOT EXISTS (SELECT 1 FROM shared_report_notifications
                  WHERE run_id = :run_id AND channel = :channel AND recipient = :recipient AND status = :status)
""")

# The run's outcome and its schedule's last status in one statement, so one round trip records both; an intent
# of its chain still open (a try lost before it delivered, on a run that ends without delivering) is settled
# 'unconfirmed' in the same statement, and its channel returned.
FINISH_RUN = Named("""
WITH done AS (
    UPDATE shared_report_runs
    SET status = :status, row_count = :rows, byte_count = :size, filename = :filename, error = :error,
        finished_at = now(), lease_token = NULL, lease_expires_at = NULL, content_sha256 = :sha256, files = :files
    WHERE id = :run_id AND lease_token = :token AND status = 'running'
    RETURNING schedule_id, trigger
), schedule AS (
    -- Only the schedule's own fires say how the schedule is doing: a test run or a replay does not.
    UPDATE shared_report_schedules s SET last_run_status = :status
    FROM done
    WHERE s.id = done.schedule_id AND done.trigger = 'cron' AND (s.last_run_at IS NULL OR s.last_run_at <= :fire_at)
), settled AS (
    UPDATE shared_report_notifications n SET status = 'unconfirmed'
    FROM shared_report_runs r, done
    WHERE n.status = 'sending' AND r.id = n.run_id AND coalesce(r.origin_run_id, r.id) = :origin
    RETURNING n.channel
)
SELECT schedule_id, ARRAY(SELECT channel FROM settled) AS settled FROM done
""")

# The only_if_changed baseline: the file last sent by one of the schedule's own fires. Manual runs and replays
# are never the baseline (a test run sent to one person must not stop the team's report), and the run's own
# chain ($2, the run a replay repeats) is not compared with itself.
LAST_SENT_CONTENT = """
SELECT id, content_sha256 FROM shared_report_runs
WHERE schedule_id = $1 AND trigger = 'cron' AND id <> $2 AND status IN ('sent', 'partial')
  AND content_sha256 IS NOT NULL
ORDER BY finished_at DESC LIMIT 1
"""

RETRY_RUN = """
UPDATE shared_report_runs SET status = 'queued', error = $2, lease_token = NULL, lease_expires_at = NULL
WHERE id = $1 AND lease_token = $3 AND status = 'running'
"""

# Claimed before it is sent, so a retry after a lost answer cannot notify twice. Addressed to the owner of the
# run's own schedule (never one a message names) while they are a member of its organization; otherwise (the
# user was removed, or left) to the organization's owners and admins. One row per address; one row with a NULL
# email when there is nobody. No row: the notice was already claimed.
CLAIM_NOTICE = """
WITH claimed AS (
    UPDATE shared_report_runs SET notice_sent_at = now() WHERE id = $1 AND notice_sent_at IS NULL
    RETURNING schedule_id, trigger
), target AS (
    SELECT s.id AS schedule_id, c.trigger, s.name, s.organization_id, s.created_by,
           EXISTS (SELECT 1 FROM organization_members m
                   WHERE m.organization_id = s.organization_id AND m.user_id = s.created_by) AS owner_is_member
    FROM claimed c JOIN shared_report_schedules s ON s.id = c.schedule_id
)
SELECT t.name, t.schedule_id, t.trigger, a.email
FROM target t
LEFT JOIN LATERAL (
    SELECT DISTINCT u.email FROM organization_members m JOIN users u ON u.id = m.user_id
    WHERE m.organization_id = t.organization_id
      AND CASE WHEN t.owner_is_member THEN m.user_id = t.created_by ELSE m.role IN ('owner', 'admin') END
) a ON true
ORDER BY a.email
"""

MIGRATE_SCHEDULE_CHAT = """
UPDATE shared_report_schedule_recipients r SET telegram_chat_id = $2
FROM shared_report_schedules s
WHERE s.id = r.schedule_id AND s.organization_id = $3 AND r.telegram_chat_id = $1
  AND NOT EXISTS (SELECT 1 FROM shared_report_schedule_recipients x
                  WHERE x.schedule_id = r.schedule_id AND x.channel = 'telegram' AND x.telegram_chat_id = $2)
"""

MIGRATE_ORG_CHAT = """
UPDATE organization_notification_telegram_recipients SET telegram_chat_id = $2
WHERE telegram_chat_id = $1 AND organization_id = $3
"""

# The organization's statistics: when they were last updated (NULL when there are none), by the database clock.
STATS_UPDATED_AT = """
SELECT max(stats_updated_at) AS updated, now() AS now FROM videos_with_statistics_fast WHERE organization_id = $1
"""

# Waiting for fresh statistics is not a failed try: the attempt is given back.
WAIT_RUN = """
UPDATE shared_report_runs SET status = 'queued', attempts = greatest(attempts - 1, 0), error = $2,
    lease_token = NULL, lease_expires_at = NULL
WHERE id = $1 AND lease_token = $3 AND status = 'running'
"""

DESTINATION = """
SELECT id, organization_id, channel, target, config, secret FROM shared_report_destinations WHERE id = $1
"""

CHANNEL_CREDENTIAL = """
SELECT secret FROM shared_report_channel_credentials WHERE organization_id = $1 AND channel = $2
"""


# Failure notices (consumer/alerts.py): whom to tell, and the schedule's streak of failing fires.
NOTICE_SCHEDULE = """
SELECT s.id, s.name, s.organization_id, s.notify_on_failure, u.email AS owner_email,
       EXISTS (SELECT 1 FROM organization_members m
               WHERE m.organization_id = s.organization_id AND m.user_id = s.created_by) AS owner_is_member
FROM shared_report_schedules s LEFT JOIN users u ON u.id = s.created_by
WHERE s.id = $1
"""

NOTICE_ADMINS = """
SELECT u.email FROM organization_members m JOIN users u ON u.id = m.user_id
WHERE m.organization_id = $1 AND m.role IN ('owner', 'admin') AND u.email IS NOT NULL
ORDER BY u.email
"""

NOTICE_DESTINATIONS = """
SELECT id, channel, target FROM shared_report_destinations
WHERE organization_id = $1 AND id = ANY($2::uuid[]) AND channel IN ('slack', 'webhook')
"""

# One more failure of the streak; told now when nobody was, or the quiet window has passed since the last notice.
STREAK_FAILED = """
WITH streak AS (
    INSERT INTO shared_report_failure_streaks AS f (schedule_id, failures) VALUES ($1, 1)
    ON CONFLICT (schedule_id) DO UPDATE SET failures = f.failures + 1
    RETURNING f.failures, f.noticed_at, f.failing_since
)
SELECT failures, failing_since, noticed_at,
       (noticed_at IS NULL OR noticed_at <= now() - make_interval(secs => $2)) AS due
FROM streak
"""

STREAK_TOLD = """
UPDATE shared_report_failure_streaks SET noticed_at = now(), failures = 0
WHERE schedule_id = $1 AND (noticed_at IS NULL OR noticed_at <= now() - make_interval(secs => $2))
RETURNING true
"""

STREAK_RECOVERED = """
DELETE FROM shared_report_failure_streaks WHERE schedule_id = $1 RETURNING noticed_at, failing_since
"""


# One-off commands (consumer/cli.py).
LINK_BY_SLUG_OR_ID = "SELECT id, organization_id, filters, revoked_at FROM shared_links WHERE slug = $1 OR id = $2"

DEAD_LETTERS_NEWEST = """
SELECT id, run_id, job_id, error, attempts, failed_at, replayed_at, replay_count
FROM shared_report_dead_letters ORDER BY failed_at DESC LIMIT 500
"""

DEAD_LETTERS_NOT_REPLAYED = "SELECT id FROM shared_report_dead_letters WHERE replayed_at IS NULL ORDER BY failed_at"
