//! The subcommands other than `serve`.

use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::Utc;
use payments_adapters_diesel::Database;
use payments_domain::auth::{Role, TokenId};
use payments_domain::signature;
use payments_domain::usecases::{IssueToken, VerifyLedger};
use payments_domain::Inn;

use crate::{effective_secrets, os_random};

/// `payments migrate`: applies pending migrations and lists them on stderr.
pub async fn migrate(database: &Database) -> anyhow::Result<()> {
    let applied = crate::migrate(database).await?;
    if applied.is_empty() {
        eprintln!("database is up to date");
    }
    for name in applied {
        eprintln!("applied {name}");
    }
    Ok(())
}

/// `payments token create`: prints the token alone on stdout, its id on stderr.
pub async fn create_token(
    database: Database,
    role: &str,
    inn: Option<&str>,
    name: &str,
) -> anyhow::Result<()> {
    let role = Role::parse(role).context("role must be staff or member")?;
    let inn = inn
        .map(|text| Inn::parse(text).map_err(|e| anyhow::anyhow!("--inn: {e}")))
        .transpose()?;
    crate::migrate(&database).await?;
    let database = Arc::new(database);
    let issue = IssueToken::new(database.clone(), database);
    let token = issue
        .create(role, inn.as_ref(), name, os_random(), Utc::now())
        .await?;
    eprintln!(
        "created {role} token {} (shown once; revoke with `payments token revoke {}`)",
        token.record.id, token.record.id
    );
    println!("{}", token.plaintext);
    Ok(())
}

/// `payments token revoke <id>`.
pub async fn revoke_token(database: Database, id: uuid::Uuid) -> anyhow::Result<()> {
    crate::migrate(&database).await?;
    let database = Arc::new(database);
    IssueToken::new(database.clone(), database)
        .revoke(TokenId(id), Utc::now())
        .await?;
    eprintln!("revoked token {id}");
    Ok(())
}

/// `payments ledger verify`: checks every organization; fails naming each violation.
pub async fn verify_ledger(database: Database) -> anyhow::Result<()> {
    crate::migrate(&database).await?;
    let (checked, failures) = VerifyLedger::new(Arc::new(database)).execute().await?;
    for failure in &failures {
        eprintln!("ledger violation: {failure}");
    }
    if failures.is_empty() {
        eprintln!("ledger ok: {checked} organizations checked");
        Ok(())
    } else {
        bail!(
            "{} of {checked} organizations violate the ledger invariant",
            failures.len()
        )
    }
}

/// An example webhook body with a fresh operation id.
pub fn example_body() -> String {
    serde_json::json!({
        "operation_id": uuid::Uuid::new_v4(),
        "amount": 145000,
        "payer_inn": "1234567890",
        "document_number": "PAY-328",
        "document_date": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
    .to_string()
}

/// `payments webhook sign`: prints a `curl` command posting `body` with a fresh signature.
pub async fn sign_webhook(
    database: Database,
    configured: &[String],
    body: String,
    base_url: &str,
) -> anyhow::Result<()> {
    crate::migrate(&database).await?;
    let secrets = effective_secrets(&database, configured).await?;
    let secret = secrets.first().context("no webhook secret available")?;
    let header = signature::sign(secret, Utc::now().timestamp(), body.as_bytes());
    println!("{}", curl_command(base_url, &header, &body));
    Ok(())
}

/// `payments webhook secret`: prints the secret in use.
pub async fn print_secret(database: Database, configured: &[String]) -> anyhow::Result<()> {
    crate::migrate(&database).await?;
    let secrets = effective_secrets(&database, configured).await?;
    let secret = secrets.first().context("no webhook secret available")?;
    println!("{}", String::from_utf8_lossy(secret.expose()));
    Ok(())
}

/// A POSIX-shell-safe `curl` command line.
pub fn curl_command(base_url: &str, signature_header: &str, body: &str) -> String {
    let url = format!("{}/api/webhook/bank/", base_url.trim_end_matches('/'));
    format!(
        "curl -sS -X POST {} -H 'Content-Type: application/json' -H {} --data-binary {}",
        shell_quote(&url),
        shell_quote(&format!("X-Signature: {signature_header}")),
        shell_quote(body)
    )
}

/// Single-quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_command_quotes_everything_for_the_shell() {
        let command = curl_command("http://h:1/", "t=1,v1=ab", r#"{"a":"it's"}"#);
        assert_eq!(
            command,
            r#"curl -sS -X POST 'http://h:1/api/webhook/bank/' -H 'Content-Type: application/json' -H 'X-Signature: t=1,v1=ab' --data-binary '{"a":"it'\''s"}'"#
        );
    }

    #[test]
    fn example_body_is_a_valid_payment() {
        let body: serde_json::Value = serde_json::from_str(&example_body()).unwrap();
        assert_eq!(body["amount"], 145000);
        assert!(uuid::Uuid::parse_str(body["operation_id"].as_str().unwrap()).is_ok());
    }
}
