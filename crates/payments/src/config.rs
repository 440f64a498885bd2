//! Command line and environment: every setting has a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where the embedded default database lives when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "data/payments.sqlite3";

/// Records bank payments exactly once and serves balances and billing.
#[derive(Debug, Parser)]
#[command(name = "payments", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "PAYMENTS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Text or JSON logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which database to use.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// A `postgres://` URL, or an SQLite file path (created if missing).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    pub database_url: String,

    /// Most database connections held open at once.
    #[arg(
        long,
        env = "PAYMENTS_DB_POOL_SIZE",
        default_value_t = 16,
        global = true
    )]
    pub db_pool_size: u32,

    /// How long a request waits for a free database connection, in seconds.
    #[arg(
        long,
        env = "PAYMENTS_DB_CONNECT_TIMEOUT_SECS",
        default_value_t = 5,
        global = true
    )]
    pub db_connect_timeout_secs: u64,

    /// Longest a single SQL statement may run on PostgreSQL, in seconds (0: no limit).
    #[arg(
        long,
        env = "PAYMENTS_DB_STATEMENT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub db_statement_timeout_secs: u64,

    /// Most bank webhooks written in one database transaction (group commit); 0 turns
    /// batching off (one transaction per webhook).
    #[arg(
        long,
        env = "PAYMENTS_BATCH_MAX_ITEMS",
        default_value_t = 64,
        global = true
    )]
    pub batch_max_items: usize,

    /// Longest the first webhook of a batch waits for others, in milliseconds, and only while
    /// every other batch writer is writing (PostgreSQL; SQLite's one writer never waits);
    /// 0 never waits.
    #[arg(
        long,
        env = "PAYMENTS_BATCH_MAX_WAIT_MS",
        default_value_t = 2,
        global = true
    )]
    pub batch_max_wait_ms: u64,
}

impl DatabaseArgs {
    /// Pool settings for the adapter.
    pub fn pool_options(&self) -> payments_adapters_diesel::PoolOptions {
        payments_adapters_diesel::PoolOptions {
            max_size: self.db_pool_size.max(1),
            connection_timeout: Duration::from_secs(self.db_connect_timeout_secs.max(1)),
            statement_timeout: (self.db_statement_timeout_secs > 0)
                .then(|| Duration::from_secs(self.db_statement_timeout_secs)),
            batch: payments_adapters_diesel::BatchOptions {
                max_items: self.batch_max_items,
                max_wait: Duration::from_millis(self.batch_max_wait_ms),
            },
        }
    }
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create or revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Webhook signing helpers.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Ledger checks.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Print the effective configuration (secrets masked) and exit.
    Config(ServeArgs),
}

/// `payments ledger ...`
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check the ledger invariant for every organization; exits non-zero naming each
    /// organization that violates it.
    Verify,
}

/// Settings of `payments serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAYMENTS_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Comma-separated webhook secrets; any one of them may sign (rotation). When unset, a
    /// secret is generated on first start and kept in the database.
    #[arg(
        long,
        env = "PAYMENTS_WEBHOOK_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_secrets: Vec<String>,

    /// Old open behaviour: unsigned webhooks and unauthenticated balance reads. Only for a
    /// drop-in migration from the old service.
    #[arg(long, env = "PAYMENTS_LEGACY_OPEN", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    pub legacy_open: bool,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "PAYMENTS_BODY_LIMIT_BYTES", default_value_t = 64 * 1024)]
    pub body_limit_bytes: usize,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "PAYMENTS_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Billing API requests per minute per token (429 past it); 0 turns the limit off.
    #[arg(long, env = "PAYMENTS_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u32,

    /// Hours an Idempotency-Key (and the first answer kept with it) is remembered; a repeat
    /// after that is a new request. Expired keys are deleted by the service itself.
    #[arg(
        long,
        env = "PAYMENTS_IDEMPOTENCY_RETENTION_HOURS",
        default_value_t = 24
    )]
    pub idempotency_retention_hours: u64,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "PAYMENTS_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "PAYMENTS_WORKERS")]
    pub workers: Option<usize>,

    /// Mark the console's session cookie `Secure` (set it when the service is reached over
    /// HTTPS, e.g. behind a TLS-terminating proxy).
    #[arg(long, env = "PAYMENTS_CONSOLE_SECURE_COOKIE", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    pub console_secure_cookie: bool,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            webhook_secrets: Vec::new(),
            legacy_open: false,
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            rate_limit_per_minute: 600,
            idempotency_retention_hours: 24,
            shutdown_grace_secs: 30,
            workers: None,
            console_secure_cookie: false,
        }
    }
}

/// `payments token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token and print it alone on stdout (its id goes to stderr).
    Create {
        /// `staff` (every organization) or `member` (one organization, needs --inn).
        #[arg(long, value_parser = ["staff", "member"])]
        role: String,
        /// INN of the member's organization (it must exist).
        #[arg(long)]
        inn: Option<String>,
        /// Name of the user the token is for (shown in audit trails).
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The id printed when the token was created.
        token_id: uuid::Uuid,
    },
}

