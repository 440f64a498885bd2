//! HTTP tests of the console's handlers on mocked ports: what reaches the use cases, and what
//! never does (a refused CSRF token, a member on a staff page, a signed-out request).

use std::sync::Arc;

use actix_web::dev::Service;
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::App;
use chrono::Utc;
use payments_api_actix::console::{configure, ConsoleSettings, ConsoleState};
use payments_api_actix::{BillingPorts, BillingUseCases};
use payments_domain::auth::{NewToken, Role, User};
use payments_domain::billing::StaffAction;
use payments_domain::console::{MockOrganizationSearch, MockSessionStore, NewSession};
use payments_domain::pagination::Page;
use payments_domain::payment::Payment;
use payments_domain::ports::{
    MockCatalogueStore, MockInvoiceStore, MockLedgerAuditSource, MockManualPaymentStore,
    MockOrganizationStore, MockPaymentQueries, MockStaffActionStore, MockTokenStore, PaymentView,
    StaffActionOutcome,
};
use payments_domain::usecases::{ConsoleQueries, ConsoleQueryPorts, ConsoleSessions};
use payments_domain::{Currency, Money, OrganizationId, PaymentId, PaymentMethod, PaymentStatus};

/// The mocked ports; a mock without expectations fails the test on any call.
#[derive(Default)]
struct Mocks {
    sessions: MockSessionStore,
    payments: MockPaymentQueries,
    staff: MockStaffActionStore,
}

fn random() -> [u8; 32] {
    [7; 32]
}

/// A live session of a user with `role`: its cookie, its CSRF token, and the store knowing it.
fn session(role: Role, mocks: &mut Mocks) -> (String, String) {
    let organization = (role == Role::Member).then(OrganizationId::new_random);
    let user = User::new(role, organization, "t", Utc::now()).unwrap();
    let token = NewToken::mint([1; 32], &user, Utc::now());
    let session = NewSession::open([2; 32], &token.record, Utc::now()).unwrap();
    let (record, token) = (session.record.clone(), token.record);
    mocks
        .sessions
        .expect_find_session()
        .returning(move |hash| Ok((*hash == record.hash).then(|| (record.clone(), token.clone()))));
    (
        format!("payments_console={}", session.session_id),
        session.csrf.as_str().to_string(),
    )
}

fn state(mocks: Mocks) -> ConsoleState {
    let payments = Arc::new(mocks.payments);
    let billing = BillingUseCases::new(BillingPorts {
        organizations: Arc::new(MockOrganizationStore::new()),
        invoices: Arc::new(MockInvoiceStore::new()),
        payments: payments.clone(),
        catalogue: Arc::new(MockCatalogueStore::new()),
        manual: Arc::new(MockManualPaymentStore::new()),
        staff: Arc::new(mocks.staff),
    });
    ConsoleState {
        sessions: ConsoleSessions::new(Arc::new(MockTokenStore::new()), Arc::new(mocks.sessions)),
        queries: ConsoleQueries::new(ConsoleQueryPorts {
            organizations: Arc::new(MockOrganizationStore::new()),
            search: Arc::new(MockOrganizationSearch::new()),
            invoices: Arc::new(MockInvoiceStore::new()),
            payments,
            audit: Arc::new(MockLedgerAuditSource::new()),
        }),
        billing,
        settings: ConsoleSettings::default(),
        random,
    }
}

async fn call(mocks: Mocks, request: TestRequest) -> (StatusCode, Option<String>, String) {
    let service = test::init_service(App::new().configure(configure(state(mocks)))).await;
    let response = service.call(request.to_request()).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    (status, location, body)
}

fn form(uri: &str, cookie: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header((header::COOKIE, cookie.to_string()))
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body.to_string())
}

fn approved_payment(id: PaymentId) -> Payment {
    let now = Utc::now();
    Payment {
        id,
        organization_id: OrganizationId::new_random(),
        invoice_id: None,
        amount: Money::parse("139", Currency::RUB).unwrap(),
        method: PaymentMethod::BankTransfer,
        status: PaymentStatus::Succeeded,
        transaction_reference: Some("PP-2211".into()),
        notes: None,
        failure_reason: None,
        admin_notes: None,
        bank: None,
        created_at: now,
        updated_at: now,
        processed_at: Some(now),
    }
}

