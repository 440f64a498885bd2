//! Per-token request quotas for the billing API: past the quota, 429 with `Retry-After`.
//!
//! A generic cell-rate limiter (`governor`) keyed by token id: a token may spend its whole
//! minute's quota at once, then one request comes back every `60 s / quota`. The state lives
//! in this process, so with several instances behind a load balancer each enforces the quota
//! on its own share of the traffic.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

/// How many checks pass between two sweeps of the idle keys, which bounds the memory a stream
/// of ever-new tokens could take.
const SWEEP_EVERY: u64 = 4096;

/// The billing API's quota, shared by every worker of one server.
#[derive(Clone, Default)]
pub struct RateLimit(Option<Arc<Limiter>>);

struct Limiter {
    keyed: DefaultKeyedRateLimiter<Uuid>,
    checks: AtomicU64,
}

impl RateLimit {
    /// At most `requests` per minute per token; 0 means no limit.
    pub fn per_minute(requests: u32) -> Self {
        Self(NonZeroU32::new(requests).map(|quota| {
            Arc::new(Limiter {
                keyed: DefaultKeyedRateLimiter::keyed(Quota::per_minute(quota)),
                checks: AtomicU64::new(0),
            })
        }))
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// Spends one request of `token`'s quota, or says how long until one is available.
    pub(crate) fn check(&self, token: Uuid) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        if limiter.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.keyed.retain_recent();
        }
        limiter
            .keyed
            .check_key(&token)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RateLimit(on)"
        } else {
            "RateLimit(off)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gets_its_quota_then_waits_and_tokens_do_not_share() {
        let limit = RateLimit::per_minute(3);
        let (one, other) = (Uuid::new_v4(), Uuid::new_v4());
        for _ in 0..3 {
            assert_eq!(limit.check(one), Ok(()));
        }
        let wait = limit.check(one).unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(limit.check(other), Ok(()));
    }

    #[test]
    fn zero_means_unlimited() {
        let limit = RateLimit::per_minute(0);
        let token = Uuid::new_v4();
        assert!((0..10_000).all(|_| limit.check(token).is_ok()));
    }
}
