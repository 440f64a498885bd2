//! What the billing API sends and accepts, as serialized: the handlers build these, so the
//! OpenAPI schemas cannot drift from the answers. Amounts are decimal strings with the
//! currency's decimals; timestamps are RFC 3339 UTC with microseconds (fixed width, so they
//! also sort as text).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use payments_domain::catalogue::{AccountPaymentMethod, AvailableMethod, PaymentMethodConfig};
use payments_domain::invoice::Invoice;
use payments_domain::ledger::BalanceLogEntry;
use payments_domain::pagination::Page;
use payments_domain::payment::Payment;
use payments_domain::ports::PaymentView;
use payments_domain::Organization;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

fn time(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Every successful billing answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Envelope<T> {
    /// Always true.
    pub success: bool,
    pub data: T,
    /// What was done, for writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub message: Option<&'static str>,
    /// The request's `X-Request-Id`.
    pub request_id: String,
}

/// A successful answer without data (deletions): `data` is null.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Done {
    /// Always true.
    pub success: bool,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
    pub message: &'static str,
    /// The request's `X-Request-Id`.
    pub request_id: String,
}

/// One page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListBody<T> {
    /// Rows matching the filters, on every page.
    pub count: u64,
    /// The next page's URL (path and query), or null on the last page.
    pub next: Option<String>,
    /// The previous page's URL (path and query), or null on the first page.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// `?page=&page_size=` of every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PageParams {
    /// 1-based page number; default 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// Rows per page; default 20, at most 100 (larger values are clamped).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
}

/// Filters of the payment lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PaymentFilterParams {
    /// One status or several, comma-separated: `pending`, `pending_approval`, `processing`,
    /// `succeeded` (alias `completed`), `failed`, `refunded`, `cancelled`.
    status: Option<String>,
    /// `bank_transfer`, `local_wallet`, `card`, `paypal` or `manual`.
    payment_method: Option<String>,
    /// Payments of this invoice.
    #[param(format = Uuid)]
    invoice_id: Option<String>,
}

/// Filter of the admin payment list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct OrganizationFilterParams {
    /// Payments of one organization, by id or INN.
    organization: Option<String>,
}

/// Filter of the invoice list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct InvoiceFilterParams {
    /// One status or several, comma-separated: `draft`, `pending`, `paid`, `void`,
    /// `uncollectible`.
    status: Option<String>,
}

/// A payment, as members see it. The bank fields are set for bank-webhook payments only.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PaymentBody {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub organization_id: String,
    /// Decimal string with the currency's decimals.
    #[schema(example = "139.00")]
    pub amount: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
    #[schema(value_type = String, example = "bank_transfer")]
    pub payment_method: &'static str,
    #[schema(value_type = String, example = "pending_approval")]
    pub status: &'static str,
    #[schema(format = Uuid)]
    pub invoice_id: Option<String>,
    /// The number of `invoice_id`, null for payments without an invoice.
    pub invoice_number: Option<String>,
    pub transaction_reference: Option<String>,
    pub notes: Option<String>,
    pub failure_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// When it was approved, rejected, or credited on arrival.
    #[schema(format = DateTime)]
    pub processed_at: Option<String>,
    #[schema(format = Uuid)]
    pub operation_id: Option<String>,
    pub document_number: Option<String>,
    #[schema(format = DateTime)]
    pub document_date: Option<String>,
}

impl PaymentBody {
    pub(crate) fn new(payment: &Payment, invoice_number: Option<&str>) -> Self {
        let bank = payment.bank.as_ref();
        Self {
            id: payment.id.to_string(),
            organization_id: payment.organization_id.to_string(),
            amount: payment.amount.to_string(),
            currency: payment.amount.currency().code(),
            payment_method: payment.method.as_str(),
            status: payment.status.as_str(),
            invoice_id: payment.invoice_id.map(|id| id.to_string()),
            invoice_number: invoice_number.map(str::to_owned),
            transaction_reference: payment.transaction_reference.clone(),
            notes: payment.notes.clone(),
            failure_reason: payment.failure_reason.clone(),
            created_at: time(payment.created_at),
            updated_at: time(payment.updated_at),
            processed_at: payment.processed_at.map(time),
            operation_id: bank.map(|bank| bank.operation_id.to_string()),
            document_number: bank.map(|bank| bank.document_number.to_string()),
            document_date: bank.map(|bank| time(bank.document_date.instant())),
        }
    }

    pub(crate) fn of_view(view: PaymentView) -> Self {
        Self::new(&view.payment, view.invoice_number.as_deref())
    }
}

