"""Prometheus metrics of the producer process."""

from prometheus_client import Counter, Gauge, Histogram

TICKS = Counter("scheduled_reports_ticks_total", "Scheduler ticks run")
DUE = Counter("scheduled_reports_due_total", "Due schedules claimed")
RUNS = Counter("scheduled_reports_runs_created_total", "Runs created by the scheduler", ["status"])
ENQUEUED = Counter("scheduled_reports_jobs_enqueued_total", "Jobs newly put on the queue", ["source"])
TICK_SECONDS = Histogram("scheduled_reports_tick_seconds", "Duration of one tick")
LAST_TICK = Gauge("scheduled_reports_last_tick_timestamp_seconds", "Unix time the last tick finished")
FIRE_LAG = Histogram(
    "scheduled_reports_fire_lag_seconds",
    "From a run's nominal fire time to its job being enqueued",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
QUEUE_DEPTH = Gauge("scheduled_reports_queue_depth", "Jobs waiting in the queue")
TAKEN_BACK = Counter("scheduled_reports_runs_taken_back_total", "Running runs taken back after their lease expired")
SWEEP_LAST = Gauge("scheduled_reports_last_sweep_timestamp_seconds", "Unix time the last sweep finished")
INVARIANTS = Gauge(
    "scheduled_reports_invariant_violations",
    "Things the check command reports: runs stuck or overdue, queued runs without a job, unreplayed dead letters",
    ["check"],
)
ERRORS = Counter("scheduled_reports_loop_errors_total", "Scheduler loop passes that failed", ["kind"])
PRUNED = Counter("scheduled_reports_pruned_total", "Rows deleted by retention", ["table"])
CONSUMER_SEEN = Gauge(
    "scheduled_reports_queue_consumer_seen", "1 when a consumer reported on QUEUE_NAME in the last 6 s, else 0"
)
QUEUE_OLDEST_AGE = Gauge(
    "scheduled_reports_queue_oldest_age_seconds", "How long the oldest due job has waited on the queue"
)
