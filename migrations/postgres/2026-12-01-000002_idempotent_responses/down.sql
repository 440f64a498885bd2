DROP INDEX idempotency_keys_created_at_idx;
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_response_status_http,
    DROP CONSTRAINT idempotency_keys_response_complete,
    DROP COLUMN response_body,
    DROP COLUMN response_status;
