//! Group commit of bank payments: concurrent webhooks written in one transaction per batch.
//!
//! [`Database`](crate::Database)'s `record_bank_payment` hands each payment to a queue. A few
//! flusher threads (one on SQLite, whose writers are serial anyway) take what has gathered, up
//! to [`BatchOptions::max_items`], and write it in ONE transaction:
//! 1. the organizations of the batch's INNs on first sight, one multi-row
//!    `INSERT … ON CONFLICT (inn) DO NOTHING`, in INN order (on PostgreSQL only once a batch
//!    found one missing: most batches pay organizations that exist);
//! 2. in one statement, their balance rows locked in organization-id order (PostgreSQL
//!    `FOR NO KEY UPDATE`; SQLite's `BEGIN IMMEDIATE` already excludes every writer), so two
//!    batches, or two instances, queue instead of deadlocking, and the payments already stored
//!    under the batch's operation ids;
//! 3. the plan, from the domain ([`payments_domain::bank_batch::plan_batch`]): per item
//!    credited, duplicate, conflict or refused, the new balances and the log rows;
//! 4. exactly the plan: organizations created in step 1 that the plan does not credit are
//!    removed again (a duplicate or conflict creates nothing); then, on PostgreSQL in one
//!    statement, the payments `INSERT … ON CONFLICT (operation_id) DO NOTHING`, the balances,
//!    the log rows in arrival order.
//!
//! On PostgreSQL a batch of organizations that exist is four round trips: `BEGIN` with the
//! deadline's `SET LOCAL`s, the lock and look-up, the writes, `COMMIT`. The lock and look-up
//! and the writes are prepared once per connection and run one generic plan each
//! (`write::BATCH_SETTINGS`).
//!
//! If another writer took one of the operation ids between steps 2 and 4 (it committed
//! meanwhile), the insert returns fewer rows; the batch is rolled back and planned again, and
//! then sees that payment. The unique key decides, never the read. Transient conflicts are
//! retried the same way. A statement error (a constraint surprise) rolls the batch back and
//! each item is then written on its own, so one bad item never fails the others. An error whose
//! outcome is unknown (connection lost, commit failed) answers a storage error (HTTP 503) to
//! every item: retrying a webhook is always safe. Each caller is answered only after its batch
//! committed. A caller that gave up (request timeout) before its batch started is dropped from
//! the batch and never written.
//!
//! Bounded in time: the batch waits at most [`BatchOptions::max_wait`] for company, and only
//! while every other writer is busy (`keep_gathering`); every statement of its transaction is
//! bounded by the pool's PostgreSQL `statement_timeout`. Each queued payment is registered
//! with its request's deadline (`crate::deadline`): a payment whose deadline passed while
//! queued is not written, and the batch's transaction ends, committed or rolled back, by the
//! earliest deadline of its payments, so a request's timeout never answers 503 for a payment
//! that commits afterwards.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use diesel::{PgConnection, SqliteConnection};
use payments_domain::ports::{RecordError, RecordOutcome};
use payments_domain::{BankPayment, Inn, StorageError};
use tokio::sync::oneshot;

mod prepared;
mod write;

use write::write_batch;

use crate::pool::{checkout, PoolWaits, Pools};

/// How bank payments are gathered into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Most payments per transaction; `0` turns batching off (one transaction per webhook).
    pub max_items: usize,
    /// Longest the first payment of a batch waits for others, and only while every other
    /// batch writer is writing; `0` never waits (a batch is then what gathered while the
    /// previous one wrote). SQLite's single writer never waits: while it gathers, nothing is
    /// being written that could bring company.
    pub max_wait: Duration,
}

impl BatchOptions {
    /// One transaction per webhook, as without group commit.
    pub const OFF: Self = Self {
        max_items: 0,
        max_wait: Duration::ZERO,
    };

    /// True when payments are batched.
    pub fn enabled(&self) -> bool {
        self.max_items > 0
    }
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            max_items: 64,
            max_wait: Duration::from_millis(2),
        }
    }
}

