//! SQL types shared by both backends, so one `diesel::table!` schema serves PostgreSQL and SQLite.
//!
//! Each type has a PostgreSQL OID (the native type) and an SQLite storage class (TEXT). The Rust
//! newtypes convert by delegating to diesel's own PostgreSQL impls and by writing canonical text
//! on SQLite.

use std::io::Write;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Date, Text, Timestamptz};
use diesel::sqlite::Sqlite;
use uuid::Uuid;

/// A UUID: PostgreSQL `uuid`, SQLite TEXT (hyphenated, lower case).
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbUuid;

/// An instant: PostgreSQL `timestamptz`, SQLite TEXT in fixed-width RFC 3339 UTC with
/// microseconds (`2026-11-25T10:00:00.000000Z`), so comparing the text compares the instants.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbTimestamp;

/// A calendar date: PostgreSQL `date`, SQLite TEXT `YYYY-MM-DD`.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 1082, array_oid = 1182))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbDate;

/// A JSON document: PostgreSQL `jsonb`, SQLite TEXT (checked with `json_valid`).
///
/// jsonb rather than TEXT on PostgreSQL: the server refuses invalid JSON and operators can
/// query the catalogue's details; the cost is this type, since diesel's own JSON types need a
/// feature and differ per backend.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbJson;

/// The format of [`DbDate`] on SQLite.
pub const SQLITE_DATE_FORMAT: &str = "%Y-%m-%d";

/// The version byte that starts PostgreSQL's binary jsonb format (followed by the JSON text).
const JSONB_VERSION: u8 = 1;

/// The format of [`DbTimestamp`] on SQLite.
pub const SQLITE_TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// A [`Uuid`] bound to or read from a [`DbUuid`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbUuid)]
pub struct SqlUuid(pub Uuid);

/// A UTC instant bound to or read from a [`DbTimestamp`] column (microsecond precision on
/// both backends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbTimestamp)]
pub struct SqlTimestamp(pub DateTime<Utc>);

/// A date bound to or read from a [`DbDate`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbDate)]
pub struct SqlDate(pub NaiveDate);

/// A JSON value bound to or read from a [`DbJson`] column.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = DbJson)]
pub struct SqlJson(pub serde_json::Value);

impl ToSql<DbUuid, Pg> for SqlUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<DbUuid, Pg> for SqlUuid {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <Uuid as FromSql<diesel::sql_types::Uuid, Pg>>::from_sql(bytes).map(SqlUuid)
    }
}

impl ToSql<DbUuid, Sqlite> for SqlUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<DbUuid, Sqlite> for SqlUuid {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Uuid::try_parse(&text)
            .map(SqlUuid)
            .map_err(|e| format!("invalid uuid {text:?} in database: {e}").into())
    }
}

impl ToSql<DbTimestamp, Pg> for SqlTimestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<DbTimestamp, Pg> for SqlTimestamp {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(bytes).map(SqlTimestamp)
    }
}

impl ToSql<DbTimestamp, Sqlite> for SqlTimestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(format_sqlite_timestamp(self.0));
        Ok(IsNull::No)
    }
}

impl FromSql<DbTimestamp, Sqlite> for SqlTimestamp {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        parse_sqlite_timestamp(&text)
            .map(SqlTimestamp)
            .ok_or_else(|| format!("invalid timestamp {text:?} in database").into())
    }
}

impl ToSql<DbDate, Pg> for SqlDate {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDate as ToSql<Date, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<DbDate, Pg> for SqlDate {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDate as FromSql<Date, Pg>>::from_sql(bytes).map(SqlDate)
    }
}

impl ToSql<DbDate, Sqlite> for SqlDate {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.format(SQLITE_DATE_FORMAT).to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<DbDate, Sqlite> for SqlDate {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        NaiveDate::parse_from_str(&text, SQLITE_DATE_FORMAT)
            .ok()
            .filter(|_| text.len() == 10)
            .map(SqlDate)
            .ok_or_else(|| format!("invalid date {text:?} in database").into())
    }
}

impl ToSql<DbJson, Pg> for SqlJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[JSONB_VERSION])?;
        serde_json::to_writer(out, &self.0)?;
        Ok(IsNull::No)
    }
}

impl FromSql<DbJson, Pg> for SqlJson {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        match bytes.as_bytes().split_first() {
            Some((&JSONB_VERSION, json)) => Ok(SqlJson(serde_json::from_slice(json)?)),
            _ => Err("unsupported jsonb binary format version".into()),
        }
    }
}

impl ToSql<DbJson, Sqlite> for SqlJson {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl FromSql<DbJson, Sqlite> for SqlJson {
    fn from_sql(value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(SqlJson(serde_json::from_str(&text)?))
    }
}

/// Writes an instant the way SQLite columns store it.
pub fn format_sqlite_timestamp(instant: DateTime<Utc>) -> String {
    instant.format(SQLITE_TIMESTAMP_FORMAT).to_string()
}

/// Reads a stored SQLite instant. Only the canonical form is accepted: anything else would
/// break the text ordering the indexes rely on, so it is treated as corruption.
pub fn parse_sqlite_timestamp(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, SQLITE_TIMESTAMP_FORMAT)
        .ok()
        .filter(|_| text.len() == 27)
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_timestamps_are_fixed_width_and_round_trip() {
        let instant = Utc.with_ymd_and_hms(2026, 11, 25, 9, 5, 3).unwrap();
        let text = format_sqlite_timestamp(instant);
        assert_eq!(text, "2026-11-25T09:05:03.000000Z");
        assert_eq!(parse_sqlite_timestamp(&text), Some(instant));
        assert_eq!(parse_sqlite_timestamp("2026-11-25T09:05:03Z"), None);
        assert_eq!(parse_sqlite_timestamp("garbage"), None);
    }

    #[test]
    fn sqlite_dates_are_iso_days() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(day.format(SQLITE_DATE_FORMAT).to_string(), "2026-01-05");
    }
}
