//! The payment-method catalogue, per-organization overrides, and which methods an
//! organization may use.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::organization::{CountryCode, OrganizationId};
use crate::payment::PaymentMethod;

/// Which countries a catalogue row applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CountryScope {
    /// Every country (`"*"`), unless a row for the organization's country overrides it.
    Any,
    /// One country.
    Country(CountryCode),
}

impl CountryScope {
    /// Parses `"*"` or a two-letter country code.
    pub fn parse(text: &str) -> Result<Self, crate::organization::InvalidCountry> {
        if text.trim() == "*" {
            Ok(Self::Any)
        } else {
            CountryCode::parse(text).map(Self::Country)
        }
    }

    /// `"*"` or the code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Any => "*",
            Self::Country(code) => code.as_str(),
        }
    }
}

impl fmt::Display for CountryScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One catalogue row: how a method is offered in a country (or everywhere).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentMethodConfig {
    pub id: Uuid,
    pub country: CountryScope,
    pub method: PaymentMethod,
    pub enabled: bool,
    pub display_name: String,
    pub instructions: String,
    /// Bank account, wallet number and the like, as a JSON object shown to payers.
    pub details: serde_json::Value,
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An organization's own setting for one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPaymentMethod {
    pub organization_id: OrganizationId,
    pub method: PaymentMethod,
    pub is_enabled: bool,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What storing one override writes: the rule "at most one default method per organization".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverridePlan {
    /// Create or replace this override.
    pub setting: AccountPaymentMethod,
    /// Clear `is_default` (at `setting.updated_at`) on these other methods of the
    /// organization, so the new default is the only one.
    pub clear_default: Vec<PaymentMethod>,
}

/// Plans storing `setting` over the organization's `current` overrides, read under the lock
/// that serializes the organization's overrides (see
/// [`crate::ports::CatalogueStore::upsert_override`]). A new default takes the mark from the
/// others; a non-default setting leaves them alone.
pub fn plan_override(
    setting: &AccountPaymentMethod,
    current: &[AccountPaymentMethod],
) -> OverridePlan {
    let clear_default = if setting.is_default {
        current
            .iter()
            .filter(|other| {
                other.organization_id == setting.organization_id
                    && other.method != setting.method
                    && other.is_default
            })
            .map(|other| other.method)
            .collect()
    } else {
        Vec::new()
    };
    OverridePlan {
        setting: setting.clone(),
        clear_default,
    }
}

/// A method as offered to one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct AvailableMethod {
    pub method: PaymentMethod,
    pub display_name: String,
    pub instructions: String,
    pub details: serde_json::Value,
    pub is_default: bool,
    pub sort_order: i32,
}

/// The availability rule.
///
/// 1. For each method, the catalogue row of the organization's country overrides the `*` row.
/// 2. The chosen row must be enabled, unless the organization's override enables the method
///    explicitly (an override can switch on a method the catalogue describes but has off; it
///    cannot invent one the catalogue has no row for).
/// 3. An organization override with `is_enabled = false` removes the method.
/// 4. At most one method is the default: the first, in order, that the organization marked.
///    Stores keep one default already ([`plan_override`]); this keeps the answer right for
///    rows written before that rule, or by hand.
/// 5. Ordered by sort order, then method name.
pub fn available_methods(
    country: &CountryCode,
    catalogue: &[PaymentMethodConfig],
    overrides: &[AccountPaymentMethod],
) -> Vec<AvailableMethod> {
    let mut chosen: BTreeMap<PaymentMethod, &PaymentMethodConfig> = BTreeMap::new();
    for row in catalogue {
        match &row.country {
            CountryScope::Country(code) if code == country => {
                chosen.insert(row.method, row);
            }
            CountryScope::Any => {
                chosen.entry(row.method).or_insert(row);
            }
            CountryScope::Country(_) => {}
        }
    }
    let override_of = |method: PaymentMethod| overrides.iter().find(|o| o.method == method);
    let mut methods: Vec<AvailableMethod> = chosen
        .into_values()
        .filter(|row| match override_of(row.method) {
            Some(own) => own.is_enabled,
            None => row.enabled,
        })
        .map(|row| AvailableMethod {
            method: row.method,
            display_name: row.display_name.clone(),
            instructions: row.instructions.clone(),
            details: row.details.clone(),
            is_default: override_of(row.method).is_some_and(|o| o.is_default),
            sort_order: row.sort_order,
        })
        .collect();
    methods
        .sort_by(|a, b| (a.sort_order, a.method.as_str()).cmp(&(b.sort_order, b.method.as_str())));
    let mut default_seen = false;
    for method in &mut methods {
        if method.is_default {
            method.is_default = !default_seen;
            default_seen = true;
        }
    }
    methods
}

