//! Hand-written PostgreSQL statements that diesel keeps prepared on the connection.
//!
//! diesel's `sql_query` is never cached: each call is parsed and planned again, which cost the
//! batch writer about 0.3 ms of PostgreSQL time per batch (docs/performance.md). A
//! [`CachedSql`] is a fixed text whose binds are typed expressions; diesel's statement cache
//! keys it by that text and the bind types, prepares it once per connection and then only
//! binds and executes it.

use diesel::expression::{AsExpression, IntoSql};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::result::{Error as DieselError, QueryResult};
use diesel::sql_types::{SqlType, Untyped};

/// One statement: its text, with the placeholders `$1`, `$2`, … each used once and in order,
/// and one bind per placeholder.
pub(crate) struct CachedSql<'a> {
    sql: &'static str,
    /// The text between the placeholders; `None` when they are not `$1`, `$2`, … in order.
    pieces: Option<Vec<&'static str>>,
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

impl<'a> CachedSql<'a> {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            pieces: pieces(sql),
            binds: Vec::new(),
        }
    }

    /// Binds the next placeholder to `value` as SQL type `ST`.
    pub(crate) fn bind<ST, T>(mut self, value: T) -> Self
    where
        ST: SqlType + diesel::expression::TypedExpressionType,
        T: AsExpression<ST> + IntoSql,
        T::Expression: QueryFragment<Pg> + Send + 'a,
    {
        self.binds.push(Box::new(value.into_sql::<ST>()));
        self
    }
}

/// The text between the placeholders, if they read `$1`, `$2`, … in order. Split when the
/// statement is built, not on each of the several walks diesel makes of it per execution.
pub(super) fn pieces(sql: &str) -> Option<Vec<&str>> {
    let mut pieces = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - at - 1);
        let number: usize = rest[at + 1..at + 1 + digits].parse().ok()?;
        if number != pieces.len() + 1 {
            return None;
        }
        pieces.push(&rest[..at]);
        rest = &rest[at + 1 + digits..];
    }
    pieces.push(rest);
    Some(pieces)
}

impl QueryFragment<Pg> for CachedSql<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let pieces = match &self.pieces {
            Some(pieces) if pieces.len() == self.binds.len() + 1 => pieces,
            _ => {
                return Err(DieselError::QueryBuilderError(
                    format!(
                        "{} binds do not match the placeholders of: {}",
                        self.binds.len(),
                        self.sql
                    )
                    .into(),
                ))
            }
        };
        // diesel numbers each bind `$n` as it pushes it, in order: the same text comes out.
        for (piece, bind) in pieces.iter().zip(&self.binds) {
            out.push_sql(piece);
            bind.walk_ast(out.reborrow())?;
        }
        if let Some(last) = pieces.last() {
            out.push_sql(last);
        }
        Ok(())
    }
}

impl QueryId for CachedSql<'_> {
    type QueryId = ();
    // Keyed by its text and bind types, which diesel does for queries without a static id.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for CachedSql<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for CachedSql<'_> {}

#[cfg(test)]
mod tests {
    use super::{pieces, CachedSql};

    #[test]
    fn the_placeholders_must_be_numbered_in_order() {
        assert_eq!(
            pieces("SELECT $1, $2 FROM t"),
            Some(vec!["SELECT ", ", ", " FROM t"])
        );
        assert_eq!(pieces("SELECT 1"), Some(vec!["SELECT 1"]));
        assert_eq!(
            pieces("SELECT $2, $1"),
            None,
            "out of order would bind the wrong values"
        );
        assert_eq!(pieces("SELECT $1, $1"), None, "each placeholder once");
        assert_eq!(pieces("SELECT $12"), None, "$12 is not $1");
        assert_eq!(pieces("SELECT $"), None, "a stray dollar");
    }

    #[test]
    fn a_statement_whose_binds_do_not_match_its_placeholders_is_refused() {
        use std::fmt::Write;

        use diesel::pg::Pg;
        use diesel::sql_types::BigInt;

        // diesel's debug rendering walks the query as an execution does; a refused walk
        // surfaces as a formatting error.
        let one_short = CachedSql::new("SELECT $1, $2").bind::<BigInt, _>(1_i64);
        let mut text = String::new();
        assert!(write!(text, "{}", diesel::debug_query::<Pg, _>(&one_short)).is_err());
        let matching = CachedSql::new("SELECT $1, $2")
            .bind::<BigInt, _>(1_i64)
            .bind::<BigInt, _>(2_i64);
        let mut text = String::new();
        write!(text, "{}", diesel::debug_query::<Pg, _>(&matching)).expect("renders");
        assert!(text.starts_with("SELECT $1, $2"), "{text}");
    }
}
