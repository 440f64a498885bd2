//! Authentication, token issuing and tenancy-checked reads.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::{
    NewToken, Principal, Role, TokenHash, TokenId, TokenRecord, TokenRuleError, User,
};
use crate::error::StorageError;
use crate::organization::{Inn, Organization};
use crate::ports::{OrganizationStore, TokenStore};

/// Why a request could not be authenticated (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthenticationError {
    #[error("Authentication credentials were not provided.")]
    Missing,
    #[error("Invalid or revoked token.")]
    Invalid,
    #[error(transparent)]
    Storage(StorageError),
}

/// Turns a presented bearer token into a [`Principal`].
#[derive(Clone)]
pub struct Authenticate {
    tokens: Arc<dyn TokenStore>,
}

impl Authenticate {
    pub fn new(tokens: Arc<dyn TokenStore>) -> Self {
        Self { tokens }
    }

    /// Looks the token up by its hash; revoked and unknown tokens are refused alike.
    pub async fn execute(&self, token: Option<&str>) -> Result<Principal, AuthenticationError> {
        let token = token.ok_or(AuthenticationError::Missing)?;
        principal_by_hash(self.tokens.as_ref(), &TokenHash::of(token)).await
    }
}

/// The principal of the token with `hash`, read from the store.
async fn principal_by_hash(
    tokens: &dyn TokenStore,
    hash: &TokenHash,
) -> Result<Principal, AuthenticationError> {
    let record = tokens
        .find_token(hash)
        .await
        .map_err(AuthenticationError::Storage)?;
    principal_of(record)
}

/// The principal of a looked-up token: revoked and unknown tokens are refused alike.
fn principal_of(record: Option<TokenRecord>) -> Result<Principal, AuthenticationError> {
    let record = record.ok_or(AuthenticationError::Invalid)?;
    Principal::from_record(&record).ok_or(AuthenticationError::Invalid)
}

/// Why a balance could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadBalanceError {
    /// Unknown INN, or an organization the caller may not see: the answer is the same, so
    /// that a member cannot learn which INNs exist (HTTP 404).
    #[error("Organization not found")]
    NotFound,
    /// The bearer token is missing, unknown or revoked (HTTP 401).
    #[error(transparent)]
    Unauthenticated(AuthenticationError),
    #[error(transparent)]
    Storage(StorageError),
}

/// Authentication failures of a balance read: the storage failing is not the caller's fault.
impl From<AuthenticationError> for ReadBalanceError {
    fn from(refused: AuthenticationError) -> Self {
        match refused {
            AuthenticationError::Storage(cause) => Self::Storage(cause),
            refused => Self::Unauthenticated(refused),
        }
    }
}

/// Reads an organization's balance by INN, within the caller's tenancy.
#[derive(Clone)]
pub struct ReadBalance {
    organizations: Arc<dyn OrganizationStore>,
    tokens: Arc<dyn TokenStore>,
}

impl ReadBalance {
    pub fn new(organizations: Arc<dyn OrganizationStore>, tokens: Arc<dyn TokenStore>) -> Self {
        Self {
            organizations,
            tokens,
        }
    }

    /// Authenticates `token` and reads the organization with `inn` in one storage call (the
    /// token is read fresh on every request: no validity is cached). `inn` is `None` when the
    /// path's INN is malformed: the token is still checked first, so an anonymous caller
    /// learns nothing about the path, and the answer is then "not found".
    pub async fn execute_with_token(
        &self,
        token: Option<&str>,
        inn: Option<&Inn>,
    ) -> Result<Organization, ReadBalanceError> {
        let token = token.ok_or(AuthenticationError::Missing)?;
        let hash = TokenHash::of(token);
        let Some(inn) = inn else {
            principal_by_hash(self.tokens.as_ref(), &hash).await?;
            return Err(ReadBalanceError::NotFound);
        };
        let (record, organization) = self
            .tokens
            .find_token_and_organization(&hash, inn)
            .await
            .map_err(ReadBalanceError::Storage)?;
        let principal = principal_of(record)?;
        match organization {
            Some(organization) if principal.can_see(organization.id) => Ok(organization),
            _ => Err(ReadBalanceError::NotFound),
        }
    }

    /// Legacy open mode only: anyone may read any balance, so no caller is checked. Every
    /// authenticated read goes through [`ReadBalance::execute_with_token`].
    pub async fn execute_open(&self, inn: &Inn) -> Result<Organization, ReadBalanceError> {
        self.organizations
            .find_by_inn(inn)
            .await
            .map_err(ReadBalanceError::Storage)?
            .ok_or(ReadBalanceError::NotFound)
    }
}

/// Why a token could not be issued or revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueTokenError {
    #[error("a member token needs --inn of an existing organization")]
    InnRequired,
    #[error("staff belong to no organization: leave out --inn")]
    StaffWithInn,
    #[error("no organization has INN {0}")]
    UnknownOrganization(Inn),
    #[error("no token has id {0}")]
    UnknownToken(TokenId),
    #[error(transparent)]
    Storage(StorageError),
}