/// A payment, as staff see it: with the admin notes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AdminPaymentBody {
    #[serde(flatten)]
    pub payment: PaymentBody,
    /// Staff's notes (the rejection reason after a rejection). Never shown to members.
    pub admin_notes: Option<String>,
}

impl AdminPaymentBody {
    pub(crate) fn new(payment: &Payment, invoice_number: Option<&str>) -> Self {
        Self {
            payment: PaymentBody::new(payment, invoice_number),
            admin_notes: payment.admin_notes.clone(),
        }
    }

    pub(crate) fn of_view(view: PaymentView) -> Self {
        Self::new(&view.payment, view.invoice_number.as_deref())
    }
}

/// An invoice.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvoiceBody {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub organization_id: String,
    #[schema(example = "INV-2026-001")]
    pub number: String,
    #[schema(example = "139.00")]
    pub amount: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
    /// `draft`, `pending`, `paid`, `void` or `uncollectible`.
    #[schema(value_type = String, example = "pending")]
    pub status: &'static str,
    #[schema(format = Date)]
    pub due_date: Option<String>,
    #[schema(format = DateTime)]
    pub paid_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<Invoice> for InvoiceBody {
    fn from(invoice: Invoice) -> Self {
        Self {
            id: invoice.id.to_string(),
            organization_id: invoice.organization_id.to_string(),
            number: invoice.number.to_string(),
            amount: invoice.amount.to_string(),
            currency: invoice.amount.currency().code(),
            status: invoice.status.as_str(),
            due_date: invoice.due_date.map(date),
            paid_at: invoice.paid_at.map(time),
            created_at: time(invoice.created_at),
            updated_at: time(invoice.updated_at),
        }
    }
}

/// An organization (the account billed).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrganizationBody {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "7701234567")]
    pub inn: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "RU")]
    pub country: String,
    /// ISO 4217.
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
    #[schema(example = "0.00")]
    pub balance: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<Organization> for OrganizationBody {
    fn from(organization: Organization) -> Self {
        let balance = organization.balance();
        Self {
            id: organization.id.to_string(),
            inn: organization.inn.as_str().to_owned(),
            name: organization.name,
            country: organization.country.as_str().to_owned(),
            currency: balance.currency().code(),
            balance: balance.to_string(),
            created_at: time(organization.created_at),
            updated_at: time(organization.updated_at),
        }
    }
}

/// The caller's organization's balance.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountBalanceBody {
    #[schema(format = Uuid)]
    pub organization_id: String,
    #[schema(example = "7701234567")]
    pub inn: String,
    #[schema(example = "139.00")]
    pub balance: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
}

impl From<Organization> for AccountBalanceBody {
    fn from(organization: Organization) -> Self {
        Self {
            organization_id: organization.id.to_string(),
            inn: organization.inn.as_str().to_owned(),
            balance: organization.balance().to_string(),
            currency: organization.balance().currency().code(),
        }
    }
}

/// One entry of the balance log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TransactionBody {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub payment_id: String,
    #[schema(example = "0.00")]
    pub previous_balance: String,
    #[schema(example = "139.00")]
    pub new_balance: String,
    /// Signed: negative for a refund.
    #[schema(example = "139.00")]
    pub delta: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<BalanceLogEntry> for TransactionBody {
    fn from(entry: BalanceLogEntry) -> Self {
        // The delta as stored with the entry, not recomputed from the balances.
        let currency = entry.new_balance.currency();
        let delta = signed_minor_units(entry.delta_minor_units, currency.scale());
        Self {
            id: entry.id.to_string(),
            payment_id: entry.payment_id.to_string(),
            previous_balance: entry.previous_balance.to_string(),
            new_balance: entry.new_balance.to_string(),
            delta,
            currency: entry.new_balance.currency().code(),
            created_at: time(entry.created_at),
        }
    }
}

/// `minor` units as a signed decimal with `scale` decimals, as amounts are printed:
/// -13900 at scale 2 is `"-139.00"`.
fn signed_minor_units(minor: i64, scale: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    match 10u64.checked_pow(scale) {
        Some(unit) if scale > 0 => format!(
            "{sign}{}.{:0width$}",
            magnitude / unit,
            magnitude % unit,
            width = scale as usize
        ),
        _ => format!("{sign}{magnitude}"),
    }
}

/// The methods the caller's organization may pay with.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AvailableMethodsBody {
    #[schema(example = "RU")]
    pub country: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
    /// By sort order; at most one is the default.
    pub methods: Vec<AvailableMethodBody>,
}

