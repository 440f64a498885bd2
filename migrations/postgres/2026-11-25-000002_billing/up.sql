-- Billing schema: the payment-method catalogue, per-organization overrides, idempotency keys
-- of manual payments, the one-pending-payment-per-invoice rule, and the default catalogue.

-- The catalogue: how each method is offered in a country ('*' = every country without a row
-- of its own). details is jsonb: it is shown to payers as a JSON object, jsonb refuses invalid
-- JSON on write and lets operators query it; the adapter maps it through its DbJson SQL type.
CREATE TABLE payment_method_configs (
    id             uuid        NOT NULL,
    country_code   text        NOT NULL,
    payment_method text        NOT NULL,
    enabled        boolean     NOT NULL DEFAULT TRUE,
    display_name   text        NOT NULL,
    instructions   text        NOT NULL DEFAULT '',
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    sort_order     integer     NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_method_configs_pkey PRIMARY KEY (id),
    CONSTRAINT payment_method_configs_country_code_payment_method_key
        UNIQUE (country_code, payment_method),
    CONSTRAINT payment_method_configs_country_code_valid
        CHECK (country_code = '*' OR country_code ~ '^[A-Z]{2}$'),
    CONSTRAINT payment_method_configs_payment_method_known CHECK (
        payment_method IN ('bank_transfer', 'local_wallet', 'card', 'paypal', 'manual')),
    CONSTRAINT payment_method_configs_details_object CHECK (jsonb_typeof(details) = 'object')
);

-- An organization's own setting for a method: switch it off (or on, when the catalogue row
-- exists but is disabled) and mark its default.
CREATE TABLE account_payment_methods (
    organization_id uuid        NOT NULL,
    payment_method  text        NOT NULL,
    is_enabled      boolean     NOT NULL DEFAULT TRUE,
    is_default      boolean     NOT NULL DEFAULT FALSE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_payment_methods_pkey PRIMARY KEY (organization_id, payment_method),
    CONSTRAINT account_payment_methods_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT account_payment_methods_payment_method_known CHECK (
        payment_method IN ('bank_transfer', 'local_wallet', 'card', 'paypal', 'manual'))
);

-- At most one default per organization; the adapter clears the others in the same
-- transaction, this index is the backstop.
CREATE UNIQUE INDEX account_payment_methods_one_default
    ON account_payment_methods (organization_id) WHERE is_default;

-- Idempotency-Key of manual payments, per organization. The row is claimed first in the
-- submitting transaction (the primary key decides races), so a concurrent twin waits for the
-- owner to commit and then replays its payment. payment_id is set before the owner commits;
-- a refused submission rolls the claim back.
CREATE TABLE idempotency_keys (
    organization_id     uuid        NOT NULL,
    key                 text        NOT NULL,
    -- SHA-256 hex of the request's meaning (ManualPaymentRequest::fingerprint).
    request_fingerprint text        NOT NULL,
    payment_id          uuid        NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (organization_id, key),
    CONSTRAINT idempotency_keys_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_payment_id_fkey FOREIGN KEY (payment_id)
        REFERENCES payments (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_request_fingerprint_sha256
        CHECK (request_fingerprint ~ '^[0-9a-f]{64}$')
);

-- The old system let several payments of one invoice wait for approval at once (and approved
-- them all). The adapter maps a violation of this index to PendingPaymentExists by its name.
CREATE UNIQUE INDEX payments_one_pending_approval_per_invoice
    ON payments (invoice_id) WHERE status = 'pending_approval';

-- The default catalogue, so a fresh installation can take payments. The account data is
-- EXAMPLE data (details.example = true): replace it through the admin API before going live.
INSERT INTO payment_method_configs
    (id, country_code, payment_method, enabled, display_name, instructions, details, sort_order)
VALUES
    ('6f1d0c52-5b7e-4f1e-9a36-000000000001', '*', 'bank_transfer', TRUE, 'Bank transfer',
     'Transfer the invoice amount to the account your account manager gave you. Put the invoice number in the payment reference; the payment is credited after staff check it.',
     '{}'::jsonb, 10),
    ('6f1d0c52-5b7e-4f1e-9a36-000000000002', 'RU', 'bank_transfer', TRUE, 'Банковский перевод',
     'Переведите сумму счёта по реквизитам ниже. В назначении платежа укажите номер счёта и ИНН вашей организации. Платёж зачисляется после проверки сотрудником.',
     '{"example": true, "note": "ПРИМЕР: замените реквизиты на реальные до запуска.", "bank_name": "АО «Пример Банк»", "bik": "044525000", "correspondent_account": "30101810000000000000", "settlement_account": "40702810000000000000", "recipient_name": "ООО «Пример»", "recipient_inn": "7700000000"}'::jsonb, 10),
    ('6f1d0c52-5b7e-4f1e-9a36-000000000003', 'RU', 'local_wallet', TRUE, 'СБП / ЮMoney',
     'Оплатите сумму счёта через СБП по номеру телефона или на кошелёк ЮMoney, указанные ниже. В комментарии к переводу укажите номер счёта. Платёж зачисляется после проверки сотрудником.',
     '{"example": true, "note": "ПРИМЕР: замените реквизиты на реальные до запуска.", "sbp_phone": "+7 900 000-00-00", "sbp_bank": "Пример Банк", "yoomoney_wallet": "4100000000000000"}'::jsonb, 20),
    ('6f1d0c52-5b7e-4f1e-9a36-000000000004', 'KZ', 'local_wallet', TRUE, 'Kaspi',
     'Переведите сумму счёта через Kaspi по номеру телефона ниже и укажите номер счёта в комментарии. Платёж зачисляется после проверки сотрудником.',
     '{"example": true, "note": "EXAMPLE: replace with real details before going live.", "kaspi_phone": "+7 700 000-00-00", "recipient_name": "Example LLP"}'::jsonb, 20)
;
