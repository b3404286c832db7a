-- payment/idempg: idempotency keys of payment notifications (IPNs, webhooks).
-- One row per provider transaction: owner is the delivery processing it,
-- '' once processed; a row whose expires_at has passed is free again.
-- Apply with your migration tool, or idempg.Migrate. Idempotent.
CREATE TABLE IF NOT EXISTS payment_idempotency (
    key        text        PRIMARY KEY CHECK (length(key) <= 200),
    owner      text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS payment_idempotency_expires_at ON payment_idempotency (expires_at);