impl AvailableMethodsBody {
    pub(crate) fn new(organization: &Organization, methods: Vec<AvailableMethod>) -> Self {
        Self {
            country: organization.country.as_str().to_owned(),
            currency: organization.balance().currency().code(),
            methods: methods.into_iter().map(AvailableMethodBody::from).collect(),
        }
    }
}

/// One method as offered to an organization.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AvailableMethodBody {
    #[schema(value_type = String, example = "bank_transfer")]
    pub payment_method: &'static str,
    pub display_name: String,
    pub instructions: String,
    /// Bank account, wallet number and the like.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub is_default: bool,
}

impl From<AvailableMethod> for AvailableMethodBody {
    fn from(method: AvailableMethod) -> Self {
        Self {
            payment_method: method.method.as_str(),
            display_name: method.display_name,
            instructions: method.instructions,
            details: method.details,
            is_default: method.is_default,
        }
    }
}

/// A row of the payment-method catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConfigBody {
    #[schema(format = Uuid)]
    pub id: String,
    /// Two-letter country code, or `*` for every country.
    #[schema(example = "RU")]
    pub country_code: String,
    #[schema(value_type = String, example = "bank_transfer")]
    pub payment_method: &'static str,
    pub enabled: bool,
    pub display_name: String,
    pub instructions: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub sort_order: i32,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<PaymentMethodConfig> for ConfigBody {
    fn from(config: PaymentMethodConfig) -> Self {
        Self {
            id: config.id.to_string(),
            country_code: config.country.as_str().to_owned(),
            payment_method: config.method.as_str(),
            enabled: config.enabled,
            display_name: config.display_name,
            instructions: config.instructions,
            details: config.details,
            sort_order: config.sort_order,
            created_at: time(config.created_at),
            updated_at: time(config.updated_at),
        }
    }
}

/// An organization's own setting for one method.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OverrideBody {
    #[schema(value_type = String, example = "local_wallet")]
    pub payment_method: &'static str,
    pub is_enabled: bool,
    pub is_default: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<AccountPaymentMethod> for OverrideBody {
    fn from(setting: AccountPaymentMethod) -> Self {
        Self {
            payment_method: setting.method.as_str(),
            is_enabled: setting.is_enabled,
            is_default: setting.is_default,
            created_at: time(setting.created_at),
            updated_at: time(setting.updated_at),
        }
    }
}

/// A small collection answered as a single page of the list format.
pub(crate) fn one_page<T>(results: Vec<T>) -> ListBody<T> {
    ListBody {
        count: results.len() as u64,
        next: None,
        previous: None,
        results,
    }
}

/// A page, with `next`/`previous` links made by `link(page number)`.
pub(crate) fn page_of<T, U>(
    page: Page<T>,
    convert: impl FnMut(T) -> U,
    link: impl Fn(u32) -> String,
) -> ListBody<U> {
    let current = page.request.page;
    let next = page.has_next().then(|| link(current.saturating_add(1)));
    let previous = page.has_previous().then(|| link(current - 1));
    let page = page.map(convert);
    ListBody {
        count: page.total,
        next,
        previous,
        results: page.items,
    }
}

// ---------------------------------------------------------------- request bodies (docs only)
//
// The handlers split bodies into raw fields by hand (amounts keep their literal text), so
// these types only describe them.

/// Body of `POST /payments/manual/`. Amount and currency come from the invoice.
#[derive(ToSchema)]
#[schema(example = json!({"invoice_id": "5b0f8f47-2f7e-4e0c-9a43-51f1b7d35a9e",
    "payment_method": "bank_transfer", "transaction_reference": "TX-1",
    "notes": "Paid from our account at Sberbank"}))]
#[allow(dead_code)]
pub(crate) struct ManualPaymentRequest {
    /// A `pending` invoice of the caller's organization.
    #[schema(format = Uuid)]
    invoice_id: String,
    /// `bank_transfer` or `local_wallet`, and available to the organization.
    payment_method: String,
    /// The payer's reference of the transfer, 1 to 255 characters (alias: `reference`).
    transaction_reference: String,
    /// Up to 2000 characters.
    notes: Option<String>,
}

/// Body of approve and refund; may be empty or `{}`.
#[derive(ToSchema)]
#[schema(example = json!({"admin_notes": "seen on the statement"}))]
#[allow(dead_code)]
pub(crate) struct StaffNotesRequest {
    admin_notes: Option<String>,
}

