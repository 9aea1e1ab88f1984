//! [`SqliteStore`]: a durable [`Store`] in one SQLite file (feature `sqlite`).
//!
//! Everything about it is documented on the type.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row as _, SqliteConnection};

use super::sql_common::{self, Arg, Dialect, Sql};
use super::{BatchMode, IdempotencyEntry, Journal, ListQuery, Page, Store, Write, WriteResult};
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::{NumberRecord, Revision};

/// The schema version this library writes.
const SCHEMA_VERSION: i64 = 5;

/// Migrations, in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: &[&[&str]] = &[
    V1,
    V2,
    V3,
    super::sqlite_ports::V4,
    super::sqlite_outbox::V5,
];

/// Version 1: numbers and idempotency entries.
const V1: &[&str] = &[
    "CREATE TABLE nm_numbers (
        number TEXT PRIMARY KEY NOT NULL,
        revision INTEGER NOT NULL,
        state TEXT NOT NULL,
        assigned_to TEXT,
        created_ns INTEGER NOT NULL,
        modified_ns INTEGER NOT NULL,
        expires_ns INTEGER,
        doc TEXT NOT NULL
    ) WITHOUT ROWID",
    "CREATE INDEX nm_numbers_assigned_to ON nm_numbers (assigned_to, number)",
    "CREATE INDEX nm_numbers_state ON nm_numbers (state, number)",
    "CREATE INDEX nm_numbers_expires ON nm_numbers (expires_ns) WHERE expires_ns IS NOT NULL",
    "CREATE INDEX nm_numbers_created ON nm_numbers (created_ns)",
    "CREATE INDEX nm_numbers_modified ON nm_numbers (modified_ns)",
    "CREATE TABLE nm_idempotency (
        key TEXT PRIMARY KEY NOT NULL,
        fingerprint TEXT NOT NULL,
        expires_ns INTEGER NOT NULL,
        entry TEXT NOT NULL,
        response TEXT
    ) WITHOUT ROWID",
    "CREATE INDEX nm_idempotency_expires ON nm_idempotency (expires_ns)",
];

/// Version 2: the last revision of every deleted number and when it was
/// deleted, so that a number inserted again never reuses a revision (until
/// its tombstone is purged).
const V2: &[&str] = &[
    "CREATE TABLE nm_tombstones (
        number TEXT PRIMARY KEY NOT NULL,
        revision INTEGER NOT NULL,
        deleted_ns INTEGER NOT NULL
    ) WITHOUT ROWID",
    "CREATE INDEX nm_tombstones_deleted ON nm_tombstones (deleted_ns)",
];

/// Version 3: a pending idempotency key has an owner and a lease, and the
/// per-number outcomes a keyed request committed, written in the same
/// transaction as the records. Entries from version 2 get no owner and no
/// lease (so a pending one may be taken over at once).
const V3: &[&str] = &[
    "ALTER TABLE nm_idempotency ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE nm_idempotency ADD COLUMN lease_ns INTEGER",
    "CREATE TABLE nm_idempotency_progress (
        key TEXT NOT NULL,
        number TEXT NOT NULL,
        revision INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (key, number)
    ) WITHOUT ROWID",
];

const TABLE: &str = "nm_numbers";

/// How [`SqliteStore::open_with`] opens a file.
///
/// ```
/// use std::time::Duration;
/// use number_manager::store::SqliteOptions;
/// let options = SqliteOptions::default()
///     .with_busy_timeout(Duration::from_millis(500))
///     .with_max_connections(8);
/// assert_eq!(options.busy_timeout(), Duration::from_millis(500));
/// assert_eq!(options.max_connections(), 8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    busy_timeout: Duration,
    read_only: bool,
    max_connections: u32,
    quick_check: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
            read_only: false,
            max_connections: 4,
            quick_check: true,
        }
    }
}

