//! [`CatalogueStore`](payments_domain::ports::CatalogueStore): the catalogue and overrides.

use crate::support::*;

async fn the_default_catalogue_is_seeded(db: &TestDatabase) {
    let configs = db.list_configs().await.unwrap();
    let mut rows: Vec<(String, PaymentMethod, String, bool)> = configs
        .iter()
        .map(|c| {
            (
                c.country.to_string(),
                c.method,
                c.display_name.clone(),
                c.enabled,
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("*".into(), BankTransfer, "Bank transfer".into(), true),
            ("KZ".into(), LocalWallet, "Kaspi".into(), true),
            ("RU".into(), BankTransfer, "Банковский перевод".into(), true),
            ("RU".into(), LocalWallet, "СБП / ЮMoney".into(), true),
        ]
    );
    let ru_bank = configs
        .iter()
        .find(|c| c.country.as_str() == "RU" && c.method == BankTransfer)
        .unwrap();
    assert_eq!(ru_bank.details["bik"], json!("044525000"));
    assert_eq!(ru_bank.details["example"], json!(true));
    assert!(ru_bank.instructions.contains("Переведите"));
    for config in &configs {
        assert!(config.details.is_object());
        assert!(config.sort_order > 0);
    }
    // What a Russian organization is offered on a fresh installation.
    let organization = organization(db, "1234567890").await;
    let offered: Vec<(PaymentMethod, String)> = available(db, &organization)
        .await
        .into_iter()
        .map(|m| (m.method, m.display_name))
        .collect();
    assert_eq!(
        offered,
        vec![
            (BankTransfer, "Банковский перевод".to_string()),
            (LocalWallet, "СБП / ЮMoney".to_string()),
        ]
    );
}

async fn catalogue_configs_are_created_updated_and_deleted(db: &TestDatabase) {
    let card = config("DE", PaymentMethod::Card);
    db.create_config(&card).await.unwrap();
    assert_eq!(db.find_config(card.id).await.unwrap(), Some(card.clone()));
    assert_eq!(db.list_configs().await.unwrap().len(), 5);

    let mut twin = config("DE", PaymentMethod::Card);
    twin.display_name = "twin".into();
    assert_eq!(
        db.create_config(&twin).await,
        Err(CatalogueError::Duplicate)
    );

    let mut changed = card.clone();
    changed.enabled = false;
    changed.details = json!({"iban": "DE11"});
    changed.sort_order = -3;
    changed.updated_at = now() + Duration::minutes(5);
    db.update_config(&changed).await.unwrap();
    assert_eq!(
        db.find_config(card.id).await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        db.list_configs().await.unwrap()[0].id,
        card.id,
        "sort order"
    );

    // Moving it onto a taken (country, method) pair is a duplicate; an unknown id not found.
    let mut onto_taken = changed.clone();
    onto_taken.country = CountryScope::Any;
    onto_taken.method = BankTransfer;
    assert_eq!(
        db.update_config(&onto_taken).await,
        Err(CatalogueError::Duplicate)
    );
    let mut ghost = changed.clone();
    ghost.id = Uuid::new_v4();
    assert_eq!(
        db.update_config(&ghost).await,
        Err(CatalogueError::NotFound)
    );

    db.delete_config(card.id).await.unwrap();
    assert_eq!(db.find_config(card.id).await.unwrap(), None);
    assert_eq!(
        db.delete_config(card.id).await,
        Err(CatalogueError::NotFound)
    );
    // A details value that is not an object is refused by the database itself.
    assert!(db
        .execute_sql("UPDATE payment_method_configs SET details = '[1]' WHERE country_code = '*'")
        .is_err());
}

async fn overrides_are_replaced_and_the_default_moves(db: &TestDatabase) {
    let organization = organization(db, "1234567890").await;
    let other = organization_at(db, "0987654321", now()).await;
    db.upsert_override(&setting(&other, BankTransfer, true, true))
        .await
        .unwrap();

    let bank = setting(&organization, BankTransfer, true, true);
    db.upsert_override(&bank).await.unwrap();
    assert_eq!(
        db.list_overrides(organization.id).await.unwrap(),
        vec![bank.clone()]
    );

    // Marking the wallet default clears the bank transfer's flag, not the other tenant's.
    let wallet = setting(&organization, LocalWallet, true, true);
    db.upsert_override(&wallet).await.unwrap();
    let listed = db.list_overrides(organization.id).await.unwrap();
    let defaults: Vec<(PaymentMethod, bool)> =
        listed.iter().map(|o| (o.method, o.is_default)).collect();
    assert_eq!(defaults, vec![(BankTransfer, false), (LocalWallet, true)]);
    assert!(db.list_overrides(other.id).await.unwrap()[0].is_default);

    // Upserting again replaces the row (keeping its creation time).
    let mut wallet_off = setting(&organization, LocalWallet, false, false);
    wallet_off.updated_at = now() + Duration::minutes(1);
    db.upsert_override(&wallet_off).await.unwrap();
    let listed = db.list_overrides(organization.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[1],
        AccountPaymentMethod {
            created_at: wallet.created_at,
            ..wallet_off.clone()
        }
    );
    let offered: Vec<PaymentMethod> = available(db, &organization)
        .await
        .into_iter()
        .map(|m| m.method)
        .collect();
    assert_eq!(offered, vec![BankTransfer], "the wallet is switched off");

    db.delete_override(organization.id, LocalWallet)
        .await
        .unwrap();
    assert_eq!(
        db.delete_override(organization.id, LocalWallet).await,
        Err(CatalogueError::NotFound)
    );
    assert_eq!(db.list_overrides(organization.id).await.unwrap().len(), 1);
    // An override of an unknown organization is a storage error, not a silent insert.
    let ghost = Organization::new(
        OrganizationId::new_random(),
        organization.inn.clone(),
        organization.name.clone(),
        organization.country.clone(),
        organization.currency(),
        organization.created_at,
    );
    assert!(db
        .upsert_override(&setting(&ghost, BankTransfer, true, false))
        .await
        .is_err());
}

contract_tests!(
    the_default_catalogue_is_seeded,
    catalogue_configs_are_created_updated_and_deleted,
    overrides_are_replaced_and_the_default_moves,
);
