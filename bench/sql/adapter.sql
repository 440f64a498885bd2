-- What the service's one-by-one path sends for one new webhook, statement by statement
-- (taken from the adapter's code and pg_stat_statements): the fast-path look-up, then one
-- transaction that creates the organization on first sight, locks it, inserts the payment,
-- stores the balance and appends the log. The uuids come from one extra SELECT (the service
-- makes them itself).
-- pgbench -D base=<first INN> -D ninns=<how many INNs>
\set inn :base + random(0, :ninns - 1)
SELECT gen_random_uuid() AS op, gen_random_uuid() AS pid, gen_random_uuid() AS oid,
       gen_random_uuid() AS lid \gset
SELECT p.id, p.amount_minor, p.currency, o.inn, p.document_number, p.document_date
  FROM payments p JOIN organizations o ON o.id = p.organization_id
 WHERE p.operation_id = :op LIMIT 1;
BEGIN;
INSERT INTO organizations (id, inn, name, country, currency, balance_minor, created_at, updated_at)
VALUES (:oid, :inn::text, 'INN ' || :inn, 'RU', 'RUB', 0, now(), now())
ON CONFLICT (inn) DO NOTHING;
SELECT id AS org_id, balance_minor AS balance FROM organizations WHERE inn = :inn::text
 LIMIT 1 FOR NO KEY UPDATE \gset
INSERT INTO payments (id, organization_id, invoice_id, amount_minor, currency, payment_method,
                      status, transaction_reference, notes, failure_reason, admin_notes,
                      operation_id, document_number, document_date, created_at, updated_at,
                      processed_at)
VALUES (:pid, :org_id, NULL, 1000, 'RUB', 'bank_transfer', 'succeeded', 'PAY-1', NULL,
        NULL, NULL, :op, 'PAY-1', now(), now(), now(), now())
ON CONFLICT (operation_id) DO NOTHING RETURNING id;
UPDATE organizations SET balance_minor = :balance + 1000, updated_at = now() WHERE id = :org_id;
INSERT INTO balance_log (id, organization_id, payment_id, previous_balance_minor,
                         new_balance_minor, delta_minor, created_at)
VALUES (:lid, :org_id, :pid, :balance, :balance + 1000, 1000, now());
COMMIT;
