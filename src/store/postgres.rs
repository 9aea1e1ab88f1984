//! [`PostgresStore`]: a [`Store`] in PostgreSQL (feature `postgres`).
//!
//! Everything about it is documented on the type.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Postgres, Row as _};

use super::sql_common::{self, Arg, Dialect, Sql};
use super::{BatchMode, IdempotencyEntry, Journal, ListQuery, Page, Store, Write, WriteResult};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::{NumberRecord, Revision};

/// The schema version this library writes.
const SCHEMA_VERSION: i64 = 5;

/// Attempts of a batch transaction that PostgreSQL aborts for a deadlock or a
/// serialization failure.
const ATTEMPTS: usize = 4;

/// Migrations, in order: version `i + 1` is `MIGRATIONS[i]`; `{s}` is the
/// quoted schema.
const MIGRATIONS: &[&[&str]] = &[
    V1,
    V2,
    V3,
    super::postgres_ports::V4,
    super::postgres_outbox::V5,
];

/// Version 1: numbers and idempotency entries.
const V1: &[&str] = &[
    "CREATE TABLE {s}.nm_numbers (
        number TEXT COLLATE \"C\" PRIMARY KEY,
        revision BIGINT NOT NULL,
        state TEXT NOT NULL,
        assigned_to TEXT,
        created_ns BIGINT NOT NULL,
        modified_ns BIGINT NOT NULL,
        expires_ns BIGINT,
        doc JSON NOT NULL
    )",
    "CREATE INDEX nm_numbers_assigned_to ON {s}.nm_numbers (assigned_to, number)",
    "CREATE INDEX nm_numbers_state ON {s}.nm_numbers (state, number)",
    "CREATE INDEX nm_numbers_expires ON {s}.nm_numbers (expires_ns) WHERE expires_ns IS NOT NULL",
    "CREATE INDEX nm_numbers_created ON {s}.nm_numbers (created_ns)",
    "CREATE INDEX nm_numbers_modified ON {s}.nm_numbers (modified_ns)",
    "CREATE TABLE {s}.nm_idempotency (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        expires_ns BIGINT NOT NULL,
        entry JSON NOT NULL,
        response JSON
    )",
    "CREATE INDEX nm_idempotency_expires ON {s}.nm_idempotency (expires_ns)",
];

/// Version 2: the last revision of every deleted number and when it was
/// deleted, so that a number inserted again never reuses a revision (until
/// its tombstone is purged).
const V2: &[&str] = &[
    "CREATE TABLE {s}.nm_tombstones (
        number TEXT COLLATE \"C\" PRIMARY KEY,
        revision BIGINT NOT NULL,
        deleted_ns BIGINT NOT NULL
    )",
    "CREATE INDEX nm_tombstones_deleted ON {s}.nm_tombstones (deleted_ns)",
];

/// Version 3: a pending idempotency key has an owner and a lease, and the
/// per-number outcomes a keyed request committed, written in the same
/// transaction as the records. Entries from version 2 get no owner and no
/// lease (so a pending one may be taken over at once).
const V3: &[&str] = &[
    "ALTER TABLE {s}.nm_idempotency ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE {s}.nm_idempotency ADD COLUMN lease_ns BIGINT",
    "CREATE TABLE {s}.nm_idempotency_progress (
        key TEXT NOT NULL,
        number TEXT COLLATE \"C\" NOT NULL,
        revision BIGINT NOT NULL,
        outcome JSON NOT NULL,
        PRIMARY KEY (key, number)
    )",
];

/// How [`PostgresStore::connect_with`] connects.
///
/// ```
/// use number_manager::store::PostgresOptions;
/// let options = PostgresOptions::default()
///     .with_schema("numbers_eu")
///     .with_max_connections(20);
/// assert_eq!(options.schema(), "numbers_eu");
/// assert_eq!(options.max_connections(), 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    schema: String,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "public".into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl PostgresOptions {
    /// The schema holding the tables (default `public`); created if missing.
    #[must_use]
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Connections kept open at most (default 10; at least 1).
    #[must_use]
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Connections kept open at most.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// How long an operation waits for a free connection before failing with
    /// [`Error::Database`] (default 10 s).
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long an operation waits for a free connection.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }
}

/// The statements, with the schema filled in.
#[derive(Debug, Clone)]
struct Statements {
    table: String,
    get_many: String,
    insert: String,
    update: String,
    delete: String,
    revision_of: String,
    insert_many: String,
    update_many: String,
    delete_many: String,
    revisions_of: String,
    get_idempotency: String,
    begin_idempotency: String,
    take_over_idempotency: String,
    drop_stale_progress: String,
    renew_idempotency: String,
    finish_idempotency: String,
    drop_progress: String,
    entry_exists: String,
    abandon_idempotency: String,
    purge_progress: String,
    purge_idempotency: String,
    record_progress: String,
    purge_tombstones: String,
}

