//! The operator console's use cases: sessions, and the reads the billing API has no endpoint
//! for (an organization's page for staff, search, the approval queue, the balance history,
//! payments by date, the ledger check per organization). Every action the console takes
//! (approve, reject, refund, invoices, overrides, manual payments) goes through the billing
//! use cases ([`super::StaffActions`], [`super::InvoicesAdmin`], [`super::CatalogueAdmin`],
//! [`super::SubmitManualPayment`], ...), exactly as the API does.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::auth::{Principal, Role, TokenHash};
use crate::billing::{audit_organization, LedgerAuditFailure};
use crate::console::{CsrfToken, NewSession, OrganizationSearch, SessionHash, SessionStore};
use crate::error::{FieldErrors, StorageError};
use crate::invoice::Invoice;
use crate::ledger::BalanceLogEntry;
use crate::organization::{Organization, OrganizationId};
use crate::pagination::{Page, PageRequest, MAX_PAGE_SIZE};
use crate::payment::{PaymentId, PaymentMethod, PaymentStatus};
use crate::ports::{
    InvoiceFilter, InvoiceStore, LedgerAuditSource, ListOrder, OrganizationStore, PaymentFilter,
    PaymentQueries, PaymentView, TokenStore,
};

use super::{BillingError, OrganizationRef, Resource};

/// How many balance-log entries the chart draws at most (the newest ones).
pub const CHART_MAX_POINTS: usize = 500;
/// How many waiting payments the approval queue shows at most (the oldest ones).
pub const QUEUE_MAX: usize = 1000;

/// Why signing in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// Unknown, revoked, or empty token: one answer for all.
    #[error("Invalid or revoked token.")]
    InvalidToken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A signed-in request: who, and the CSRF token its forms must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub principal: Principal,
    pub csrf: CsrfToken,
}

/// Opens, resolves and ends console sessions.
#[derive(Clone)]
pub struct ConsoleSessions {
    tokens: Arc<dyn TokenStore>,
    sessions: Arc<dyn SessionStore>,
}

impl ConsoleSessions {
    pub fn new(tokens: Arc<dyn TokenStore>, sessions: Arc<dyn SessionStore>) -> Self {
        Self { tokens, sessions }
    }

    /// Signs in with an API token; stores the new session's hash.
    pub async fn sign_in(
        &self,
        token: &str,
        random: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<NewSession, SignInError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(SignInError::InvalidToken);
        }
        let record = self
            .tokens
            .find_token(&TokenHash::of(token))
            .await?
            .ok_or(SignInError::InvalidToken)?;
        let session = NewSession::open(random, &record, now).ok_or(SignInError::InvalidToken)?;
        // Housekeeping at each sign-in: sessions that can never be used again go.
        self.sessions.delete_dead_sessions(now).await?;
        self.sessions.create_session(&session.record).await?;
        Ok(session)
    }

    /// The session behind a cookie, if it is live and its token is not revoked. Read on every
    /// request, so sign-out and revocation take effect on the very next one.
    pub async fn resolve(
        &self,
        session_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ConsoleSession>, StorageError> {
        let Some((session, token)) = self
            .sessions
            .find_session(&SessionHash::of(session_id))
            .await?
        else {
            return Ok(None);
        };
        if !session.is_live(now) {
            return Ok(None);
        }
        Ok(
            Principal::from_record(&token).map(|principal| ConsoleSession {
                principal,
                csrf: CsrfToken::for_session(session_id),
            }),
        )
    }

    /// Ends the session on the server.
    pub async fn sign_out(&self, session_id: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        self.sessions
            .end_session(&SessionHash::of(session_id), now)
            .await
            .map(|_| ())
    }
}

/// Filters of the console's payment list, as typed into its form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentSearch {
    pub status: Option<String>,
    pub method: Option<String>,
    /// Staff only: an organization id or INN.
    pub organization: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub to: Option<String>,
}

/// One organization's result of the ledger check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    pub organization_id: OrganizationId,
    pub inn: String,
    pub balance: crate::money::Money,
    pub log_entries: usize,
    pub result: Result<(), LedgerAuditFailure>,
}

