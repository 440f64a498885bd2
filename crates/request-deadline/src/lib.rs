//! The deadline of the request being served, shared by the HTTP layer and the storage adapters.
//!
//! A timeout answer promises "nothing was committed". That holds only if no database work of
//! the request is still running when it is sent. So:
//! - the HTTP layer runs each request [`within`] a [`RequestBudget`];
//! - adapters bound their transactions by its deadline (statement and lock timeouts, no COMMIT
//!   after it) and register the work they run ([`RequestBudget::begin_work`]);
//! - at its timeout the HTTP layer answers "timed out" only when no work is in flight
//!   ([`RequestBudget::close_if_idle`], after which none may start); otherwise it waits for the
//!   work, which its deadline ends soon, and answers with its real outcome.
//!
//! A tokio task-local, so it follows the request's future; outside a request (CLI, tests) there
//! is none.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

tokio::task_local! {
    static BUDGET: Arc<RequestBudget>;
}

/// One request's database deadline and the storage work running for it.
#[derive(Debug)]
pub struct RequestBudget {
    deadline: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The request was answered without its work: none may start.
    closed: bool,
    in_flight: usize,
}

impl RequestBudget {
    pub fn new(deadline: Instant) -> Arc<Self> {
        Arc::new(Self {
            deadline,
            state: Mutex::new(State::default()),
        })
    }

    /// When the request's database work must have ended, committed or rolled back.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves consistent counters; carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Storage work is about to start; `false` when the request was already answered, and
    /// the work must not run. Pair with [`RequestBudget::end_work`].
    pub fn begin_work(&self) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        state.in_flight += 1;
        true
    }

    /// Storage work ended (committed, rolled back or failed).
    pub fn end_work(&self) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
    }

    /// The HTTP layer's timeout: `true` when no work is in flight, and from then on none may
    /// start (a "timed out" answer is then true: nothing of the request will commit).
    pub fn close_if_idle(&self) -> bool {
        let mut state = self.state();
        if state.in_flight == 0 {
            state.closed = true;
        }
        state.closed
    }
}

/// Runs `work` under `budget`.
pub async fn within<F: Future>(budget: Arc<RequestBudget>, work: F) -> F::Output {
    BUDGET.scope(budget, work).await
}

/// The budget of the request being served, if any.
pub fn current() -> Option<Arc<RequestBudget>> {
    BUDGET.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_budget_is_seen_inside_and_only_inside() {
        assert!(current().is_none());
        let budget = RequestBudget::new(Instant::now() + Duration::from_secs(1));
        let seen = within(budget.clone(), async { current() }).await;
        assert_eq!(seen.unwrap().deadline(), budget.deadline());
        assert!(current().is_none());
    }

    #[test]
    fn a_timeout_closes_only_an_idle_request_and_then_no_work_starts() {
        let budget = RequestBudget::new(Instant::now());
        assert!(budget.begin_work());
        assert!(!budget.close_if_idle(), "work in flight: wait for it");
        budget.end_work();
        assert!(budget.close_if_idle());
        assert!(!budget.begin_work(), "answered: nothing may start");
    }
}
