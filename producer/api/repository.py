"""Every SQL statement of the API."""

from __future__ import annotations

SCHEDULE_COLUMNS = """
id, organization_id, shared_link_id, created_by, name, cadence, scheduled_time, day_of_week, day_of_month,
cron_expression, timezone, send_email, send_telegram, format, misfire_policy, misfire_grace_seconds,
jitter_seconds, skip_if_empty, min_rows, only_if_changed, require_fresh_within_seconds, fresh_wait_max_seconds,
stale_action, subject_template, message_template, channels, enabled, next_run_at, last_run_at, last_run_status,
created_at, updated_at, csv_formula_guard
"""

LINK = "SELECT id, organization_id, title FROM shared_links WHERE id = $1 AND revoked_at IS NULL"

SCHEDULE = f"SELECT {SCHEDULE_COLUMNS} FROM shared_report_schedules WHERE id = $1 AND deleted_at IS NULL"

SCHEDULE_FOR_UPDATE = SCHEDULE + " FOR UPDATE"

LIST_SCHEDULES = f"""
SELECT {SCHEDULE_COLUMNS} FROM shared_report_schedules
WHERE deleted_at IS NULL
  AND ($1::uuid[] IS NULL OR organization_id = ANY($1::uuid[]))
  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
ORDER BY created_at, id
LIMIT $4
"""

RECIPIENTS = """
SELECT id, schedule_id, channel, user_id, email, telegram_chat_id FROM shared_report_schedule_recipients
WHERE schedule_id = ANY($1::uuid[]) ORDER BY channel, target
"""

MEMBERS = """
SELECT user_id FROM organization_members WHERE organization_id = $1 AND user_id = ANY($2::uuid[])
"""

INSERT_SCHEDULE = f"""
INSERT INTO shared_report_schedules (organization_id, shared_link_id, created_by, name, cadence, scheduled_time,
    day_of_week, day_of_month, cron_expression, timezone, send_email, send_telegram, format, misfire_policy,
    misfire_grace_seconds, jitter_seconds, skip_if_empty, enabled, next_run_at, min_rows, only_if_changed,
    require_fresh_within_seconds, fresh_wait_max_seconds, stale_action, subject_template, message_template,
    channels, csv_formula_guard)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
        $24, $25, $26, $27, $28)
RETURNING {SCHEDULE_COLUMNS}
"""

UPDATE_SCHEDULE = f"""
UPDATE shared_report_schedules SET shared_link_id = $2, name = $3, cadence = $4, scheduled_time = $5,
    day_of_week = $6, day_of_month = $7, cron_expression = $8, timezone = $9, send_email = $10,
    send_telegram = $11, format = $12, misfire_policy = $13, misfire_grace_seconds = $14, jitter_seconds = $15,
    skip_if_empty = $16, enabled = $17, next_run_at = $18, min_rows = $19, only_if_changed = $20,
    require_fresh_within_seconds = $21, fresh_wait_max_seconds = $22, stale_action = $23,
    subject_template = $24, message_template = $25, channels = $26, csv_formula_guard = $27, updated_at = now()
WHERE id = $1
RETURNING {SCHEDULE_COLUMNS}
"""

DELETE_RECIPIENTS = "DELETE FROM shared_report_schedule_recipients WHERE schedule_id = $1"

INSERT_RECIPIENTS = """
INSERT INTO shared_report_schedule_recipients (schedule_id, channel, user_id, email, telegram_chat_id)
SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::text[], $5::bigint[])
"""

SOFT_DELETE = """
UPDATE shared_report_schedules SET deleted_at = now(), enabled = false, next_run_at = NULL, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
"""

RUNS = """
SELECT id, schedule_id, fire_at, trigger, status, attempts, row_count, byte_count, filename, error, enqueued_at,
       started_at, finished_at, created_at, requested_by, outside_recipients
FROM shared_report_runs
WHERE schedule_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $4
"""

NOTIFICATIONS = """
SELECT id, run_id, channel, recipient, destination_id, recipient_user_id, email, telegram_chat_id, status, payload,
       created_at
FROM shared_report_notifications WHERE run_id = ANY($1::uuid[]) ORDER BY created_at, id
"""

DEAD_LETTERS = """
SELECT id, run_id, organization_id, job_id, payload, error, attempts, failed_at, replayed_at, replay_count
FROM shared_report_dead_letters
WHERE ($1::uuid[] IS NULL OR organization_id = ANY($1::uuid[]))
  AND ($2::timestamptz IS NULL OR (failed_at, id) < ($2::timestamptz, $3::uuid))
ORDER BY failed_at DESC, id DESC
LIMIT $4
"""

DEAD_LETTER = """
SELECT d.id, d.organization_id, r.schedule_id
FROM shared_report_dead_letters d LEFT JOIN shared_report_runs r ON r.id = d.run_id
WHERE d.id = $1
"""

DESTINATION_COLUMNS = (
    "id, organization_id, schedule_id, channel, target, label, config, secret IS NOT NULL AS has_secret, created_at"
)

COUNT_DESTINATIONS = """
SELECT count(*) FROM shared_report_destinations
WHERE organization_id = $1 AND schedule_id IS NOT DISTINCT FROM $2
"""

INSERT_DESTINATION = f"""
INSERT INTO shared_report_destinations (organization_id, schedule_id, channel, target, label, config, secret)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {DESTINATION_COLUMNS}
"""

ENABLE_CHANNEL = """
UPDATE shared_report_schedules SET channels = array_append(channels, $2), updated_at = now()
WHERE id = $1 AND NOT ($2 = ANY(channels))
"""

LIST_DESTINATIONS = f"""
SELECT {DESTINATION_COLUMNS} FROM shared_report_destinations
WHERE ($1::uuid[] IS NULL OR organization_id = ANY($1::uuid[]))
  AND ($2::uuid IS NULL OR schedule_id = $2)
ORDER BY created_at, id
LIMIT 1000
"""

DESTINATION_OWNER = "SELECT organization_id FROM shared_report_destinations WHERE id = $1"

DELETE_DESTINATION = "DELETE FROM shared_report_destinations WHERE id = $1"

PUT_CREDENTIAL = """
INSERT INTO shared_report_channel_credentials (organization_id, channel, secret) VALUES ($1, $2, $3)
ON CONFLICT (organization_id, channel) DO UPDATE SET secret = excluded.secret, updated_at = now()
RETURNING updated_at
"""

CREDENTIAL_UPDATED = """
SELECT updated_at FROM shared_report_channel_credentials WHERE organization_id = $1 AND channel = $2
"""

DELETE_CREDENTIAL = "DELETE FROM shared_report_channel_credentials WHERE organization_id = $1 AND channel = $2"
