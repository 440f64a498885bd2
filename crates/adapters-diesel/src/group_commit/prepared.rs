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
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

impl<'a> CachedSql<'a> {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
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

/// The text between the placeholders, checked against the binds given: the n-th placeholder
/// must read `$n`, and there must be as many as binds.
fn pieces(sql: &str, binds: usize) -> QueryResult<Vec<&str>> {
    let mut pieces = Vec::with_capacity(binds + 1);
    let mut rest = sql;
    for n in 1..=binds {
        let placeholder = format!("${n}");
        let at = rest
            .find(&placeholder)
            .filter(|&at| !rest[at + placeholder.len()..].starts_with(|c: char| c.is_ascii_digit()))
            .ok_or_else(|| misbound(sql, binds))?;
        pieces.push(&rest[..at]);
        rest = &rest[at + placeholder.len()..];
    }
    if rest.contains('$') {
        return Err(misbound(sql, binds));
    }
    pieces.push(rest);
    Ok(pieces)
}

fn misbound(sql: &str, binds: usize) -> DieselError {
    DieselError::QueryBuilderError(
        format!("{binds} binds do not match the placeholders of: {sql}").into(),
    )
}

impl QueryFragment<Pg> for CachedSql<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let pieces = pieces(self.sql, self.binds.len())?;
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
    use super::pieces;

    #[test]
    fn the_placeholders_must_be_numbered_in_order_and_match_the_binds() {
        assert_eq!(
            pieces("SELECT $1, $2 FROM t", 2).expect("matches"),
            vec!["SELECT ", ", ", " FROM t"]
        );
        assert!(
            pieces("SELECT $2, $1", 2).is_err(),
            "out of order would bind the wrong values"
        );
        assert!(pieces("SELECT $1, $2", 1).is_err(), "a placeholder unbound");
        assert!(
            pieces("SELECT $1", 2).is_err(),
            "a bind without placeholder"
        );
        assert!(
            pieces("SELECT $12", 1).is_err(),
            "$1 is not a prefix match of $12"
        );
        assert!(pieces("SELECT $1, $1", 1).is_err(), "each placeholder once");
    }
}