impl SqliteOptions {
    /// How long a statement waits for a lock held by another connection or
    /// process before failing with [`Error::Database`] (default 5 s).
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The busy timeout.
    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// Opens the file read-only (default `false`): the file must exist and be
    /// migrated already; every write fails with [`Error::Database`].
    #[must_use]
    pub fn with_read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Whether the file is opened read-only.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Connections kept open at most for reads (default 4; at least 1). Reads
    /// run in parallel; write batches take turns on one more connection of
    /// their own.
    #[must_use]
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Connections kept open at most for reads.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Runs SQLite's `PRAGMA quick_check` when the file is opened (default
    /// `true`), so a damaged file fails to open with [`Error::Database`]
    /// instead of opening fine and failing on reads later. The quick check
    /// reads every page of the file once, so opening takes time in proportion
    /// to the file's size (a fraction of a second for 100,000 numbers), but it
    /// skips the slower cross-check of indexes against tables that
    /// [`SqliteStore::integrity_check`] does; turn it off for very large files
    /// that are checked otherwise.
    #[must_use]
    pub fn with_quick_check(mut self, on: bool) -> Self {
        self.quick_check = on;
        self
    }

    /// Whether the quick check runs when the file is opened.
    pub fn quick_check(&self) -> bool {
        self.quick_check
    }
}

/// A [`Store`] in one SQLite file, or in memory.
///
/// - One file in WAL mode (readers never wait for the writer), `synchronous =
///   FULL` (a committed write survives a power cut), a busy timeout so a file
///   locked by another process gives a clear [`Error::Database`] instead of a
///   hang.
/// - The schema is created and migrated when the file is opened; the
///   `nm_schema_version` table records which migrations were applied. A file
///   written by a newer version of this library is refused rather than guessed
///   at.
/// - A record is stored as its JSON document plus the columns every query
///   filters on, each with an index: `number` (primary key), `(assigned_to,
///   number)`, `(state, number)`, `expires_ns`, `created_ns`, `modified_ns`.
///   Times are nanoseconds since the Unix epoch (exact from 1677 to 2262; see
///   [`ListQuery`]).
/// - Every write is a compare-and-swap in SQL (`UPDATE ... WHERE number = ?
///   AND revision = ?`), and a batch runs in one `BEGIN IMMEDIATE` transaction,
///   so several processes may share the file.
/// - A delete leaves a tombstone in `nm_tombstones` (the number, its last
///   revision and when it was deleted, from the wall clock), and inserting the
///   number again stores that revision + 1, so revisions never repeat (see
///   [`Write`]). [`Store::purge_tombstones`] drops the tombstones deleted
///   before its cutoff in one `DELETE` (on the `deleted_ns` index).
/// - It runs on tokio (through sqlx): open and use it inside a tokio runtime;
///   opening it elsewhere fails with [`Error::Database`].
///
/// Port requests ([`PortRequestStore`](crate::porting::PortRequestStore)) are
/// kept in two tables of their own (version 4): `nm_port_requests` (`id`,
/// `account`, `revision`, `created_ns`, the request as JSON in `doc`) and
/// `nm_port_numbers` (`number` primary key, `id`: the open request holding it).
///
/// Schema (version 5; a file at version 1 to 4 is upgraded in place when opened):
///
/// ```sql
/// CREATE TABLE nm_numbers (
///     number      TEXT PRIMARY KEY NOT NULL,   -- E.164
///     revision    INTEGER NOT NULL,            -- the store's revision
///     state       TEXT NOT NULL,
///     assigned_to TEXT,
///     created_ns  INTEGER NOT NULL,
///     modified_ns INTEGER NOT NULL,
///     expires_ns  INTEGER,
///     doc         TEXT NOT NULL                -- the NumberRecord as JSON, {"format":2,...
/// ) WITHOUT ROWID;
/// CREATE TABLE nm_idempotency (
///     key         TEXT PRIMARY KEY NOT NULL,
///     fingerprint TEXT NOT NULL,
///     expires_ns  INTEGER NOT NULL,
///     entry       TEXT NOT NULL,               -- the entry as JSON, without response
///     response    TEXT,                        -- JSON, NULL while running
///     owner       TEXT NOT NULL DEFAULT '',    -- version 3: the attempt holding it
///     lease_ns    INTEGER                      -- version 3: until when it holds it
/// ) WITHOUT ROWID;
/// CREATE TABLE nm_idempotency_progress (       -- version 3
///     key         TEXT NOT NULL,               -- the pending key
///     number      TEXT NOT NULL,               -- a number its request committed
///     revision    INTEGER NOT NULL,            -- the revision that write stored
///     outcome     TEXT NOT NULL,               -- JSON, what the request recorded
///     PRIMARY KEY (key, number)
/// ) WITHOUT ROWID;
/// CREATE TABLE nm_tombstones (                 -- version 2
///     number      TEXT PRIMARY KEY NOT NULL,   -- a deleted number
///     revision    INTEGER NOT NULL,            -- the last revision it had
///     deleted_ns  INTEGER NOT NULL             -- when it was deleted
/// ) WITHOUT ROWID;
/// CREATE INDEX nm_tombstones_deleted ON nm_tombstones (deleted_ns);
/// CREATE TABLE nm_outbox (                     -- version 5: events not yet acknowledged
///     seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- commit order, never reused
///     number      TEXT NOT NULL,
///     routing_key TEXT NOT NULL,
///     body        TEXT NOT NULL,               -- the Event as JSON
///     created_ns  INTEGER NOT NULL             -- when it was appended (wall clock)
/// );
/// ```
///
/// # Example
///
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use number_manager::record::NumberRecord;
/// use number_manager::state::NumberState;
/// use number_manager::store::{SqliteStore, StoreExt};
/// use number_manager::PhoneNumber;
///
/// let dir = std::env::temp_dir().join(format!("nm-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("numbers.db");
/// # let _ = std::fs::remove_file(&path);
/// let store = SqliteStore::open(&path).await?;
/// let number = PhoneNumber::parse("+14155550100")?;
/// let record = NumberRecord::new(number, NumberState::Reserved, "local", chrono::Utc::now());
/// let revision = store.insert(record).await?;
/// store.close().await;
///
/// let reopened = SqliteStore::open(&path).await?;
/// assert_eq!(reopened.get(&number).await?.map(|r| r.revision), Some(revision));
/// # reopened.close().await;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for the batches: SQLite lets one writer in at a time
    /// anyway, and a connection keeps its page cache only while no other
    /// connection writes, so batches that take turns on one connection find
    /// the indexes' pages cached instead of reading them again.
    writer: SqlitePool,
    path: Option<PathBuf>,
    /// In memory only: one idle connection that is never used, so the
    /// database lives as long as the store. The working connection can be
    /// closed and replaced by the pool (an operation's future dropped
    /// mid-query closes it), and without this anchor its replacement would
    /// open a new, empty database.
    anchor: Option<SqlitePool>,
}