fn empty_queue(mocks: &mut Mocks) {
    mocks.payments.expect_list_payments().returning(|_, page| {
        Ok(Page {
            items: Vec::<PaymentView>::new(),
            total: 0,
            request: page,
        })
    });
}

#[actix_web::test]
async fn an_approval_without_the_csrf_token_never_reaches_the_use_case() {
    let mut mocks = Mocks::default();
    let (cookie, csrf) = session(Role::Staff, &mut mocks);
    mocks.staff.expect_apply_staff_action().never();
    let id = PaymentId::generate();
    let uri = format!("/console/payments/{id}/approve");
    let (status, _, body) = call(mocks, form(&uri, &cookie, "notes=ok")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("Forbidden"));

    let mut mocks = Mocks::default();
    let (cookie, _) = session(Role::Staff, &mut mocks);
    mocks.staff.expect_apply_staff_action().never();
    let wrong = format!("csrf_token={}", "0".repeat(csrf.len()));
    let (status, _, _) = call(mocks, form(&uri, &cookie, &wrong)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn an_approval_goes_through_the_billing_use_case_once() {
    let mut mocks = Mocks::default();
    let (cookie, csrf) = session(Role::Staff, &mut mocks);
    let id = PaymentId::generate();
    mocks
        .staff
        .expect_apply_staff_action()
        .withf(move |payment, action, _| {
            *payment == id
                && *action
                    == StaffAction::Approve {
                        admin_notes: Some("seen".into()),
                    }
        })
        .times(1)
        .returning(|id, _, _| Ok(StaffActionOutcome::AlreadyDone(approved_payment(id))));
    empty_queue(&mut mocks);
    let uri = format!("/console/payments/{id}/approve");
    let body = format!("csrf_token={csrf}&notes=seen");
    let (status, _, html) = call(mocks, form(&uri, &cookie, &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Payment PP-2211 of 139.00 RUB was already approved; nothing changed."),
        "{html}"
    );
}

#[actix_web::test]
async fn members_get_404_on_staff_pages_without_any_read() {
    for path in [
        "/console/approvals",
        "/console/ledger",
        "/console/invoices",
        "/console/organizations",
    ] {
        let mut mocks = Mocks::default();
        let (cookie, _) = session(Role::Member, &mut mocks);
        mocks.payments.expect_list_payments().never();
        let request = TestRequest::get()
            .uri(path)
            .insert_header((header::COOKIE, cookie));
        let (status, _, body) = call(mocks, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("Not found"), "{path}");
    }
}

#[actix_web::test]
async fn without_a_live_session_every_page_sends_to_sign_in() {
    for cookie in [None, Some("payments_console=ses_unknown")] {
        let mut mocks = Mocks::default();
        mocks.sessions.expect_find_session().returning(|_| Ok(None));
        let mut request = TestRequest::get().uri("/console/approvals");
        if let Some(cookie) = cookie {
            request = request.insert_header((header::COOKIE, cookie));
        }
        let (status, location, _) = call(mocks, request).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/console/sign-in"));
    }
}

#[actix_web::test]
async fn sign_out_ends_the_session_in_the_store() {
    let mut mocks = Mocks::default();
    let (cookie, csrf) = session(Role::Staff, &mut mocks);
    mocks
        .sessions
        .expect_end_session()
        .times(1)
        .returning(|_, _| Ok(true));
    let body = format!("csrf_token={csrf}");
    let (status, location, _) = call(mocks, form("/console/sign-out", &cookie, &body)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/console/sign-in"));
}

#[actix_web::test]
async fn unknown_console_paths_are_html_404s() {
    let (status, _, body) = call(
        Mocks::default(),
        TestRequest::get().uri("/console/no-such-page"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("<!DOCTYPE html>"));
}
