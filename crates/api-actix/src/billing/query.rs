//! What the billing handlers read from the URL, parsed into the domain's typed ids and
//! filters before a use case is called. The messages are the API's: a malformed id is the
//! same 404 as an unknown one, a bad filter a 400 naming the parameter.

use std::str::FromStr;

use actix_web::HttpRequest;
use payments_domain::invoice::{InvoiceId, InvoiceStatus};
use payments_domain::payment::UnknownName;
use payments_domain::usecases::{
    AdminPaymentQuery, BillingError, InvoiceQuery, OrganizationRef, PaymentQuery, Resource,
};
use payments_domain::{FieldErrors, OrganizationId, PaymentId, PaymentMethod, PaymentStatus};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

fn invalid(field: &str, reason: impl Into<String>) -> ApiError {
    let mut errors = FieldErrors::new();
    errors.add(field, reason);
    ApiError::InvalidData(errors)
}

/// Statuses separated by commas; blank means none (every status).
fn statuses<T>(
    field: &str,
    text: Option<&str>,
    parse: impl Fn(&str) -> Result<T, UnknownName>,
) -> Result<Vec<T>, ApiError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|part| parse(part.trim()).map_err(|e| invalid(field, e.to_string())))
        .collect()
}

/// A non-blank parameter, trimmed.
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Query parameters of the payment lists, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct PaymentListQuery {
    pub status: Option<String>,
    pub payment_method: Option<String>,
    pub invoice_id: Option<String>,
    /// Staff only: an organization id or INN. Ignored on the members' list.
    pub organization: Option<String>,
}

impl PaymentListQuery {
    /// The members' filters; the first bad parameter is reported.
    pub(crate) fn try_into_domain(&self) -> Result<PaymentQuery, ApiError> {
        let statuses = statuses(
            "status",
            self.status.as_deref(),
            PaymentStatus::parse_filter,
        )?;
        let method = given(&self.payment_method)
            .map(|m| {
                PaymentMethod::from_str(m).map_err(|e| invalid("payment_method", e.to_string()))
            })
            .transpose()?;
        let invoice_id = given(&self.invoice_id)
            .map(|text| {
                Uuid::try_parse(text)
                    .map(InvoiceId)
                    .map_err(|_| invalid("invoice_id", "Must be a valid UUID."))
            })
            .transpose()?;
        Ok(PaymentQuery {
            statuses,
            method,
            invoice_id,
        })
    }

    /// Staff's filters: the organization first, then the members' ones.
    pub(crate) fn try_into_admin(&self) -> Result<AdminPaymentQuery, ApiError> {
        let organization = given(&self.organization)
            .map(|text| {
                OrganizationRef::parse(text)
                    .ok_or_else(|| invalid("organization", "Must be an organization id or INN."))
            })
            .transpose()?;
        Ok(AdminPaymentQuery {
            payments: self.try_into_domain()?,
            organization,
        })
    }
}

/// Query parameters of the invoice lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct InvoiceListQuery {
    pub status: Option<String>,
}

impl InvoiceListQuery {
    pub(crate) fn try_into_domain(&self) -> Result<InvoiceQuery, ApiError> {
        Ok(InvoiceQuery {
            statuses: statuses("status", self.status.as_deref(), InvoiceStatus::from_str)?,
        })
    }
}

/// The 404 of `resource`, with the domain's message.
fn not_found(resource: Resource) -> ApiError {
    BillingError::NotFound(resource).into()
}

/// The UUID in path segment `name`; anything else names nothing, so it is `resource`'s 404.
pub(crate) fn path_uuid(
    request: &HttpRequest,
    name: &str,
    resource: Resource,
) -> Result<Uuid, ApiError> {
    Uuid::try_parse(request.match_info().query(name).trim()).map_err(|_| not_found(resource))
}

/// The payment named by the path's `{id}`.
pub(crate) fn payment_id(request: &HttpRequest) -> Result<PaymentId, ApiError> {
    path_uuid(request, "id", Resource::Payment).map(PaymentId)
}

