//! API tokens, roles and who may see what.
//!
//! A token is 32 random bytes shown once as `pay_<64 hex>`; only its SHA-256 is stored. A
//! fast hash is the right tool here: the secret has 256 bits of entropy, so there is nothing for
//! a slow password hash to protect, and lookups stay one indexed query.

use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::organization::OrganizationId;

const TOKEN_PREFIX: &str = "pay_";

/// What a token's holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sees and acts for its own organization only.
    Member,
    /// Operates the service: sees every organization, approves payments.
    Staff,
}

impl Role {
    /// The storage and CLI name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Staff => "staff",
        }
    }

    /// Parses `"member"` or `"staff"`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "member" => Some(Self::Member),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier of a stored token (printed at creation, used to revoke it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(pub Uuid);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// SHA-256 of a token, hex-encoded: the only form in which tokens are stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a presented token.
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Wraps a hash read back from storage.
    pub fn from_stored(hex_digest: String) -> Self {
        Self(hex_digest)
    }

    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// Identifier of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub Uuid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A person or system holding tokens. Members belong to one organization; staff operate the
/// service and belong to none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub role: Role,
    pub organization_id: Option<OrganizationId>,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// A new user; a member needs an organization, staff have none.
    pub fn new(
        role: Role,
        organization: Option<OrganizationId>,
        name: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenRuleError> {
        match (role, organization) {
            (Role::Member, None) => return Err(TokenRuleError::MemberWithoutOrganization),
            (Role::Staff, Some(_)) => return Err(TokenRuleError::StaffWithOrganization),
            _ => {}
        }
        Ok(Self {
            id: UserId(Uuid::new_v4()),
            role,
            organization_id: organization,
            name: name.into(),
            created_at: now,
        })
    }
}

/// A newly minted token: the plaintext is shown once and then dropped.
pub struct NewToken {
    /// The secret to hand to the client. Never logged, never stored.
    pub plaintext: String,
    pub record: TokenRecord,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("plaintext", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

impl NewToken {
    /// Mints a token for `user` from 32 bytes of OS randomness supplied by the caller (the
    /// domain does no I/O).
    pub fn mint(random: [u8; 32], user: &User, now: DateTime<Utc>) -> Self {
        let plaintext = format!("{TOKEN_PREFIX}{}", hex::encode(random));
        let record = TokenRecord {
            id: TokenId(Uuid::new_v4()),
            hash: TokenHash::of(&plaintext),
            user_id: user.id,
            role: user.role,
            organization_id: user.organization_id,
            created_at: now,
            revoked_at: None,
        };
        Self { plaintext, record }
    }
}

/// A token as stored, with its user's role and organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub hash: TokenHash,
    pub user_id: UserId,
    pub role: Role,
    pub organization_id: Option<OrganizationId>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A user or token that breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRuleError {
    #[error("a member needs an organization")]
    MemberWithoutOrganization,
    #[error("staff do not belong to an organization")]
    StaffWithOrganization,
}

/// A request the caller's role does not allow (HTTP 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    #[error("Staff only.")]
    StaffOnly,
    #[error("This endpoint is for members of an organization; staff use /api/v1/billing/admin/.")]
    MembersOnly,
}

/// The authenticated caller of a request.
///
/// Its fields are private so that it is always consistent: a member belongs to exactly one
/// organization, staff to none. Build it with [`Principal::staff`], [`Principal::member`] or
/// from a stored token with [`Principal::from_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    token_id: TokenId,
    user_id: UserId,
    scope: Scope,
}

/// Who a principal acts for; the role and the organization cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Staff,
    Member(OrganizationId),
}

impl Principal {
    /// A staff member's principal.
    pub fn staff(token_id: TokenId, user_id: UserId) -> Self {
        Self {
            token_id,
            user_id,
            scope: Scope::Staff,
        }
    }

    /// The principal of a member of `organization`.
    pub fn member(token_id: TokenId, user_id: UserId, organization: OrganizationId) -> Self {
        Self {
            token_id,
            user_id,
            scope: Scope::Member(organization),
        }
    }

    /// Builds the principal of a live token; `None` for a revoked one, and for a record whose
    /// role and organization disagree (a member without one, staff with one), which no
    /// issued token has.
    pub fn from_record(record: &TokenRecord) -> Option<Self> {
        if record.revoked_at.is_some() {
            return None;
        }
        match (record.role, record.organization_id) {
            (Role::Staff, None) => Some(Self::staff(record.id, record.user_id)),
            (Role::Member, Some(organization)) => {
                Some(Self::member(record.id, record.user_id, organization))
            }
            _ => None,
        }
    }

    /// The token the request was made with.
    pub fn token_id(&self) -> TokenId {
        self.token_id
    }

    /// The token's holder.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// Member or staff.
    pub fn role(&self) -> Role {
        match self.scope {
            Scope::Staff => Role::Staff,
            Scope::Member(_) => Role::Member,
        }
    }