pub(super) fn db(context: &str) -> impl Fn(sqlx::Error) -> crate::error::Error + '_ {
    move |e| {
        let busy = is_busy(&e);
        sql_common::sqlx_error(format!("sqlite: {context}: {e}"), e, busy)
    }
}

impl SqliteStore {
    /// The connection pool (for the port request tables).
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Opens (creating it if needed) the database file at `path` with the
    /// default [`SqliteOptions`], and migrates its schema.
    ///
    /// Fails with [`Error::Database`] when the file cannot be opened or created,
    /// is not a SQLite database, fails SQLite's quick check (a damaged file;
    /// see [`SqliteOptions::quick_check`]), is locked past the busy timeout
    /// while it needs migrating, or was written by a newer version of this
    /// library.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database file at `path` with `options`.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        sql_common::require_tokio("sqlite")?;
        let path = path.as_ref().to_path_buf();
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(!options.read_only)
            .read_only(options.read_only)
            .busy_timeout(options.busy_timeout)
            .synchronous(SqliteSynchronous::Full);
        let acquire_timeout = options
            .busy_timeout
            .max(Duration::from_secs(1))
            .saturating_mul(2);
        // Opened on the first batch: the reading pool below checks the file.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(connect.clone());
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| {
                let busy = is_busy(&e);
                let cause = format!("sqlite: cannot open {}: {e}", path.display());
                sql_common::sqlx_error(cause, e, busy)
            })?;
        let store = SqliteStore {
            pool,
            writer,
            path: Some(path),
            anchor: None,
        };
        let opened = async {
            if options.quick_check {
                store.check("quick_check").await?;
            }
            store.migrate(options.read_only, options.busy_timeout).await
        };
        if let Err(e) = opened.await {
            store.close_pools().await;
            return Err(e);
        }
        Ok(store)
    }

    /// A fresh database in memory, gone when the store is dropped (for tests
    /// and short-lived tools). It has one connection, so operations take turns.
    pub async fn open_in_memory() -> Result<Self> {
        sql_common::require_tokio("sqlite")?;
        // A named, shared-cache memory database: every connection of this
        // store (the working one, its replacements, the anchor) opens the
        // same one, and no other store's.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "file:number-manager-in-memory-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let connect = SqliteConnectOptions::new()
            .filename(&name)
            .in_memory(true)
            .shared_cache(true)
            .busy_timeout(Duration::from_secs(5));
        let one = || {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        };
        let anchor = one()
            .connect_with(connect.clone())
            .await
            .map_err(db("cannot open an in-memory database"))?;
        let pool = one()
            .connect_with(connect)
            .await
            .map_err(db("cannot open an in-memory database"))?;
        let store = SqliteStore {
            writer: pool.clone(),
            pool,
            path: None,
            anchor: Some(anchor),
        };
        store.migrate(false, Duration::ZERO).await?;
        Ok(store)
    }

    /// The file this store keeps its data in (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Closes every connection, waiting for operations in progress. The store
    /// (and its clones) fail with [`Error::Database`] afterwards.
    ///
    /// A file store first moves its write-ahead log into the database file and
    /// empties it, so that after a clean close the data is in the one file (to
    /// copy or back up) and the next open has no log to replay.
    pub async fn close(&self) {
        // The batches' connection first: the checkpoint needs the log to itself.
        self.writer.close().await;
        if self.path.is_some() && !self.pool.is_closed() {
            // Best effort: a checkpoint that cannot run (a reader holds the log,
            // the file is read-only) leaves the log for the next open to replay.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await;
        }
        self.close_pools().await;
    }

    async fn close_pools(&self) {
        self.writer.close().await;
        self.pool.close().await;
        if let Some(anchor) = &self.anchor {
            anchor.close().await;
        }
    }

    /// Runs SQLite's `PRAGMA integrity_check` over the whole database (every
    /// page, index and constraint), e.g. after a crash or before a backup.
    ///
    /// Returns `Ok(())` when SQLite answers `ok`, and [`Error::Database`]
    /// listing what SQLite found (at most its first 100 problems) otherwise,
    /// or when the check cannot run. It reads every page, so it takes time in
    /// proportion to the file's size; it does not block writers in WAL mode.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use number_manager::store::SqliteStore;
    /// let store = SqliteStore::open_in_memory().await?;
    /// store.integrity_check().await?;
    /// # Ok::<(), number_manager::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn integrity_check(&self) -> Result<()> {
        self.check("integrity_check").await
    }

    /// Runs `PRAGMA <pragma>` (`integrity_check` or `quick_check`).
    async fn check(&self, pragma: &str) -> Result<()> {
        let problems: Vec<String> = sqlx::query_scalar(&format!("PRAGMA {pragma}"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| {
                let busy = is_busy(&e);
                let cause = format!("sqlite: cannot run the {pragma} (is the file damaged?): {e}");
                sql_common::sqlx_error(cause, e, busy)
            })?;
        if problems.len() == 1 && problems.iter().all(|p| p == "ok") {
            return Ok(());
        }
        if problems.is_empty() {
            return Err(crate::error::Error::database(format!(
                "sqlite: the {pragma} gave no answer"
            )));
        }
        Err(crate::error::Error::database(format!(
            "sqlite: {pragma} failed, the file is damaged: {}",
            problems.join("; ")
        )))
    }

    async fn migrate(&self, read_only: bool, busy_timeout: Duration) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db("cannot connect"))?;
        if !read_only && self.path.is_some() {
            switch_to_wal(&mut conn, busy_timeout).await?;
        }
        let version = schema_version(&mut conn).await?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(crate::error::Error::database(format!(
                "sqlite: schema version {version} is newer than this library's ({SCHEMA_VERSION})"
            )));
        }
        if read_only {
            return Err(crate::error::Error::database(format!(
                "sqlite: schema version {version} needs migrating to {SCHEMA_VERSION}, and the file is opened read-only"
            )));
        }
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot lock the file to migrate it"))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS nm_schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_ns INTEGER NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(db("cannot create the schema version table"))?;
        // Another process may have migrated while we waited for the lock.
        let version = schema_version(&mut tx).await?;
        for (i, statements) in MIGRATIONS.iter().enumerate() {
            let target = i as i64 + 1;
            if target <= version {
                continue;
            }
            for statement in *statements {
                sqlx::query(statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(&format!("migration {target} failed")))?;
            }
            sqlx::query("INSERT INTO nm_schema_version (version, applied_ns) VALUES (?, ?)")
                .bind(target)
                .bind(sql_common::to_ns(Utc::now()))
                .execute(&mut *tx)
                .await
                .map_err(db("cannot record the schema version"))?;
        }
        tx.commit().await.map_err(db("cannot commit the migration"))
    }

    /// A batch in one `BEGIN IMMEDIATE` transaction, with its journal if any
    /// and the outbox entries of its `events` (one slot per write).
    async fn batch(
        &self,
        mut writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot start a write transaction"))?;
        let mut tombstones = inserted_tombstones(&mut tx, &writes).await?;
        let mut results = Vec::with_capacity(writes.len());
        for w in &mut writes {
            results.push(apply(&mut tx, w, &mut tombstones).await?);
        }
        if mode == BatchMode::Atomic && results.iter().any(|r| r.is_err()) {
            tx.rollback().await.map_err(db("cannot roll back"))?;
            let numbers: Vec<String> = writes
                .iter()
                .map(|w| w.number().as_str().to_string())
                .collect();
            return Ok(sql_common::abort(results, &numbers));
        }
        if let Some(journal) = journal {
            record_progress(&mut tx, &writes, &results, journal).await?;
        }
        let entries = super::outbox_entries(&results, events)?;
        super::sqlite_outbox::append(&mut tx, &entries).await?;
        tx.commit().await.map_err(db("cannot commit"))?;
        Ok(results)
    }

    async fn fetch_records(&self, sql: Sql) -> Result<Vec<NumberRecord>> {
        let rows = bound(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(db("cannot list numbers"))?;
        rows.iter().map(decode_row).collect()
    }
}

