//! [`TokenStore`](payments_domain::ports::TokenStore).

use crate::support::*;

async fn users_and_tokens_take_role_and_organization_from_the_user(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let created = now();
    let member = User::new(Role::Member, Some(organization.id), "Anna", created).unwrap();
    let staff = User::new(Role::Staff, None, "Operator", created).unwrap();
    let member_token = NewToken::mint([1; 32], &member, created);
    let staff_token = NewToken::mint([2; 32], &staff, created);
    db.insert_user_with_token(&member, &member_token.record)
        .await
        .unwrap();
    db.insert_user_with_token(&staff, &staff_token.record)
        .await
        .unwrap();

    // A second user presenting a taken hash is refused, and rolled back with its token.
    let intruder = User::new(Role::Staff, None, "Intruder", created).unwrap();
    let mut clash = NewToken::mint([3; 32], &intruder, created).record;
    clash.hash = member_token.record.hash.clone();
    assert!(db.insert_user_with_token(&intruder, &clash).await.is_err());
    assert_eq!(db.count_rows("users"), 2, "the refused user is rolled back");
    assert_eq!(db.count_rows("api_tokens"), 2);

    let found = db
        .find_token(&TokenHash::of(&member_token.plaintext))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, member_token.record);
    assert_eq!(found.role, Role::Member);
    assert_eq!(found.organization_id, Some(organization.id));
    assert_eq!(found.user_id, member.id);
    let found = db
        .find_token(&staff_token.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.role, found.organization_id), (Role::Staff, None));
    assert_eq!(
        db.find_token(&TokenHash::of("pay_nope")).await.unwrap(),
        None
    );

    // A user row that breaks the member ⇔ organization rule is refused by the database.
    assert!(db
        .execute_sql(&format!(
            "INSERT INTO users (id, role, organization_id, name) \
             VALUES ('{}', 'staff', '{}', 'x')",
            Uuid::new_v4(),
            organization.id
        ))
        .is_err());

    let first = created + Duration::minutes(1);
    assert!(db
        .revoke_token(member_token.record.id, first)
        .await
        .unwrap());
    assert!(db
        .revoke_token(member_token.record.id, first + Duration::minutes(1))
        .await
        .unwrap());
    let revoked = db
        .find_token(&member_token.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked.revoked_at,
        Some(first),
        "first revocation time kept"
    );
    let untouched = db
        .find_token(&staff_token.record.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.revoked_at, None);
    assert!(!db
        .revoke_token(TokenId(Uuid::new_v4()), first)
        .await
        .unwrap());
}

async fn the_token_and_the_organization_are_read_together_and_fresh(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let other = Inn::parse("0987654321").unwrap();
    let created = now();
    let member = User::new(Role::Member, Some(organization.id), "Anna", created).unwrap();
    let token = NewToken::mint([1; 32], &member, created);
    db.insert_user_with_token(&member, &token.record)
        .await
        .unwrap();
    let hash = TokenHash::of(&token.plaintext);

    let (found, read) = db
        .find_token_and_organization(&hash, &organization.inn)
        .await
        .unwrap();
    assert_eq!(found, Some(token.record.clone()));
    let read = read.unwrap();
    assert_eq!(
        (read.id, read.inn.clone(), read.balance()),
        (
            organization.id,
            organization.inn.clone(),
            organization.balance()
        )
    );
    let (found, read) = db.find_token_and_organization(&hash, &other).await.unwrap();
    assert_eq!(found, Some(token.record.clone()));
    assert_eq!(read, None, "an unknown INN");
    let (found, _) = db
        .find_token_and_organization(&TokenHash::of("pay_nope"), &organization.inn)
        .await
        .unwrap();
    assert_eq!(found, None);

    // A revocation shows on the very next read: nothing is cached.
    let revoked_at = created + Duration::minutes(1);
    assert!(db.revoke_token(token.record.id, revoked_at).await.unwrap());
    let (found, _) = db
        .find_token_and_organization(&hash, &organization.inn)
        .await
        .unwrap();
    assert_eq!(found.and_then(|t| t.revoked_at), Some(revoked_at));
}

contract_tests!(
    users_and_tokens_take_role_and_organization_from_the_user,
    the_token_and_the_organization_are_read_together_and_fresh,
);