    /// A member's organization; `None` for staff.
    pub fn organization_id(&self) -> Option<OrganizationId> {
        match self.scope {
            Scope::Staff => None,
            Scope::Member(organization) => Some(organization),
        }
    }

    /// Tenancy: staff see every organization, a member only its own.
    pub fn can_see(&self, organization: OrganizationId) -> bool {
        match self.scope {
            Scope::Staff => true,
            Scope::Member(own) => own == organization,
        }
    }

    /// True for staff.
    pub fn is_staff(&self) -> bool {
        self.scope == Scope::Staff
    }

    /// The organization a tenant endpoint works on: the member's own. Staff are refused, so
    /// tenant endpoints never show them every organization.
    pub fn member_organization(&self) -> Result<OrganizationId, AccessError> {
        match self.scope {
            Scope::Member(organization) => Ok(organization),
            Scope::Staff => Err(AccessError::MembersOnly),
        }
    }

    /// Refuses anyone but staff.
    pub fn require_staff(&self) -> Result<(), AccessError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(AccessError::StaffOnly)
        }
    }
}

/// Extracts the token from an `Authorization` header value (`Bearer <token>`, scheme
/// case-insensitive).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, organization: Option<OrganizationId>) -> User {
        User::new(role, organization, "test", Utc::now()).unwrap()
    }

    fn principal(role: Role, organization: Option<OrganizationId>) -> Principal {
        Principal::from_record(
            &NewToken::mint([1; 32], &user(role, organization), Utc::now()).record,
        )
        .unwrap()
    }

    #[test]
    fn minted_tokens_are_prefixed_random_and_stored_only_as_hash() {
        let member = user(Role::Member, Some(OrganizationId::new_random()));
        let token = NewToken::mint([7; 32], &member, Utc::now());
        assert_eq!(token.plaintext, format!("pay_{}", "07".repeat(32)));
        assert_eq!(token.record.hash, TokenHash::of(&token.plaintext));
        assert_ne!(token.record.hash.as_str(), token.plaintext);
        assert_eq!(token.record.user_id, member.id);
        assert_eq!(token.record.organization_id, member.organization_id);
        assert!(!format!("{token:?}").contains(&token.plaintext));
        let other = NewToken::mint([8; 32], &member, Utc::now());
        assert_ne!(other.record.hash, token.record.hash);
    }

    #[test]
    fn members_need_an_organization_and_staff_have_none() {
        assert_eq!(
            User::new(Role::Member, None, "m", Utc::now()).unwrap_err(),
            TokenRuleError::MemberWithoutOrganization
        );
        assert_eq!(
            User::new(
                Role::Staff,
                Some(OrganizationId::new_random()),
                "s",
                Utc::now()
            )
            .unwrap_err(),
            TokenRuleError::StaffWithOrganization
        );
    }

    #[test]
    fn tenancy_rule() {
        let own = OrganizationId::new_random();
        let other = OrganizationId::new_random();
        let member = principal(Role::Member, Some(own));
        assert!(member.can_see(own));
        assert!(!member.can_see(other));
        assert!(principal(Role::Staff, None).can_see(other));
    }

    #[test]
    fn tenant_endpoints_are_for_members_and_admin_endpoints_for_staff() {
        let own = OrganizationId::new_random();
        let member = principal(Role::Member, Some(own));
        let staff = principal(Role::Staff, None);
        assert_eq!(member.member_organization(), Ok(own));
        assert_eq!(staff.member_organization(), Err(AccessError::MembersOnly));
        assert_eq!(staff.require_staff(), Ok(()));
        assert_eq!(member.require_staff(), Err(AccessError::StaffOnly));
    }

    #[test]
    fn principals_are_consistent_whichever_way_they_are_built() {
        let organization = OrganizationId::new_random();
        let (token, holder) = (TokenId(Uuid::new_v4()), UserId(Uuid::new_v4()));
        let member = Principal::member(token, holder, organization);
        assert_eq!(member.role(), Role::Member);
        assert_eq!(member.organization_id(), Some(organization));
        assert_eq!((member.token_id(), member.user_id()), (token, holder));
        let staff = Principal::staff(token, holder);
        assert_eq!(staff.role(), Role::Staff);
        assert_eq!(staff.organization_id(), None);

        let from_token = principal(Role::Member, Some(organization));
        assert_eq!(from_token.organization_id(), Some(organization));
        // Records no issued token has: refused rather than trusted.
        let mut record = NewToken::mint([4; 32], &user(Role::Staff, None), Utc::now()).record;
        record.organization_id = Some(organization);
        assert_eq!(Principal::from_record(&record), None);
        record.role = Role::Member;
        record.organization_id = None;
        assert_eq!(Principal::from_record(&record), None);
    }

    #[test]
    fn revoked_tokens_have_no_principal() {
        let mut token = NewToken::mint([3; 32], &user(Role::Staff, None), Utc::now());
        token.record.revoked_at = Some(Utc::now());
        assert_eq!(Principal::from_record(&token.record), None);
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