/// The invoice named by the path's `{id}`.
pub(crate) fn invoice_id(request: &HttpRequest) -> Result<InvoiceId, ApiError> {
    path_uuid(request, "id", Resource::Invoice).map(InvoiceId)
}

/// The organization named by the path's `{id}`.
pub(crate) fn organization_id(request: &HttpRequest) -> Result<OrganizationId, ApiError> {
    path_uuid(request, "id", Resource::Organization).map(OrganizationId)
}

/// The method named by the path's `{method}`; an unknown name has no override.
pub(crate) fn override_method(request: &HttpRequest) -> Result<PaymentMethod, ApiError> {
    PaymentMethod::from_str(request.match_info().query("method").trim())
        .map_err(|_| not_found(Resource::Override))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn field_errors(error: ApiError) -> Vec<(String, Vec<String>)> {
        match error {
            ApiError::InvalidData(errors) => errors
                .iter()
                .map(|(field, reasons)| (field.to_string(), reasons.to_vec()))
                .collect(),
            other => panic!("expected invalid data, got {other:?}"),
        }
    }

    #[test]
    fn payment_filters_are_parsed_with_aliases_and_blanks_ignored() {
        let invoice = Uuid::new_v4();
        let query = PaymentListQuery {
            status: Some("completed, failed".into()),
            payment_method: Some(" local_wallet ".into()),
            invoice_id: Some(invoice.to_string()),
            organization: Some("not looked at by members".into()),
        };
        assert_eq!(
            query.try_into_domain().unwrap(),
            PaymentQuery {
                statuses: vec![PaymentStatus::Succeeded, PaymentStatus::Failed],
                method: Some(PaymentMethod::LocalWallet),
                invoice_id: Some(InvoiceId(invoice)),
            }
        );
        let blank = PaymentListQuery {
            status: Some(" ".into()),
            payment_method: Some("".into()),
            invoice_id: Some(" ".into()),
            organization: Some(" ".into()),
        };
        assert_eq!(
            blank.try_into_admin().unwrap(),
            AdminPaymentQuery::default()
        );
    }

    #[test]
    fn the_first_bad_parameter_is_reported() {
        let bad = PaymentListQuery {
            status: Some("done".into()),
            invoice_id: Some("x".into()),
            ..Default::default()
        };
        let errors = field_errors(bad.try_into_domain().unwrap_err());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "status");
        let bad = PaymentListQuery {
            invoice_id: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(
            field_errors(bad.try_into_domain().unwrap_err()),
            [("invoice_id".into(), vec!["Must be a valid UUID.".into()])]
        );
        let bad = PaymentListQuery {
            organization: Some("acme".into()),
            status: Some("done".into()),
            ..Default::default()
        };
        assert_eq!(
            field_errors(bad.try_into_admin().unwrap_err()),
            [(
                "organization".into(),
                vec!["Must be an organization id or INN.".into()]
            )]
        );
        let bad = InvoiceListQuery {
            status: Some("paid,open".into()),
        };
        assert_eq!(
            field_errors(bad.try_into_domain().unwrap_err())[0].0,
            "status"
        );
    }

    #[test]
    fn malformed_path_ids_are_the_resources_404() {
        let request = TestRequest::get().param("id", "12").to_http_request();
        for (error, message) in [
            (payment_id(&request).unwrap_err(), "Payment not found."),
            (invoice_id(&request).unwrap_err(), "Invoice not found."),
            (
                organization_id(&request).unwrap_err(),
                "Organization not found.",
            ),
        ] {
            assert!(matches!(&error, ApiError::NotFound(_)), "{error:?}");
            assert_eq!(error.to_string(), message);
        }
        let id = Uuid::new_v4();
        let request = TestRequest::get()
            .param("id", id.to_string())
            .param("method", "card")
            .to_http_request();
        assert_eq!(payment_id(&request).unwrap(), PaymentId(id));
        assert_eq!(override_method(&request).unwrap(), PaymentMethod::Card);
        let request = TestRequest::get().param("method", "cash").to_http_request();
        assert_eq!(
            override_method(&request).unwrap_err().to_string(),
            "Override not found."
        );
    }
}
