//! [`PortRequestStore`] for [`PostgresStore`]: a table of requests (the
//! request as JSON plus the columns queries use) and a table of the numbers
//! of open requests, whose primary key keeps a number in one open request
//! even between concurrent transactions.

use async_trait::async_trait;
use sqlx::{PgConnection, Row as _};

use super::postgres::{db, PostgresStore};
use super::sql_common;
use crate::account::AccountId;
use crate::error::{ConflictKind, Error, Result};
use crate::number::PhoneNumber;
use crate::porting::{PortId, PortRequest, PortRequestStore};
use crate::record::Revision;

/// Schema version 4: port requests; `{s}` is the quoted schema.
pub(super) const V4: &[&str] = &[
    "CREATE TABLE {s}.nm_port_requests (
        id          TEXT PRIMARY KEY,
        account     TEXT NOT NULL,
        revision    BIGINT NOT NULL,
        created_ns  BIGINT NOT NULL,
        doc         TEXT NOT NULL
    )",
    "CREATE INDEX nm_port_requests_account ON {s}.nm_port_requests (account, created_ns)",
    "CREATE TABLE {s}.nm_port_numbers (
        number      TEXT PRIMARY KEY,
        id          TEXT NOT NULL
    )",
];

fn to_doc(request: &PortRequest) -> Result<String> {
    serde_json::to_string(request).map_err(|e| {
        Error::database_with(format!("postgres: cannot encode a port request: {e}"), e)
    })
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<PortRequest> {
    let get = |e| db("cannot read a row")(e);
    let doc: String = row.try_get("doc").map_err(get)?;
    let revision: i64 = row.try_get("revision").map_err(get)?;
    let mut r: PortRequest = serde_json::from_str(&doc).map_err(|e| {
        Error::database_with(format!("postgres: stored port request unreadable: {e}"), e)
    })?;
    r.revision = Revision(u64::try_from(revision).unwrap_or_default());
    Ok(r)
}

fn rev_i64(r: Revision) -> i64 {
    i64::try_from(r.0).unwrap_or(i64::MAX)
}

fn conflict(id: &PortId, kind: ConflictKind, detail: Option<String>) -> Error {
    Error::Conflict {
        number: id.to_string(),
        kind,
        detail,
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

impl PostgresStore {
    fn ports_table(&self) -> Result<(String, String)> {
        let s = sql_common::quote_ident(self.schema_name())?;
        Ok((
            format!("{s}.nm_port_requests"),
            format!("{s}.nm_port_numbers"),
        ))
    }

    /// Replaces the open-number rows of `request`; a number another open
    /// request holds is `number_is_porting`.
    async fn put_port_numbers(&self, tx: &mut PgConnection, request: &PortRequest) -> Result<()> {
        let (_, numbers) = self.ports_table()?;
        sqlx::query(&format!("DELETE FROM {numbers} WHERE id = $1"))
            .bind(request.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db("cannot write the numbers of a port request"))?;
        if !request.state.is_open() {
            return Ok(());
        }
        for n in &request.numbers {
            let inserted = sqlx::query(&format!(
                "INSERT INTO {numbers} (number, id) VALUES ($1, $2) ON CONFLICT (number) DO NOTHING"
            ))
            .bind(n.as_str())
            .bind(request.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db("cannot write the numbers of a port request"))?;
            if inserted.rows_affected() == 0 {
                return Err(Error::NumberIsPorting {
                    number: n.to_string(),
                });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl PortRequestStore for PostgresStore {
    async fn create_port_request(&self, mut request: PortRequest) -> Result<Revision> {
        let (requests, _) = self.ports_table()?;
        let mut tx = self.begin_tx("cannot begin a transaction").await?;
        request.revision = Revision::NEW.next();
        let inserted = sqlx::query(&format!(
            "INSERT INTO {requests} (id, account, revision, created_ns, doc) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(request.id.as_str())
        .bind(request.account.as_str())
        .bind(rev_i64(request.revision))
        .bind(sql_common::to_ns(request.created))
        .bind(to_doc(&request)?)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                let detail = format!("port request {} already exists", request.id);
                return Err(conflict(
                    &request.id,
                    ConflictKind::StaleRevision,
                    Some(detail),
                ));
            }
            Err(e) => return Err(db("cannot write a port request")(e)),
        }
        self.put_port_numbers(&mut tx, &request).await?;
        tx.commit()
            .await
            .map_err(db("cannot commit a port request"))?;
        Ok(request.revision)
    }

    async fn get_port_request(&self, id: &PortId) -> Result<Option<PortRequest>> {
        let (requests, _) = self.ports_table()?;
        let mut conn = self.acquire_conn("cannot read a port request").await?;
        let row = sqlx::query(&format!(
            "SELECT revision, doc FROM {requests} WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("cannot read a port request"))?;
        row.as_ref().map(from_row).transpose()
    }

    async fn list_port_requests(&self, account: &AccountId) -> Result<Vec<PortRequest>> {
        let (requests, _) = self.ports_table()?;
        let mut conn = self.acquire_conn("cannot list port requests").await?;
        let rows = sqlx::query(&format!(
            "SELECT revision, doc FROM {requests} WHERE account = $1 ORDER BY created_ns, id"
        ))
        .bind(account.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db("cannot list port requests"))?;
        rows.iter().map(from_row).collect()
    }

    async fn update_port_request(
        &self,
        mut request: PortRequest,
        expected: Revision,
    ) -> Result<Revision> {
        let (requests, _) = self.ports_table()?;
        let mut tx = self.begin_tx("cannot begin a transaction").await?;
        let stored: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT revision FROM {requests} WHERE id = $1 FOR UPDATE"
        ))
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
        request.revision = expected.next();
        sqlx::query(&format!(
            "UPDATE {requests} SET account = $1, revision = $2, created_ns = $3, doc = $4 WHERE id = $5"
        ))
        .bind(request.account.as_str())
        .bind(rev_i64(request.revision))
        .bind(sql_common::to_ns(request.created))
        .bind(to_doc(&request)?)
        .bind(request.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db("cannot write a port request"))?;
        self.put_port_numbers(&mut tx, &request).await?;
        tx.commit()
            .await
            .map_err(db("cannot commit a port request"))?;
        Ok(request.revision)
    }

    async fn find_open_port_request(&self, number: &PhoneNumber) -> Result<Option<PortRequest>> {
        let (requests, numbers) = self.ports_table()?;
        let mut conn = self
            .acquire_conn("cannot read the numbers of port requests")
            .await?;
        let row = sqlx::query(&format!(
            "SELECT r.revision, r.doc FROM {numbers} AS n JOIN {requests} AS r ON r.id = n.id WHERE n.number = $1"
        ))
        .bind(number.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("cannot read the numbers of port requests"))?;
        row.as_ref().map(from_row).transpose()
    }
}
