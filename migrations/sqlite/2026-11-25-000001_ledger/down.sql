-- Reverts the ledger schema. Destroys every payment and balance: development use only.
DROP TABLE webhook_secrets;
DROP TABLE api_tokens;
DROP TRIGGER balance_log_no_delete;
DROP TRIGGER balance_log_no_update;
DROP TABLE balance_log;
DROP TABLE payments;
DROP TABLE invoices;
DROP TABLE users;
DROP TABLE organizations;