/// Body of reject: the reason is required.
#[derive(ToSchema)]
#[schema(example = json!({"admin_notes": "no transfer found"}))]
#[allow(dead_code)]
pub(crate) struct RejectRequest {
    /// The reason, 1 to 2000 characters; becomes the payment's `failure_reason`.
    admin_notes: String,
}

/// Body of `POST /admin/organizations/`.
#[derive(ToSchema)]
#[schema(example = json!({"inn": "7701234567", "name": "Acme", "country": "RU", "currency": "RUB"}))]
#[allow(dead_code)]
pub(crate) struct NewOrganizationRequest {
    /// 10 or 12 digits; unique.
    #[schema(pattern = r"^\s*(\d{10}|\d{12})\s*$")]
    inn: String,
    /// 1 to 255 characters, no control characters.
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    /// ISO 3166-1 alpha-2; default `RU`.
    country: Option<String>,
    /// ISO 4217; default `RUB`.
    currency: Option<String>,
}

/// Body of `POST /admin/invoices/`.
#[derive(ToSchema)]
#[schema(example = json!({"organization_id": "9d3c4c02-53a4-4b57-8c52-0f5d8b7e1a20",
    "amount": "139", "due_date": "2026-12-31", "number": "INV-2026-001"}))]
#[allow(dead_code)]
pub(crate) struct NewInvoiceRequest {
    #[schema(format = Uuid)]
    organization_id: String,
    /// Greater than 0, with at most the currency's decimals. A JSON number or a numeric
    /// string; never read through a float.
    #[schema(schema_with = crate::openapi::amount_schema)]
    amount: String,
    /// Must be the organization's currency; default it.
    currency: Option<String>,
    #[schema(format = Date)]
    due_date: Option<String>,
    /// Unique; 1 to 64 letters, digits, `-`, `_`, `/` or `.`; generated when absent.
    number: Option<String>,
}

/// Body of the catalogue's create and full update.
#[derive(ToSchema)]
#[schema(example = json!({"country_code": "RU", "payment_method": "bank_transfer",
    "enabled": true, "display_name": "Bank transfer", "instructions": "Use the invoice number",
    "details": {"account": "40702810900000012345"}, "sort_order": 1}))]
#[allow(dead_code)]
pub(crate) struct ConfigRequest {
    /// Two-letter country code, or `*` for every country.
    country_code: String,
    payment_method: String,
    /// Default true.
    enabled: Option<bool>,
    /// 1 to 255 characters.
    display_name: String,
    instructions: Option<String>,
    /// A JSON object shown to payers; write account numbers as strings.
    #[schema(value_type = Option<Object>)]
    details: Option<serde_json::Value>,
    /// Default 0.
    sort_order: Option<i32>,
}

/// Body of `POST /admin/organizations/{id}/payment-methods/`.
#[derive(ToSchema)]
#[schema(example = json!({"payment_method": "local_wallet", "is_enabled": false, "is_default": false}))]
#[allow(dead_code)]
pub(crate) struct OverrideRequest {
    payment_method: String,
    is_enabled: bool,
    /// Default false; a disabled method cannot be the default.
    is_default: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_domain::{Currency, Money, OrganizationId, PaymentId};
    use uuid::Uuid;

    #[test]
    fn minor_units_print_with_the_currencys_decimals() {
        assert_eq!(signed_minor_units(13900, 2), "139.00");
        assert_eq!(signed_minor_units(-13900, 2), "-139.00");
        assert_eq!(signed_minor_units(-5, 2), "-0.05");
        assert_eq!(signed_minor_units(0, 2), "0.00");
        assert_eq!(signed_minor_units(-1500, 0), "-1500");
        assert_eq!(signed_minor_units(i64::MIN, 2), "-92233720368547758.08");
    }

    #[test]
    fn a_log_entry_shows_its_stored_delta() {
        let rub = |text| Money::parse(text, Currency::RUB).unwrap();
        let entry = BalanceLogEntry {
            id: Uuid::new_v4(),
            organization_id: OrganizationId::new_random(),
            payment_id: PaymentId::generate(),
            previous_balance: rub("139"),
            new_balance: rub("0"),
            // Not new - previous: the body must say what was stored, not recompute it.
            delta_minor_units: -13899,
            created_at: Utc::now(),
        };
        let body = TransactionBody::from(entry);
        assert_eq!(body.delta, "-138.99");
        assert_eq!(body.previous_balance, "139.00");
        assert_eq!(body.new_balance, "0.00");
    }
}