/// `payments webhook ...`
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Print a ready `curl` command that posts a signed webhook (valid for 5 minutes).
    Sign {
        /// The JSON body to sign; default: an example payment with a fresh operation_id.
        #[arg(long)]
        body: Option<String>,
        /// Read the body from this file instead.
        #[arg(long, conflicts_with = "body")]
        body_file: Option<PathBuf>,
        /// Base URL of the service.
        #[arg(long, env = "PAYMENTS_URL", default_value = "http://127.0.0.1:8000")]
        url: String,
        /// Sign with this secret instead of the configured or stored one.
        #[arg(
            long,
            env = "PAYMENTS_WEBHOOK_SECRETS",
            value_delimiter = ',',
            hide_env_values = true
        )]
        webhook_secrets: Vec<String>,
    },
    /// Print the webhook secret in use (to hand to the bank). Generates it if none exists yet.
    Secret {
        #[arg(
            long,
            env = "PAYMENTS_WEBHOOK_SECRETS",
            value_delimiter = ',',
            hide_env_values = true
        )]
        webhook_secrets: Vec<String>,
    },
}

/// Checks that `DATABASE_URL` names a backend: `postgres://`, `postgresql://`, `sqlite://`, or
/// a plain file path without `://`. Anything else (`postgress://…`, `mysql://…`) is refused
/// instead of silently becoming an SQLite file named after the URL. The error names the setting
/// and shows the URL masked.
pub fn check_database_url(url: &str) -> Result<(), String> {
    match url.split_once("://") {
        None if url.trim().is_empty() => Err("DATABASE_URL is empty".to_string()),
        None => Ok(()),
        Some(("postgres" | "postgresql" | "sqlite", _)) => Ok(()),
        Some((scheme, _)) => Err(format!(
            "DATABASE_URL has an unsupported scheme \"{scheme}://\" in {}; use postgres://, \
             postgresql://, sqlite:// or a file path",
            masked_database_url(url)
        )),
    }
}

/// A database URL with every password masked: in the user info (`user:password@`, the password
/// may itself contain `@`) and in query parameters (`?password=…`). Plain paths are shown as
/// they are.
pub fn masked_database_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (rest, None),
    };
    // The user info ends at the last `@` of the authority: an unescaped `@` in a password
    // comes before it.
    let base = match base.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{user}:****@{host}"),
            None => format!("{credentials}@{host}"),
        },
        None => base.to_string(),
    };
    let Some(query) = query else {
        return format!("{scheme}://{base}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                format!("{key}=****")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{scheme}://{base}?{}", query.join("&"))
}

