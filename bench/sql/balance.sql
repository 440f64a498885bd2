-- The reference of balance reads: one indexed SELECT by INN.
-- pgbench -D base=<first INN> -D ninns=<how many INNs>
\set inn :base + random(0, :ninns - 1)
SELECT inn, balance_minor, currency FROM organizations WHERE inn = :inn::text;
