//! What every HTTP test needs: mocked ports, the app around them, signed requests.

#![allow(dead_code)]

pub mod billing;
pub use billing::*;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use chrono::Utc;
use payments_api_actix::{
    app, AlwaysReady, ApiState, HttpSettings, Metrics, PoolStats, RateLimit, ReadinessCheck,
    WebhookAuth,
};
use payments_domain::auth::{NewToken, Role, TokenHash, TokenRecord, User};
use payments_domain::bank::{RawBankPayment, RawField};
use payments_domain::ledger::credit;
use payments_domain::ports::MockIdempotencyStore;
use payments_domain::ports::{
    MockBankPaymentStore, MockOrganizationStore, MockTokenStore, RecordError, RecordOutcome,
};
use payments_domain::signature::{self, WebhookSecret};
use payments_domain::usecases::idempotency::DEFAULT_RETENTION;
use payments_domain::usecases::{Authenticate, IdempotentReplays, ReadBalance, ReceiveBankPayment};

/// An idempotency store that keeps nothing: replays answer the payment as it is.
pub fn forgetful_idempotency_store() -> MockIdempotencyStore {
    let mut store = MockIdempotencyStore::new();
    store.expect_find_response().returning(|_, _| Ok(None));
    store.expect_store_response().returning(|_, _, _| Ok(()));
    store
}
use payments_domain::{BankPayment, Currency, Inn, Money, Organization, OrganizationId, PaymentId};
use serde_json::{json, Value};

pub const SECRET: &str = "whsec_test_secret";
pub const WEBHOOK: &str = "/api/webhook/bank/";
pub const BODY: &str = r#"{"operation_id": "ccf0a86d-041b-4991-bcf7-e2352f7b8a4a", "amount": 145000, "payer_inn": "1234567890", "document_number": "PAY-328", "document_date": "2024-04-27T21:00:00Z"}"#;

pub fn rub(text: &str) -> Money {
    Money::parse(text, Currency::RUB).unwrap()
}

pub fn secret() -> WebhookSecret {
    WebhookSecret::new(SECRET).unwrap()
}

/// Ports the test does not configure refuse every call.
pub struct Ports {
    pub bank: MockBankPaymentStore,
    pub organizations: MockOrganizationStore,
    pub tokens: MockTokenStore,
    /// What the balance read's combined look-up (token and organization) finds; kept in
    /// step with `tokens` and `organizations` by `with_tokens` and `with_organization`.
    pub known_tokens: Vec<TokenRecord>,
    pub known_organizations: Vec<Organization>,
    pub billing: BillingMocks,
    pub auth: WebhookAuth,
    pub settings: HttpSettings,
    pub readiness: Arc<dyn ReadinessCheck>,
    pub pool_stats: PoolStats,
    pub rate_limit: RateLimit,
    /// Keeps no first answers unless a test says otherwise.
    pub idempotency: MockIdempotencyStore,
}

impl Ports {
    pub fn new() -> Self {
        let mut bank = MockBankPaymentStore::new();
        bank.expect_record_bank_payment().never();
        let mut organizations = MockOrganizationStore::new();
        organizations.expect_find_by_inn().never();
        let mut tokens = MockTokenStore::new();
        tokens.expect_find_token().never();
        Self {
            bank,
            organizations,
            tokens,
            known_tokens: Vec::new(),
            known_organizations: Vec::new(),
            billing: BillingMocks::default(),
            auth: WebhookAuth::Signed(vec![secret()]),
            settings: HttpSettings::default(),
            readiness: Arc::new(AlwaysReady),
            pool_stats: PoolStats::default(),
            rate_limit: RateLimit::unlimited(),
            idempotency: forgetful_idempotency_store(),
        }
    }

    pub fn legacy(mut self) -> Self {
        self.auth = WebhookAuth::LegacyOpen;
        self
    }

    /// The bank store answers every payment with `outcome`.
    pub fn recording(
        mut self,
        outcome: impl Fn(&BankPayment) -> Result<RecordOutcome, RecordError> + Send + 'static,
    ) -> Self {
        self.bank = MockBankPaymentStore::new();
        self.bank
            .expect_record_bank_payment()
            .times(1)
            .returning(move |payment, _| outcome(payment));
        self
    }

    pub fn credited(self, payment_id: PaymentId) -> Self {
        self.recording(move |payment| {
            assert_eq!(payment.amount, rub("145000"));
            Ok(RecordOutcome::Recorded {
                payment_id,
                organization_id: OrganizationId::new_random(),
                change: credit(rub("0"), payment.amount).unwrap(),
            })
        })
    }

    /// The organization store knows only `organization`.
    pub fn with_organization(mut self, organization: Organization) -> Self {
        self.known_organizations = vec![organization.clone()];
        self.organizations = MockOrganizationStore::new();
        self.organizations
            .expect_find_by_inn()
            .returning(move |inn| Ok((*inn == organization.inn).then(|| organization.clone())));
        self
    }

    /// Accepts exactly `token`.
    pub fn with_token(self, token: &NewToken) -> Self {
        self.with_tokens(&[token])
    }

    /// Accepts exactly these tokens.
    pub fn with_tokens(mut self, tokens: &[&NewToken]) -> Self {
        let records: Vec<_> = tokens.iter().map(|token| token.record.clone()).collect();
        self.known_tokens = records.clone();
        self.tokens = MockTokenStore::new();
        self.tokens
            .expect_find_token()
            .returning(move |hash| Ok(records.iter().find(|record| record.hash == *hash).cloned()));
        self
    }

