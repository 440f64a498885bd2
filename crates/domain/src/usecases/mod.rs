//! Use cases: one entry point per thing a client can ask for. Handlers parse, call one of
//! these, and map the result.

pub mod access;
pub mod billing;
pub mod receive_bank_payment;

pub use access::{
    Authenticate, AuthenticationError, IssueToken, IssueTokenError, ReadBalance, ReadBalanceError,
};
pub use billing::{Billing, BillingError, BillingPorts};
pub use receive_bank_payment::{BankPaymentReceipt, ReceiveBankPayment, ReceiveError};
