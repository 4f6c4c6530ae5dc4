"""Every SQL statement the scheduler runs."""

from shared.sqlbind import Named

PEEK_DUE = """
SELECT id, organization_id, shared_link_id, cron_expression, timezone, next_run_at, misfire_policy,
       misfire_grace_seconds, jitter_seconds, send_email, send_telegram, channels, ends_at
FROM shared_report_schedules
WHERE enabled AND deleted_at IS NULL AND next_run_at <= $1
ORDER BY next_run_at
LIMIT $2
"""

# Replicas skip each other's locked rows instead of waiting: each due schedule is claimed by one tick.
CLAIM_DUE = PEEK_DUE + "FOR UPDATE SKIP LOCKED\n"

SCHEDULE_RECIPIENTS = """
SELECT r.schedule_id AS owner, r.channel, r.user_id, coalesce(r.email, u.email) AS email, r.telegram_chat_id,
       NULL::uuid AS destination_id, r.target
FROM shared_report_schedule_recipients r
LEFT JOIN users u ON u.id = r.user_id
WHERE r.schedule_id = ANY($1::uuid[])
UNION ALL
SELECT d.schedule_id, d.channel, NULL, NULL, NULL, d.id, d.target
FROM shared_report_destinations d
WHERE d.schedule_id = ANY($1::uuid[])
ORDER BY 1, 2, 7
"""

ORG_RECIPIENTS = """
SELECT e.organization_id AS owner, 'email' AS channel, e.user_id, coalesce(e.email, u.email) AS email,
       NULL::bigint AS telegram_chat_id, NULL::uuid AS destination_id, NULL::text AS target
FROM organization_notification_email_recipients e
LEFT JOIN users u ON u.id = e.user_id
WHERE e.organization_id = ANY($1::uuid[])
UNION ALL
SELECT t.organization_id, 'telegram', NULL, NULL, t.telegram_chat_id, NULL, NULL
FROM organization_notification_telegram_recipients t
WHERE t.organization_id = ANY($1::uuid[])
UNION ALL
SELECT d.organization_id, d.channel, NULL, NULL, NULL, d.id, d.target
FROM shared_report_destinations d
WHERE d.organization_id = ANY($1::uuid[]) AND d.schedule_id IS NULL
ORDER BY 1, 2, 4, 5, 7
"""

# One array per column, a run per index.
INSERT_RUNS = Named("""
INSERT INTO shared_report_runs
    (id, schedule_id, fire_at, trigger, status, job_id, message, defer_until, error, finished_at)
SELECT u.id, u.schedule_id, u.fire_at, 'cron', u.status, u.job_id, u.message::jsonb, u.defer_until, u.error,
       CASE WHEN u.status IN ('skipped', 'failed') THEN now() END
FROM unnest(:ids::uuid[], :schedule_ids::uuid[], :fire_ats::timestamptz[], :statuses::text[], :job_ids::text[],
            :messages::text[], :defer_untils::timestamptz[], :errors::text[])
     AS u(id, schedule_id, fire_at, status, job_id, message, defer_until, error)
ON CONFLICT (schedule_id, fire_at) WHERE trigger = 'cron' DO NOTHING
RETURNING id
""")

ADVANCE = """
UPDATE shared_report_schedules s
SET next_run_at = u.next_run_at,
    last_run_at = coalesce(u.last_run_at, s.last_run_at),
    last_run_status = coalesce(u.last_status, s.last_run_status)
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::text[])
     AS u(id, next_run_at, last_run_at, last_status)
WHERE s.id = u.id
"""

MARK_ENQUEUED = """
UPDATE shared_report_runs SET enqueued_at = now()
WHERE id = ANY($1::uuid[]) AND enqueued_at IS NULL
"""

# One page of queued runs after the (created_at, id) cursor: every pass reaches every run, whatever the count.
# A run known to have been enqueued is looked at without the grace (its job cannot still be on its way).
SWEEP_QUEUED = """
SELECT id, created_at, job_id, message, defer_until, enqueued_at IS NOT NULL AS enqueued
FROM shared_report_runs
WHERE status = 'queued' AND job_id IS NOT NULL AND message IS NOT NULL
  AND (enqueued_at IS NOT NULL OR created_at <= now() - make_interval(secs => $1))
  AND (created_at, id) > ($2::timestamptz, $3::uuid)
ORDER BY created_at, id
LIMIT $4
"""

# Running runs whose worker stopped renewing the lease are queued again; each page leaves the set.
TAKE_BACK = """
UPDATE shared_report_runs r
SET status = 'queued', lease_token = NULL, lease_expires_at = NULL,
    error = 'the worker running it was lost (lease expired at ' || to_char(r.lease_expires_at AT TIME ZONE 'UTC',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '); it runs again'
WHERE r.id IN (
    SELECT id FROM shared_report_runs
    WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY lease_expires_at NULLS FIRST
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING r.id, r.job_id, r.message, r.defer_until
"""

CHECK_LEASE_EXPIRED = """
SELECT id FROM shared_report_runs
WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now() - make_interval(secs => $1))
ORDER BY lease_expires_at NULLS FIRST LIMIT $2
"""
COUNT_LEASE_EXPIRED = """
SELECT count(*) FROM shared_report_runs
WHERE status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now() - make_interval(secs => $1))
"""

