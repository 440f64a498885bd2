-- The reference: the fastest one-statement-per-webhook formulation we could write. One
-- transaction per webhook: upsert the organization with the credit applied, insert the
-- payment under the unique operation_id, append the log row, all chained in CTEs.
-- (It skips the dedup verdict on a taken operation_id: every operation_id here is fresh.)
-- pgbench -D base=<first INN> -D ninns=<how many INNs>
\set inn :base + random(0, :ninns - 1)
WITH org AS (
    INSERT INTO organizations (id, inn, name, balance_minor)
    VALUES (gen_random_uuid(), :inn::text, 'INN ' || :inn, 1000)
    ON CONFLICT (inn) DO UPDATE
        SET balance_minor = organizations.balance_minor + 1000, updated_at = now()
    RETURNING id, balance_minor
), pay AS (
    INSERT INTO payments (id, organization_id, amount_minor, currency, payment_method, status,
                          transaction_reference, operation_id, document_number, document_date,
                          processed_at)
    SELECT gen_random_uuid(), org.id, 1000, 'RUB', 'bank_transfer', 'succeeded', 'PAY-1',
           gen_random_uuid(), 'PAY-1', now(), now()
    FROM org
    ON CONFLICT (operation_id) DO NOTHING
    RETURNING id, organization_id
)
INSERT INTO balance_log (id, organization_id, payment_id, previous_balance_minor,
                         new_balance_minor, delta_minor)
SELECT gen_random_uuid(), pay.organization_id, pay.id, org.balance_minor - 1000,
       org.balance_minor, 1000
FROM pay, org;
