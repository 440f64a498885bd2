-- The ceiling: :batch webhooks in ONE statement (one transaction). Insert the payments, upsert
-- each organization once with the batch's sum (in INN order), and write one log row per payment
-- with running balances from a window function.
-- pgbench -D base=<first INN> -D ninns=<how many INNs> -D batch=<webhooks per statement>
WITH batch AS (
    SELECT g AS ord, gen_random_uuid() AS payment_id, gen_random_uuid() AS operation_id,
           (:base + floor(random() * :ninns))::bigint::text AS inn, 1000::bigint AS amount
    FROM generate_series(1, :batch) AS g
), org AS (
    INSERT INTO organizations (id, inn, name, balance_minor)
    SELECT gen_random_uuid(), inn, 'INN ' || inn, sum(amount)
    FROM batch GROUP BY inn ORDER BY inn
    ON CONFLICT (inn) DO UPDATE
        SET balance_minor = organizations.balance_minor + excluded.balance_minor,
            updated_at = now()
    RETURNING id, inn, balance_minor
), pay AS (
    INSERT INTO payments (id, organization_id, amount_minor, currency, payment_method, status,
                          transaction_reference, operation_id, document_number, document_date,
                          processed_at)
    SELECT b.payment_id, org.id, b.amount, 'RUB', 'bank_transfer', 'succeeded', 'PAY-1',
           b.operation_id, 'PAY-1', now(), now()
    FROM batch b JOIN org USING (inn)
    ORDER BY b.ord
    RETURNING id
), running AS (
    SELECT b.ord, b.payment_id, org.id AS organization_id, b.amount,
           org.balance_minor
             - sum(b.amount) OVER (PARTITION BY b.inn)
             + sum(b.amount) OVER (PARTITION BY b.inn ORDER BY b.ord) AS new_balance
    FROM batch b JOIN org USING (inn)
)
INSERT INTO balance_log (id, organization_id, payment_id, previous_balance_minor,
                         new_balance_minor, delta_minor)
SELECT gen_random_uuid(), organization_id, payment_id, new_balance - amount, new_balance, amount
FROM running
WHERE payment_id IN (SELECT id FROM pay)
ORDER BY ord;
