-- Idempotency-Key on POST: the first answer to a key is kept for 24 hours and given again for the same
-- request, so a retried create or run-now does not happen twice. A row without a status is a request still
-- being answered. Keys belong to the caller that sent them (a user id, or 'service'); retention prunes them.
CREATE TABLE shared_report_idempotency_keys (
    caller       text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status       integer,
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);

CREATE INDEX shared_report_idempotency_keys_created_idx ON shared_report_idempotency_keys (created_at);
