-- Billing schema for SQLite: the same tables as the PostgreSQL migration.
--
-- Differences, and why:
-- * Booleans are INTEGER 0/1 (STRICT tables have no BOOLEAN), checked.
-- * details is TEXT holding a JSON object, checked with json_valid/json_type (SQLite has no
--   JSON column type; the adapter's DbJson SQL type reads and writes the text).

CREATE TABLE payment_method_configs (
    id             TEXT    NOT NULL,
    country_code   TEXT    NOT NULL,
    payment_method TEXT    NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    display_name   TEXT    NOT NULL,
    instructions   TEXT    NOT NULL DEFAULT '',
    details        TEXT    NOT NULL DEFAULT '{}',
    sort_order     INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT payment_method_configs_pkey PRIMARY KEY (id),
    CONSTRAINT payment_method_configs_country_code_payment_method_key
        UNIQUE (country_code, payment_method),
    CONSTRAINT payment_method_configs_country_code_valid CHECK (
        country_code = '*' OR (length(country_code) = 2 AND country_code NOT GLOB '*[^A-Z]*')),
    CONSTRAINT payment_method_configs_payment_method_known CHECK (
        payment_method IN ('bank_transfer', 'local_wallet', 'card', 'paypal', 'manual')),
    CONSTRAINT payment_method_configs_enabled_bool CHECK (enabled IN (0, 1)),
    CONSTRAINT payment_method_configs_sort_order_int32
        CHECK (sort_order BETWEEN -2147483648 AND 2147483647),
    CONSTRAINT payment_method_configs_details_object
        CHECK (json_valid(details) AND json_type(details) = 'object')
) STRICT;

-- An organization's own setting for a method.
CREATE TABLE account_payment_methods (
    organization_id TEXT    NOT NULL,
    payment_method  TEXT    NOT NULL,
    is_enabled      INTEGER NOT NULL DEFAULT 1,
    is_default      INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT account_payment_methods_pkey PRIMARY KEY (organization_id, payment_method),
    CONSTRAINT account_payment_methods_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT account_payment_methods_payment_method_known CHECK (
        payment_method IN ('bank_transfer', 'local_wallet', 'card', 'paypal', 'manual')),
    CONSTRAINT account_payment_methods_is_enabled_bool CHECK (is_enabled IN (0, 1)),
    CONSTRAINT account_payment_methods_is_default_bool CHECK (is_default IN (0, 1))
) STRICT;

-- At most one default per organization (backstop; the adapter clears the others).
CREATE UNIQUE INDEX account_payment_methods_one_default
    ON account_payment_methods (organization_id) WHERE is_default = 1;

-- Idempotency-Key of manual payments, per organization; claimed first in the submitting
-- transaction, payment_id set before it commits.
CREATE TABLE idempotency_keys (
    organization_id     TEXT NOT NULL,
    key                 TEXT NOT NULL,
    -- SHA-256 hex of the request's meaning (ManualPaymentRequest::fingerprint).
    request_fingerprint TEXT NOT NULL,
    payment_id          TEXT NULL,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (organization_id, key),
    CONSTRAINT idempotency_keys_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_payment_id_fkey FOREIGN KEY (payment_id)
        REFERENCES payments (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_request_fingerprint_sha256 CHECK (
        length(request_fingerprint) = 64 AND request_fingerprint NOT GLOB '*[^0-9a-f]*')
) STRICT;

-- One payment per invoice may wait for approval. SQLite reports a violation by column
-- ("UNIQUE constraint failed: payments.invoice_id"), not by index name; the adapter's one
-- mapping helper knows both forms.
CREATE UNIQUE INDEX payments_one_pending_approval_per_invoice
    ON payments (invoice_id) WHERE status = 'pending_approval';

-- The default catalogue. The account data is EXAMPLE data (details.example = true): replace it
-- through the admin API before going live.
INSERT INTO payment_method_configs
    (id, country_code, payment_method, enabled, display_name, instructions, details, sort_order)
VALUES
    ('6f1d0c52-5b7e-4f1e-9a36-000000000001', '*', 'bank_transfer', 1, 'Bank transfer',
     'Transfer the invoice amount to the account your account manager gave you. Put the invoice number in the payment reference; the payment is credited after staff check it.',
     '{}', 10),
    ('6f1d0c52-5b7e-4f1e-9a36-000000000002', 'RU', 'bank_transfer', 1, 'Банковский перевод',
     'Переведите сумму счёта по реквизитам ниже. В назначении платежа укажите номер счёта и ИНН вашей организации. Платёж зачисляется после проверки сотрудником.',
     '{"example": true, "note": "ПРИМЕР: замените реквизиты на реальные до запуска.", "bank_name": "АО «Пример Банк»", "bik": "044525000", "correspondent_account": "30101810000000000000", "settlement_account": "40702810000000000000", "recipient_name": "ООО «Пример»", "recipient_inn": "7700000000"}', 10),
    ('6f1d0c52-5b7e-4f1e-9a36-000000000003', 'RU', 'local_wallet', 1, 'СБП / ЮMoney',
     'Оплатите сумму счёта через СБП по номеру телефона или на кошелёк ЮMoney, указанные ниже. В комментарии к переводу укажите номер счёта. Платёж зачисляется после проверки сотрудником.',
     '{"example": true, "note": "ПРИМЕР: замените реквизиты на реальные до запуска.", "sbp_phone": "+7 900 000-00-00", "sbp_bank": "Пример Банк", "yoomoney_wallet": "4100000000000000"}', 20),
    ('6f1d0c52-5b7e-4f1e-9a36-000000000004', 'KZ', 'local_wallet', 1, 'Kaspi',
     'Переведите сумму счёта через Kaspi по номеру телефона ниже и укажите номер счёта в комментарии. Платёж зачисляется после проверки сотрудником.',
     '{"example": true, "note": "EXAMPLE: replace with real details before going live.", "kaspi_phone": "+7 700 000-00-00", "recipient_name": "Example LLP"}', 20)
;