impl Statements {
    fn new(s: &str) -> Self {
        let t = format!("{s}.nm_numbers");
        let i = format!("{s}.nm_idempotency");
        let p = format!("{s}.nm_idempotency_progress");
        let d = format!("{s}.nm_tombstones");
        Statements {
            get_many: format!("SELECT number, revision, doc::text AS doc FROM {t} WHERE number = ANY($1)"),
            // An insert takes its revision from the tombstone in the same
            // statement, so from the same snapshot as `NOT EXISTS`: if a delete
            // of the number commits after that snapshot, the number still looks
            // stored and the insert is refused, instead of waiting for the delete
            // in `ON CONFLICT` and then using a tombstone that predates it.
            insert: format!(
                "INSERT INTO {t} (number, revision, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
                 SELECT $1, r.revision, $2, $3, $4, $5, $6, ($7 || r.revision::text || $8)::json
                 FROM (SELECT COALESCE((SELECT revision FROM {d} WHERE number = $1), 0) + 1 AS revision) AS r
                 WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE number = $1)
                 ON CONFLICT (number) DO NOTHING RETURNING revision"
            ),
            update: format!(
                "UPDATE {t} SET revision = $1, state = $2, assigned_to = $3, created_ns = $4, modified_ns = $5,
                 expires_ns = $6, doc = $7::json WHERE number = $8 AND revision = $9"
            ),
            // A delete writes its tombstone, stamped `$3`, in the same statement.
            delete: format!(
                "WITH gone AS (DELETE FROM {t} WHERE number = $1 AND revision = $2 RETURNING number, revision)
                 INSERT INTO {d} AS x (number, revision, deleted_ns) SELECT number, revision, $3::bigint FROM gone
                 ON CONFLICT (number) DO UPDATE SET revision = GREATEST(x.revision, EXCLUDED.revision),
                 deleted_ns = GREATEST(x.deleted_ns, EXCLUDED.deleted_ns)"
            ),
            revision_of: format!("SELECT revision FROM {t} WHERE number = $1"),
            // As `insert`, for many numbers.
            insert_many: format!(
                "INSERT INTO {t} (number, revision, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
                 SELECT u.number, COALESCE(x.revision, 0) + 1, u.state, u.assigned_to, u.created_ns, u.modified_ns,
                        u.expires_ns, (u.head || (COALESCE(x.revision, 0) + 1)::text || u.tail)::json
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[],
                             $8::text[])
                   AS u(number, state, assigned_to, created_ns, modified_ns, expires_ns, head, tail)
                 LEFT JOIN {d} AS x ON x.number = u.number
                 WHERE NOT EXISTS (SELECT 1 FROM {t} AS n WHERE n.number = u.number)
                 ON CONFLICT (number) DO NOTHING RETURNING number, revision"
            ),
            update_many: format!(
                "UPDATE {t} AS n SET revision = u.expected + 1, state = u.state, assigned_to = u.assigned_to,
                 created_ns = u.created_ns, modified_ns = u.modified_ns, expires_ns = u.expires_ns, doc = u.doc::json
                 FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                             $7::bigint[], $8::text[])
                   AS u(number, expected, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
                 WHERE n.number = u.number AND n.revision = u.expected RETURNING n.number"
            ),
            delete_many: format!(
                "WITH gone AS (
                   DELETE FROM {t} AS n USING UNNEST($1::text[], $2::bigint[]) AS u(number, expected)
                   WHERE n.number = u.number AND n.revision = u.expected RETURNING n.number, n.revision)
                 INSERT INTO {d} AS x (number, revision, deleted_ns) SELECT number, revision, $3::bigint FROM gone
                 ON CONFLICT (number) DO UPDATE SET revision = GREATEST(x.revision, EXCLUDED.revision),
                 deleted_ns = GREATEST(x.deleted_ns, EXCLUDED.deleted_ns)
                 RETURNING number"
            ),
            revisions_of: format!("SELECT number, revision FROM {t} WHERE number = ANY($1)"),
            // One statement, so the entry and its progress come from one snapshot.
            get_idempotency: format!(
                "SELECT i.entry::text AS entry, i.response::text AS response, i.owner, i.lease_ns,
                        p.number, p.revision, p.outcome::text AS outcome
                 FROM {i} AS i LEFT JOIN {p} AS p ON p.key = i.key WHERE i.key = $1"
            ),
            begin_idempotency: format!(
                "INSERT INTO {i} AS e (key, fingerprint, expires_ns, entry, response, owner, lease_ns)
                 VALUES ($1, $2, $3, $4::json, $5::json, $7, $8)
                 ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, expires_ns = EXCLUDED.expires_ns,
                 entry = EXCLUDED.entry, response = EXCLUDED.response, owner = EXCLUDED.owner,
                 lease_ns = EXCLUDED.lease_ns
                 WHERE e.expires_ns <= $6"
            ),
            take_over_idempotency: format!(
                "UPDATE {i} SET owner = $1, lease_ns = $2
                 WHERE key = $3 AND expires_ns > $4 AND response IS NULL AND fingerprint = $5
                 AND (lease_ns IS NULL OR lease_ns <= $4)"
            ),
            drop_stale_progress: format!(
                "DELETE FROM {p} WHERE key = $1
                 AND NOT EXISTS (SELECT 1 FROM {i} WHERE key = $1 AND expires_ns > $2)"
            ),
            renew_idempotency: format!(
                "UPDATE {i} SET lease_ns = $1 WHERE key = $2 AND owner = $3 AND response IS NULL"
            ),
            finish_idempotency: format!(
                "UPDATE {i} SET response = $1::json WHERE key = $2 AND owner = $3 AND response IS NULL"
            ),
            drop_progress: format!("DELETE FROM {p} WHERE key = $1"),
            entry_exists: format!("SELECT 1 FROM {i} WHERE key = $1"),
            abandon_idempotency: format!(
                "DELETE FROM {i} WHERE key = $1 AND owner = $2 AND response IS NULL"
            ),
            purge_progress: format!(
                "DELETE FROM {p} WHERE key IN (SELECT key FROM {i} WHERE expires_ns <= $1)"
            ),
            purge_idempotency: format!("DELETE FROM {i} WHERE expires_ns <= $1"),
            record_progress: format!(
                "INSERT INTO {p} (key, number, revision, outcome)
                 SELECT $1, u.number, u.revision, u.outcome::json
                 FROM UNNEST($2::text[], $3::bigint[], $4::text[]) AS u(number, revision, outcome)
                 WHERE EXISTS (SELECT 1 FROM {i} WHERE key = $1 AND response IS NULL)
                 ON CONFLICT (key, number) DO NOTHING"
            ),
            purge_tombstones: format!("DELETE FROM {d} WHERE deleted_ns < $1"),
            table: t,
        }
    }
}

