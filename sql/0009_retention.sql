-- Retention walks finished runs oldest first.
CREATE INDEX shared_report_runs_finished_idx ON shared_report_runs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX shared_report_dead_letters_replayed_idx ON shared_report_dead_letters (replayed_at)
    WHERE replayed_at IS NOT NULL;
