//! Webhook signatures: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! Several `v1=` values (at most [`MAX_CANDIDATES`]) and several secrets are accepted so secrets
//! can be rotated without downtime. The MAC is computed once per secret and compared with each
//! candidate in constant time, and timestamps more than
//! [`TOLERANCE_SECONDS`] away from now are refused, so a captured request cannot be replayed
//! later.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a signature's timestamp may be from the server's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Name of the HTTP header carrying the signature.
pub const HEADER: &str = "X-Signature";

/// Most `v1=` values one header may carry. Rotation needs two or three; a cap keeps an
/// unauthenticated request from buying unbounded work.
pub const MAX_CANDIDATES: usize = 8;

/// A shared webhook secret. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Wraps a configured secret. Empty secrets are refused: they would sign nothing.
    pub fn new(secret: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = secret.into();
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    /// A secret from 32 bytes of randomness supplied by the caller, written as `whsec_<hex>`.
    pub fn generate(random: [u8; 32]) -> Self {
        Self(format!("whsec_{}", hex::encode(random)).into_bytes())
    }

    /// The secret's bytes, for storage or for signing in a client.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// Why a signature was refused. Clients only ever see "Invalid signature"; the variant is for
/// logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("signature header missing")]
    Missing,
    #[error("signature header malformed")]
    Malformed,
    #[error("signature timestamp outside the tolerance window")]
    Stale,
    #[error("no signature matches any configured secret")]
    Mismatch,
}