/// Puts the file in WAL mode (a no-op when it already is).
///
/// Changing the journal mode needs the file to itself, and SQLite answers
/// `SQLITE_BUSY` at once, without waiting on the busy handler, when another
/// connection holds it meanwhile: several processes opening one fresh file at
/// the same moment do exactly that. So a busy answer is retried, with a
/// growing pause, until `busy_timeout` has passed; the mode is read again
/// before each try, since the other opener has usually switched it already.
async fn switch_to_wal(conn: &mut SqliteConnection, busy_timeout: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + busy_timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        let attempt: std::result::Result<String, sqlx::Error> = async {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await?;
            if mode.eq_ignore_ascii_case("wal") {
                return Ok(mode);
            }
            sqlx::query_scalar("PRAGMA journal_mode = WAL")
                .fetch_one(&mut *conn)
                .await
        }
        .await;
        match attempt {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(crate::error::Error::database(format!(
                    "sqlite: cannot switch to WAL mode: the file stays in {mode} mode"
                )))
            }
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                crate::util::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(db("cannot switch to WAL mode")(e)),
        }
    }
}

/// Whether SQLite answered `SQLITE_BUSY` or `SQLITE_LOCKED` (or one of their
/// extended codes, which keep the primary code in the low byte).
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

async fn schema_version(conn: &mut SqliteConnection) -> Result<i64> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'nm_schema_version'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db("cannot read the schema"))?;
    if exists == 0 {
        return Ok(0);
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM nm_schema_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("cannot read the schema version"))?;
    Ok(version.unwrap_or(0))
}