/// Mints and revokes API tokens (used by the `payments token` command).
#[derive(Clone)]
pub struct IssueToken {
    tokens: Arc<dyn TokenStore>,
    organizations: Arc<dyn OrganizationStore>,
}

impl IssueToken {
    pub fn new(tokens: Arc<dyn TokenStore>, organizations: Arc<dyn OrganizationStore>) -> Self {
        Self {
            tokens,
            organizations,
        }
    }

    /// Creates a user named `name` and mints its token from caller-supplied randomness,
    /// storing only the hash. A member belongs to the organization with `inn`; staff to none.
    pub async fn create(
        &self,
        role: Role,
        inn: Option<&Inn>,
        name: &str,
        random: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<NewToken, IssueTokenError> {
        let organization = match inn {
            Some(inn) => Some(
                self.organizations
                    .find_by_inn(inn)
                    .await
                    .map_err(IssueTokenError::Storage)?
                    .ok_or_else(|| IssueTokenError::UnknownOrganization(inn.clone()))?
                    .id,
            ),
            None => None,
        };
        let user = User::new(role, organization, name, now).map_err(|e| match e {
            TokenRuleError::MemberWithoutOrganization => IssueTokenError::InnRequired,
            TokenRuleError::StaffWithOrganization => IssueTokenError::StaffWithInn,
        })?;
        let token = NewToken::mint(random, &user, now);
        self.tokens
            .insert_user_with_token(&user, &token.record)
            .await
            .map_err(IssueTokenError::Storage)?;
        Ok(token)
    }

    /// Revokes a token; later requests with it get 401.
    pub async fn revoke(&self, id: TokenId, now: DateTime<Utc>) -> Result<(), IssueTokenError> {
        let found = self
            .tokens
            .revoke_token(id, now)
            .await
            .map_err(IssueTokenError::Storage)?;
        if found {
            Ok(())
        } else {
            Err(IssueTokenError::UnknownToken(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::organization::OrganizationId;
    use crate::ports::{MockOrganizationStore, MockTokenStore};
    use uuid::Uuid;

    fn organization(inn: &str) -> Organization {
        Organization::first_seen_in_bank_payment(Inn::parse(inn).unwrap(), Utc::now())
    }

    fn record(role: Role, organization: Option<OrganizationId>) -> TokenRecord {
        let user = User::new(role, organization, "test", Utc::now()).unwrap();
        NewToken::mint([5; 32], &user, Utc::now()).record
    }

    #[tokio::test]
    async fn authenticate_finds_the_token_by_hash() {
        let staff = User::new(Role::Staff, None, "ops", Utc::now()).unwrap();
        let token = NewToken::mint([1; 32], &staff, Utc::now());
        let expected_hash = TokenHash::of(&token.plaintext);
        let stored = token.record.clone();
        let mut tokens = MockTokenStore::new();
        tokens
            .expect_find_token()
            .withf(move |hash| *hash == expected_hash)
            .returning(move |_| Ok(Some(stored.clone())));
        let principal = Authenticate::new(Arc::new(tokens))
            .execute(Some(&token.plaintext))
            .await
            .unwrap();
        assert_eq!(principal.role(), Role::Staff);
        assert_eq!(principal.token_id(), token.record.id);
    }

    #[tokio::test]
    async fn missing_unknown_and_revoked_tokens_are_refused() {
        let mut tokens = MockTokenStore::new();
        tokens.expect_find_token().returning(|_| Ok(None));
        let auth = Authenticate::new(Arc::new(tokens));
        assert_eq!(auth.execute(None).await, Err(AuthenticationError::Missing));
        assert_eq!(
            auth.execute(Some("pay_nope")).await,
            Err(AuthenticationError::Invalid)
        );

        let mut revoked = record(Role::Staff, None);
        revoked.revoked_at = Some(Utc::now());
        let mut tokens = MockTokenStore::new();
        tokens
            .expect_find_token()
            .returning(move |_| Ok(Some(revoked.clone())));
        assert_eq!(
            Authenticate::new(Arc::new(tokens)).execute(Some("x")).await,
            Err(AuthenticationError::Invalid)
        );
    }

    fn store_with(org: Organization) -> MockOrganizationStore {
        let mut store = MockOrganizationStore::new();
        store
            .expect_find_by_inn()
            .returning(move |inn| Ok((inn == &org.inn).then(|| org.clone())));
        store
    }

    #[tokio::test]
    async fn the_open_read_finds_any_organization_by_inn() {
        let org = organization("1234567890");
        let read = ReadBalance::new(
            Arc::new(store_with(org.clone())),
            Arc::new(MockTokenStore::new()),
        );
        assert_eq!(read.execute_open(&org.inn).await.unwrap().id, org.id);
        let unknown = Inn::parse("0000000000").unwrap();
        assert_eq!(
            read.execute_open(&unknown).await,
            Err(ReadBalanceError::NotFound)
        );
    }

    #[tokio::test]
    async fn balance_reads_with_a_token_authenticate_then_respect_tenancy() {
        let org = organization("1234567890");
        let staff = NewToken::mint(
            [1; 32],
            &User::new(Role::Staff, None, "ops", Utc::now()).unwrap(),
            Utc::now(),
        );
        let own = NewToken::mint(
            [2; 32],
            &User::new(Role::Member, Some(org.id), "own", Utc::now()).unwrap(),
            Utc::now(),
        );
        let stranger_org = OrganizationId::new_random();
        let stranger = NewToken::mint(
            [3; 32],
            &User::new(Role::Member, Some(stranger_org), "other", Utc::now()).unwrap(),
            Utc::now(),
        );
        let mut revoked = NewToken::mint(
            [4; 32],
            &User::new(Role::Staff, None, "gone", Utc::now()).unwrap(),
            Utc::now(),
        );
        revoked.record.revoked_at = Some(Utc::now());
        let records = [
            staff.record.clone(),
            own.record.clone(),
            stranger.record.clone(),
            revoked.record.clone(),
        ];
        let find = move |hash: &TokenHash| records.iter().find(|r| r.hash == *hash).cloned();
        let (find2, stored) = (find.clone(), org.clone());
        let mut tokens = MockTokenStore::new();
        tokens
            .expect_find_token_and_organization()
            .returning(move |hash, inn| {
                Ok((find(hash), (*inn == stored.inn).then(|| stored.clone())))
            });
        tokens
            .expect_find_token()
            .returning(move |hash| Ok(find2(hash)));
        let mut organizations = MockOrganizationStore::new();
        organizations.expect_find_by_inn().never();
        let read = ReadBalance::new(Arc::new(organizations), Arc::new(tokens));
        let inn = Some(&org.inn);

        let found = read.execute_with_token(Some(&staff.plaintext), inn).await;
        assert_eq!(found.unwrap().id, org.id);
        let found = read.execute_with_token(Some(&own.plaintext), inn).await;
        assert_eq!(found.unwrap().id, org.id);
        assert_eq!(
            read.execute_with_token(Some(&stranger.plaintext), inn)
                .await,
            Err(ReadBalanceError::NotFound)
        );
        let unknown = Inn::parse("0000000000").unwrap();
        assert_eq!(
            read.execute_with_token(Some(&staff.plaintext), Some(&unknown))
                .await,
            Err(ReadBalanceError::NotFound)
        );
        // Authentication comes first, whatever the path holds.
        for path in [inn, Some(&unknown), None] {
            assert_eq!(
                read.execute_with_token(Some(&revoked.plaintext), path)
                    .await,
                Err(ReadBalanceError::Unauthenticated(
                    AuthenticationError::Invalid
                ))
            );
            assert_eq!(
                read.execute_with_token(Some("pay_nope"), path).await,
                Err(ReadBalanceError::Unauthenticated(
                    AuthenticationError::Invalid
                ))
            );
            assert_eq!(
                read.execute_with_token(None, path).await,
                Err(ReadBalanceError::Unauthenticated(
                    AuthenticationError::Missing
                ))
            );
        }
        assert_eq!(
            read.execute_with_token(Some(&staff.plaintext), None).await,
            Err(ReadBalanceError::NotFound)
        );
    }

    #[tokio::test]
    async fn member_tokens_are_bound_to_an_existing_organization() {
        let org = organization("1234567890");
        let org_id = org.id;
        let mut tokens = MockTokenStore::new();
        tokens
            .expect_insert_user_with_token()
            .withf(move |user, token| {
                user.role == Role::Member
                    && user.organization_id == Some(org_id)
                    && token.user_id == user.id
                    && token.organization_id == Some(org_id)
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let issue = IssueToken::new(Arc::new(tokens), Arc::new(store_with(org.clone())));
        let token = issue
            .create(
                Role::Member,
                Some(&org.inn),
                "accountant",
                [3; 32],
                Utc::now(),
            )
            .await
            .unwrap();
        assert!(token.plaintext.starts_with("pay_"));

        let unknown = Inn::parse("1111111111").unwrap();
        assert_eq!(
            issue
                .create(Role::Member, Some(&unknown), "x", [3; 32], Utc::now())
                .await
                .unwrap_err(),
            IssueTokenError::UnknownOrganization(unknown)
        );
        assert_eq!(
            issue
                .create(Role::Member, None, "x", [3; 32], Utc::now())
                .await
                .unwrap_err(),
            IssueTokenError::InnRequired
        );
    }

    #[tokio::test]
    async fn revoking_an_unknown_token_is_an_error() {
        let mut tokens = MockTokenStore::new();
        tokens.expect_revoke_token().returning(|_, _| Ok(false));
        let issue = IssueToken::new(Arc::new(tokens), Arc::new(MockOrganizationStore::new()));
        let id = TokenId(Uuid::new_v4());
        assert_eq!(
            issue.revoke(id, Utc::now()).await,
            Err(IssueTokenError::UnknownToken(id))
        );
    }
}
