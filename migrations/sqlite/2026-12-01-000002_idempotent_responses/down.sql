DROP INDEX idempotency_keys_created_at_idx;
ALTER TABLE idempotency_keys DROP COLUMN response_body;
ALTER TABLE idempotency_keys DROP COLUMN response_status;
