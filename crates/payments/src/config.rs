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
    #[arg(long, env = "PAYMENTS_DB_POOL_SIZE", default_value_t = 16, global = true)]
    pub db_pool_size: u32,

    /// How long a request waits for a free database connection, in seconds.
    #[arg(long, env = "PAYMENTS_DB_CONNECT_TIMEOUT_SECS", default_value_t = 5, global = true)]
    pub db_connect_timeout_secs: u64,
}

impl DatabaseArgs {
    /// Pool settings for the adapter.
    pub fn pool_options(&self) -> payments_adapters_diesel::PoolOptions {
        payments_adapters_diesel::PoolOptions {
            max_size: self.db_pool_size.max(1),
            connection_timeout: Duration::from_secs(self.db_connect_timeout_secs.max(1)),
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
}

/// Settings of `payments serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAYMENTS_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Comma-separated webhook secrets; any one of them may sign (rotation). When unset, a
    /// secret is generated on first start and kept in the database.
    #[arg(long, env = "PAYMENTS_WEBHOOK_SECRETS", value_delimiter = ',', hide_env_values = true)]
    pub webhook_secrets: Vec<String>,

    /// Old open behaviour: unsigned webhooks and unauthenticated balance reads. Only for a
    /// drop-in migration from the old service.
    #[arg(long, env = "PAYMENTS_LEGACY_OPEN", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_value = "false", default_missing_value = "true")]
    pub legacy_open: bool,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "PAYMENTS_BODY_LIMIT_BYTES", default_value_t = 64 * 1024)]
    pub body_limit_bytes: usize,

    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "PAYMENTS_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// HTTP worker threads (default: one per CPU).
    #[arg(long, env = "PAYMENTS_WORKERS")]
    pub workers: Option<usize>,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            webhook_secrets: Vec::new(),
            legacy_open: false,
            body_limit_bytes: 64 * 1024,
            shutdown_grace_secs: 30,
            workers: None,
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
        #[arg(long, env = "PAYMENTS_WEBHOOK_SECRETS", value_delimiter = ',', hide_env_values = true)]
        webhook_secrets: Vec<String>,
    },
    /// Print the webhook secret in use (to hand to the bank). Generates it if none exists yet.
    Secret {
        #[arg(long, env = "PAYMENTS_WEBHOOK_SECRETS", value_delimiter = ',', hide_env_values = true)]
        webhook_secrets: Vec<String>,
    },
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
    fn invalid_listen_address_names_the_setting() {
        let err = Cli::try_parse_from(["payments", "serve", "--listen", "nowhere"]).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}