/// A [`Store`] in PostgreSQL.
///
/// - A connection pool; the tables live in one schema (`public` unless told
///   otherwise), created and migrated on connect under an advisory lock, with
///   the applied migrations recorded in `nm_schema_version`. Several processes
///   may connect at once; a schema written by a newer version of this library is
///   refused.
/// - A record is stored as its JSON document (type `json`, which keeps the
///   order of the public fields; the document begins with its layout version,
///   `{"format":2,...`, and documents of a newer layout are refused) plus the columns every query filters on, each
///   indexed: `number` (primary key, `COLLATE "C"` so SQL order is the byte
///   order of E.164 strings), `(assigned_to, number)`, `(state, number)`,
///   `expires_ns`, `created_ns`, `modified_ns`. Times are `BIGINT` nanoseconds
///   since the Unix epoch (exact from 1677 to 2262; see [`ListQuery`]); for a
///   human, `to_timestamp(created_ns / 1e9)`.
/// - Every write is a compare-and-swap in SQL (`UPDATE ... WHERE number = $1
///   AND revision = $2`, `INSERT ... ON CONFLICT DO NOTHING`). A batch is one
///   transaction; a batch of distinct numbers is sent as at most one statement
///   per kind of write (inserts, updates, deletes), each carrying its rows as
///   arrays (`UNNEST`), so a thousand writes cost a handful of round trips. A
///   transaction that PostgreSQL aborts for a deadlock or a serialization
///   failure is retried from the start a few times.
/// - A delete leaves a tombstone in `nm_tombstones` (the number, its last
///   revision and when it was deleted, from this process's wall clock, written
///   by the same statement as the delete), and an insert of the number stores
///   that revision + 1, computed in SQL by the insert statement itself, so
///   revisions never repeat (see [`Write`]). [`Store::purge_tombstones`] drops
///   the tombstones deleted before its cutoff in one `DELETE` (on the
///   `deleted_ns` index).
/// - Reads of many numbers are one `= ANY($1)` query.
/// - It runs on tokio (through sqlx): connect and use it inside a tokio
///   runtime; connecting elsewhere fails with [`Error::Database`].
///
/// TLS is not compiled in by this crate's `postgres` feature; a host that needs
/// it enables one of sqlx's TLS features in its own `Cargo.toml` (Cargo merges
/// the features).
///
/// # Scaling past one PostgreSQL
///
/// Every operation of the trait is keyed by number, and listings walk numbers
/// in order, so the data partitions cleanly by number prefix, the way Kazoo
/// sharded its numbers into one database per prefix (`numbers/+1555`,
/// `numbers/+1415`, ...):
///
/// - one PostgreSQL, many numbers: declarative partitioning of `nm_numbers` by
///   range of `number` keeps indexes small and lets old ranges be moved to
///   other tablespaces, without any change here;
/// - several PostgreSQL servers: give each a range of prefixes, open one
///   `PostgresStore` per server, and put a small routing [`Store`] in front that
///   sends each write and `get_many` slot to the store owning its number and
///   merges listings in number order (each shard's page is already sorted, so
///   a k-way merge with per-shard cursors gives the exact next page). An atomic
///   batch that spans shards needs a two-phase commit; keep collection
///   operations per shard or accept per-item batches across shards;
/// - PostgreSQL-compatible distributed SQL engines (Citus with `nm_numbers`
///   distributed on `number`, CockroachDB, YugabyteDB) can run the same schema
///   and statements, which use only primary-key access, `ON CONFLICT`, `UNNEST`
///   and `= ANY`; run the conformance suite against them before relying on them.
///
/// Port requests ([`PortRequestStore`](crate::porting::PortRequestStore)) are
/// kept in two tables of their own (version 4): `nm_port_requests` (`id`,
/// `account`, `revision`, `created_ns`, the request as JSON in `doc`; indexed
/// on `(account, created_ns)`) and `nm_port_numbers` (`number` primary key,
/// `id`: the open request holding it, so two transactions can never both put
/// a number in an open request).
///
/// Schema (version 4, in the chosen schema; a schema at version 1, 2 or 3 is
/// upgraded in place on connect):
///
/// ```sql
/// CREATE TABLE nm_numbers (
///     number      TEXT COLLATE "C" PRIMARY KEY,
///     revision    BIGINT NOT NULL,
///     state       TEXT NOT NULL,
///     assigned_to TEXT,
///     created_ns  BIGINT NOT NULL,
///     modified_ns BIGINT NOT NULL,
///     expires_ns  BIGINT,
///     doc         JSON NOT NULL
/// );
/// CREATE TABLE nm_idempotency (
///     key         TEXT PRIMARY KEY,
///     fingerprint TEXT NOT NULL,
///     expires_ns  BIGINT NOT NULL,
///     entry       JSON NOT NULL,   -- the entry without its response
///     response    JSON,
///     owner       TEXT NOT NULL DEFAULT '',   -- version 3: the attempt holding it
///     lease_ns    BIGINT                      -- version 3: until when it holds it
/// );
/// CREATE TABLE nm_idempotency_progress (      -- version 3
///     key         TEXT NOT NULL,                  -- the pending key
///     number      TEXT COLLATE "C" NOT NULL,      -- a number its request committed
///     revision    BIGINT NOT NULL,                -- the revision that write stored
///     outcome     JSON NOT NULL,                  -- what the request recorded
///     PRIMARY KEY (key, number)
/// );
/// CREATE TABLE nm_tombstones (      -- version 2
///     number      TEXT COLLATE "C" PRIMARY KEY,   -- a deleted number
///     revision    BIGINT NOT NULL,                -- the last revision it had
///     deleted_ns  BIGINT NOT NULL                 -- when it was deleted
/// );
/// CREATE INDEX nm_tombstones_deleted ON nm_tombstones (deleted_ns);
/// ```
///
/// # Example
///
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use number_manager::record::NumberRecord;
/// use number_manager::state::NumberState;
/// use number_manager::store::{PostgresStore, StoreExt};
/// use number_manager::PhoneNumber;
///
/// let store = PostgresStore::connect_with_schema("postgres://postgres@127.0.0.1:5432/test", "numbers").await?;
/// let number = PhoneNumber::parse("+14155550100")?;
/// let record = NumberRecord::new(number, NumberState::Reserved, "local", chrono::Utc::now());
/// let revision = store.insert(record).await?;
/// assert_eq!(store.get(&number).await?.map(|r| r.revision), Some(revision));
/// # Ok::<(), number_manager::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    sql: Statements,
}