/// The header value that signs `body` at `timestamp` with `secret`.
pub fn sign(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    let digest = secret.mac(timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Verifies a signature header against every secret. `now` is the server's unix time.
///
/// # Examples
/// ```
/// use payments_domain::signature::{self, SignatureError, WebhookSecret};
///
/// let secret = WebhookSecret::new("whsec_test").expect("not empty");
/// let body = br#"{"operation_id":"ccf0a86d-041b-4991-bcf7-e2352f7b8a4a","amount":145000}"#;
/// let now = 1_714_251_600;
///
/// // The bank signs the raw body with the time it sends it.
/// let header = signature::sign(&secret, now, body);
/// assert!(header.starts_with(&format!("t={now},v1=")));
///
/// // The service verifies against every configured secret (rotation: old and new).
/// let old = WebhookSecret::new("whsec_old").expect("not empty");
/// let secrets = [old, secret];
/// assert_eq!(signature::verify(&secrets, Some(&header), body, now + 10), Ok(()));
/// assert_eq!(
///     signature::verify(&secrets, Some(&header), b"{}", now),
///     Err(SignatureError::Mismatch) // another body
/// );
/// assert_eq!(
///     signature::verify(&secrets, Some(&header), body, now + 301),
///     Err(SignatureError::Stale) // outside the 300 s window: a replay
/// );
/// assert_eq!(signature::verify(&secrets, None, body, now), Err(SignatureError::Missing));
/// ```
pub fn verify(
    secrets: &[WebhookSecret],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            "v1" => {
                if candidates.len() == MAX_CANDIDATES {
                    return Err(SignatureError::Malformed);
                }
                candidates.push(value)
            }
            _ => {} // other schemes (v0, future versions) are ignored
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let decoded: Vec<Vec<u8>> = candidates
        .iter()
        .filter_map(|hex_value| hex::decode(hex_value).ok())
        .collect();
    // One MAC per secret (the body is hashed once each), then a constant-time comparison with
    // every candidate; the loops do not stop early, so timing says nothing about which matched.
    let mut matches = subtle::Choice::from(0);
    for secret in secrets {
        let expected = secret.mac(timestamp, body).finalize().into_bytes();
        for candidate in &decoded {
            if candidate.len() == expected.len() {
                matches |= subtle::ConstantTimeEq::ct_eq(expected.as_slice(), candidate.as_slice());
            }
        }
    }
    if bool::from(matches) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_251_600;

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::new(text).unwrap()
    }

    #[test]
    fn a_signed_body_verifies() {
        let s = secret("s3cret");
        let header = sign(&s, NOW, b"{}");
        assert!(header.starts_with(&format!("t={NOW},v1=")));
        assert_eq!(verify(&[s], Some(&header), b"{}", NOW), Ok(()));
    }

    #[test]
    fn known_vector_matches_the_documented_scheme() {
        // HMAC-SHA256(key = "key", message = "1.{}"), computed with Python's hmac module.
        assert_eq!(
            sign(&secret("key"), 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }

    #[test]
    fn tampered_body_or_wrong_secret_is_a_mismatch() {
        let header = sign(&secret("a"), NOW, b"{\"amount\":1}");
        assert_eq!(
            verify(&[secret("a")], Some(&header), b"{\"amount\":2}", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&[secret("b")], Some(&header), b"{\"amount\":1}", NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_any_secret_and_any_v1_value() {
        let old = secret("old");
        let new = secret("new");
        let by_old = sign(&old, NOW, b"x");
        assert_eq!(
            verify(&[new.clone(), old.clone()], Some(&by_old), b"x", NOW),
            Ok(())
        );
        let v1_new = sign(&new, NOW, b"x");
        let v1_new = v1_new.split(",v1=").nth(1).unwrap();
        let both = format!("t={NOW},v1=deadbeef,v1={v1_new}");
        assert_eq!(verify(&[new], Some(&both), b"x", NOW), Ok(()));
    }

    #[test]
    fn replay_window_is_five_minutes_either_way() {
        let s = [secret("s")];
        let header = sign(&s[0], NOW, b"x");
        assert_eq!(verify(&s, Some(&header), b"x", NOW + 300), Ok(()));
        assert_eq!(verify(&s, Some(&header), b"x", NOW - 300), Ok(()));
        assert_eq!(
            verify(&s, Some(&header), b"x", NOW + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(&s, Some(&header), b"x", NOW - 301),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn malformed_headers() {
        let s = [secret("s")];
        assert_eq!(verify(&s, None, b"", NOW), Err(SignatureError::Missing));
        for bad in ["", "garbage", "t=abc,v1=00", "v1=00", &format!("t={NOW}")] {
            assert_eq!(
                verify(&s, Some(bad), b"", NOW),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            verify(&s, Some(&format!("t={NOW},v1=zz")), b"", NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn candidates_are_capped() {
        let s = secret("s");
        let good = sign(&s, NOW, b"x");
        let good = good.split(",v1=").nth(1).unwrap().to_string();
        let within: Vec<String> = (0..MAX_CANDIDATES - 1).map(|_| "00".repeat(32)).collect();
        let header = format!("t={NOW},v1={},v1={good}", within.join(",v1="));
        assert_eq!(
            verify(std::slice::from_ref(&s), Some(&header), b"x", NOW),
            Ok(())
        );
        let header = format!("t={NOW},v1={},v1=00,v1={good}", within.join(",v1="));
        assert_eq!(
            verify(&[s], Some(&header), b"x", NOW),
            Err(SignatureError::Malformed)
        );
    }

    /// Counts MAC computations by timing would be flaky; instead the cost is bounded by work:
    /// a header of many candidates is refused before any MAC is computed, and an accepted one
    /// costs one MAC per secret. A 60 KB body with 8 candidates must verify about as fast as
    /// with 1 (the old code recomputed the MAC per candidate: 8x the work).
    #[test]
    fn the_mac_is_computed_once_per_secret() {
        let s = secret("s");
        let body = vec![b'a'; 4 << 20];
        let bad = "11".repeat(32);
        let one = format!("t={NOW},v1={bad}");
        let eight = format!("t={NOW},v1={}", [bad.as_str(); 8].join(",v1="));
        let time = |header: &str| {
            let start = std::time::Instant::now();
            for _ in 0..3 {
                let _ = verify(std::slice::from_ref(&s), Some(header), &body, NOW);
            }
            start.elapsed()
        };
        let (t1, t8) = (time(&one), time(&eight));
        assert!(t8 < t1 * 3, "8 candidates took {t8:?}, 1 took {t1:?}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = WebhookSecret::generate([9; 32]);
        assert!(String::from_utf8_lossy(s.expose()).starts_with("whsec_"));
        assert!(!format!("{s:?}").contains("whsec_"));
        assert!(WebhookSecret::new("").is_none());
    }
}