OVERDUE_RUNS = """
SELECT id FROM shared_report_runs
WHERE status = 'queued' AND coalesce(defer_until, created_at) < now() - make_interval(secs => $1)
ORDER BY created_at LIMIT $2
"""
COUNT_OVERDUE_RUNS = """
SELECT count(*) FROM shared_report_runs
WHERE status = 'queued' AND coalesce(defer_until, created_at) < now() - make_interval(secs => $1)
"""

OVERDUE_SCHEDULES = """
SELECT id FROM shared_report_schedules
WHERE enabled AND deleted_at IS NULL AND next_run_at < now() - make_interval(secs => $1)
ORDER BY next_run_at LIMIT $2
"""
COUNT_OVERDUE_SCHEDULES = """
SELECT count(*) FROM shared_report_schedules
WHERE enabled AND deleted_at IS NULL AND next_run_at < now() - make_interval(secs => $1)
"""

UNREPLAYED_DEAD_LETTERS = """
SELECT id FROM shared_report_dead_letters WHERE replayed_at IS NULL ORDER BY failed_at DESC LIMIT $1
"""
COUNT_UNREPLAYED_DEAD_LETTERS = "SELECT count(*) FROM shared_report_dead_letters WHERE replayed_at IS NULL"

SECONDS_UNTIL_DUE = """
SELECT extract(epoch FROM min(next_run_at) - now())::float8
FROM shared_report_schedules WHERE enabled AND deleted_at IS NULL
"""

# Queued runs whose job should be in Redis now: every one put on the queue, and one recorded but never enqueued
# once the tick's commit-to-enqueue moment ($1 seconds) has passed.
QUEUED_JOBS = """
SELECT id, job_id FROM shared_report_runs
WHERE status = 'queued' AND job_id IS NOT NULL
  AND (enqueued_at IS NOT NULL OR created_at < now() - make_interval(secs => $1))
"""

# Every stored channel credential, and how to write it back (row key, new token).
ROTATE_CREDENTIALS = (
    (
        "SELECT id AS key, secret FROM shared_report_destinations WHERE secret IS NOT NULL FOR UPDATE",
        "UPDATE shared_report_destinations SET secret = $2 WHERE id = $1",
    ),
    (
        "SELECT (organization_id, channel)::text AS key, secret FROM shared_report_channel_credentials FOR UPDATE",
        "UPDATE shared_report_channel_credentials SET secret = $2 WHERE (organization_id, channel)::text = $1",
    ),
)

# The addresses of an organization's members, lower-cased like a recipient's key.
MEMBER_EMAILS = """
SELECT lower(u.email) AS email FROM organization_members m JOIN users u ON u.id = m.user_id
WHERE m.organization_id = $1 AND u.email IS NOT NULL
"""


# Retention (producer/retention.py): each batch one short statement that skips rows others hold.
PRUNE_RUNS = """
WITH doomed AS (
    SELECT r.id FROM shared_report_runs r
    WHERE r.status IN ('sent', 'partial', 'failed', 'skipped', 'dead') AND r.finished_at < $1
      AND NOT EXISTS (SELECT 1 FROM shared_report_runs x
                      WHERE x.origin_run_id = r.id AND (x.finished_at IS NULL OR x.finished_at >= $1))
      AND NOT EXISTS (SELECT 1 FROM shared_report_dead_letters d WHERE d.run_id = r.id AND d.replayed_at IS NULL)
      AND r.id IS DISTINCT FROM (SELECT l.id FROM shared_report_runs l
                                 WHERE l.schedule_id = r.schedule_id AND l.trigger = 'cron'
                                   AND l.status IN ('sent', 'partial') AND l.content_sha256 IS NOT NULL
                                 ORDER BY l.finished_at DESC LIMIT 1)
    ORDER BY r.finished_at
    LIMIT $2
    FOR UPDATE OF r SKIP LOCKED
), gone AS (
    DELETE FROM shared_report_runs r USING doomed WHERE r.id = doomed.id RETURNING r.id
)
SELECT count(*) FROM gone
"""

NOTIFICATIONS_OF = """
SELECT count(*) FROM shared_report_notifications n
JOIN shared_report_runs r ON r.id = n.run_id
WHERE r.status IN ('sent', 'partial', 'failed', 'skipped', 'dead') AND r.finished_at < $1
"""


def _prune_older(table: str, column: str, key: str = "id") -> str:
    """One batch of `table` rows whose `column` is before $1, at most $2, skipping rows others hold."""
    return f"""
WITH doomed AS (
    SELECT {key} FROM {table} WHERE {column} < $1 ORDER BY {column} LIMIT $2
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM {table} t USING doomed WHERE t.{key} = doomed.{key} RETURNING 1
)
SELECT count(*) FROM gone
"""


PRUNE_DEAD_LETTERS = _prune_older("shared_report_dead_letters", "replayed_at")
# A deleted schedule stays readable and restorable for RETENTION_DAYS; then it goes, with its runs.
PRUNE_SCHEDULES = _prune_older("shared_report_schedules", "deleted_at")
# Expired idempotency keys (producer/retention.py says when). The row's own address is its key here,
# held by the lock until the delete.
PRUNE_IDEMPOTENCY_KEYS = _prune_older("shared_report_idempotency_keys", "created_at", "ctid")

# Audit rows older than AUDIT_RETENTION_DAYS; nothing else refers to them.
PRUNE_AUDIT = _prune_older("shared_report_audit_log", "created_at")
