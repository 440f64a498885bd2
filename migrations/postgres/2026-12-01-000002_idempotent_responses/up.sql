-- The first answer given under an idempotency key (status and body, byte for byte), replayed
-- to every repeat; and an index for the cleanup that forgets keys past their retention.
ALTER TABLE idempotency_keys
    ADD COLUMN response_status integer NULL,
    ADD COLUMN response_body   text    NULL,
    ADD CONSTRAINT idempotency_keys_response_complete
        CHECK ((response_status IS NULL) = (response_body IS NULL)),
    ADD CONSTRAINT idempotency_keys_response_status_http
        CHECK (response_status BETWEEN 100 AND 599);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