pub(super) fn db(context: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| {
        let busy = retryable(&e) || connection_lost(&e);
        sql_common::sqlx_error(format!("postgres: {context}: {e}"), e, busy)
    }
}

/// Whether PostgreSQL refused or dropped the connection: a connection
/// exception (class 08), a server shutting down or starting (57P01-57P03), or
/// too many connections (53300).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Whether PostgreSQL aborted a transaction that may simply be run again.
fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) with
    /// the tables in schema `public`, creating and migrating them if needed.
    ///
    /// Fails with [`Error::Database`] when the server cannot be reached (at
    /// once, with the reason in its cause: connection refused, authentication
    /// failed, no such database), the user lacks the rights to create the
    /// tables, or the schema was written by a newer version of this library.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects with the tables in `schema` (created if missing), so that
    /// several stores, or tests, can share one database.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<Self> {
        Self::connect_with(url, PostgresOptions::default().with_schema(schema)).await
    }

    /// Connects with `options`.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self> {
        sql_common::require_tokio("postgres")?;
        let connect = PgConnectOptions::from_str(url).map_err(db("invalid connection URL"))?;
        // One direct connection first: the pool retries a failing connect
        // until its timeout and then reports only "pool timed out", losing
        // why (connection refused, bad password, no such database).
        let probe = crate::util::timeout(
            options.acquire_timeout,
            PgConnection::connect_with(&connect),
        )
        .await;
        match probe {
            None => {
                return Err(sql_common::unavailable(format!(
                    "postgres: cannot connect: no answer within {:?}",
                    options.acquire_timeout
                )))
            }
            Some(Err(e)) => return Err(db("cannot connect")(e)),
            Some(Ok(conn)) => {
                // Only the probe's answer matters; closing it may fail harmlessly.
                let _ = conn.close().await;
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db("cannot connect"))?;
        match Self::from_pool(pool.clone(), &options.schema).await {
            Ok(store) => Ok(store),
            Err(e) => {
                pool.close().await;
                Err(e)
            }
        }
    }

    /// Uses a pool the host already has, with the tables in `schema`
    /// (created and migrated if needed).
    pub async fn from_pool(pool: PgPool, schema: &str) -> Result<Self> {
        sql_common::require_tokio("postgres")?;
        let quoted = sql_common::quote_ident(schema)?;
        let store = PostgresStore {
            pool,
            schema: schema.to_string(),
            sql: Statements::new(&quoted),
        };
        store.migrate(&quoted).await?;
        Ok(store)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The connection pool (shared with clones of this store).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection, waiting for operations in progress. The store
    /// (and its clones) fail with [`Error::Database`] afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A connection from the pool. When none comes within the acquire
    /// timeout, the server is asked directly why, so that the error names the
    /// cause (connection refused, authentication failed) instead of only
    /// "pool timed out".
    async fn acquire(&self, context: &str) -> Result<PoolConnection<Postgres>> {
        match self.pool.acquire().await {
            Ok(conn) => Ok(conn),
            Err(sqlx::Error::PoolTimedOut) => Err(self.no_connection(context).await),
            Err(e) => Err(db(context)(e)),
        }
    }

    /// The schema the tables live in (for the port request tables).
    pub(super) fn schema_name(&self) -> &str {
        &self.schema
    }

    /// [`Self::acquire`], for the port request tables.
    pub(super) async fn acquire_conn(&self, context: &str) -> Result<PoolConnection<Postgres>> {
        self.acquire(context).await
    }

    /// [`Self::begin`], for the port request tables.
    pub(super) async fn begin_tx(
        &self,
        context: &str,
    ) -> Result<sqlx::Transaction<'static, Postgres>> {
        self.begin(context).await
    }

    /// A transaction on a connection from [`Self::acquire`].
    async fn begin(&self, context: &str) -> Result<sqlx::Transaction<'static, Postgres>> {
        let conn = self.acquire(context).await?;
        sqlx::Transaction::begin(conn, None)
            .await
            .map_err(db(context))
    }

    /// Why the pool gave no connection in time: one direct connection with
    /// the pool's own options tells a server that refuses or rejects us from
    /// a pool whose connections are all busy.
    async fn no_connection(&self, context: &str) -> Error {
        let waited = self.pool.options().get_acquire_timeout();
        let options = self.pool.connect_options();
        let why = match crate::util::timeout(waited, PgConnection::connect_with(&options)).await {
            None => format!("the server does not answer a direct connection within {waited:?}"),
            Some(Err(e)) => format!("a direct connection fails: {e}"),
            Some(Ok(conn)) => {
                // Only the probe's answer matters; closing it may fail harmlessly.
                let _ = conn.close().await;
                format!(
                    "the server answers, but all {} connections of the pool are busy",
                    self.pool.options().get_max_connections()
                )
            }
        };
        sql_common::unavailable(format!(
            "postgres: {context}: no connection within {waited:?}: {why}"
        ))
    }

    async fn version(&self, conn: &mut PgConnection) -> Result<i64> {
        let table: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!(
                "{}.nm_schema_version",
                sql_common::quote_ident(&self.schema)?
            ))
            .fetch_one(&mut *conn)
            .await
            .map_err(db("cannot read the schema"))?;
        if table.is_none() {
            return Ok(0);
        }
        let version: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT max(version)::bigint FROM {}.nm_schema_version",
            sql_common::quote_ident(&self.schema)?
        ))
        .fetch_one(&mut *conn)
        .await
        .map_err(db("cannot read the schema version"))?;
        Ok(version.unwrap_or(0))
    }

    async fn migrate(&self, quoted: &str) -> Result<()> {
        let mut conn = self.acquire("cannot connect").await?;
        let version = self.version(&mut conn).await?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(Error::database(format!(
                "postgres: schema version {version} in {} is newer than this library's ({SCHEMA_VERSION})",
                self.schema
            )));
        }
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(db("cannot start the migration"))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("number_manager schema {}", self.schema))
            .execute(&mut *tx)
            .await
            .map_err(db("cannot lock the schema to migrate it"))?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
            .execute(&mut *tx)
            .await
            .map_err(db("cannot create the schema"))?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {quoted}.nm_schema_version (
                version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .execute(&mut *tx)
        .await
        .map_err(db("cannot create the schema version table"))?;
        // Another process may have migrated while we waited for the lock.
        let version = self.version(&mut tx).await?;
        for (i, statements) in MIGRATIONS.iter().enumerate() {
            let target = i as i64 + 1;
            if target <= version {
                continue;
            }
            for statement in *statements {
                sqlx::query(&statement.replace("{s}", quoted))
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&format!("migration {target} failed")))?;
            }
            sqlx::query(&format!(
                "INSERT INTO {quoted}.nm_schema_version (version) VALUES ($1)"
            ))
            .bind(target as i32)
            .execute(&mut *tx)
            .await
            .map_err(db("cannot record the schema version"))?;
        }
        tx.commit().await.map_err(db("cannot commit the migration"))
    }

    async fn fetch_records(&self, sql: Sql) -> Result<Vec<NumberRecord>> {
        let mut conn = self.acquire("cannot list numbers").await?;
        let rows = bound(&sql)
            .fetch_all(&mut *conn)
            .await
            .map_err(db("cannot list numbers"))?;
        rows.iter().map(decode_row).collect()
    }

    /// One attempt at a batch: `Err` is a failure of the database, to retry or
    /// report; `Ok(Err)` a failure to report as is.
    async fn try_batch(
        &self,
        writes: &[Write],
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> std::result::Result<Result<Vec<WriteResult>>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let distinct = {
            let mut seen = HashSet::with_capacity(writes.len());
            writes.iter().all(|w| seen.insert(w.number()))
        };
        let results = if distinct && writes.len() > 1 {
            self.apply_many(&mut tx, writes).await?
        } else {
            let mut results = Vec::with_capacity(writes.len());
            for w in writes {
                match self.apply_one(&mut tx, w).await? {
                    Ok(r) => results.push(r),
                    Err(e) => return Ok(Err(e)),
                }
            }
            Ok(results)
        };
        let results = match results {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        if mode == BatchMode::Atomic && results.iter().any(|r| r.is_err()) {
            tx.rollback().await?;
            let numbers: Vec<String> = writes
                .iter()
                .map(|w| w.number().as_str().to_string())
                .collect();
            return Ok(Ok(sql_common::abort(results, &numbers)));
        }
        if let Some(journal) = journal {
            let rows = match sql_common::journal_rows(writes, &results, journal) {
                Ok(rows) => rows,
                Err(e) => return Ok(Err(e)),
            };
            if !rows.is_empty() {
                let (mut numbers, mut revisions, mut outcomes) =
                    (Vec::new(), Vec::new(), Vec::new());
                for (n, rev, outcome) in rows {
                    numbers.push(n);
                    revisions.push(rev);
                    outcomes.push(outcome);
                }
                sqlx::query(&self.sql.record_progress)
                    .bind(&journal.key)
                    .bind(numbers)
                    .bind(revisions)
                    .bind(outcomes)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if events.iter().any(Option::is_some) {
            let entries = match super::outbox_entries(&results, events)
                .and_then(|e| Ok((self.outbox_table()?, e)))
            {
                Ok(entries) => entries,
                Err(e) => return Ok(Err(e)),
            };
            self.append_outbox(&mut tx, &entries.0, &entries.1).await?;
        }
        tx.commit().await?;
        Ok(Ok(results))
    }

    /// A batch with retries of aborted transactions, with its journal if any.
    async fn batch(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_batch(&writes, mode, journal, events).await {
                Ok(result) => return result,
                Err(e) if retryable(&e) && attempt < ATTEMPTS => continue,
                Err(sqlx::Error::PoolTimedOut) => {
                    return Err(self.no_connection("cannot write").await)
                }
                Err(e) => return Err(db("cannot write")(e)),
            }
        }
    }

    /// A write on its own (used when a batch touches a number twice).
    async fn apply_one(
        &self,
        conn: &mut PgConnection,
        write: &Write,
    ) -> std::result::Result<Result<WriteResult>, sqlx::Error> {
        match write {
            Write::Insert(record) => {
                let (row, doc) = match sql_common::encode_split(record) {
                    Ok(encoded) => encoded,
                    Err(e) => return Ok(Err(e)),
                };
                let stored: Option<i64> = sqlx::query_scalar(&self.sql.insert)
                    .bind(&row.number)
                    .bind(row.state)
                    .bind(&row.assigned_to)
                    .bind(row.created_ns)
                    .bind(row.modified_ns)
                    .bind(row.expires_ns)
                    .bind(&doc.head)
                    .bind(&doc.tail)
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(Ok(match stored {
                    Some(rev) => sql_common::rev_from_sql(&row.number, rev),
                    None => Err(sql_common::exists(&row.number)),
                }))
            }
            Write::Update { record, expected } => {
                let number = record.number.as_str();
                let rev = expected.next();
                let (Ok(expected_sql), Ok(row)) = (
                    sql_common::rev_to_sql(*expected),
                    sql_common::encode(record, rev),
                ) else {
                    let stored = self.revision_of(conn, number).await?;
                    return Ok(Ok(Err(sql_common::conflict(number, *expected, stored))));
                };
                let done = sqlx::query(&self.sql.update)
                    .bind(row.revision)
                    .bind(row.state)
                    .bind(&row.assigned_to)
                    .bind(row.created_ns)
                    .bind(row.modified_ns)
                    .bind(row.expires_ns)
                    .bind(&row.doc)
                    .bind(&row.number)
                    .bind(expected_sql)
                    .execute(&mut *conn)
                    .await?;
                if done.rows_affected() == 1 {
                    return Ok(Ok(Ok(rev)));
                }
                let stored = self.revision_of(conn, number).await?;
                Ok(Ok(Err(sql_common::conflict(number, *expected, stored))))
            }
            Write::Delete { number, expected } => {
                let number = number.as_str();
                let rows = match sql_common::rev_to_sql(*expected) {
                    Ok(expected_sql) => sqlx::query(&self.sql.delete)
                        .bind(number)
                        .bind(expected_sql)
                        .bind(sql_common::to_ns(Utc::now()))
                        .execute(&mut *conn)
                        .await?
                        .rows_affected(),
                    Err(_) => 0,
                };
                if rows == 1 {
                    return Ok(Ok(Ok(Revision::NEW)));
                }
                let stored = self.revision_of(conn, number).await?;
                Ok(Ok(Err(sql_common::conflict(number, *expected, stored))))
            }
        }
    }

    async fn revision_of(
        &self,
        conn: &mut PgConnection,
        number: &str,
    ) -> std::result::Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(&self.sql.revision_of)
            .bind(number)
            .fetch_optional(&mut *conn)
            .await
    }

    /// Writes of distinct numbers: one statement per kind of write.
    async fn apply_many(
        &self,
        conn: &mut PgConnection,
        writes: &[Write],
    ) -> std::result::Result<Result<Vec<WriteResult>>, sqlx::Error> {
        #[derive(Default)]
        struct Columns {
            number: Vec<String>,
            expected: Vec<i64>,
            state: Vec<String>,
            assigned_to: Vec<Option<String>>,
            created_ns: Vec<i64>,
            modified_ns: Vec<i64>,
            expires_ns: Vec<Option<i64>>,
            /// The documents; for inserts, their heads (see [`sql_common::SplitDoc`]).
            doc: Vec<String>,
            /// For inserts, the tails of the documents.
            tail: Vec<String>,
        }
        impl Columns {
            fn push(&mut self, row: sql_common::Row, expected: i64) {
                self.number.push(row.number);
                self.expected.push(expected);
                self.state.push(row.state.to_string());
                self.assigned_to.push(row.assigned_to);
                self.created_ns.push(row.created_ns);
                self.modified_ns.push(row.modified_ns);
                self.expires_ns.push(row.expires_ns);
                self.doc.push(row.doc);
            }
            fn push_insert(&mut self, mut row: sql_common::Row, doc: sql_common::SplitDoc) {
                row.doc = doc.head;
                self.push(row, 0);
                self.tail.push(doc.tail);
            }
        }
        let mut inserts = Columns::default();
        let mut updates = Columns::default();
        let mut deletes: (Vec<String>, Vec<i64>) = (Vec::new(), Vec::new());
        // Writes whose expected revision cannot be stored fail without a statement.
        let mut impossible: HashSet<PhoneNumber> = HashSet::new();
        for w in writes {
            match w {
                Write::Insert(record) => match sql_common::encode_split(record) {
                    Ok((row, doc)) => inserts.push_insert(row, doc),
                    Err(e) => return Ok(Err(e)),
                },
                Write::Update { record, expected } => {
                    let (Ok(expected_sql), Ok(row)) = (
                        sql_common::rev_to_sql(*expected),
                        sql_common::encode(record, expected.next()),
                    ) else {
                        impossible.insert(record.number);
                        continue;
                    };
                    updates.push(row, expected_sql);
                }
                Write::Delete { number, expected } => match sql_common::rev_to_sql(*expected) {
                    Ok(expected_sql) => {
                        deletes.0.push(number.as_str().to_string());
                        deletes.1.push(expected_sql);
                    }
                    Err(_) => {
                        impossible.insert(*number);
                    }
                },
            }
        }
        let mut done: HashSet<String> = HashSet::with_capacity(writes.len());
        // The revision each accepted insert was stored at.
        let mut inserted: HashMap<String, i64> = HashMap::with_capacity(inserts.number.len());
        if !inserts.number.is_empty() {
            let rows = sqlx::query(&self.sql.insert_many)
                .bind(&inserts.number)
                .bind(&inserts.state)
                .bind(&inserts.assigned_to)
                .bind(&inserts.created_ns)
                .bind(&inserts.modified_ns)
                .bind(&inserts.expires_ns)
                .bind(&inserts.doc)
                .bind(&inserts.tail)
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                inserted.insert(row.try_get("number")?, row.try_get("revision")?);
            }
        }
        if !updates.number.is_empty() {
            let rows: Vec<String> = sqlx::query_scalar(&self.sql.update_many)
                .bind(&updates.number)
                .bind(&updates.expected)
                .bind(&updates.state)
                .bind(&updates.assigned_to)
                .bind(&updates.created_ns)
                .bind(&updates.modified_ns)
                .bind(&updates.expires_ns)
                .bind(&updates.doc)
                .fetch_all(&mut *conn)
                .await?;
            done.extend(rows);
        }
        if !deletes.0.is_empty() {
            let rows: Vec<String> = sqlx::query_scalar(&self.sql.delete_many)
                .bind(&deletes.0)
                .bind(&deletes.1)
                .bind(sql_common::to_ns(Utc::now()))
                .fetch_all(&mut *conn)
                .await?;
            done.extend(rows);
        }
        // Why the refused updates and deletes were refused: their stored revisions.
        let refused: Vec<String> = writes
            .iter()
            .filter(|w| !matches!(w, Write::Insert(_)))
            .map(|w| w.number().as_str().to_string())
            .filter(|n| !done.contains(n))
            .collect();
        let mut stored: HashMap<String, i64> = HashMap::new();
        if !refused.is_empty() {
            let rows = sqlx::query(&self.sql.revisions_of)
                .bind(&refused)
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                stored.insert(row.try_get("number")?, row.try_get("revision")?);
            }
        }
        let results = writes
            .iter()
            .map(|w| {
                let number = w.number();
                let n = number.as_str();
                match w {
                    Write::Insert(_) => match inserted.get(n) {
                        Some(rev) => sql_common::rev_from_sql(n, *rev),
                        None => Err(sql_common::exists(n)),
                    },
                    Write::Update { expected, .. }
                        if done.contains(n) && !impossible.contains(&number) =>
                    {
                        Ok(expected.next())
                    }
                    Write::Delete { .. } if done.contains(n) && !impossible.contains(&number) => {
                        Ok(Revision::NEW)
                    }
                    Write::Update { expected, .. } | Write::Delete { expected, .. } => {
                        Err(sql_common::conflict(n, *expected, stored.get(n).copied()))
                    }
                }
            })
            .collect();
        Ok(Ok(results))
    }
}