/// Told about every batch written, for metrics.
pub trait BatchObserver: Send + Sync {
    /// A batch of `items` payments was written; its oldest item waited `waited` in the queue.
    fn batch_written(&self, items: usize, waited: Duration);
}

type Reply = oneshot::Sender<Result<RecordOutcome, RecordError>>;

struct Job {
    payment: BankPayment,
    now: DateTime<Utc>,
    arrived: Instant,
    reply: Reply,
    /// Registered with the request's budget until answered (dropped): its timeout then waits
    /// for this answer instead of answering "not done" while the batch may still commit.
    registered: Option<crate::deadline::Registered>,
}

impl Job {
    fn deadline(&self) -> Option<Instant> {
        self.registered
            .as_ref()
            .map(crate::deadline::Registered::deadline)
    }
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Payments handed in and not yet answered (queued or being written).
    outstanding: usize,
    /// INNs of the batches being written by this process's flushers.
    busy_inns: HashSet<Inn>,
    shutdown: bool,
    started: bool,
    /// Batch writers writing a batch right now.
    writing: usize,
    /// Batch writers waiting for a payment to start a batch with.
    idle: usize,
}

/// The queue and the flusher threads of one [`crate::Database`]; shared by its clones.
pub(crate) struct GroupCommit {
    options: BatchOptions,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<QueueState>,
    ready: Condvar,
    observer: OnceLock<Arc<dyn BatchObserver>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A poisoned lock means a flusher panicked; the queue itself is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a flusher needs to reach the database.
#[derive(Clone)]
pub(crate) struct Backend {
    pub(crate) pools: Arc<Pools>,
    pub(crate) waits: Arc<PoolWaits>,
    pub(crate) sqlite_writer: Option<Arc<Mutex<()>>>,
}

impl GroupCommit {
    pub(crate) fn new(options: BatchOptions) -> Self {
        Self {
            options,
            shared: Arc::new(Shared {
                state: Mutex::new(QueueState::default()),
                ready: Condvar::new(),
                observer: OnceLock::new(),
            }),
        }
    }

    pub(crate) fn set_observer(&self, observer: Arc<dyn BatchObserver>) {
        let _ = self.shared.observer.set(observer);
    }

    /// Queues `payment` and waits for its batch to commit.
    pub(crate) async fn record(
        &self,
        backend: &Backend,
        payment: &BankPayment,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome, RecordError> {
        let (reply, answer) = oneshot::channel();
        let registered = crate::deadline::register(crate::deadline::capture())?;
        let wake = {
            let mut state = self.shared.lock();
            if !state.started {
                state.started = true;
                self.start_flushers(backend)?;
            }
            state.jobs.push_back(Job {
                payment: payment.clone(),
                now,
                arrived: Instant::now(),
                reply,
                registered,
            });
            state.outstanding += 1;
            needs_a_writer(state.idle, eligible(&state).count(), self.options.max_items)
        };
        // Wake a writer only when one can act on it (see `needs_a_writer`): waking a gathering
        // writer for every arrival cost a context switch per webhook for nothing.
        if wake {
            self.shared.ready.notify_one();
        }
        answer.await.unwrap_or_else(|_| {
            Err(RecordError::Storage(StorageError::new(
                "the batch writer stopped before answering",
            )))
        })
    }

    fn start_flushers(&self, backend: &Backend) -> Result<(), RecordError> {
        let flushers = writer_threads(matches!(*backend.pools, Pools::Postgres(_)));
        for n in 0..flushers {
            let (shared, backend, options) = (self.shared.clone(), backend.clone(), self.options);
            std::thread::Builder::new()
                .name(format!("batch-writer-{n}"))
                .spawn(move || flusher(&shared, &backend, options, flushers))
                .map_err(|e| StorageError::with_source("cannot start the batch writer", e))?;
        }
        Ok(())
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.ready.notify_all();
    }
}

/// How many batch writers run, each holding a pooled connection while it writes. SQLite admits
/// one writer; on PostgreSQL a few batches in flight keep the server busy while the next batch
/// gathers (three measured as well as six on the 2-core machine, docs/performance.md).
pub(crate) fn writer_threads(postgres: bool) -> usize {
    if postgres {
        3
    } else {
        1
    }
}

/// One flusher: takes batches off the queue and writes them, until shutdown.
fn flusher(shared: &Shared, backend: &Backend, options: BatchOptions, writers: usize) {
    loop {
        let Some((jobs, waited)) = next_batch(shared, options, writers) else {
            return;
        };
        let count = jobs.len();
        let inns: Vec<Inn> = jobs.iter().map(|j| j.payment.payer_inn.clone()).collect();
        // A panic must not take the queue down with it: its callers get a storage error (their
        // reply senders are dropped) and the INNs are released below.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_and_answer(backend, jobs)
        }));
        if written.is_err() {
            tracing::error!(items = count, "the bank payment batch writer panicked");
        }
        {
            let mut state = shared.lock();
            state.outstanding -= count;
            state.writing -= 1;
            for inn in &inns {
                state.busy_inns.remove(inn);
            }
        }
        // Payments of those INNs may be waiting for this batch to end.
        shared.ready.notify_all();
        if let Some(observer) = shared.observer.get() {
            observer.batch_written(count, waited);
        }
    }
}

