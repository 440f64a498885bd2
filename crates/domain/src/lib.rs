//! Business rules of the payments service, free of I/O.
//!
//! Everything a payment is allowed to do lives here: validated value types built at the edge
//! ([`Inn`], [`Money`], [`OperationId`], ...), the payment status state machine
//! ([`PaymentStatus`]), the bank-webhook dedup rule ([`bank::BankPayment::compare`]), the ledger
//! rules ([`ledger`]) and the use cases ([`usecases`]). Storage and transport are reached only
//! through the traits in [`ports`]; each trait states what every adapter MUST guarantee, and the
//! `adapters-diesel` crate is held to those promises by one contract test suite.
//!
//! The crate has no database, HTTP or async-runtime dependency, so other services can use it as a
//! library. Enable the `mocks` feature to get `mockall` mocks of every port.

pub mod auth;
pub mod bank;
pub mod bank_batch;
pub mod billing;
pub mod catalogue;
pub mod console;
pub mod error;
pub mod idempotency;
pub mod invoice;
pub mod ledger;
pub mod money;
pub mod organization;
pub mod pagination;
pub mod payment;
pub mod ports;
pub mod signature;
pub mod text;
pub mod usecases;

pub use bank::{BankPayment, DocumentDate, DocumentNumber, OperationId};
pub use error::{FieldErrors, StorageError};
pub use money::{Currency, Money, MoneyError};
pub use organization::{Inn, Organization, OrganizationId};
pub use payment::{PaymentId, PaymentMethod, PaymentStatus};