    /// Billing's ports, set up by `setup`.
    pub fn billing(mut self, setup: impl FnOnce(&mut BillingMocks)) -> Self {
        setup(&mut self.billing);
        self
    }

    /// The state the app is built from, with fresh metrics.
    pub fn state(self) -> ApiState {
        let pool_stats = self.pool_stats;
        let (records, organizations) = (self.known_tokens, self.known_organizations);
        let find = move |hash: &TokenHash| records.iter().find(|r| r.hash == *hash).cloned();
        let find_token = find.clone();
        let mut balance_tokens = MockTokenStore::new();
        balance_tokens
            .expect_find_token_and_organization()
            .returning(move |hash, inn| {
                let organization = organizations.iter().find(|o| o.inn == *inn).cloned();
                Ok((find(hash), organization))
            });
        balance_tokens
            .expect_find_token()
            .returning(move |hash| Ok(find_token(hash)));
        ApiState {
            receive_bank_payment: ReceiveBankPayment::new(Arc::new(self.bank)),
            read_balance: ReadBalance::new(Arc::new(self.organizations), Arc::new(balance_tokens)),
            authenticate: Authenticate::new(Arc::new(self.tokens)),
            billing: self.billing.billing(),
            idempotency: IdempotentReplays::new(Arc::new(self.idempotency), DEFAULT_RETENTION),
            webhook_auth: self.auth,
            readiness: self.readiness,
            pool_stats: Arc::new(move || pool_stats),
            metrics: Metrics::new().unwrap(),
            rate_limit: self.rate_limit,
        }
    }

    pub async fn call(self, request: TestRequest) -> Answer {
        self.call_with(request, |_| {}).await
    }

    /// Sends `first`, then answers `second`, on one app (for state that requests share, such
    /// as the rate limit).
    pub async fn call_after(self, first: TestRequest, second: TestRequest) -> Answer {
        let settings = self.settings;
        let service = test::init_service(app(self.state(), settings)).await;
        let _ = service.call(first.to_request()).await.unwrap();
        Answer::read(service.call(second.to_request()).await.unwrap()).await
    }

    /// Like `call`, with a last change to the headers `TestRequest` sets itself.
    pub async fn call_with(
        self,
        request: TestRequest,
        tweak: impl FnOnce(&mut header::HeaderMap),
    ) -> Answer {
        let settings = self.settings;
        let state = self.state();
        let service = test::init_service(app(state, settings)).await;
        let mut request = request.to_request();
        tweak(request.headers_mut());
        let response = service.call(request).await.unwrap();
        Answer::read(response).await
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub async fn read<B: MessageBody>(response: ServiceResponse<B>) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        // Lossy: the docs UI also serves images.
        let body = String::from_utf8_lossy(&test::read_body(response).await).into_owned();
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Status, JSON content type and the body as a JSON value.
    #[track_caller]
    pub fn assert(&self, status: StatusCode, body: Value) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.header(header::CONTENT_TYPE), Some("application/json"));
        assert_eq!(self.json(), body);
    }
}

pub fn signed(body: &str) -> TestRequest {
    signed_at(body, Utc::now().timestamp())
}

pub fn signed_at(body: &str, timestamp: i64) -> TestRequest {
    unsigned(body).insert_header((
        signature::HEADER,
        signature::sign(&secret(), timestamp, body.as_bytes()),
    ))
}

pub fn unsigned(body: &str) -> TestRequest {
    TestRequest::post()
        .uri(WEBHOOK)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_string())
}

/// The webhook body of [`BODY`] with another amount, as the store would return it.
pub fn recorded_payment(amount: &str) -> BankPayment {
    BankPayment::from_raw(&RawBankPayment {
        operation_id: RawField::Text("ccf0a86d-041b-4991-bcf7-e2352f7b8a4a".into()),
        amount: RawField::Text(amount.into()),
        payer_inn: RawField::Text("1234567890".into()),
        document_number: RawField::Text("PAY-328".into()),
        document_date: RawField::Text("2024-04-27T21:00:00Z".into()),
    })
    .unwrap()
}

pub fn processed(payment_id: PaymentId) -> Value {
    json!({"message": "Payment processed successfully", "payment_id": payment_id.to_string()})
}

pub fn invalid(details: Value) -> Value {
    json!({"error": "Invalid data", "details": details})
}

pub fn invalid_signature() -> Value {
    json!({"error": "Invalid signature"})
}

pub const BALANCE: &str = "/api/organizations/1234567890/balance/";

pub fn organization() -> Organization {
    let seen =
        Organization::first_seen_in_bank_payment(Inn::parse("1234567890").unwrap(), Utc::now());
    Organization::restore(
        seen.id,
        seen.inn,
        seen.name,
        seen.country,
        rub("145000"),
        seen.created_at,
        seen.updated_at,
    )
}

pub fn staff_token() -> NewToken {
    mint(1, Role::Staff, None)
}

/// A token of a new user with `role`, from 32 bytes of `random`.
pub fn mint(random: u8, role: Role, organization: Option<OrganizationId>) -> NewToken {
    let user = User::new(role, organization, "test user", Utc::now()).unwrap();
    NewToken::mint([random; 32], &user, Utc::now())
}

pub fn get(uri: &str, token: Option<&NewToken>) -> TestRequest {
    let request = TestRequest::get().uri(uri);
    match token {
        Some(token) => {
            request.insert_header((header::AUTHORIZATION, format!("Bearer {}", token.plaintext)))
        }
        None => request,
    }
}