/// Payments that may join a batch now: those whose INN no other flusher of this process is
/// writing. Payments of one hot organization then gather into one big batch instead of
/// several small ones queueing on its row lock; arrival order within an INN is kept.
fn eligible(state: &QueueState) -> impl Iterator<Item = (usize, &Job)> {
    state
        .jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| !state.busy_inns.contains(&j.payment.payer_inn))
}

/// Whether a writer holding `ready` payments should wait for more (up to `max_wait` after the
/// oldest): only while the batch is not full, other payments are being written (their senders
/// are about to send more), and every other writer is busy. A writer that would leave the
/// database idle, or that another idle writer could replace, writes at once: waiting then
/// only adds latency. (Measured: with three writers that always waited, each spent half its
/// time gathering while the machine sat 28 % idle; see docs/performance.md.)
fn keep_gathering(
    ready: usize,
    max_items: usize,
    outstanding: usize,
    writing: usize,
    writers: usize,
) -> bool {
    ready < max_items && outstanding > ready && writing + 1 >= writers
}

/// Whether a payment just queued needs a writer woken: one is `idle` (it may start a batch
/// with it), or a full batch is `ready` (a gathering writer stops waiting). Otherwise the
/// writers are busy, or gathering and not full, and each picks the payment up when it next
/// looks.
fn needs_a_writer(idle: usize, ready: usize, max_items: usize) -> bool {
    idle > 0 || ready >= max_items.max(1)
}