/// The statement with its arguments bound.
#[async_trait]
impl sql_common::ListDb for PostgresStore {
    async fn rows(&self, sql: Sql) -> Result<Vec<NumberRecord>> {
        self.fetch_records(sql).await
    }

    async fn first_number(&self, sql: Sql) -> Result<Option<String>> {
        let mut conn = self.acquire("cannot list numbers").await?;
        let row = bound(&sql)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("cannot list numbers"))?;
        row.map(|r| r.try_get::<String, _>(0))
            .transpose()
            .map_err(db("cannot list numbers"))
    }

    async fn row_count(&self, sql: Sql) -> Result<i64> {
        let mut conn = self.acquire("cannot count numbers").await?;
        let row = bound(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(db("cannot count numbers"))?;
        row.try_get(0).map_err(db("cannot count numbers"))
    }
}

fn bound(sql: &Sql) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(&sql.text);
    for arg in &sql.args {
        q = match arg.clone() {
            Arg::Text(s) => q.bind(s),
            Arg::Int(i) => q.bind(i),
            Arg::Texts(v) => q.bind(v),
        };
    }
    q
}

fn decode_row(row: &PgRow) -> Result<NumberRecord> {
    let number: String = row.try_get("number").map_err(db("cannot read a row"))?;
    let revision: i64 = row.try_get("revision").map_err(db("cannot read a row"))?;
    let doc: String = row.try_get("doc").map_err(db("cannot read a row"))?;
    sql_common::decode(&number, revision, &doc)
}