/// The statement with its arguments bound.
#[async_trait]
impl sql_common::ListDb for SqliteStore {
    async fn rows(&self, sql: Sql) -> Result<Vec<NumberRecord>> {
        self.fetch_records(sql).await
    }

    async fn first_number(&self, sql: Sql) -> Result<Option<String>> {
        let row = bound(&sql)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("cannot list numbers"))?;
        row.map(|r| r.try_get::<String, _>(0))
            .transpose()
            .map_err(db("cannot list numbers"))
    }

    async fn row_count(&self, sql: Sql) -> Result<i64> {
        let row = bound(&sql)
            .fetch_one(&self.pool)
            .await
            .map_err(db("cannot count numbers"))?;
        row.try_get(0).map_err(db("cannot count numbers"))
    }
}

fn bound(sql: &Sql) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
    let mut q = sqlx::query(&sql.text);
    for arg in &sql.args {
        q = match arg.clone() {
            Arg::Text(s) => q.bind(s),
            Arg::Int(i) => q.bind(i),
            Arg::Texts(v) => q.bind(Value::from(v).to_string()),
        };
    }
    q
}

fn decode_row(row: &sqlx::sqlite::SqliteRow) -> Result<NumberRecord> {
    let number: String = row.try_get("number").map_err(db("cannot read a row"))?;
    let revision: i64 = row.try_get("revision").map_err(db("cannot read a row"))?;
    let doc: String = row.try_get("doc").map_err(db("cannot read a row"))?;
    sql_common::decode(&number, revision, &doc)
}

