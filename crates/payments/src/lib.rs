//! The `payments` service: wiring of the domain, the diesel adapters and the actix-web API,
//! plus the command-line tools (migrations, tokens, webhook signing).
//!
//! [`Application::build`] is what `payments serve` runs and what the black-box tests start on
//! port 0, so the wiring under test is the wiring in production.

pub mod cli;
pub mod config;
pub mod ops;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;
use payments_adapters_diesel::Database;
use payments_api_actix::{
    ApiState, BillingUseCases, ConsoleSettings, ConsoleState, HttpSettings, Metrics, RateLimit,
    WebhookAuth,
};
use payments_domain::ports::WebhookSecretStore;
use payments_domain::signature::WebhookSecret;
use payments_domain::usecases::{
    Authenticate, ConsoleQueries, ConsoleSessions, IdempotentReplays, ReadBalance,
    ReceiveBankPayment,
};
use rand::RngCore;

use crate::config::ServeArgs;

/// 32 bytes from the operating system's CSPRNG.
pub fn os_random() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Secrets given in configuration, empty entries dropped.
pub fn configured_secrets(raw: &[String]) -> Vec<WebhookSecret> {
    raw.iter()
        .filter_map(|s| WebhookSecret::new(s.trim().as_bytes().to_vec()))
        .collect()
}

/// The secrets that sign webhooks: the configured ones, or else the one generated on first
/// start and kept in the database (so every instance sharing the database agrees).
pub async fn effective_secrets(
    database: &Database,
    configured: &[String],
) -> anyhow::Result<Vec<WebhookSecret>> {
    let secrets = configured_secrets(configured);
    if !secrets.is_empty() {
        return Ok(secrets);
    }
    let candidate = WebhookSecret::generate(os_random());
    let stored = database
        .load_or_store_secret(&candidate)
        .await
        .context("could not load or store the generated webhook secret")?;
    Ok(vec![stored])
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    /// Connects to the database, applies migrations, resolves webhook authentication and
    /// binds the listener.
    pub async fn build(database: Database, args: &ServeArgs) -> anyhow::Result<Self> {
        let applied = migrate(&database).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
        let webhook_auth = if args.legacy_open {
            if !args.webhook_secrets.is_empty() {
                anyhow::bail!(
                    "PAYMENTS_LEGACY_OPEN and PAYMENTS_WEBHOOK_SECRETS are mutually exclusive: \
                     legacy mode accepts unsigned webhooks"
                );
            }
            tracing::warn!(
                "LEGACY OPEN MODE: webhooks are accepted WITHOUT signature and balances are \
                 readable WITHOUT a token. Anyone who can reach this port can credit any balance. \
                 Unset PAYMENTS_LEGACY_OPEN as soon as the migration is done."
            );
            WebhookAuth::LegacyOpen
        } else {
            if configured_secrets(&args.webhook_secrets).is_empty() {
                tracing::info!(
                    "PAYMENTS_WEBHOOK_SECRETS is not set: webhooks must be signed with the secret \
                     generated on first start and kept in the database \
                     (`payments webhook secret` prints it, `payments webhook sign` signs a request)"
                );
            }
            WebhookAuth::Signed(effective_secrets(&database, &args.webhook_secrets).await?)
        };

        let readiness = Arc::new(ops::DatabaseReadiness(database.clone()));
        let pool_stats = Arc::new(ops::DatabasePoolStats(database.clone()));
        // One registry for all workers (the App is built once per worker thread).
        let metrics = Metrics::new().context("building the metrics registry")?;
        database.observe_batches(Arc::new(ops::BatchMetrics(metrics.clone())));
        let database = Arc::new(database);
        let idempotency = IdempotentReplays::new(
            database.clone(),
            std::time::Duration::from_secs(args.idempotency_retention_hours.max(1) * 3600),
        );
        spawn_idempotency_cleanup(idempotency.clone());
        let state = ApiState {
            receive_bank_payment: ReceiveBankPayment::new(database.clone()),
            read_balance: ReadBalance::new(database.clone(), database.clone()),
            authenticate: Authenticate::new(database.clone()),
            billing: BillingUseCases::from_adapter(database.clone()),
            idempotency: idempotency.clone(),
            webhook_auth,
            readiness,
            pool_stats,
            metrics,
            rate_limit: RateLimit::per_minute(args.rate_limit_per_minute),
        };
        let console = ConsoleState {
            sessions: ConsoleSessions::new(database.clone(), database.clone()),
            queries: ConsoleQueries::from_adapter(database.clone()),
            billing: state.billing.clone(),
            settings: ConsoleSettings {
                secure_cookie: args.console_secure_cookie,
            },
            random: os_random,
        };
        let settings = HttpSettings {
            body_limit_bytes: args.body_limit_bytes,
            request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
        };
        let listener = TcpListener::bind(args.listen)
            .with_context(|| format!("cannot listen on {} (PAYMENTS_LISTEN)", args.listen))?;
        let port = listener.local_addr()?.port();
        let mut server = actix_web::HttpServer::new(move || {
            payments_api_actix::app(state.clone(), settings)
                .configure(payments_api_actix::console::configure(console.clone()))
        })
        .shutdown_timeout(args.shutdown_grace_secs)
        .listen(listener)?;
        if let Some(workers) = args.workers {
            server = server.workers(workers.max(1));
        }
        tracing::info!(address = %args.listen, port, "listening");
        Ok(Self {
            port,
            server: server.run(),
        })
    }

    /// The bound port (useful when listening on port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then lets in-flight requests finish within the grace
    /// period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Forgets idempotency keys past their retention: once at start, then every hour (or every
/// retention, when shorter). Runs inside the service, for as long as it serves.
fn spawn_idempotency_cleanup(replays: IdempotentReplays) {
    let every = replays
        .retention()
        .min(std::time::Duration::from_secs(3600));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            match replays.expire(chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired idempotency keys"),
                Err(error) => tracing::warn!(%error, "expiring idempotency keys failed"),
            }
        }
    });
}

/// Applies pending migrations on a blocking thread; returns the names applied.
pub async fn migrate(database: &Database) -> anyhow::Result<Vec<String>> {
    let database = database.clone();
    tokio::task::spawn_blocking(move || database.run_pending_migrations())
        .await
        .context("migration task failed")?
        .map_err(|e| anyhow::anyhow!("applying database migrations: {}", e.0))
}

/// Connects to the configured database.
pub fn connect(database: &config::DatabaseArgs) -> anyhow::Result<Database> {
    config::check_database_url(&database.database_url).map_err(anyhow::Error::msg)?;
    Database::connect(&database.database_url, database.pool_options())
        .with_context(|| "cannot open the database given by DATABASE_URL".to_string())
}
