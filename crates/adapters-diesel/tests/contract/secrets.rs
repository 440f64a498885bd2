//! [`WebhookSecretStore`](payments_domain::ports::WebhookSecretStore).

use crate::support::*;

async fn concurrent_first_calls_store_one_webhook_secret(db: &TestDatabase) {
    let a = WebhookSecret::generate([0xaa; 32]);
    let b = WebhookSecret::generate([0xbb; 32]);
    let (da, db2) = (db.database().clone(), db.database().clone());
    let (ca, cb) = (a.clone(), b.clone());
    let (got_a, got_b) = tokio::join!(
        tokio::spawn(async move { da.load_or_store_secret(&ca).await }),
        tokio::spawn(async move { db2.load_or_store_secret(&cb).await }),
    );
    let (got_a, got_b) = (got_a.unwrap().unwrap(), got_b.unwrap().unwrap());
    assert_eq!(got_a, got_b);
    assert!(got_a == a || got_a == b);
    let later = db
        .load_or_store_secret(&WebhookSecret::generate([0xcc; 32]))
        .await
        .unwrap();
    assert_eq!(later, got_a);
    assert_eq!(db.count_rows("webhook_secrets"), 1);
}

contract_tests!(concurrent_first_calls_store_one_webhook_secret,);
