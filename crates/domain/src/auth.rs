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
    /// Mints a token from 32 bytes of OS randomness supplied by the caller (the domain does no
    /// I/O). A member token belongs to `organization`; a staff token may belong to none.
    pub fn mint(
        random: [u8; 32],
        role: Role,
        organization: Option<OrganizationId>,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenRuleError> {
        if role == Role::Member && organization.is_none() {
            return Err(TokenRuleError::MemberWithoutOrganization);
        }
        let plaintext = format!("{TOKEN_PREFIX}{}", hex::encode(random));
        let record = TokenRecord {
            id: TokenId(Uuid::new_v4()),
            hash: TokenHash::of(&plaintext),
            role,
            organization_id: organization,
            created_at: now,
            revoked_at: None,
        };
        Ok(Self { plaintext, record })
    }
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub hash: TokenHash,
    pub role: Role,
    pub organization_id: Option<OrganizationId>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token that breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRuleError {
    #[error("a member token needs an organization")]
    MemberWithoutOrganization,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: TokenId,
    pub role: Role,
    pub organization_id: Option<OrganizationId>,
}

impl Principal {
    /// Builds the principal of a live token; `None` for a revoked one.
    pub fn from_record(record: &TokenRecord) -> Option<Self> {
        if record.revoked_at.is_some() {
            return None;
        }
        Some(Self {
            token_id: record.id,
            role: record.role,
            organization_id: record.organization_id,
        })
    }

    /// Tenancy: staff see every organization, a member only its own.
    pub fn can_see(&self, organization: OrganizationId) -> bool {
        match self.role {
            Role::Staff => true,
            Role::Member => self.organization_id == Some(organization),
        }
    }

    /// True for staff.
    pub fn is_staff(&self) -> bool {
        self.role == Role::Staff
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

    #[test]
    fn minted_tokens_are_prefixed_random_and_stored_only_as_hash() {
        let org = OrganizationId::new_random();
        let token = NewToken::mint([7; 32], Role::Member, Some(org), Utc::now()).unwrap();
        assert_eq!(token.plaintext, format!("pay_{}", "07".repeat(32)));
        assert_eq!(token.record.hash, TokenHash::of(&token.plaintext));
        assert_ne!(token.record.hash.as_str(), token.plaintext);
        assert!(!format!("{token:?}").contains(&token.plaintext));
        let other = NewToken::mint([8; 32], Role::Staff, None, Utc::now()).unwrap();
        assert_ne!(other.record.hash, token.record.hash);
    }

    #[test]
    fn member_tokens_need_an_organization() {
        assert_eq!(
            NewToken::mint([0; 32], Role::Member, None, Utc::now()).unwrap_err(),
            TokenRuleError::MemberWithoutOrganization
        );
    }

    #[test]
    fn tenancy_rule() {
        let own = OrganizationId::new_random();
        let other = OrganizationId::new_random();
        let member = NewToken::mint([1; 32], Role::Member, Some(own), Utc::now()).unwrap();
        let member = Principal::from_record(&member.record).unwrap();
        assert!(member.can_see(own));
        assert!(!member.can_see(other));
        let staff = NewToken::mint([2; 32], Role::Staff, None, Utc::now()).unwrap();
        let staff = Principal::from_record(&staff.record).unwrap();
        assert!(staff.can_see(other));
    }

    #[test]
    fn revoked_tokens_have_no_principal() {
        let mut token = NewToken::mint([3; 32], Role::Staff, None, Utc::now()).unwrap();
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
