-- Reverts the ledger schema. Destroys every payment and balance: development use only.
DROP TABLE webhook_secrets;
DROP TABLE api_tokens;
DROP TABLE balance_log;
DROP FUNCTION balance_log_refuse_change();
DROP TABLE payments;
DROP TABLE invoices;
DROP TABLE users;
DROP TABLE organizations;
