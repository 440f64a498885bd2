-- Reverts the billing schema (and drops the catalogue, including any edits to it).
DROP INDEX payments_one_pending_approval_per_invoice;
DROP TABLE idempotency_keys;
DROP TABLE account_payment_methods;
DROP TABLE payment_method_configs;