/// Waits for payments and gathers a batch: up to `max_items`, waiting at most `max_wait`
/// after the oldest one while [`keep_gathering`] says so. `None` on shutdown.
fn next_batch(
    shared: &Shared,
    options: BatchOptions,
    writers: usize,
) -> Option<(Vec<Job>, Duration)> {
    let max_items = options.max_items.max(1);
    let mut state = shared.lock();
    loop {
        let oldest = loop {
            if let Some((_, job)) = eligible(&state).next() {
                break job.arrived;
            }
            if state.shutdown && state.jobs.is_empty() {
                return None;
            }
            state.idle += 1;
            state = shared.ready.wait(state).unwrap_or_else(|p| p.into_inner());
            state.idle -= 1;
        };
        let deadline = oldest + options.max_wait;
        loop {
            let ready = eligible(&state).count();
            if state.shutdown
                || !keep_gathering(ready, max_items, state.outstanding, state.writing, writers)
            {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = shared
                .ready
                .wait_timeout(state, deadline - now)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let picked: Vec<usize> = eligible(&state).take(max_items).map(|(i, _)| i).collect();
        let mut jobs = Vec::with_capacity(picked.len());
        // Highest index first, so the indexes still to remove stay valid.
        for index in picked.into_iter().rev() {
            if let Some(job) = state.jobs.remove(index) {
                jobs.push(job);
            }
        }
        jobs.reverse();
        let waited = oldest.elapsed();
        // A caller that gave up while queued is never written (it was answered already).
        let (live, gone): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| !j.reply.is_closed());
        state.outstanding -= gone.len();
        if !live.is_empty() {
            for job in &live {
                state.busy_inns.insert(job.payment.payer_inn.clone());
            }
            state.writing += 1;
            return Some((live, waited));
        }
    }
}

/// Writes one batch and answers each of its callers.
fn write_and_answer(backend: &Backend, jobs: Vec<Job>) {
    // A payment whose request deadline passed while it was queued is not written: its request
    // is answered 503, which must stay true.
    let (jobs, late): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|j| j.deadline().is_none_or(|d| d > Instant::now()));
    for job in late {
        let _ = job.reply.send(Err(RecordError::Storage(StorageError::new(
            "request deadline passed while queued; not written",
        ))));
    }
    if jobs.is_empty() {
        return;
    }
    // The batch's transaction ends, committed or rolled back, by the earliest deadline of
    // its payments (see `crate::deadline`).
    let deadline = jobs.iter().filter_map(Job::deadline).min();
    let payments: Vec<BankPayment> = jobs.iter().map(|j| j.payment.clone()).collect();
    // One instant for the batch: the latest of its callers' clocks, at the stored precision.
    let now = jobs
        .iter()
        .map(|j| j.now)
        .max()
        .unwrap_or_else(Utc::now)
        .trunc_subsecs(6);
    let written = crate::deadline::with_deadline(deadline, || {
        with_writer(backend, |conn| match conn {
            Conn::Postgres(conn) => write_batch(conn, &payments, now),
            Conn::Sqlite(conn) => write_batch(conn, &payments, now),
        })
    });
    let answers = match written {
        Ok(answers) => answers,
        Err(error) => vec![Err(RecordError::Storage(error)); payments.len()],
    };
    for (job, answer) in jobs.into_iter().zip(answers) {
        // A caller that went away meanwhile has its answer dropped.
        let _ = job.reply.send(answer);
    }
}

enum Conn<'a> {
    Postgres(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

/// Checks out a connection (on SQLite after queueing on the process's writer lock, like every
/// other writer) and runs `body` with it.
fn with_writer<T>(backend: &Backend, body: impl FnOnce(Conn<'_>) -> T) -> Result<T, StorageError> {
    let _queued = backend
        .sqlite_writer
        .as_ref()
        .map(|w| w.lock().unwrap_or_else(|p| p.into_inner()));
    match &*backend.pools {
        Pools::Postgres(pool) => {
            let mut conn = backend.waits.time(|| checkout(pool))?;
            Ok(body(Conn::Postgres(&mut conn)))
        }
        Pools::Sqlite(pool) => {
            let mut conn = backend.waits.time(|| checkout(pool))?;
            Ok(body(Conn::Sqlite(&mut conn)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{keep_gathering, needs_a_writer};

    #[test]
    fn an_arrival_wakes_a_writer_only_when_one_can_act_on_it() {
        assert!(needs_a_writer(1, 1, 64), "an idle writer starts a batch");
        assert!(needs_a_writer(0, 64, 64), "a full batch ends the gathering");
        assert!(
            !needs_a_writer(0, 5, 64),
            "all busy or gathering, batch not full: picked up later"
        );
    }

    #[test]
    fn a_writer_waits_for_company_only_while_every_other_writer_is_busy() {
        // Three writers, 5 payments ready of 40 handed in, batches of up to 64.
        assert!(
            keep_gathering(5, 64, 40, 2, 3),
            "both others writing: gather"
        );
        assert!(
            !keep_gathering(5, 64, 40, 1, 3),
            "another writer idle: write now"
        );
        assert!(!keep_gathering(5, 64, 40, 0, 3), "database idle: write now");
        assert!(!keep_gathering(64, 64, 100, 2, 3), "full batch");
        assert!(
            !keep_gathering(5, 64, 5, 2, 3),
            "nothing else in flight to wait for"
        );
        // One writer (SQLite): while it gathers, every payment handed in is ready.
        assert!(!keep_gathering(5, 64, 5, 0, 1));
    }
}
