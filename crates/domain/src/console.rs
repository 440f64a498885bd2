//! The operator console's sessions and the ports only the console needs.
//!
//! A console session stands for one API token: signing in with a token opens a session, and
//! the session is only as good as its token. The session id is 32 random bytes shown once (in
//! the cookie); only its SHA-256 is stored, like API tokens. The CSRF token is derived from
//! the session id, so it is one per session, needs no storage, and is unknown to anyone who
//! only read the database.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

#[cfg(any(test, feature = "mocks"))]
use mockall::automock;

use crate::auth::{Principal, TokenId, TokenRecord};
use crate::error::StorageError;
use crate::organization::Organization;
use crate::pagination::{Page, PageRequest};

/// How long a console session lasts from sign-in (a working day), whatever its activity.
pub const SESSION_LIFETIME_HOURS: i64 = 12;

const SESSION_PREFIX: &str = "ses_";

/// SHA-256 of a session id, hex-encoded: the only form in which sessions are stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionHash(String);

impl SessionHash {
    /// Hashes a presented session id.
    pub fn of(session_id: &str) -> Self {
        Self(hex::encode(Sha256::digest(session_id.as_bytes())))
    }

    /// Wraps a hash read back from storage.
    pub fn from_stored(hex_digest: String) -> Self {
        Self(hex_digest)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionHash(..)")
    }
}

/// The per-session CSRF token every state-changing console form carries.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// Derived from the session id (domain-separated), so it cannot be computed from the
    /// stored hash.
    pub fn for_session(session_id: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"payments-console-csrf\0");
        hasher.update(session_id.as_bytes());
        Self(hex::encode(hasher.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares with a presented value in constant time; `None` (no field) never matches.
    pub fn matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| bool::from(self.0.as_bytes().ct_eq(p.as_bytes())))
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

/// A console session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub hash: SessionHash,
    /// The API token the operator signed in with.
    pub token_id: TokenId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set by sign-out.
    pub ended_at: Option<DateTime<Utc>>,
}

impl SessionRecord {
    /// The session rule: not signed out, not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.ended_at.is_none() && now < self.expires_at
    }
}

/// A newly opened session: the id goes into the cookie once and is then dropped.
pub struct NewSession {
    pub session_id: String,
    pub csrf: CsrfToken,
    pub record: SessionRecord,
    pub principal: Principal,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("session_id", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

impl NewSession {
    /// A session for `token`, from 32 bytes of caller-supplied randomness.
    pub fn open(random: [u8; 32], token: &TokenRecord, now: DateTime<Utc>) -> Option<Self> {
        let principal = Principal::from_record(token)?;
        let session_id = format!("{SESSION_PREFIX}{}", hex::encode(random));
        let record = SessionRecord {
            id: Uuid::new_v4(),
            hash: SessionHash::of(&session_id),
            token_id: token.id,
            created_at: now,
            expires_at: now + Duration::hours(SESSION_LIFETIME_HOURS),
            ended_at: None,
        };
        Some(Self {
            csrf: CsrfToken::for_session(&session_id),
            session_id,
            record,
            principal,
        })
    }
}

/// Stores console sessions (hashes only).
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session. Its token MUST exist (foreign key).
    async fn create_session(&self, session: &SessionRecord) -> Result<(), StorageError>;

    /// The session with this hash, ended or not, with its token as it is NOW (revoked or not,
    /// with its user's role and organization), read in one query; `None` when unknown.
    async fn find_session(
        &self,
        hash: &SessionHash,
    ) -> Result<Option<(SessionRecord, TokenRecord)>, StorageError>;

    /// Marks the session ended at `now`; ending it twice keeps the first time. `false` when
    /// no session has this hash.
    async fn end_session(
        &self,
        hash: &SessionHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError>;

    /// Deletes exactly the sessions that are not live at `now` ([`SessionRecord::is_live`]:
    /// signed out, or `expires_at <= now`), so the table does not grow without bound.
    /// Returns how many were deleted.
    async fn delete_dead_sessions(&self, now: DateTime<Utc>) -> Result<u64, StorageError>;
}

/// Finds organizations for the console's search box.
#[cfg_attr(any(test, feature = "mocks"), automock)]
#[async_trait]
pub trait OrganizationSearch: Send + Sync {
    /// Organizations whose INN starts with `query` or whose name contains it (case-insensitive
    /// for ASCII letters), by name; every organization when `query` is empty.
    async fn search_organizations(
        &self,
        query: &str,
        page: PageRequest,
    ) -> Result<Page<Organization>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{NewToken, Role, User};

    fn token() -> TokenRecord {
        let user = User::new(Role::Staff, None, "ops", Utc::now()).unwrap();
        NewToken::mint([1; 32], &user, Utc::now()).record
    }

    #[test]
    fn sessions_store_only_a_hash_and_expire() {
        let now = Utc::now();
        let session = NewSession::open([9; 32], &token(), now).unwrap();
        assert!(session.session_id.starts_with("ses_"));
        assert_eq!(session.record.hash, SessionHash::of(&session.session_id));
        assert_ne!(session.record.hash.as_str(), session.session_id);
        assert!(!format!("{session:?}").contains(&session.session_id));
        assert!(session.record.is_live(now));
        assert!(!session
            .record
            .is_live(now + Duration::hours(SESSION_LIFETIME_HOURS)));
        let mut ended = session.record.clone();
        ended.ended_at = Some(now);
        assert!(!ended.is_live(now));
    }

    #[test]
    fn a_revoked_token_opens_no_session() {
        let mut record = token();
        record.revoked_at = Some(Utc::now());
        assert!(NewSession::open([9; 32], &record, Utc::now()).is_none());
    }

    #[test]
    fn csrf_is_one_per_session_and_compared_exactly() {
        let a = CsrfToken::for_session("ses_a");
        assert_eq!(a, CsrfToken::for_session("ses_a"));
        assert_ne!(a, CsrfToken::for_session("ses_b"));
        assert_ne!(a.as_str(), SessionHash::of("ses_a").as_str());
        assert!(a.matches(Some(a.as_str())));
        assert!(!a.matches(None));
        assert!(!a.matches(Some("")));
        assert!(!a.matches(Some(&a.as_str()[1..])));
    }
}
