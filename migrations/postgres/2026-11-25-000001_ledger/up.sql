-- Ledger schema: organizations and their balances, users and their API tokens, invoices,
-- payments, the append-only balance log and the self-generated webhook secret.
--
-- Money is stored as BIGINT minor units (kopecks, cents): integer arithmetic is exact, and the
-- domain crate converts with Money::to_minor_units / from_minor_units. Every instant is a
-- timestamptz; every table has created_at/updated_at (balance_log is never updated, so it has
-- created_at only). Constraints are named so errors and later migrations can refer to them.

-- Accounts (tenants). Bank webhooks find an organization by its INN.
CREATE TABLE organizations (
    id            uuid        NOT NULL,
    inn           text        NOT NULL,
    name          text        NOT NULL,
    country       text        NOT NULL DEFAULT 'RU',
    currency      text        NOT NULL DEFAULT 'RUB',
    balance_minor bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_inn_key UNIQUE (inn),
    CONSTRAINT organizations_inn_digits CHECK (inn ~ '^([0-9]{10}|[0-9]{12})$'),
    CONSTRAINT organizations_country_code CHECK (country ~ '^[A-Z]{2}$'),
    CONSTRAINT organizations_currency_code CHECK (currency ~ '^[A-Z]{3}$'),
    -- The last line of defence: the domain refuses debits below zero before we get here.
    CONSTRAINT organizations_balance_non_negative CHECK (balance_minor >= 0)
);

-- People and systems holding API tokens. A member belongs to exactly one organization; staff
-- operate the service and belong to none. Tokens take their role and organization from here.
CREATE TABLE users (
    id              uuid        NOT NULL,
    role            text        NOT NULL,
    organization_id uuid        NULL,
    name            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_role_known CHECK (role IN ('member', 'staff')),
    CONSTRAINT users_member_has_organization
        CHECK ((role = 'member') = (organization_id IS NOT NULL)),
    CONSTRAINT users_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT
);

CREATE INDEX users_organization_id_idx ON users (organization_id);

-- What an organization owes. Manual payments are made against pending invoices; approving one
-- marks the invoice paid. The amount's currency is the invoice's own.
CREATE TABLE invoices (
    id              uuid        NOT NULL,
    organization_id uuid        NOT NULL,
    number          text        NOT NULL,
    amount_minor    bigint      NOT NULL,
    currency        text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    due_date        date        NULL,
    paid_at         timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoices_pkey PRIMARY KEY (id),
    CONSTRAINT invoices_number_key UNIQUE (number),
    CONSTRAINT invoices_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT invoices_amount_positive CHECK (amount_minor > 0),
    CONSTRAINT invoices_currency_code CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT invoices_status_known CHECK (
        status IN ('draft', 'pending', 'paid', 'void', 'uncollectible')),
    -- paid_at is the time of the approval that paid it, and only paid invoices have one.
    CONSTRAINT invoices_paid_at_iff_paid CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);

CREATE INDEX invoices_organization_id_created_at_idx ON invoices (organization_id, created_at);

-- Payments of every method. A bank-webhook payment carries the bank's operation_id (the
-- dedup key: its unique constraint decides which of several concurrent deliveries wins) and
-- the document number and date.
CREATE TABLE payments (
    id                    uuid        NOT NULL,
    organization_id       uuid        NOT NULL,
    -- Manual payments are made against an invoice; bank-webhook payments have none.
    invoice_id            uuid        NULL,
    amount_minor          bigint      NOT NULL,
    currency              text        NOT NULL,
    payment_method        text        NOT NULL,
    status                text        NOT NULL,
    transaction_reference text        NULL,
    notes                 text        NULL,
    failure_reason        text        NULL,
    admin_notes           text        NULL,
    operation_id          uuid        NULL,
    document_number       text        NULL,
    document_date         timestamptz NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- When the payment reached a final outcome (succeeded on arrival, approved, rejected).
    processed_at          timestamptz NULL,
    CONSTRAINT payments_pkey PRIMARY KEY (id),
    CONSTRAINT payments_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT payments_invoice_id_fkey FOREIGN KEY (invoice_id)
        REFERENCES invoices (id) ON DELETE RESTRICT,
    CONSTRAINT payments_amount_positive CHECK (amount_minor > 0),
    CONSTRAINT payments_currency_code CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT payments_payment_method_known CHECK (
        payment_method IN ('bank_transfer', 'local_wallet', 'card', 'paypal', 'manual')),
    CONSTRAINT payments_status_known CHECK (
        status IN ('pending', 'pending_approval', 'processing', 'succeeded', 'failed',
                   'refunded', 'cancelled')),
    CONSTRAINT payments_operation_id_key UNIQUE (operation_id)
);

-- An organization's payments, newest first, is the billing list's query; staff list every
-- organization's payments the same way; ?invoice_id= filters by invoice.
CREATE INDEX payments_organization_id_created_at_idx ON payments (organization_id, created_at);
CREATE INDEX payments_created_at_idx ON payments (created_at);
CREATE INDEX payments_invoice_id_idx ON payments (invoice_id);

-- One entry per balance change. seq gives the order of changes (the balance row lock makes
-- them strictly sequential per organization).
CREATE TABLE balance_log (
    seq                    bigint GENERATED ALWAYS AS IDENTITY,
    id                     uuid        NOT NULL,
    organization_id        uuid        NOT NULL,
    payment_id             uuid        NOT NULL,
    previous_balance_minor bigint      NOT NULL,
    new_balance_minor      bigint      NOT NULL,
    -- Signed: positive for a credit, negative for a debit.
    delta_minor            bigint      NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT balance_log_pkey PRIMARY KEY (seq),
    CONSTRAINT balance_log_id_key UNIQUE (id),
    CONSTRAINT balance_log_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT balance_log_payment_id_fkey FOREIGN KEY (payment_id)
        REFERENCES payments (id) ON DELETE RESTRICT,
    CONSTRAINT balance_log_balances_non_negative
        CHECK (previous_balance_minor >= 0 AND new_balance_minor >= 0),
    CONSTRAINT balance_log_delta_matches
        CHECK (new_balance_minor - previous_balance_minor = delta_minor)
);

CREATE INDEX balance_log_organization_id_seq_idx ON balance_log (organization_id, seq);

-- The log is append-only, enforced by the database itself: no UPDATE, DELETE or TRUNCATE.
CREATE FUNCTION balance_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'balance_log is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER balance_log_append_only
    BEFORE UPDATE OR DELETE ON balance_log
    FOR EACH ROW EXECUTE FUNCTION balance_log_refuse_change();

CREATE TRIGGER balance_log_no_truncate
    BEFORE TRUNCATE ON balance_log
    FOR EACH STATEMENT EXECUTE FUNCTION balance_log_refuse_change();

-- API tokens: only the SHA-256 of a token is stored. Role and organization are the user's, so
-- they cannot disagree between two tokens of one user.
CREATE TABLE api_tokens (
    id         uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    token_hash text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz NULL,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE RESTRICT
);

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

-- The webhook secret a fresh installation generates for itself (row 'default'). The primary
-- key makes the first of several concurrently starting instances win.
CREATE TABLE webhook_secrets (
    name       text        NOT NULL,
    secret     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_secrets_pkey PRIMARY KEY (name),
    CONSTRAINT webhook_secrets_secret_not_empty CHECK (secret <> '')
);
