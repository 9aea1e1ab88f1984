//! The outbox of [`PostgresStore`]: table `nm_outbox`, one row per event,
//! appended inside the batch transaction that commits the change.
//!
//! A sequence alone would not give commit order: a transaction that drew
//! `seq` 5 may commit after one that drew 6, and a relay that had read and
//! acknowledged 6 would then skip 5. So a transaction takes an advisory lock
//! (per schema, held until it ends) just before it appends: appends are
//! serialized, and `seq` follows commit order. The lock is taken last, once
//! the records are written, so it is held only for the inserts and the commit.

use sqlx::{PgConnection, Row as _};

use super::postgres::{db, PostgresStore};
use super::sql_common;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;
use crate::outbox::Message;

/// Schema version 5: the outbox; `{s}` is the quoted schema.
pub(super) const V5: &[&str] = &["CREATE TABLE {s}.nm_outbox (
        seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        number      TEXT NOT NULL,
        routing_key TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_ns  BIGINT NOT NULL
    )"];

impl PostgresStore {
    /// The outbox table's quoted name.
    pub(super) fn outbox_table(&self) -> Result<String> {
        Ok(format!(
            "{}.nm_outbox",
            sql_common::quote_ident(self.schema_name())?
        ))
    }

    /// Appends `entries` (their `seq` is ignored) inside the caller's
    /// transaction, under the outbox lock. `Err` is a failure of the
    /// database (the batch retries it).
    pub(super) async fn append_outbox(
        &self,
        conn: &mut PgConnection,
        table: &str,
        entries: &[Message],
    ) -> std::result::Result<(), sqlx::Error> {
        if entries.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("number_manager outbox {}", self.schema_name()))
            .execute(&mut *conn)
            .await?;
        let now = sql_common::to_ns(chrono::Utc::now());
        let insert = format!(
            "INSERT INTO {table} (number, routing_key, body, created_ns) VALUES ($1, $2, $3, $4)"
        );
        for entry in entries {
            sqlx::query(&insert)
                .bind(entry.number.as_str())
                .bind(&entry.routing_key)
                .bind(String::from_utf8_lossy(&entry.body).as_ref())
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Appends events that go with no write, in one transaction.
    pub(super) async fn outbox_append_standalone(&self, entries: &[Message]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let table = self.outbox_table()?;
        let mut conn = self.acquire_conn("cannot append to the outbox").await?;
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(db("cannot start a transaction"))?;
        self.append_outbox(&mut tx, &table, entries)
            .await
            .map_err(db("cannot append to the outbox"))?;
        tx.commit().await.map_err(db("cannot commit"))
    }

    /// Up to `limit` entries after `after_seq`, in `seq` order.
    pub(super) async fn outbox_read(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        let table = self.outbox_table()?;
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let mut conn = self.acquire_conn("cannot read the outbox").await?;
        let rows = sqlx::query(&format!(
            "SELECT seq, number, routing_key, body FROM {table} WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(db("cannot read the outbox"))?;
        rows.iter().map(decode).collect()
    }

    /// Removes every entry up to `up_to_seq`; how many.
    pub(super) async fn outbox_remove(&self, up_to_seq: u64) -> Result<usize> {
        let table = self.outbox_table()?;
        let up_to = i64::try_from(up_to_seq).unwrap_or(i64::MAX);
        let mut conn = self
            .acquire_conn("cannot acknowledge outbox entries")
            .await?;
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE seq <= $1"))
            .bind(up_to)
            .execute(&mut *conn)
            .await
            .map_err(db("cannot acknowledge outbox entries"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}

fn decode(row: &sqlx::postgres::PgRow) -> Result<Message> {
    let read = |e| db("cannot read an outbox entry")(e);
    let seq: i64 = row.try_get("seq").map_err(read)?;
    let number: String = row.try_get("number").map_err(read)?;
    let routing_key: String = row.try_get("routing_key").map_err(read)?;
    let body: String = row.try_get("body").map_err(read)?;
    Ok(Message {
        seq: u64::try_from(seq)
            .map_err(|_| Error::database(format!("postgres: outbox seq {seq} is negative")))?,
        number: PhoneNumber::from_e164(&number)?,
        routing_key,
        body: body.into_bytes(),
    })
}
