//! [`OrganizationStore`](payments_domain::ports::OrganizationStore).

use crate::support::*;

async fn an_unknown_inn_has_no_organization(db: &TestDatabase) {
    assert_eq!(db.find_by_inn(&inn("000000000000")).await.unwrap(), None);
}

async fn organizations_are_created_once_per_inn(db: &TestDatabase) {
    let first = organization(db, "1234567890").await;
    assert_eq!(
        db.find_organization(first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        db.find_by_inn(&first.inn).await.unwrap(),
        Some(first.clone())
    );
    let mut twin = first.clone();
    twin.id = OrganizationId::new_random();
    twin.name = "Another".into();
    assert_eq!(
        db.create_organization(&twin).await,
        Err(CreateOrganizationError::InnTaken)
    );
    assert_eq!(db.count_rows("organizations"), 1);
    assert_eq!(
        db.find_organization(OrganizationId::new_random())
            .await
            .unwrap(),
        None
    );
}

async fn organizations_are_listed_newest_first_with_a_total(db: &TestDatabase) {
    let base = now();
    let mut created = Vec::new();
    for i in 0..5 {
        let at = base + Duration::seconds(i);
        created.push(organization_at(db, &format!("{:010}", 1_000_000_000 + i), at).await);
    }
    let first = db.list_organizations(page(1, 2)).await.unwrap();
    assert_eq!(first.total, 5);
    assert!(first.has_next());
    let ids: Vec<_> = first.items.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![created[4].id, created[3].id]);
    let last = db.list_organizations(page(3, 2)).await.unwrap();
    assert_eq!(last.items, vec![created[0].clone()]);
    assert!(!last.has_next());
    assert!(db
        .list_organizations(page(4, 2))
        .await
        .unwrap()
        .items
        .is_empty());
}

contract_tests!(
    an_unknown_inn_has_no_organization,
    organizations_are_created_once_per_inn,
    organizations_are_listed_newest_first_with_a_total,
);