/// Records a journaled batch's outcomes in the progress of its pending key,
/// inside the batch transaction (one statement for the whole batch).
async fn record_progress(
    conn: &mut SqliteConnection,
    writes: &[Write],
    results: &[WriteResult],
    journal: &Journal,
) -> Result<()> {
    let rows = sql_common::journal_rows(writes, results, journal)?;
    if rows.is_empty() {
        return Ok(());
    }
    let rows = Value::from(
        rows.into_iter()
            .map(|(n, rev, outcome)| {
                Value::from(vec![Value::from(n), Value::from(rev), Value::from(outcome)])
            })
            .collect::<Vec<_>>(),
    )
    .to_string();
    sqlx::query(
        "INSERT INTO nm_idempotency_progress (key, number, revision, outcome)
         SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
         FROM json_each(?)
         WHERE EXISTS (SELECT 1 FROM nm_idempotency WHERE key = ? AND response IS NULL)
         ON CONFLICT (key, number) DO NOTHING",
    )
    .bind(&journal.key)
    .bind(rows)
    .bind(&journal.key)
    .execute(&mut *conn)
    .await
    .map_err(db("cannot record the progress of an idempotency key"))?;
    Ok(())
}

/// The last revision of each number of the batch's inserts that has a
/// tombstone, read in one statement at the start of the batch transaction.
///
/// The transaction holds the write lock from `BEGIN IMMEDIATE` on, so no one
/// else can write a tombstone until it ends: the map stays the latest as long
/// as the batch's own deletes are recorded in it as they happen (see
/// [`apply`]).
async fn inserted_tombstones(
    conn: &mut SqliteConnection,
    writes: &[Write],
) -> Result<HashMap<PhoneNumber, i64>> {
    let inserted: HashSet<&str> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Insert(r) => Some(r.number.as_str()),
            _ => None,
        })
        .collect();
    if inserted.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT number, revision FROM nm_tombstones WHERE number IN (SELECT value FROM json_each(?))",
    )
    .bind(Value::from(inserted.iter().copied().collect::<Vec<_>>()).to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db("cannot read the tombstones"))?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let number: String = row.try_get(0).map_err(db("cannot read a tombstone"))?;
        let revision: i64 = row.try_get(1).map_err(db("cannot read a tombstone"))?;
        found.insert(PhoneNumber::from_e164(&number)?, revision);
    }
    Ok(found)
}

