//! Contract cases of the console's ports: sessions, the organization search, payments by date.

use payments_domain::console::{
    NewSession, OrganizationSearch, SessionHash, SessionStore, SESSION_LIFETIME_HOURS,
};
use payments_domain::pagination::Page;

use crate::support::*;

async fn staff_token(db: &TestDatabase) -> NewToken {
    let user = User::new(Role::Staff, None, "ops", now()).unwrap();
    let token = NewToken::mint(rand_bytes(), &user, now());
    db.insert_user_with_token(&user, &token.record)
        .await
        .unwrap();
    token
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes
}

async fn sessions_are_found_by_hash_with_their_token_and_end_once(db: &TestDatabase) {
    let token = staff_token(db).await;
    let at = now();
    let session = NewSession::open(rand_bytes(), &token.record, at).unwrap();
    db.create_session(&session.record).await.unwrap();

    let (found, found_token) = db
        .find_session(&SessionHash::of(&session.session_id))
        .await
        .unwrap()
        .expect("the session is found by the hash of its id");
    assert_eq!(found, session.record);
    assert_eq!(
        found.expires_at,
        at + Duration::hours(SESSION_LIFETIME_HOURS)
    );
    assert_eq!(found_token, token.record);
    assert_eq!(
        db.find_session(&SessionHash::of("ses_unknown"))
            .await
            .unwrap(),
        None
    );

    let first_end = at + Duration::seconds(5);
    assert!(db
        .end_session(&session.record.hash, first_end)
        .await
        .unwrap());
    assert!(db
        .end_session(&session.record.hash, first_end + Duration::seconds(5))
        .await
        .unwrap());
    let (ended, _) = db
        .find_session(&session.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.ended_at, Some(first_end), "the first end is kept");
    assert!(!db
        .end_session(&SessionHash::of("ses_unknown"), first_end)
        .await
        .unwrap());
}

async fn dead_sessions_are_deleted_and_live_ones_kept(db: &TestDatabase) {
    let token = staff_token(db).await;
    let at = now();
    let live = NewSession::open(rand_bytes(), &token.record, at).unwrap();
    let ended = NewSession::open(rand_bytes(), &token.record, at).unwrap();
    let expired = NewSession::open(
        rand_bytes(),
        &token.record,
        at - Duration::hours(SESSION_LIFETIME_HOURS),
    )
    .unwrap();
    for session in [&live, &ended, &expired] {
        db.create_session(&session.record).await.unwrap();
    }
    assert!(db.end_session(&ended.record.hash, at).await.unwrap());
    // `expired` expires exactly at `at`: not live any more (is_live needs now < expires_at).
    assert!(!expired.record.is_live(at) && live.record.is_live(at));
    assert_eq!(db.delete_dead_sessions(at).await.unwrap(), 2);
    assert!(db.find_session(&live.record.hash).await.unwrap().is_some());
    assert!(db.find_session(&ended.record.hash).await.unwrap().is_none());
    assert!(db
        .find_session(&expired.record.hash)
        .await
        .unwrap()
        .is_none());
    assert_eq!(db.delete_dead_sessions(at).await.unwrap(), 0);
}

async fn a_revoked_token_shows_in_its_sessions(db: &TestDatabase) {
    let token = staff_token(db).await;
    let session = NewSession::open(rand_bytes(), &token.record, now()).unwrap();
    db.create_session(&session.record).await.unwrap();
    let revoked_at = now();
    assert!(db.revoke_token(token.record.id, revoked_at).await.unwrap());
    let (_, found_token) = db
        .find_session(&session.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_token.revoked_at, Some(revoked_at));
}

async fn named(db: &TestDatabase, inn_text: &str, name: &str) -> Organization {
    let organization = Organization::new(
        OrganizationId::new_random(),
        inn(inn_text),
        name.to_string(),
        CountryCode::russia(),
        Currency::RUB,
        now(),
    );
    db.create_organization(&organization).await.unwrap();
    organization
}

async fn organizations_are_searched_by_inn_prefix_or_name(db: &TestDatabase) {
    let acme = named(db, "7701234567", "Acme LLC").await;
    let bolt = named(db, "7709999999", "Bolt 100% Ltd").await;
    let other = named(db, "5000000001", "Zeta").await;
    let search = |q: &'static str| async move {
        db.search_organizations(q, PageRequest::default())
            .await
            .unwrap()
    };
    let ids = |page: Page<Organization>| page.items.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids(search("770").await),
        vec![acme.id, bolt.id],
        "by INN prefix"
    );
    assert_eq!(ids(search("acme").await), vec![acme.id], "any case");
    assert_eq!(ids(search("ACME").await), vec![acme.id]);
    assert_eq!(ids(search("100%").await), vec![bolt.id], "% is literal");
    assert_eq!(ids(search("1%").await), Vec::<OrganizationId>::new());
    assert_eq!(
        ids(search("234567").await),
        Vec::<OrganizationId>::new(),
        "INN by prefix only"
    );
    let all = search("").await;
    assert_eq!(all.total, 3);
    assert_eq!(ids(all), vec![acme.id, bolt.id, other.id]);
    let second = db
        .search_organizations(
            "",
            PageRequest {
                page: 2,
                page_size: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.total, 3);
    assert_eq!(ids(second), vec![other.id]);
}

async fn payments_are_filtered_by_creation_date(db: &TestDatabase) {
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    let mut ids = Vec::new();
    for at in [day(1, 10), day(2, 0), day(2, 23), day(3, 0)] {
        let outcome = db
            .record_bank_payment(&bank_payment("10.00", "1234567890"), at)
            .await
            .unwrap();
        match outcome {
            RecordOutcome::Recorded { payment_id, .. } => ids.push(payment_id),
            other => panic!("expected Recorded, got {other:?}"),
        }
    }
    let found = db
        .list_payments(
            &PaymentFilter {
                created_from: Some(day(2, 0)),
                created_before: Some(day(3, 0)),
                ..PaymentFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    let found: Vec<_> = found.items.iter().map(|v| v.payment.id).collect();
    assert_eq!(
        found,
        vec![ids[2], ids[1]],
        "from inclusive, before exclusive"
    );
    let oldest_first = db
        .list_payments(
            &PaymentFilter {
                created_from: Some(day(2, 0)),
                order: ListOrder::OldestFirst,
                ..PaymentFilter::default()
            },
            PageRequest {
                page: 1,
                page_size: 2,
            },
        )
        .await
        .unwrap();
    let oldest_first: Vec<_> = oldest_first.items.iter().map(|v| v.payment.id).collect();
    assert_eq!(oldest_first, vec![ids[1], ids[2]], "oldest first, paged");
}

contract_tests!(
    sessions_are_found_by_hash_with_their_token_and_end_once,
    a_revoked_token_shows_in_its_sessions,
    dead_sessions_are_deleted_and_live_ones_kept,
    organizations_are_searched_by_inn_prefix_or_name,
    payments_are_filtered_by_creation_date,
);
