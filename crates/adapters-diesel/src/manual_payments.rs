//! [`ManualPaymentStore`]: a member's manual payment, at most one waiting per invoice, with
//! its optional `Idempotency-Key`.
//!
//! The order (claim the key, decide, lock the invoice, plan, insert, link the key) is written
//! once in [`submit_uncommitted`]; the rules are the domain's
//! ([`payments_domain::idempotency::decide`], [`plan_manual_payment`]).

use async_trait::async_trait;
use diesel::prelude::*;
use payments_domain::billing::{plan_manual_payment, IdempotencyKey, ManualPaymentError};
use payments_domain::idempotency::{self, IdempotencyDecision, StoredIdempotencyKey};
use payments_domain::payment::Payment;
use payments_domain::ports::{ManualPaymentStore, ManualSubmission, SubmitError, SubmitOutcome};
use payments_domain::PaymentId;

use crate::pool::with_connection;
use crate::rows::{micros, InvoiceRow, NewPayment, PaymentRow};
use crate::schema::{idempotency_keys, payments};
use crate::sql_types::{SqlTimestamp, SqlUuid};
use crate::tx::{for_both_backends, violated_unique_key, with_retries, Abort, Locking, UniqueKey};
use crate::Database;

/// The queries of a manual payment, for one connection type.
pub(crate) trait ManualPaymentQueries: Locking {
    /// Claims `(organization, key)` with the request's fingerprint; `false` when another
    /// request holds it. A concurrent owner's uncommitted claim makes this wait (PostgreSQL)
    /// or was serialized before it (SQLite), so a `false` means a committed row.
    fn claim_idempotency_key(
        &mut self,
        organization_id: SqlUuid,
        key: &IdempotencyKey,
        fingerprint: &str,
        stamp: SqlTimestamp,
    ) -> QueryResult<bool>;

    /// What a claimed key holds.
    fn read_idempotency_key(
        &mut self,
        organization_id: SqlUuid,
        key: &IdempotencyKey,
    ) -> QueryResult<StoredIdempotencyKey>;

    /// The key now names its payment.
    fn link_idempotency_key(
        &mut self,
        organization_id: SqlUuid,
        key: &IdempotencyKey,
        payment_id: PaymentId,
        stamp: SqlTimestamp,
    ) -> QueryResult<()>;

    /// A payment by id.
    fn payment_by_id(&mut self, id: PaymentId) -> Result<Payment, Abort>;

    /// Inserts a new payment; the partial unique index refuses a second waiting one.
    fn insert_payment(&mut self, payment: &Payment) -> QueryResult<()>;
}

for_both_backends! {
    impl ManualPaymentQueries {
        fn claim_idempotency_key(
            &mut self,
            organization_id: SqlUuid,
            key: &IdempotencyKey,
            fingerprint: &str,
            stamp: SqlTimestamp,
        ) -> QueryResult<bool> {
            let claimed = diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::organization_id.eq(organization_id),
                    idempotency_keys::key.eq(key.as_str()),
                    idempotency_keys::request_fingerprint.eq(fingerprint),
                    idempotency_keys::payment_id.eq(None::<SqlUuid>),
                    idempotency_keys::created_at.eq(stamp),
                    idempotency_keys::updated_at.eq(stamp),
                ))
                .on_conflict((idempotency_keys::organization_id, idempotency_keys::key))
                .do_nothing()
                .execute(self)?;
            Ok(claimed > 0)
        }

        fn read_idempotency_key(
            &mut self,
            organization_id: SqlUuid,
            key: &IdempotencyKey,
        ) -> QueryResult<StoredIdempotencyKey> {
            // Keys are never deleted, and their owners commit them together with the
            // payment, so a plain read sees the finished row.
            let (fingerprint, payment_id) = idempotency_keys::table
                .find((organization_id, key.as_str()))
                .select((
                    idempotency_keys::request_fingerprint,
                    idempotency_keys::payment_id,
                ))
                .first::<(String, Option<SqlUuid>)>(self)?;
            Ok(StoredIdempotencyKey {
                fingerprint,
                payment_id: payment_id.map(|id| PaymentId(id.0)),
            })
        }

        fn link_idempotency_key(
            &mut self,
            organization_id: SqlUuid,
            key: &IdempotencyKey,
            payment_id: PaymentId,
            stamp: SqlTimestamp,
        ) -> QueryResult<()> {
            diesel::update(idempotency_keys::table.find((organization_id, key.as_str())))
                .set((
                    idempotency_keys::payment_id.eq(Some(SqlUuid(payment_id.0))),
                    idempotency_keys::updated_at.eq(stamp),
                ))
                .execute(self)
                .map(|_| ())
        }

        fn payment_by_id(&mut self, id: PaymentId) -> Result<Payment, Abort> {
            Ok(payments::table
                .find(SqlUuid(id.0))
                .select(PaymentRow::as_select())
                .first(self)?
                .into_domain()?)
        }

        fn insert_payment(&mut self, payment: &Payment) -> QueryResult<()> {
            diesel::insert_into(payments::table)
                .values(&NewPayment::of(payment))
                .execute(self)
                .map(|_| ())
        }
    }
}

