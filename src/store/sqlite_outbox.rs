//! The outbox of [`SqliteStore`](super::SqliteStore): table `nm_outbox`, one
//! row per event, appended inside the batch transaction that commits the
//! change. SQLite lets one writer in at a time, so `seq` (an
//! `AUTOINCREMENT` key, never reused) follows commit order.

use sqlx::{Row as _, SqliteConnection, SqlitePool};

use super::sqlite::db;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;
use crate::outbox::Message;

/// Schema version 5: the outbox.
pub(super) const V5: &[&str] = &["CREATE TABLE nm_outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        number      TEXT NOT NULL,
        routing_key TEXT NOT NULL,
        body        TEXT NOT NULL,
        created_ns  INTEGER NOT NULL
    )"];

/// Appends `entries` (their `seq` is ignored) inside the caller's transaction.
pub(super) async fn append(conn: &mut SqliteConnection, entries: &[Message]) -> Result<()> {
    let now = super::sql_common::to_ns(chrono::Utc::now());
    for entry in entries {
        let body = std::str::from_utf8(&entry.body)
            .map_err(|e| Error::database(format!("sqlite: an outbox body is not UTF-8: {e}")))?;
        sqlx::query(
            "INSERT INTO nm_outbox (number, routing_key, body, created_ns) VALUES (?, ?, ?, ?)",
        )
        .bind(entry.number.as_str())
        .bind(&entry.routing_key)
        .bind(body)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db("cannot append to the outbox"))?;
    }
    Ok(())
}

/// Up to `limit` entries after `after_seq`, in `seq` order.
pub(super) async fn pending(
    pool: &SqlitePool,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Message>> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT seq, number, routing_key, body FROM nm_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(db("cannot read the outbox"))?;
    rows.iter()
        .map(|row| {
            let read = |e| db("cannot read an outbox entry")(e);
            let seq: i64 = row.try_get("seq").map_err(read)?;
            let number: String = row.try_get("number").map_err(read)?;
            let routing_key: String = row.try_get("routing_key").map_err(read)?;
            let body: String = row.try_get("body").map_err(read)?;
            Ok(Message {
                seq: u64::try_from(seq).map_err(|_| {
                    Error::database(format!("sqlite: outbox seq {seq} is negative"))
                })?,
                number: PhoneNumber::from_e164(&number)?,
                routing_key,
                body: body.into_bytes(),
            })
        })
        .collect()
}

/// Removes every entry up to `up_to_seq`; how many.
pub(super) async fn ack(pool: &SqlitePool, up_to_seq: u64) -> Result<usize> {
    let up_to = i64::try_from(up_to_seq).unwrap_or(i64::MAX);
    let done = sqlx::query("DELETE FROM nm_outbox WHERE seq <= ?")
        .bind(up_to)
        .execute(pool)
        .await
        .map_err(db("cannot acknowledge outbox entries"))?;
    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
}