/// Reads for the console's pages, each checking role and tenancy first.
#[derive(Clone)]
pub struct ConsoleQueries {
    organizations: Arc<dyn OrganizationStore>,
    search: Arc<dyn OrganizationSearch>,
    invoices: Arc<dyn InvoiceStore>,
    payments: Arc<dyn PaymentQueries>,
    audit: Arc<dyn LedgerAuditSource>,
}

fn invalid(field: &str, reason: impl Into<String>) -> BillingError {
    let mut errors = FieldErrors::new();
    errors.add(field, reason);
    BillingError::Invalid(errors)
}

fn non_blank(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

fn parse_date(field: &str, text: &str) -> Result<DateTime<Utc>, BillingError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| invalid(field, "Date has wrong format. Use YYYY-MM-DD."))
}

/// The ports [`ConsoleQueries`] reads (one adapter usually implements them all).
pub struct ConsoleQueryPorts {
    pub organizations: Arc<dyn OrganizationStore>,
    pub search: Arc<dyn OrganizationSearch>,
    pub invoices: Arc<dyn InvoiceStore>,
    pub payments: Arc<dyn PaymentQueries>,
    pub audit: Arc<dyn LedgerAuditSource>,
}

impl ConsoleQueries {
    pub fn new(ports: ConsoleQueryPorts) -> Self {
        Self {
            organizations: ports.organizations,
            search: ports.search,
            invoices: ports.invoices,
            payments: ports.payments,
            audit: ports.audit,
        }
    }

    /// One implementation of every port.
    pub fn from_adapter<A>(adapter: Arc<A>) -> Self
    where
        A: OrganizationStore
            + OrganizationSearch
            + InvoiceStore
            + PaymentQueries
            + LedgerAuditSource
            + 'static,
    {
        Self {
            organizations: adapter.clone(),
            search: adapter.clone(),
            invoices: adapter.clone(),
            payments: adapter.clone(),
            audit: adapter,
        }
    }

    /// An organization the caller may see: staff any, a member only its own. Anything else,
    /// malformed ids included, is "not found", as in the API.
    pub async fn organization(
        &self,
        caller: &Principal,
        id: &str,
    ) -> Result<Organization, BillingError> {
        let not_found = BillingError::NotFound(Resource::Organization);
        let id = Uuid::try_parse(id.trim()).map_err(|_| not_found.clone())?;
        let id = OrganizationId(id);
        if !caller.can_see(id) {
            return Err(not_found);
        }
        self.organizations
            .find_organization(id)
            .await?
            .ok_or(not_found)
    }

    /// Staff: organizations by INN prefix or name.
    pub async fn search_organizations(
        &self,
        caller: &Principal,
        query: &str,
        page: PageRequest,
    ) -> Result<Page<Organization>, BillingError> {
        caller.require_staff()?;
        Ok(self.search.search_organizations(query.trim(), page).await?)
    }

    /// The organization's balance log, newest first.
    pub async fn balance_log(
        &self,
        caller: &Principal,
        organization: &Organization,
        page: PageRequest,
    ) -> Result<Page<BalanceLogEntry>, BillingError> {
        self.visible(caller, organization)?;
        Ok(self
            .payments
            .list_balance_log(organization.id, page)
            .await?)
    }

    /// The newest [`CHART_MAX_POINTS`] log entries, oldest first, for the balance chart.
    pub async fn balance_history(
        &self,
        caller: &Principal,
        organization: &Organization,
    ) -> Result<Vec<BalanceLogEntry>, BillingError> {
        self.visible(caller, organization)?;
        let mut entries = Vec::new();
        let mut page = PageRequest {
            page: 1,
            page_size: MAX_PAGE_SIZE,
        };
        loop {
            let found = self
                .payments
                .list_balance_log(organization.id, page)
                .await?;
            let more = found.has_next();
            entries.extend(found.items);
            if !more || entries.len() >= CHART_MAX_POINTS {
                break;
            }
            page.page += 1;
        }
        entries.truncate(CHART_MAX_POINTS);
        entries.reverse();
        Ok(entries)
    }

    /// The organization's invoices, newest first.
    pub async fn invoices(
        &self,
        caller: &Principal,
        organization: &Organization,
        page: PageRequest,
    ) -> Result<Page<Invoice>, BillingError> {
        self.visible(caller, organization)?;
        let filter = InvoiceFilter {
            organization_id: Some(organization.id),
            statuses: Vec::new(),
        };
        Ok(self.invoices.list_invoices(&filter, page).await?)
    }

