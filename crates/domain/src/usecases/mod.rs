//! Use cases: one entry point per thing a client can ask for. Handlers parse, call one of
//! these, and map the result.
//!
//! The billing API is split by capability; each use case holds only the ports it uses, takes
//! typed ids and filters, and checks the caller's role and tenancy itself:
//!
//! | use case | who | ports |
//! |---|---|---|
//! | [`MemberPayments`] | members | [`PaymentQueries`](crate::ports::PaymentQueries) |
//! | [`MemberInvoices`] | members | [`InvoiceStore`](crate::ports::InvoiceStore) |
//! | [`MemberAccount`] | members | organizations, catalogue |
//! | [`SubmitManualPayment`] | members | organizations, catalogue, manual payments, invoices |
//! | [`AdminPayments`] | staff | payment queries, organizations |
//! | [`StaffActions`] | staff | staff actions, invoices |
//! | [`OrganizationsAdmin`] | staff | organizations |
//! | [`InvoicesAdmin`] | staff | organizations, invoices |
//! | [`CatalogueAdmin`] | staff | catalogue, organizations |
//! | [`VerifyLedger`] | operators (CLI) | ledger audit |
//! | [`ConsoleSessions`] | the console's sign-in | tokens, console sessions |
//! | [`ConsoleQueries`] | the console's pages (members and staff) | organizations, organization search, invoices, payment queries, ledger audit |
//!
//! All of them fail with [`BillingError`] (the console's sessions with [`SignInError`] or
//! [`StorageError`](crate::StorageError)).

pub mod access;
pub mod catalogue;
pub mod console;
pub mod error;
pub mod idempotency;
pub mod invoices;
pub mod ledger_audit;
pub mod manual_payment;
pub mod member;
pub mod organizations;
pub mod queries;
pub mod receive_bank_payment;
pub mod staff;
#[cfg(test)]
mod test_support;

pub use access::{
    Authenticate, AuthenticationError, IssueToken, IssueTokenError, ReadBalance, ReadBalanceError,
};
pub use catalogue::{CatalogueAdmin, ConfigInput, OverrideInput};
pub use console::{
    ConsoleQueries, ConsoleQueryPorts, ConsoleSession, ConsoleSessions, PaymentSearch, SignInError,
};
pub use error::{BillingError, Resource};
pub use idempotency::IdempotentReplays;
pub use invoices::{InvoicesAdmin, NewInvoiceInput};
pub use ledger_audit::VerifyLedger;
pub use manual_payment::{ManualPaymentReceipt, SubmitManualPayment};
pub use member::{MemberAccount, MemberInvoices, MemberPayments};
pub use organizations::{NewOrganizationInput, OrganizationsAdmin};
pub use queries::{AdminPaymentQuery, InvoiceQuery, OrganizationRef, PaymentQuery};
pub use receive_bank_payment::{BankPaymentReceipt, ReceiveBankPayment, ReceiveError};
pub use staff::{AdminPayments, StaffActionReceipt, StaffActions};