#[cfg(test)]
mod tests {

    fn setting(method: PaymentMethod, is_default: bool) -> AccountPaymentMethod {
        AccountPaymentMethod {
            organization_id: OrganizationId(Uuid::from_u128(1)),
            ..own(method, true, is_default)
        }
    }

    #[test]
    fn a_new_default_clears_the_other_defaults_only() {
        let current = [
            setting(PaymentMethod::BankTransfer, true),
            setting(PaymentMethod::Card, false),
            setting(PaymentMethod::LocalWallet, true),
        ];
        let card = setting(PaymentMethod::Card, true);
        let plan = plan_override(&card, &current);
        assert_eq!(plan.setting, card);
        assert_eq!(
            plan.clear_default,
            vec![PaymentMethod::BankTransfer, PaymentMethod::LocalWallet]
        );
        // Re-marking the current default clears nothing else.
        let plan = plan_override(&setting(PaymentMethod::BankTransfer, true), &current[..2]);
        assert!(plan.clear_default.is_empty());
    }

    #[test]
    fn a_non_default_setting_leaves_the_default_alone() {
        let current = [setting(PaymentMethod::BankTransfer, true)];
        let plan = plan_override(&setting(PaymentMethod::Card, false), &current);
        assert!(plan.clear_default.is_empty());
    }

    #[test]
    fn other_organizations_overrides_are_never_cleared() {
        let mut theirs = setting(PaymentMethod::BankTransfer, true);
        theirs.organization_id = OrganizationId(Uuid::from_u128(2));
        let plan = plan_override(&setting(PaymentMethod::Card, true), &[theirs]);
        assert!(plan.clear_default.is_empty());
    }

    use super::*;
    use serde_json::json;

    fn row(country: &str, method: PaymentMethod, enabled: bool, sort: i32) -> PaymentMethodConfig {
        PaymentMethodConfig {
            id: Uuid::new_v4(),
            country: CountryScope::parse(country).unwrap(),
            method,
            enabled,
            display_name: format!("{method} {country}"),
            instructions: String::new(),
            details: json!({}),
            sort_order: sort,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn own(method: PaymentMethod, is_enabled: bool, is_default: bool) -> AccountPaymentMethod {
        AccountPaymentMethod {
            organization_id: OrganizationId::new_random(),
            method,
            is_enabled,
            is_default,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn names(methods: &[AvailableMethod]) -> Vec<String> {
        methods.iter().map(|m| m.display_name.clone()).collect()
    }

    use PaymentMethod::*;

    #[test]
    fn country_row_overrides_the_global_row() {
        let catalogue = [
            row("*", BankTransfer, true, 1),
            row("RU", BankTransfer, true, 1),
            row("*", Card, true, 2),
        ];
        let ru = CountryCode::parse("RU").unwrap();
        assert_eq!(
            names(&available_methods(&ru, &catalogue, &[])),
            ["bank_transfer RU", "card *"]
        );
        let de = CountryCode::parse("DE").unwrap();
        assert_eq!(
            names(&available_methods(&de, &catalogue, &[])),
            ["bank_transfer *", "card *"]
        );
    }

    #[test]
    fn a_disabled_country_row_hides_the_global_method() {
        let catalogue = [row("*", Card, true, 1), row("RU", Card, false, 1)];
        let ru = CountryCode::parse("RU").unwrap();
        assert!(available_methods(&ru, &catalogue, &[]).is_empty());
    }

    #[test]
    fn organization_overrides_disable_enable_and_pick_the_default() {
        let catalogue = [
            row("RU", BankTransfer, true, 2),
            row("RU", LocalWallet, false, 1),
            row("*", Card, true, 3),
        ];
        let ru = CountryCode::parse("RU").unwrap();
        let overrides = [
            own(Card, false, false),
            own(LocalWallet, true, true),
            own(BankTransfer, true, true),
            own(Paypal, true, false), // no catalogue row: cannot be invented
        ];
        let methods = available_methods(&ru, &catalogue, &overrides);
        assert_eq!(names(&methods), ["local_wallet RU", "bank_transfer RU"]);
        assert_eq!(
            methods.iter().map(|m| m.is_default).collect::<Vec<_>>(),
            [true, false],
            "only the first marked method stays default"
        );
    }

    #[test]
    fn ties_in_sort_order_fall_back_to_the_method_name() {
        let catalogue = [
            row("*", LocalWallet, true, 0),
            row("*", BankTransfer, true, 0),
        ];
        let ru = CountryCode::parse("RU").unwrap();
        assert_eq!(
            names(&available_methods(&ru, &catalogue, &[])),
            ["bank_transfer *", "local_wallet *"]
        );
    }
}
