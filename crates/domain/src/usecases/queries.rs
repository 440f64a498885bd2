//! Typed filters of the billing lists, as the use cases receive them (the edge parses query
//! strings into these).

use uuid::Uuid;

use crate::invoice::{InvoiceId, InvoiceStatus};
use crate::organization::{Inn, OrganizationId};
use crate::payment::{PaymentMethod, PaymentStatus};
use crate::ports::{InvoiceFilter, PaymentFilter};

/// Filters of a payment list; each one left empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentQuery {
    /// Any of these statuses.
    pub statuses: Vec<PaymentStatus>,
    pub method: Option<PaymentMethod>,
    /// Payments of this invoice.
    pub invoice_id: Option<InvoiceId>,
}

impl PaymentQuery {
    /// The port's filter, within `organization_id` (`None`: every organization).
    pub(crate) fn within(&self, organization_id: Option<OrganizationId>) -> PaymentFilter {
        PaymentFilter {
            organization_id,
            statuses: self.statuses.clone(),
            method: self.method,
            invoice_id: self.invoice_id.map(|id| id.0),
            ..PaymentFilter::default()
        }
    }
}

/// Filters of an invoice list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceQuery {
    /// Any of these statuses; empty matches every status.
    pub statuses: Vec<InvoiceStatus>,
}

impl InvoiceQuery {
    pub(crate) fn within(&self, organization_id: OrganizationId) -> InvoiceFilter {
        InvoiceFilter {
            organization_id: Some(organization_id),
            statuses: self.statuses.clone(),
        }
    }
}

/// An organization named by staff: by id, or by INN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationRef {
    Id(OrganizationId),
    Inn(Inn),
}

impl OrganizationRef {
    /// A UUID is an id; otherwise the text must be an INN. `None` when it is neither.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(id) = Uuid::try_parse(text) {
            return Some(Self::Id(OrganizationId(id)));
        }
        Inn::parse(text).ok().map(Self::Inn)
    }
}

/// Staff's payment list: the member filters, plus one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminPaymentQuery {
    pub payments: PaymentQuery,
    pub organization: Option<OrganizationRef>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organization_is_named_by_uuid_or_inn() {
        let id = Uuid::new_v4();
        assert_eq!(
            OrganizationRef::parse(&format!(" {id} ")),
            Some(OrganizationRef::Id(OrganizationId(id)))
        );
        assert_eq!(
            OrganizationRef::parse("7701234567"),
            Some(OrganizationRef::Inn(Inn::parse("7701234567").unwrap()))
        );
        assert_eq!(OrganizationRef::parse("acme"), None);
    }

    #[test]
    fn queries_become_the_ports_filters() {
        let invoice = InvoiceId(Uuid::new_v4());
        let own = OrganizationId::new_random();
        let query = PaymentQuery {
            statuses: vec![PaymentStatus::Failed],
            method: Some(PaymentMethod::Card),
            invoice_id: Some(invoice),
        };
        let filter = query.within(Some(own));
        assert_eq!(filter.organization_id, Some(own));
        assert_eq!(filter.statuses, [PaymentStatus::Failed]);
        assert_eq!(filter.method, Some(PaymentMethod::Card));
        assert_eq!(filter.invoice_id, Some(invoice.0));
        let filter = InvoiceQuery::default().within(own);
        assert_eq!(filter.organization_id, Some(own));
        assert!(filter.statuses.is_empty());
    }
}