    fn visible(&self, caller: &Principal, organization: &Organization) -> Result<(), BillingError> {
        if caller.can_see(organization.id) {
            Ok(())
        } else {
            Err(BillingError::NotFound(Resource::Organization))
        }
    }

    /// Payments, newest first: staff across organizations, a member only its own (its
    /// `organization` filter is ignored).
    pub async fn payments(
        &self,
        caller: &Principal,
        search: &PaymentSearch,
        page: PageRequest,
    ) -> Result<Page<PaymentView>, BillingError> {
        let organization_id = match caller.role() {
            Role::Member => Some(caller.member_organization()?),
            Role::Staff => match non_blank(&search.organization) {
                None => None,
                Some(text) => Some(self.resolve_organization(text).await?),
            },
        };
        let statuses =
            match non_blank(&search.status) {
                None => Vec::new(),
                Some(text) => vec![PaymentStatus::parse_filter(text)
                    .map_err(|e| invalid("status", e.to_string()))?],
            };
        let method = non_blank(&search.method)
            .map(|text| {
                text.parse::<PaymentMethod>()
                    .map_err(|e| invalid("method", e.to_string()))
            })
            .transpose()?;
        let created_from = non_blank(&search.from)
            .map(|text| parse_date("from", text))
            .transpose()?;
        let created_before = non_blank(&search.to)
            .map(|text| parse_date("to", text).map(|day| day + Duration::days(1)))
            .transpose()?;
        let filter = PaymentFilter {
            organization_id,
            statuses,
            method,
            invoice_id: None,
            created_from,
            created_before,
            order: ListOrder::NewestFirst,
        };
        Ok(self.payments.list_payments(&filter, page).await?)
    }

    async fn resolve_organization(&self, text: &str) -> Result<OrganizationId, BillingError> {
        match OrganizationRef::parse(text) {
            Some(OrganizationRef::Id(id)) => Ok(id),
            Some(OrganizationRef::Inn(inn)) => self
                .organizations
                .find_by_inn(&inn)
                .await?
                .map(|o| o.id)
                .ok_or_else(|| invalid("organization", "No organization has this INN.")),
            None => Err(invalid(
                "organization",
                "Must be an organization id or INN.",
            )),
        }
    }

    /// One payment the caller may see (404 otherwise).
    pub async fn payment(&self, caller: &Principal, id: &str) -> Result<PaymentView, BillingError> {
        let not_found = BillingError::NotFound(Resource::Payment);
        let id = Uuid::try_parse(id.trim()).map_err(|_| not_found.clone())?;
        self.payments
            .find_payment(PaymentId(id))
            .await?
            .filter(|view| caller.can_see(view.payment.organization_id))
            .ok_or(not_found)
    }

    /// Staff: payments waiting for approval, oldest first (at most [`QUEUE_MAX`]).
    pub async fn approval_queue(
        &self,
        caller: &Principal,
    ) -> Result<Vec<PaymentView>, BillingError> {
        caller.require_staff()?;
        let filter = PaymentFilter {
            statuses: vec![PaymentStatus::PendingApproval],
            order: ListOrder::OldestFirst,
            ..PaymentFilter::default()
        };
        let mut queue = Vec::new();
        let mut page = PageRequest {
            page: 1,
            page_size: MAX_PAGE_SIZE,
        };
        loop {
            let found = self.payments.list_payments(&filter, page).await?;
            let more = found.has_next();
            queue.extend(found.items);
            if !more || queue.len() >= QUEUE_MAX {
                break;
            }
            page.page += 1;
        }
        queue.truncate(QUEUE_MAX);
        Ok(queue)
    }

