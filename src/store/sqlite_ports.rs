//! [`PortRequestStore`] for [`SqliteStore`]: a table of requests (the
//! request as JSON plus the columns queries use) and a table of the numbers
//! of open requests, whose primary key keeps a number in one open request.
//! Every write runs in one `BEGIN IMMEDIATE` transaction.

use async_trait::async_trait;
use sqlx::{Connection, Row as _, SqliteConnection};

use super::sql_common;
use super::sqlite::{db, SqliteStore};
use crate::account::AccountId;
use crate::error::{ConflictKind, Error, Result};
use crate::number::PhoneNumber;
use crate::porting::{PortId, PortRequest, PortRequestStore};
use crate::record::Revision;

/// Schema version 4: port requests.
pub(super) const V4: &[&str] = &[
    "CREATE TABLE nm_port_requests (
        id          TEXT PRIMARY KEY NOT NULL,
        account     TEXT NOT NULL,
        revision    INTEGER NOT NULL,
        created_ns  INTEGER NOT NULL,
        doc         TEXT NOT NULL
    ) WITHOUT ROWID",
    "CREATE TABLE nm_port_numbers (
        number      TEXT PRIMARY KEY NOT NULL,
        id          TEXT NOT NULL
    ) WITHOUT ROWID",
];

fn to_doc(request: &PortRequest) -> Result<String> {
    serde_json::to_string(request)
        .map_err(|e| Error::database_with(format!("sqlite: cannot encode a port request: {e}"), e))
}

fn from_row(revision: i64, doc: &str) -> Result<PortRequest> {
    let mut r: PortRequest = serde_json::from_str(doc).map_err(|e| {
        Error::database_with(format!("sqlite: stored port request unreadable: {e}"), e)
    })?;
    r.revision = Revision(u64::try_from(revision).unwrap_or_default());
    Ok(r)
}

fn conflict(id: &PortId, kind: ConflictKind, detail: Option<String>) -> Error {
    Error::Conflict {
        number: id.to_string(),
        kind,
        detail,
    }
}

/// Fails with `number_is_porting` when another open request holds a number of `request`.
async fn check_numbers(tx: &mut SqliteConnection, request: &PortRequest) -> Result<()> {
    if !request.state.is_open() {
        return Ok(());
    }
    for n in &request.numbers {
        let holder: Option<String> =
            sqlx::query_scalar("SELECT id FROM nm_port_numbers WHERE number = ?")
                .bind(n.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("cannot read the numbers of port requests"))?;
        if holder.is_some_and(|h| h != request.id.as_str()) {
            return Err(Error::NumberIsPorting {
                number: n.to_string(),
            });
        }
    }
    Ok(())
}

/// Writes the open-number rows of `request` (after its old ones went).
async fn put_numbers(tx: &mut SqliteConnection, request: &PortRequest) -> Result<()> {
    sqlx::query("DELETE FROM nm_port_numbers WHERE id = ?")
        .bind(request.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db("cannot write the numbers of a port request"))?;
    if !request.state.is_open() {
        return Ok(());
    }
    for n in &request.numbers {
        sqlx::query("INSERT INTO nm_port_numbers (number, id) VALUES (?, ?)")
            .bind(n.as_str())
            .bind(request.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db("cannot write the numbers of a port request"))?;
    }
    Ok(())
}

fn rev_i64(r: Revision) -> i64 {
    i64::try_from(r.0).unwrap_or(i64::MAX)
}

#[async_trait]
impl PortRequestStore for SqliteStore {
    async fn create_port_request(&self, mut request: PortRequest) -> Result<Revision> {
        let mut conn = self.pool().acquire().await.map_err(db("cannot connect"))?;
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot begin a transaction"))?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM nm_port_requests WHERE id = ?")
                .bind(request.id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("cannot read a port request"))?;
        if exists.is_some() {
            let detail = format!("port request {} already exists", request.id);
            return Err(conflict(
                &request.id,
                ConflictKind::StaleRevision,
                Some(detail),
            ));
        }
        check_numbers(&mut tx, &request).await?;
        request.revision = Revision::NEW.next();
        sqlx::query(
            "INSERT INTO nm_port_requests (id, account, revision, created_ns, doc) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(request.id.as_str())
        .bind(request.account.as_str())
        .bind(rev_i64(request.revision))
        .bind(sql_common::to_ns(request.created))
        .bind(to_doc(&request)?)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot write a port request"))?;
        put_numbers(&mut tx, &request).await?;
        tx.commit()
            .await
            .map_err(db("cannot commit a port request"))?;
        Ok(request.revision)
    }

    async fn get_port_request(&self, id: &PortId) -> Result<Option<PortRequest>> {
        let row = sqlx::query("SELECT revision, doc FROM nm_port_requests WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db("cannot read a port request"))?;
        match row {
            None => Ok(None),
            Some(row) => {
                let get = |e| db("cannot read a row")(e);
                let doc: String = row.try_get("doc").map_err(get)?;
                Ok(Some(from_row(row.try_get("revision").map_err(get)?, &doc)?))
            }
        }
    }

    async fn list_port_requests(&self, account: &AccountId) -> Result<Vec<PortRequest>> {
        let rows = sqlx::query(
            "SELECT revision, doc FROM nm_port_requests WHERE account = ? ORDER BY created_ns, id",
        )
        .bind(account.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(db("cannot list port requests"))?;
        let get = |e| db("cannot read a row")(e);
        rows.iter()
            .map(|row| {
                let doc: String = row.try_get("doc").map_err(get)?;
                from_row(row.try_get("revision").map_err(get)?, &doc)
            })
            .collect()
    }

    async fn update_port_request(
        &self,
        mut request: PortRequest,
        expected: Revision,
    ) -> Result<Revision> {
        let mut conn = self.pool().acquire().await.map_err(db("cannot connect"))?;
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot begin a transaction"))?;
        let stored: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM nm_port_requests WHERE id = ?")
                .bind(request.id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("cannot read a port request"))?;
        match stored {
            None => return Err(conflict(&request.id, ConflictKind::RecordGone, None)),
            Some(r) if r != rev_i64(expected) => {
                let detail = format!("revision {} expected, {r} stored", expected.0);
                return Err(conflict(
                    &request.id,
                    ConflictKind::StaleRevision,
                    Some(detail),
                ));
            }
            Some(_) => {}
        }
        check_numbers(&mut tx, &request).await?;
        request.revision = expected.next();
        sqlx::query("UPDATE nm_port_requests SET account = ?, revision = ?, created_ns = ?, doc = ? WHERE id = ?")
            .bind(request.account.as_str())
            .bind(rev_i64(request.revision))
            .bind(sql_common::to_ns(request.created))
            .bind(to_doc(&request)?)
            .bind(request.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db("cannot write a port request"))?;
        put_numbers(&mut tx, &request).await?;
        tx.commit()
            .await
            .map_err(db("cannot commit a port request"))?;
        Ok(request.revision)
    }

    async fn find_open_port_request(&self, number: &PhoneNumber) -> Result<Option<PortRequest>> {
        let row = sqlx::query(
            "SELECT r.revision, r.doc FROM nm_port_numbers AS n JOIN nm_port_requests AS r ON r.id = n.id WHERE n.number = ?",
        )
        .bind(number.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(db("cannot read the numbers of port requests"))?;
        match row {
            None => Ok(None),
            Some(row) => {
                let get = |e| db("cannot read a row")(e);
                let doc: String = row.try_get("doc").map_err(get)?;
                Ok(Some(from_row(row.try_get("revision").map_err(get)?, &doc)?))
            }
        }
    }
}
