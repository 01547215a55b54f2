-- Housekeeping deletes nonces and idempotency keys past their retention in small batches; these
-- indexes let each batch find its rows without reading the tables whole (nonces that a revision
-- names are kept for ever, so the table itself keeps growing with the submissions).

CREATE INDEX nonce_expires_idx ON nonce (expires_at);
CREATE INDEX nonce_consumed_idx ON nonce (consumed_at) WHERE consumed_at IS NOT NULL;
CREATE INDEX idempotency_created_idx ON idempotency (created_at);