/// The steps of [`ManualPaymentStore::submit_manual_payment`], inside the caller's write
/// transaction; every `Err` rolls back, the key's claim included.
pub(crate) fn submit_uncommitted<C: ManualPaymentQueries>(
    conn: &mut C,
    submission: &ManualSubmission,
) -> Result<SubmitOutcome, Abort> {
    let now = micros(submission.now);
    let stamp = SqlTimestamp(now);
    let organization_id = SqlUuid(submission.organization_id.0);

    // 1. Claim the key first, then let the domain decide with what it held.
    if let Some(key) = &submission.idempotency_key {
        let fingerprint = submission.request.fingerprint();
        let stored = if conn.claim_idempotency_key(organization_id, key, &fingerprint, stamp)? {
            None
        } else {
            Some(conn.read_idempotency_key(organization_id, key)?)
        };
        match idempotency::decide(&submission.request, stored.as_ref()) {
            IdempotencyDecision::New => {}
            IdempotencyDecision::Replay(payment_id) => {
                return Ok(SubmitOutcome::Replayed(conn.payment_by_id(payment_id)?));
            }
            IdempotencyDecision::Reused => {
                return Err(Abort::ManualPayment(
                    ManualPaymentError::IdempotencyKeyReused,
                ));
            }
            IdempotencyDecision::Dangling => {
                return Err(Abort::Corrupt(
                    "committed idempotency key without payment".into(),
                ));
            }
        }
    }

    // 2. The invoice, locked, and the rules.
    let invoice = conn
        .lock_invoice(SqlUuid(submission.request.invoice_id.0))?
        .map(InvoiceRow::into_domain)
        .transpose()?;
    let payment = plan_manual_payment(
        &submission.request,
        submission.organization_id,
        invoice.as_ref(),
        &submission.available,
        now,
    )
    .map_err(Abort::ManualPayment)?;

    // 3. The payment; the partial unique index refuses a second waiting one.
    match conn.insert_payment(&payment) {
        Err(error)
            if violated_unique_key(&error) == Some(UniqueKey::OnePendingApprovalPerInvoice) =>
        {
            return Err(Abort::ManualPayment(
                ManualPaymentError::PendingPaymentExists,
            ));
        }
        other => other?,
    }

    // 4. The key now names its payment.
    if let Some(key) = &submission.idempotency_key {
        conn.link_idempotency_key(organization_id, key, payment.id, stamp)?;
    }
    Ok(SubmitOutcome::Created(payment))
}

#[async_trait]
impl ManualPaymentStore for Database {
    async fn submit_manual_payment(
        &self,
        submission: &ManualSubmission,
    ) -> Result<SubmitOutcome, SubmitError> {
        let submission = submission.clone();
        with_connection!(write: self, |conn| {
            with_retries(conn, "submit manual payment", |conn| {
                submit_uncommitted(conn, &submission)
            })
            .map_err(|abort| match abort {
                Abort::ManualPayment(error) => SubmitError::Rule(error),
                other => SubmitError::Storage(other.into_storage()),
            })
        })
    }
}