/// Runs one write inside the batch transaction. `tombstones` holds the last
/// revision of every inserted number with a tombstone (from
/// [`inserted_tombstones`]); a delete here adds its own. An inserted record
/// is given its new revision in place, so that it is encoded without a copy.
async fn apply(
    conn: &mut SqliteConnection,
    write: &mut Write,
    tombstones: &mut HashMap<PhoneNumber, i64>,
) -> Result<WriteResult> {
    match write {
        Write::Insert(record) => {
            let rev = match tombstones.get(&record.number) {
                Some(&last) => sql_common::rev_from_sql(record.number.as_str(), last)?.next(),
                None => Revision::NEW.next(),
            };
            record.revision = rev;
            let row = sql_common::encode(record, rev)?;
            let done = sqlx::query(
                "INSERT INTO nm_numbers (number, revision, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (number) DO NOTHING",
            )
            .bind(&row.number)
            .bind(row.revision)
            .bind(row.state)
            .bind(&row.assigned_to)
            .bind(row.created_ns)
            .bind(row.modified_ns)
            .bind(row.expires_ns)
            .bind(&row.doc)
            .execute(&mut *conn)
            .await
            .map_err(db("cannot insert"))?;
            Ok(if done.rows_affected() == 1 {
                Ok(rev)
            } else {
                Err(sql_common::exists(&row.number))
            })
        }
        Write::Update { record, expected } => {
            let phone = record.number;
            let number = phone.as_str();
            let Ok(expected_sql) = sql_common::rev_to_sql(*expected) else {
                return Ok(Err(sql_common::conflict(
                    number,
                    *expected,
                    stored_revision(conn, number).await?,
                )));
            };
            let rev = expected.next();
            record.revision = rev;
            let row = sql_common::encode(record, rev)?;
            let done = sqlx::query(
                "UPDATE nm_numbers SET revision = ?, state = ?, assigned_to = ?, created_ns = ?, modified_ns = ?,
                 expires_ns = ?, doc = ? WHERE number = ? AND revision = ?",
            )
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
            .await
            .map_err(db("cannot update"))?;
            if done.rows_affected() == 1 {
                Ok(Ok(rev))
            } else {
                Ok(Err(sql_common::conflict(
                    number,
                    *expected,
                    stored_revision(conn, number).await?,
                )))
            }
        }
        Write::Delete { number, expected } => {
            let phone = *number;
            let number = phone.as_str();
            let Ok(expected_sql) = sql_common::rev_to_sql(*expected) else {
                return Ok(Err(sql_common::conflict(
                    number,
                    *expected,
                    stored_revision(conn, number).await?,
                )));
            };
            let rows = sqlx::query("DELETE FROM nm_numbers WHERE number = ? AND revision = ?")
                .bind(number)
                .bind(expected_sql)
                .execute(&mut *conn)
                .await
                .map_err(db("cannot delete"))?
                .rows_affected();
            if rows == 1 {
                // The deleted row had revision `expected`: remember it, and when.
                sqlx::query(
                    "INSERT INTO nm_tombstones (number, revision, deleted_ns) VALUES (?, ?, ?)
                     ON CONFLICT (number) DO UPDATE SET revision = max(nm_tombstones.revision, excluded.revision),
                     deleted_ns = max(nm_tombstones.deleted_ns, excluded.deleted_ns)",
                )
                .bind(number)
                .bind(expected_sql)
                .bind(sql_common::to_ns(Utc::now()))
                .execute(&mut *conn)
                .await
                .map_err(db("cannot record a tombstone"))?;
                let last = tombstones.entry(phone).or_insert(expected_sql);
                *last = (*last).max(expected_sql);
                Ok(Ok(Revision::NEW))
            } else {
                Ok(Err(sql_common::conflict(
                    number,
                    *expected,
                    stored_revision(conn, number).await?,
                )))
            }
        }
    }
}

async fn stored_revision(conn: &mut SqliteConnection, number: &str) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT revision FROM nm_numbers WHERE number = ?")
        .bind(number)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("cannot read a revision"))
}

