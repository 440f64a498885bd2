-- Ledger schema for SQLite: the same tables as the PostgreSQL migration.
--
-- Differences, and why:
-- * STRICT tables (SQLite >= 3.37), so a column holds only its declared type.
-- * Money is INTEGER minor units (64-bit), exactly as on PostgreSQL.
-- * UUIDs are TEXT, hyphenated lower case (36 characters).
-- * Instants are TEXT, fixed-width RFC 3339 UTC with microseconds
--   ('2026-11-25T10:00:00.000000Z'), so text order is time order. The application writes them;
--   the defaults below produce the same format.
-- * Dates (invoices.due_date) are TEXT 'YYYY-MM-DD', checked by date() round-tripping.
-- * balance_log.seq is INTEGER PRIMARY KEY AUTOINCREMENT (never reused, even after a rollback
--   of the newest row).
-- Foreign keys are enforced because every connection sets PRAGMA foreign_keys = ON.

CREATE TABLE organizations (
    id            TEXT    NOT NULL,
    inn           TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    country       TEXT    NOT NULL DEFAULT 'RU',
    currency      TEXT    NOT NULL DEFAULT 'RUB',
    balance_minor INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_inn_key UNIQUE (inn),
    CONSTRAINT organizations_id_uuid CHECK (length(id) = 36),
    CONSTRAINT organizations_inn_digits CHECK (
        length(inn) IN (10, 12) AND inn NOT GLOB '*[^0-9]*'),
    CONSTRAINT organizations_country_code CHECK (
        length(country) = 2 AND country NOT GLOB '*[^A-Z]*'),
    CONSTRAINT organizations_currency_code CHECK (
        length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    -- The last line of defence: the domain refuses debits below zero before we get here.
    CONSTRAINT organizations_balance_non_negative CHECK (balance_minor >= 0)
) STRICT;

-- People and systems holding API tokens. A member belongs to exactly one organization; staff
-- operate the service and belong to none. Tokens take their role and organization from here.
CREATE TABLE users (
    id              TEXT NOT NULL,
    role            TEXT NOT NULL,
    organization_id TEXT NULL,
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_role_known CHECK (role IN ('member', 'staff')),
    CONSTRAINT users_member_has_organization
        CHECK ((role = 'member') = (organization_id IS NOT NULL)),
    CONSTRAINT users_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT
) STRICT;

CREATE INDEX users_organization_id_idx ON users (organization_id);

-- What an organization owes. Manual payments are made against pending invoices; approving one
-- marks the invoice paid. The amount's currency is the invoice's own.
CREATE TABLE invoices (
    id              TEXT    NOT NULL,
    organization_id TEXT    NOT NULL,
    number          TEXT    NOT NULL,
    amount_minor    INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    due_date        TEXT    NULL,
    paid_at         TEXT    NULL,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT invoices_pkey PRIMARY KEY (id),
    CONSTRAINT invoices_number_key UNIQUE (number),
    CONSTRAINT invoices_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT invoices_amount_positive CHECK (amount_minor > 0),
    CONSTRAINT invoices_currency_code CHECK (
        length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    CONSTRAINT invoices_status_known CHECK (
        status IN ('draft', 'pending', 'paid', 'void', 'uncollectible')),
    -- 'YYYY-MM-DD' shape: date() returns NULL or other text for anything else.
    CONSTRAINT invoices_due_date_format CHECK (due_date IS NULL OR date(due_date) = due_date),
    -- paid_at is the time of the approval that paid it, and only paid invoices have one.
    CONSTRAINT invoices_paid_at_iff_paid CHECK ((status = 'paid') = (paid_at IS NOT NULL))
) STRICT;

CREATE INDEX invoices_organization_id_created_at_idx ON invoices (organization_id, created_at);

-- Payments of every method. operation_id is the bank's dedup key; its unique constraint
-- decides which of several concurrent deliveries wins.
CREATE TABLE payments (
    id                    TEXT    NOT NULL,
    organization_id       TEXT    NOT NULL,
    -- Manual payments are made against an invoice; bank-webhook payments have none.
    invoice_id            TEXT    NULL,
    amount_minor          INTEGER NOT NULL,
    currency              TEXT    NOT NULL,
    payment_method        TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    transaction_reference TEXT    NULL,
    notes                 TEXT    NULL,
    failure_reason        TEXT    NULL,
    admin_notes           TEXT    NULL,
    operation_id          TEXT    NULL,
    document_number       TEXT    NULL,
    document_date         TEXT    NULL,
    created_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at            TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    -- When the payment reached a final outcome (succeeded on arrival, approved, rejected).
    processed_at          TEXT    NULL,
    CONSTRAINT payments_pkey PRIMARY KEY (id),
    CONSTRAINT payments_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT payments_invoice_id_fkey FOREIGN KEY (invoice_id)
        REFERENCES invoices (id) ON DELETE RESTRICT,
    CONSTRAINT payments_amount_positive CHECK (amount_minor > 0),
    CONSTRAINT payments_currency_code CHECK (
        length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    CONSTRAINT payments_payment_method_known CHECK (
        payment_method IN ('bank_transfer', 'local_wallet', 'card', 'paypal', 'manual')),
    CONSTRAINT payments_status_known CHECK (
        status IN ('pending', 'pending_approval', 'processing', 'succeeded', 'failed',
                   'refunded', 'cancelled')),
    CONSTRAINT payments_operation_id_key UNIQUE (operation_id)
) STRICT;

-- An organization's payments, newest first, is the billing list's query; staff list every
-- organization's payments the same way; ?invoice_id= filters by invoice.
CREATE INDEX payments_organization_id_created_at_idx ON payments (organization_id, created_at);
CREATE INDEX payments_created_at_idx ON payments (created_at);
CREATE INDEX payments_invoice_id_idx ON payments (invoice_id);

-- One entry per balance change, in seq order.
CREATE TABLE balance_log (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    id                     TEXT    NOT NULL,
    organization_id        TEXT    NOT NULL,
    payment_id             TEXT    NOT NULL,
    previous_balance_minor INTEGER NOT NULL,
    new_balance_minor      INTEGER NOT NULL,
    -- Signed: positive for a credit, negative for a debit.
    delta_minor            INTEGER NOT NULL,
    created_at             TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT balance_log_id_key UNIQUE (id),
    CONSTRAINT balance_log_organization_id_fkey FOREIGN KEY (organization_id)
        REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT balance_log_payment_id_fkey FOREIGN KEY (payment_id)
        REFERENCES payments (id) ON DELETE RESTRICT,
    CONSTRAINT balance_log_balances_non_negative
        CHECK (previous_balance_minor >= 0 AND new_balance_minor >= 0),
    CONSTRAINT balance_log_delta_matches
        CHECK (new_balance_minor - previous_balance_minor = delta_minor)
) STRICT;

CREATE INDEX balance_log_organization_id_seq_idx ON balance_log (organization_id, seq);

-- The log is append-only, enforced by the database itself.
CREATE TRIGGER balance_log_no_update BEFORE UPDATE ON balance_log
BEGIN
    SELECT RAISE(ABORT, 'balance_log is append-only: UPDATE refused');
END;

CREATE TRIGGER balance_log_no_delete BEFORE DELETE ON balance_log
BEGIN
    SELECT RAISE(ABORT, 'balance_log is append-only: DELETE refused');
END;

-- API tokens: only the SHA-256 of a token is stored. Role and organization are the user's, so
-- they cannot disagree between two tokens of one user.
CREATE TABLE api_tokens (
    id         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    revoked_at TEXT NULL,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE RESTRICT
) STRICT;

CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);

-- The webhook secret a fresh installation generates for itself (row 'default'). The primary
-- key makes the first of several concurrently starting instances win.
CREATE TABLE webhook_secrets (
    name       TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT webhook_secrets_pkey PRIMARY KEY (name),
    CONSTRAINT webhook_secrets_secret_not_empty CHECK (secret <> '')
) STRICT;
