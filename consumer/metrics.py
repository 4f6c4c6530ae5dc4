"""Prometheus metrics of the consumer process."""

from prometheus_client import Counter, Histogram

RUNS = Counter("scheduled_reports_runs_finished_total", "Runs finished by the consumer", ["status"])
DELIVERIES = Counter("scheduled_reports_deliveries_total", "Delivery attempts per recipient", ["channel", "outcome"])
EXPORT_ROWS = Counter("scheduled_reports_export_rows_total", "Rows written to report files")
EXPORT_SECONDS = Histogram(
    "scheduled_reports_export_seconds",
    "Time to export one report",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
DEAD_LETTERS = Counter("scheduled_reports_dead_letters_total", "Messages dead-lettered")
RETRIES = Counter("scheduled_reports_job_retries_total", "Jobs sent back to the queue for a retry")
POISON = Counter(
    "scheduled_reports_poison_messages_total", "Queue entries that could not run, dead-lettered", ["reason"]
)
UNCONFIRMED = Counter(
    "scheduled_reports_deliveries_unconfirmed_total",
    "Sends whose outcome was lost (response lost in transit, or worker lost before recording); may duplicate",
    ["channel", "cause"],
)
LEASES_LOST = Counter("scheduled_reports_leases_lost_total", "Runs a worker stopped because it lost their lease")
NOTICES = Counter("scheduled_reports_failure_notices_total", "Failure notices to schedule creators", ["outcome"])
REDIS_RECONNECTS = Counter("scheduled_reports_worker_redis_reconnects_total", "Worker restarts after losing Redis")