#[async_trait]
impl Store for SqliteStore {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let list = Value::from(numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>()).to_string();
        let rows =
            sqlx::query("SELECT number, revision, doc FROM nm_numbers WHERE number IN (SELECT value FROM json_each(?))")
                .bind(list)
                .fetch_all(&self.pool)
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
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot start a write transaction"))?;
        super::sqlite_outbox::append(&mut tx, &entries).await?;
        tx.commit().await.map_err(db("cannot commit"))
    }

    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        super::sqlite_outbox::pending(&self.pool, after_seq, limit).await
    }

    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        super::sqlite_outbox::ack(&self.writer, up_to_seq).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        sql_common::list_page(Dialect::Sqlite, TABLE, query, self).await
    }

    async fn count(&self, query: &ListQuery) -> Result<usize> {
        let Some(sql) = sql_common::count_sql(Dialect::Sqlite, TABLE, query) else {
            return super::count_by_paging(self, query).await;
        };
        let row = bound(&sql)
            .fetch_one(&self.pool)
            .await
            .map_err(db("cannot count numbers"))?;
        let n: i64 = row.try_get(0).map_err(db("cannot count numbers"))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        // One statement, so the entry and its progress come from one snapshot.
        let rows = sqlx::query(
            "SELECT i.entry, i.response, i.owner, i.lease_ns, p.number, p.revision, p.outcome
             FROM nm_idempotency AS i LEFT JOIN nm_idempotency_progress AS p ON p.key = i.key
             WHERE i.key = ?",
        )
        .bind(key)
        .fetch_all(&self.pool)
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
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot start a write transaction"))?;
        let taken = sqlx::query(
            "UPDATE nm_idempotency SET owner = ?, lease_ns = ?
             WHERE key = ? AND expires_ns > ? AND response IS NULL AND fingerprint = ?
             AND (lease_ns IS NULL OR lease_ns <= ?)",
        )
        .bind(&entry.owner)
        .bind(lease)
        .bind(&entry.key)
        .bind(created)
        .bind(&entry.fingerprint)
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot take over an idempotency entry"))?;
        if taken.rows_affected() == 1 {
            tx.commit().await.map_err(db("cannot commit"))?;
            return Ok(true);
        }
        // The progress of an expired entry goes with it.
        sqlx::query(
            "DELETE FROM nm_idempotency_progress WHERE key = ?
             AND NOT EXISTS (SELECT 1 FROM nm_idempotency WHERE key = ? AND expires_ns > ?)",
        )
        .bind(&entry.key)
        .bind(&entry.key)
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot begin an idempotency entry"))?;
        let done = sqlx::query(
            "INSERT INTO nm_idempotency (key, fingerprint, expires_ns, entry, response, owner, lease_ns)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, expires_ns = excluded.expires_ns,
             entry = excluded.entry, response = excluded.response, owner = excluded.owner,
             lease_ns = excluded.lease_ns
             WHERE nm_idempotency.expires_ns <= ?",
        )
        .bind(&entry.key)
        .bind(&entry.fingerprint)
        .bind(sql_common::to_ns(entry.expires_at))
        .bind(doc)
        .bind(response)
        .bind(&entry.owner)
        .bind(lease)
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot begin an idempotency entry"))?;
        tx.commit().await.map_err(db("cannot commit"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE nm_idempotency SET lease_ns = ? WHERE key = ? AND owner = ? AND response IS NULL",
        )
        .bind(sql_common::to_ns(lease_until))
        .bind(key)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db("cannot renew an idempotency lease"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        let text = sql_common::encode_value(&response)?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot start a write transaction"))?;
        let done = sqlx::query(
            "UPDATE nm_idempotency SET response = ? WHERE key = ? AND owner = ? AND response IS NULL",
        )
        .bind(text)
        .bind(key)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot finish an idempotency entry"))?;
        if done.rows_affected() == 1 {
            sqlx::query("DELETE FROM nm_idempotency_progress WHERE key = ?")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db("cannot finish an idempotency entry"))?;
            tx.commit().await.map_err(db("cannot commit"))?;
            return Ok(());
        }
        let stored: Option<i64> = sqlx::query_scalar("SELECT 1 FROM nm_idempotency WHERE key = ?")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("cannot read an idempotency entry"))?;
        tx.rollback().await.map_err(db("cannot roll back"))?;
        Err(sql_common::finish_conflict(key, stored.is_some()))
    }

    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot start a write transaction"))?;
        let done = sqlx::query(
            "DELETE FROM nm_idempotency WHERE key = ? AND owner = ? AND response IS NULL",
        )
        .bind(key)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot abandon an idempotency entry"))?;
        if done.rows_affected() == 1 {
            sqlx::query("DELETE FROM nm_idempotency_progress WHERE key = ?")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db("cannot abandon an idempotency entry"))?;
        }
        tx.commit().await.map_err(db("cannot commit"))
    }

    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        let now = sql_common::to_ns(now);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("cannot start a write transaction"))?;
        sqlx::query(
            "DELETE FROM nm_idempotency_progress
             WHERE key IN (SELECT key FROM nm_idempotency WHERE expires_ns <= ?)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db("cannot purge idempotency entries"))?;
        let done = sqlx::query("DELETE FROM nm_idempotency WHERE expires_ns <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("cannot purge idempotency entries"))?;
        tx.commit().await.map_err(db("cannot commit"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        let done = sqlx::query("DELETE FROM nm_tombstones WHERE deleted_ns < ?")
            .bind(sql_common::to_ns(deleted_before))
            .execute(&self.pool)
            .await
            .map_err(db("cannot purge tombstones"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