    /// Staff: the check of `payments ledger verify`, one result per organization.
    pub async fn ledger(&self, caller: &Principal) -> Result<Vec<LedgerCheck>, BillingError> {
        caller.require_staff()?;
        let inputs = self.audit.ledger_audit_inputs().await?;
        Ok(inputs
            .iter()
            .map(|input| LedgerCheck {
                organization_id: input.organization_id,
                inn: input.inn.clone(),
                balance: input.balance,
                log_entries: input.log.len(),
                result: audit_organization(input),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{NewToken, TokenRecord, User};
    use crate::console::{MockOrganizationSearch, MockSessionStore, SessionRecord};
    use crate::ports::{
        MockInvoiceStore, MockLedgerAuditSource, MockOrganizationStore, MockPaymentQueries,
        MockTokenStore,
    };

    fn record(role: Role, organization: Option<OrganizationId>) -> TokenRecord {
        let user = User::new(role, organization, "t", Utc::now()).unwrap();
        NewToken::mint([4; 32], &user, Utc::now()).record
    }

    fn sessions(token: TokenRecord, session: Option<SessionRecord>) -> ConsoleSessions {
        let mut tokens = MockTokenStore::new();
        let found = token.clone();
        tokens
            .expect_find_token()
            .returning(move |hash| Ok((*hash == found.hash).then(|| found.clone())));
        let mut store = MockSessionStore::new();
        store.expect_create_session().returning(|_| Ok(()));
        store.expect_delete_dead_sessions().returning(|_| Ok(0));
        store
            .expect_find_session()
            .returning(move |_| Ok(session.clone().map(|s| (s, token.clone()))));
        ConsoleSessions::new(Arc::new(tokens), Arc::new(store))
    }

    #[tokio::test]
    async fn sign_in_needs_a_live_token() {
        let now = Utc::now();
        let user = User::new(Role::Staff, None, "ops", now).unwrap();
        let token = NewToken::mint([2; 32], &user, now);
        let console = sessions(token.record.clone(), None);
        let session = console
            .sign_in(&token.plaintext, [1; 32], now)
            .await
            .unwrap();
        assert_eq!(session.principal.role(), Role::Staff);
        assert_eq!(
            console
                .sign_in("pay_wrong", [1; 32], now)
                .await
                .unwrap_err(),
            SignInError::InvalidToken
        );
        assert_eq!(
            console.sign_in("  ", [1; 32], now).await.unwrap_err(),
            SignInError::InvalidToken
        );
    }

    #[tokio::test]
    async fn a_session_ends_with_sign_out_expiry_or_revocation() {
        let now = Utc::now();
        let token = record(Role::Staff, None);
        let open = NewSession::open([3; 32], &token, now).unwrap();
        let live = sessions(token.clone(), Some(open.record.clone()));
        let resolved = live.resolve(&open.session_id, now).await.unwrap().unwrap();
        assert_eq!(resolved.csrf, open.csrf);

        let mut ended = open.record.clone();
        ended.ended_at = Some(now);
        let signed_out = sessions(token.clone(), Some(ended));
        assert_eq!(signed_out.resolve(&open.session_id, now).await, Ok(None));

        let later = now + Duration::hours(13);
        assert_eq!(live.resolve(&open.session_id, later).await, Ok(None));

        let mut revoked = token;
        revoked.revoked_at = Some(now);
        let revoked = sessions(revoked, Some(open.record.clone()));
        assert_eq!(revoked.resolve(&open.session_id, now).await, Ok(None));
    }

    fn queries(
        organizations: MockOrganizationStore,
        payments: MockPaymentQueries,
    ) -> ConsoleQueries {
        ConsoleQueries {
            organizations: Arc::new(organizations),
            search: Arc::new(MockOrganizationSearch::new()),
            invoices: Arc::new(MockInvoiceStore::new()),
            payments: Arc::new(payments),
            audit: Arc::new(MockLedgerAuditSource::new()),
        }
    }

    #[tokio::test]
    async fn members_see_only_their_organization_and_never_staff_pages() {
        let own = Organization::first_seen_in_bank_payment(
            crate::Inn::parse("1234567890").unwrap(),
            Utc::now(),
        );
        let other = OrganizationId::new_random();
        let mut organizations = MockOrganizationStore::new();
        let found = own.clone();
        organizations
            .expect_find_organization()
            .returning(move |_| Ok(Some(found.clone())));
        let console = queries(organizations, MockPaymentQueries::new());
        let member = Principal::from_record(&record(Role::Member, Some(own.id))).unwrap();
        assert_eq!(
            console
                .organization(&member, &own.id.0.to_string())
                .await
                .unwrap()
                .id,
            own.id
        );
        assert_eq!(
            console.organization(&member, &other.0.to_string()).await,
            Err(BillingError::NotFound(Resource::Organization))
        );
        assert_eq!(
            console.organization(&member, "not-a-uuid").await,
            Err(BillingError::NotFound(Resource::Organization))
        );
        assert!(matches!(
            console.approval_queue(&member).await,
            Err(BillingError::Forbidden(_))
        ));
        assert!(matches!(
            console.ledger(&member).await,
            Err(BillingError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn the_approval_queue_asks_for_the_oldest_waiting_payments_page_by_page() {
        // A store holding 2,500 waiting payments, oldest first: the queue reads pages of
        // MAX_PAGE_SIZE until it holds QUEUE_MAX, and keeps their order.
        let waiting: Vec<u32> = (0..2500).collect();
        let mut payments = MockPaymentQueries::new();
        payments
            .expect_list_payments()
            .withf(|filter, _| {
                filter.order == ListOrder::OldestFirst
                    && filter.statuses == vec![PaymentStatus::PendingApproval]
                    && filter.organization_id.is_none()
            })
            .times(QUEUE_MAX / MAX_PAGE_SIZE as usize)
            .returning(move |_, page| {
                let start = (page.page as usize - 1) * page.page_size as usize;
                let items = waiting
                    .iter()
                    .skip(start)
                    .take(page.page_size as usize)
                    .map(|&n| waiting_payment(n))
                    .collect();
                Ok(Page {
                    items,
                    total: 2500,
                    request: page,
                })
            });
        let console = queries(MockOrganizationStore::new(), payments);
        let staff = Principal::from_record(&record(Role::Staff, None)).unwrap();
        let queue = console.approval_queue(&staff).await.unwrap();
        assert_eq!(queue.len(), QUEUE_MAX);
        assert_eq!(queue[0], waiting_payment(0));
        assert_eq!(queue[QUEUE_MAX - 1], waiting_payment(QUEUE_MAX as u32 - 1));
    }

    /// The `n`-th waiting payment of the queue test (its id tells them apart).
    fn waiting_payment(n: u32) -> PaymentView {
        let at = DateTime::from_timestamp(1_780_000_000 + i64::from(n), 0).unwrap();
        let rub = crate::money::Currency::parse("RUB").unwrap();
        PaymentView {
            payment: crate::payment::Payment {
                id: PaymentId(Uuid::from_u128(u128::from(n) + 1)),
                organization_id: OrganizationId(Uuid::nil()),
                invoice_id: None,
                amount: crate::money::Money::from_minor_units(100, rub).unwrap(),
                method: PaymentMethod::BankTransfer,
                status: PaymentStatus::PendingApproval,
                transaction_reference: None,
                notes: None,
                failure_reason: None,
                admin_notes: None,
                bank: None,
                created_at: at,
                updated_at: at,
                processed_at: None,
            },
            invoice_number: None,
        }
    }

    #[tokio::test]
    async fn payment_search_pins_members_and_turns_dates_into_a_range() {
        let own = OrganizationId::new_random();
        let mut payments = MockPaymentQueries::new();
        payments
            .expect_list_payments()
            .withf(move |filter, _| {
                filter.organization_id == Some(own)
                    && filter.statuses == vec![PaymentStatus::Succeeded]
                    && filter.created_from.map(|d| d.to_rfc3339())
                        == Some("2026-11-01T00:00:00+00:00".into())
                    && filter.created_before.map(|d| d.to_rfc3339())
                        == Some("2026-11-03T00:00:00+00:00".into())
            })
            .times(1)
            .returning(|_, page| {
                Ok(Page {
                    items: vec![],
                    total: 0,
                    request: page,
                })
            });
        let console = queries(MockOrganizationStore::new(), payments);
        let member = Principal::from_record(&record(Role::Member, Some(own))).unwrap();
        let search = PaymentSearch {
            status: Some("succeeded".into()),
            organization: Some(OrganizationId::new_random().0.to_string()),
            from: Some("2026-11-01".into()),
            to: Some("2026-11-02".into()),
            ..PaymentSearch::default()
        };
        console
            .payments(&member, &search, PageRequest::default())
            .await
            .unwrap();
        let bad = PaymentSearch {
            from: Some("01.11.2026".into()),
            ..PaymentSearch::default()
        };
        assert!(matches!(
            console
                .payments(&member, &bad, PageRequest::default())
                .await,
            Err(BillingError::Invalid(_))
        ));
    }
}
