-- Idempotency-Key records of the JSON API's creating POSTs (the IETF Idempotency-Key draft):
-- one per user, route, scope (the topic for generate, '' otherwise) and key, kept 24 h. The
-- body's fingerprint tells a retry from a reuse; the first answer is kept to be replayed.
-- (The older idempotency_keys table still serves the web form's one-time keys.)
CREATE TABLE idempotency_requests (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    route       TEXT NOT NULL,
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- 'in_flight' while the first request runs; 'done' once its answer is stored.
    state       TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status      INTEGER,
    location    TEXT,
    body        TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, route, scope, key)
);
CREATE INDEX idempotency_requests_by_age ON idempotency_requests (created_at);