#[async_trait]
impl Store for PostgresStore {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<&str> = numbers.iter().map(|n| n.as_str()).collect();
        let mut conn = self.acquire("cannot read numbers").await?;
        let rows = sqlx::query(&self.sql.get_many)
            .bind(list)
            .fetch_all(&mut *conn)
            .await
            .map_err(db("cannot read numbers"))?;
        let records = rows.iter().map(decode_row).collect::<Result<Vec<_>>>()?;
        Ok(sql_common::into_slots(numbers, records))
    }

    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        self.batch(writes, mode, None, &[]).await
    }

    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        self.batch(writes, mode, Some(journal), &[]).await
    }

    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        self.batch(writes, mode, journal, events).await
    }

    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        let entries = super::standalone_entries(events)?;
        self.outbox_append_standalone(&entries).await
    }

    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        self.outbox_read(after_seq, limit).await
    }

    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        self.outbox_remove(up_to_seq).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        sql_common::list_page(Dialect::Postgres, &self.sql.table, query, self).await
    }

    async fn count(&self, query: &ListQuery) -> Result<usize> {
        let Some(sql) = sql_common::count_sql(Dialect::Postgres, &self.sql.table, query) else {
            return super::count_by_paging(self, query).await;
        };
        let mut conn = self.acquire("cannot count numbers").await?;
        let row = bound(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(db("cannot count numbers"))?;
        let n: i64 = row.try_get(0).map_err(db("cannot count numbers"))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        let mut conn = self.acquire("cannot read an idempotency entry").await?;
        let rows = sqlx::query(&self.sql.get_idempotency)
            .bind(key)
            .fetch_all(&mut *conn)
            .await
            .map_err(db("cannot read an idempotency entry"))?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let get = |e| db("cannot read a row")(e);
        let entry: String = first.try_get("entry").map_err(get)?;
        let response: Option<String> = first.try_get("response").map_err(get)?;
        let mut progress = Vec::new();
        for row in &rows {
            let number: Option<String> = row.try_get("number").map_err(get)?;
            if let Some(number) = number {
                progress.push((
                    number,
                    row.try_get("revision").map_err(get)?,
                    row.try_get("outcome").map_err(get)?,
                ));
            }
        }
        let row = sql_common::EntryRow {
            entry: &entry,
            response: response.as_deref(),
            owner: first.try_get("owner").map_err(get)?,
            lease_ns: first.try_get("lease_ns").map_err(get)?,
            progress,
        };
        sql_common::decode_entry(key, row).map(Some)
    }

    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        let doc = sql_common::encode_entry(&entry)?;
        let response = entry
            .response
            .as_ref()
            .map(sql_common::encode_value)
            .transpose()?;
        let created = sql_common::to_ns(entry.created);
        let lease = entry.lease_until.map(sql_common::to_ns);
        let context = "cannot begin an idempotency entry";
        let fail = db(context);
        let mut tx = self.begin(context).await?;
        // A takeover locks the row, so of several callers exactly one sees the lapsed lease.
        let taken = sqlx::query(&self.sql.take_over_idempotency)
            .bind(&entry.owner)
            .bind(lease)
            .bind(&entry.key)
            .bind(created)
            .bind(&entry.fingerprint)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        if taken.rows_affected() == 1 {
            tx.commit().await.map_err(&fail)?;
            return Ok(true);
        }
        // The progress of an expired entry goes with it.
        sqlx::query(&self.sql.drop_stale_progress)
            .bind(&entry.key)
            .bind(created)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        let done = sqlx::query(&self.sql.begin_idempotency)
            .bind(&entry.key)
            .bind(&entry.fingerprint)
            .bind(sql_common::to_ns(entry.expires_at))
            .bind(doc)
            .bind(response)
            .bind(created)
            .bind(&entry.owner)
            .bind(lease)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        tx.commit().await.map_err(&fail)?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.acquire("cannot renew an idempotency lease").await?;
        let done = sqlx::query(&self.sql.renew_idempotency)
            .bind(sql_common::to_ns(lease_until))
            .bind(key)
            .bind(owner)
            .execute(&mut *conn)
            .await
            .map_err(db("cannot renew an idempotency lease"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        let text = sql_common::encode_value(&response)?;
        let context = "cannot finish an idempotency entry";
        let fail = db(context);
        let mut tx = self.begin(context).await?;
        let done = sqlx::query(&self.sql.finish_idempotency)
            .bind(text)
            .bind(key)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        if done.rows_affected() == 1 {
            sqlx::query(&self.sql.drop_progress)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(&fail)?;
            tx.commit().await.map_err(&fail)?;
            return Ok(());
        }
        let stored: Option<i32> = sqlx::query_scalar(&self.sql.entry_exists)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("cannot read an idempotency entry"))?;
        tx.rollback().await.map_err(&fail)?;
        Err(sql_common::finish_conflict(key, stored.is_some()))
    }

    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        let context = "cannot abandon an idempotency entry";
        let fail = db(context);
        let mut tx = self.begin(context).await?;
        let done = sqlx::query(&self.sql.abandon_idempotency)
            .bind(key)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        if done.rows_affected() == 1 {
            sqlx::query(&self.sql.drop_progress)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(&fail)?;
        }
        tx.commit().await.map_err(&fail)
    }

    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        let now = sql_common::to_ns(now);
        let context = "cannot purge idempotency entries";
        let fail = db(context);
        let mut tx = self.begin(context).await?;
        sqlx::query(&self.sql.purge_progress)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        let done = sqlx::query(&self.sql.purge_idempotency)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(&fail)?;
        tx.commit().await.map_err(&fail)?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        let mut conn = self.acquire("cannot purge tombstones").await?;
        let done = sqlx::query(&self.sql.purge_tombstones)
            .bind(sql_common::to_ns(deleted_before))
            .execute(&mut *conn)
            .await
            .map_err(db("cannot purge tombstones"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
