//! `payments`: see `payments --help`.

use std::process::ExitCode;

use clap::Parser;
use payments::config::{
    describe, Cli, Command, LedgerCommand, ServeArgs, TokenCommand, WebhookCommand,
};
use payments::{cli, connect, telemetry, Application};

/// `payments` alone means `payments serve`, with the serve settings still read from the
/// environment: parse once more with the subcommand inserted.
fn parse_cli() -> Cli {
    let cli = Cli::parse();
    if cli.command.is_some() {
        return cli;
    }
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    argv.insert(1.min(argv.len()), "serve".into());
    Cli::parse_from(argv)
}

fn main() -> ExitCode {
    let args = parse_cli();
    telemetry::init(args.log_format);
    match actix_web::rt::System::new().block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Cli) -> anyhow::Result<()> {
    if let Some(Command::Config(serve)) = &args.command {
        payments::config::check_database_url(&args.database.database_url)
            .map_err(anyhow::Error::msg)?;
        print!("{}", describe(&args.database, serve, args.log_format));
        return Ok(());
    }
    let database = connect(&args.database)?;
    let command = args
        .command
        .unwrap_or_else(|| Command::Serve(ServeArgs::default()));
    match command {
        Command::Serve(serve) => {
            tracing::info!(
                backend = database.backend_name(),
                "starting payments service"
            );
            Application::build(database, &serve)
                .await?
                .run_until_stopped()
                .await?;
            Ok(())
        }
        Command::Migrate => cli::migrate(&database).await,
        Command::Token(TokenCommand::Create { role, inn, name }) => {
            cli::create_token(database, &role, inn.as_deref(), &name).await
        }
        Command::Ledger(LedgerCommand::Verify) => cli::verify_ledger(database).await,
        Command::Config(_) => Ok(()),
        Command::Token(TokenCommand::Revoke { token_id }) => {
            cli::revoke_token(database, token_id).await
        }
        Command::Webhook(WebhookCommand::Sign {
            body,
            body_file,
            url,
            webhook_secrets,
        }) => {
            let body = match (body, body_file) {
                (Some(body), _) => body,
                (None, Some(path)) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("--body-file {}: {e}", path.display()))?,
                (None, None) => cli::example_body(),
            };
            cli::sign_webhook(database, &webhook_secrets, body, &url).await
        }
        Command::Webhook(WebhookCommand::Secret { webhook_secrets }) => {
            cli::print_secret(database, &webhook_secrets).await
        }
    }
}