/// The effective configuration as `NAME=value` lines, secrets masked.
pub fn describe(database: &DatabaseArgs, serve: &ServeArgs, log_format: LogFormat) -> String {
    let secrets = match serve
        .webhook_secrets
        .iter()
        .filter(|s| !s.trim().is_empty())
        .count()
    {
        0 if serve.legacy_open => "(none: legacy open mode)".to_string(),
        0 => "(generated on first start, kept in the database)".to_string(),
        n => format!("{n} configured (****)"),
    };
    let workers = serve
        .workers
        .map_or_else(|| "(one per CPU)".to_string(), |w| w.to_string());
    [
        ("DATABASE_URL", masked_database_url(&database.database_url)),
        ("PAYMENTS_DB_POOL_SIZE", database.db_pool_size.to_string()),
        (
            "PAYMENTS_DB_CONNECT_TIMEOUT_SECS",
            database.db_connect_timeout_secs.to_string(),
        ),
        (
            "PAYMENTS_DB_STATEMENT_TIMEOUT_SECS",
            database.db_statement_timeout_secs.to_string(),
        ),
        (
            "PAYMENTS_BATCH_MAX_ITEMS",
            match database.batch_max_items {
                0 => "0 (batching off)".to_string(),
                n => n.to_string(),
            },
        ),
        (
            "PAYMENTS_BATCH_MAX_WAIT_MS",
            database.batch_max_wait_ms.to_string(),
        ),
        ("PAYMENTS_LISTEN", serve.listen.to_string()),
        ("PAYMENTS_WEBHOOK_SECRETS", secrets),
        ("PAYMENTS_LEGACY_OPEN", serve.legacy_open.to_string()),
        (
            "PAYMENTS_BODY_LIMIT_BYTES",
            serve.body_limit_bytes.to_string(),
        ),
        (
            "PAYMENTS_REQUEST_TIMEOUT_SECS",
            serve.request_timeout_secs.to_string(),
        ),
        (
            "PAYMENTS_IDEMPOTENCY_RETENTION_HOURS",
            serve.idempotency_retention_hours.to_string(),
        ),
        (
            "PAYMENTS_SHUTDOWN_GRACE_SECS",
            serve.shutdown_grace_secs.to_string(),
        ),
        ("PAYMENTS_WORKERS", workers),
        (
            "PAYMENTS_CONSOLE_SECURE_COOKIE",
            serve.console_secure_cookie.to_string(),
        ),
        (
            "PAYMENTS_LOG_FORMAT",
            format!("{log_format:?}").to_lowercase(),
        ),
    ]
    .iter()
    .map(|(name, value)| format!("{name}={value}\n"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["payments"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.database.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn legacy_flag_and_secret_list_parse() {
        let cli = Cli::try_parse_from([
            "payments",
            "serve",
            "--legacy-open",
            "--webhook-secrets",
            "a,b",
        ])
        .unwrap();
        let Some(Command::Serve(args)) = cli.command else {
            panic!("expected serve")
        };
        assert!(args.legacy_open);
        assert_eq!(args.webhook_secrets, ["a", "b"]);
    }

    #[test]
    fn config_output_masks_secrets() {
        let cli = Cli::try_parse_from([
            "payments",
            "--database-url",
            "postgres://app:hunter2@db:5432/payments",
            "config",
            "--webhook-secrets",
            "s3cr3t-one,s3cr3t-two",
        ])
        .unwrap();
        let Some(Command::Config(serve)) = cli.command else {
            panic!("expected config")
        };
        let text = describe(&cli.database, &serve, cli.log_format);
        assert!(
            text.contains("DATABASE_URL=postgres://app:****@db:5432/payments"),
            "{text}"
        );
        assert!(
            text.contains("PAYMENTS_WEBHOOK_SECRETS=2 configured (****)"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{text}"
        );
        assert!(
            text.contains("PAYMENTS_CONSOLE_SECURE_COOKIE=false"),
            "{text}"
        );
        assert_eq!(
            masked_database_url("data/payments.sqlite3"),
            "data/payments.sqlite3"
        );
    }

    #[test]
    fn batching_settings_reach_the_pool_and_the_config_output() {
        let cli = Cli::try_parse_from([
            "payments",
            "--batch-max-items",
            "0",
            "--batch-max-wait-ms",
            "5",
            "config",
        ])
        .unwrap();
        let options = cli.database.pool_options();
        assert!(!options.batch.enabled());
        assert_eq!(options.batch.max_wait, Duration::from_millis(5));
        let Some(Command::Config(serve)) = cli.command else {
            panic!("expected config")
        };
        let text = describe(&cli.database, &serve, cli.log_format);
        assert!(
            text.contains("PAYMENTS_BATCH_MAX_ITEMS=0 (batching off)"),
            "{text}"
        );
        assert!(text.contains("PAYMENTS_BATCH_MAX_WAIT_MS=5"), "{text}");
        // The default, read from the definition (the environment may set the variable).
        let command = <Cli as clap::CommandFactory>::command();
        let default = command
            .get_arguments()
            .find(|arg| arg.get_id() == "batch_max_items")
            .and_then(|arg| arg.get_default_values().first().cloned());
        assert_eq!(default.as_deref().and_then(|v| v.to_str()), Some("64"));
    }

    #[test]
    fn passwords_are_masked_wherever_the_url_carries_them() {
        for (url, masked) in [
            (
                "postgres://app:p@ss@db:5432/payments",
                "postgres://app:****@db:5432/payments",
            ),
            (
                "postgres://app@db/payments?password=hunter2&sslmode=require",
                "postgres://app@db/payments?password=****&sslmode=require",
            ),
            (
                "postgresql://app:a@b@db/x?sslmode=disable&PassWord=c@d",
                "postgresql://app:****@db/x?sslmode=disable&PassWord=****",
            ),
            ("postgres://db/payments", "postgres://db/payments"),
        ] {
            assert_eq!(masked_database_url(url), masked, "{url}");
        }
    }

    #[test]
    fn database_url_schemes_are_checked_naming_the_setting() {
        for ok in [
            "postgres://u@h/db",
            "postgresql://u@h/db",
            "sqlite://data/x.sqlite3",
            "data/payments.sqlite3",
            "/tmp/x.db",
        ] {
            assert_eq!(check_database_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "postgress://user:pw@host/db",
            "mysql://u:pw@h/db",
            "pg://h/db",
            "",
        ] {
            let err = check_database_url(bad).unwrap_err();
            assert!(err.contains("DATABASE_URL"), "{err}");
            assert!(!err.contains("pw@"), "the password leaked: {err}");
        }
    }

    #[test]
    fn invalid_numbers_name_the_setting() {
        let err =
            Cli::try_parse_from(["payments", "serve", "--body-limit-bytes", "lots"]).unwrap_err();
        assert!(err.to_string().contains("--body-limit-bytes"), "{err}");
    }

    #[test]
    fn invalid_listen_address_names_the_setting() {
        let err = Cli::try_parse_from(["payments", "serve", "--listen", "nowhere"]).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}
