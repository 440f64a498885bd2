-- The first answer given under an idempotency key (status and body, byte for byte), replayed
-- to every repeat; and an index for the cleanup that forgets keys past their retention.
ALTER TABLE idempotency_keys ADD COLUMN response_status INTEGER NULL
    CHECK (response_status BETWEEN 100 AND 599);
ALTER TABLE idempotency_keys ADD COLUMN response_body TEXT NULL;

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
