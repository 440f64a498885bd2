//! The concurrency and money cases of the contract, through HTTP, on SQLite and PostgreSQL.
//! PostgreSQL runs when `PAYMENTS_TEST_DATABASE_URL` is set (skipped with a note otherwise;
//! a failure when `PAYMENTS_TEST_REQUIRE_POSTGRES=1`).

use std::sync::Arc;

use crate::helpers::{new_operation_id, payment, spawn_app, Backend, TestApp, INN};
use serde_json::json;
use tokio::task::JoinSet;

async fn post_all(app: &Arc<TestApp>, bodies: Vec<serde_json::Value>) -> Vec<u16> {
    let mut set = JoinSet::new();
    for body in bodies {
        let app = app.clone();
        set.spawn(async move { app.post_webhook(&body).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(status) = set.join_next().await {
        statuses.push(status.expect("task"));
    }
    statuses
}

async fn fifty_concurrent_posts_of_one_operation_credit_once(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let app = Arc::new(app);
    let staff = app.staff_token().await;
    let body = payment(&new_operation_id(), json!("123.45"), INN);
    let statuses = post_all(&app, vec![body; 50]).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.balance_text(INN, &staff).await.unwrap(), "123.45");
}

async fn fifty_concurrent_distinct_payments_sum_exactly(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let app = Arc::new(app);
    let staff = app.staff_token().await;
    let bodies = (1..=50)
        .map(|i| payment(&new_operation_id(), json!(format!("{i}.01")), INN))
        .collect();
    let statuses = post_all(&app, bodies).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // sum(1..=50) + 50 * 0.01
    assert_eq!(app.balance_text(INN, &staff).await.unwrap(), "1275.50");
}

async fn hundred_dimes_are_exactly_ten(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let app = Arc::new(app);
    let staff = app.staff_token().await;
    let bodies = (0..100)
        .map(|_| payment(&new_operation_id(), json!(0.10), INN))
        .collect();
    let statuses = post_all(&app, bodies).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.balance_text(INN, &staff).await.unwrap(), "10.00");
}

async fn overflow_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let staff = app.staff_token().await;
    app.post_webhook(&payment(
        &new_operation_id(),
        json!("9999999999999.99"),
        INN,
    ))
    .await
    .expect(200);
    app.post_webhook(&payment(&new_operation_id(), json!(1), INN))
        .await
        .expect(422);
    assert_eq!(
        app.balance_text(INN, &staff).await.unwrap(),
        "9999999999999.99"
    );
}

async fn conflict_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let staff = app.staff_token().await;
    let id = new_operation_id();
    app.post_webhook(&payment(&id, json!(10), INN))
        .await
        .expect(200);
    app.post_webhook(&payment(&id, json!(10), "0987654321"))
        .await
        .expect(409);
    assert_eq!(app.balance_text("0987654321", &staff).await, None);
    assert_eq!(app.balance_text(INN, &staff).await.unwrap(), "10.00");
}

on_both_backends!(
    fifty_concurrent_posts_of_one_operation_credit_once,
    fifty_concurrent_distinct_payments_sum_exactly,
    hundred_dimes_are_exactly_ten,
    overflow_is_refused_and_changes_nothing,
    conflict_changes_nothing,
);
