//! Checking the ledger invariant over every organization (`payments ledger verify`).

use std::sync::Arc;

use crate::billing::{audit_organization, LedgerAuditFailure};
use crate::error::StorageError;
use crate::ports::LedgerAuditSource;

/// Audits every organization's balance against its log and its payments.
#[derive(Clone)]
pub struct VerifyLedger {
    audit: Arc<dyn LedgerAuditSource>,
}

impl VerifyLedger {
    pub fn new(audit: Arc<dyn LedgerAuditSource>) -> Self {
        Self { audit }
    }

    /// How many organizations were checked, and every violation found.
    pub async fn execute(&self) -> Result<(usize, Vec<LedgerAuditFailure>), StorageError> {
        let inputs = self.audit.ledger_audit_inputs().await?;
        let failures = inputs
            .iter()
            .filter_map(|input| audit_organization(input).err())
            .collect();
        Ok((inputs.len(), failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::LedgerAuditInput;
    use crate::money::{Currency, Money};
    use crate::organization::OrganizationId;
    use crate::ports::MockLedgerAuditSource;

    #[tokio::test]
    async fn ledger_verification_reports_each_failing_organization() {
        let mut audit = MockLedgerAuditSource::new();
        audit.expect_ledger_audit_inputs().returning(|| {
            let balance = Money::parse("5", Currency::RUB).unwrap();
            Ok(vec![
                LedgerAuditInput {
                    organization_id: OrganizationId::new_random(),
                    inn: "1234567890".into(),
                    balance,
                    log: vec![],
                    succeeded_minor_units: 500,
                    payments: vec![],
                },
                LedgerAuditInput {
                    organization_id: OrganizationId::new_random(),
                    inn: "1234567891".into(),
                    balance: Money::zero(Currency::RUB),
                    log: vec![],
                    succeeded_minor_units: 0,
                    payments: vec![],
                },
            ])
        });
        let (checked, failures) = VerifyLedger::new(Arc::new(audit)).execute().await.unwrap();
        assert_eq!(checked, 2);
        assert_eq!(
            failures.len(),
            1,
            "a balance without log entries breaks the chain; an empty account is fine"
        );
    }

    #[tokio::test]
    async fn storage_failures_are_passed_on() {
        let mut audit = MockLedgerAuditSource::new();
        audit
            .expect_ledger_audit_inputs()
            .returning(|| Err(StorageError::new("down")));
        assert!(VerifyLedger::new(Arc::new(audit)).execute().await.is_err());
    }
}
