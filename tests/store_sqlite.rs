//! SqliteStore durability and failure modes: data survives reopening, a file
//! shared by several stores (as by several processes) stays consistent, and a
//! read-only, corrupt, locked or too-new file gives `Error::Database`, never a
//! panic or a hang.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use number_manager::record::{NumberRecord, Revision};
use number_manager::state::NumberState;
use number_manager::store::{
    BatchMode, IdempotencyEntry, ListQuery, SqliteOptions, SqliteStore, Store, StoreExt, Write,
};
use number_manager::testing::RoundRobinStore;
use number_manager::{Error, PhoneNumber, Result};
use serde_json::json;
use sqlx::{Connection, SqliteConnection};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "nm-sqlite-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("numbers.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn number(i: u32) -> PhoneNumber {
    PhoneNumber::from_e164(&format!("+1415555{i:04}")).expect("a test number")
}

fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 42)
        .single()
        .expect("a time")
}

fn record(i: u32) -> NumberRecord {
    let mut r = NumberRecord::new(number(i), NumberState::Reserved, "local", t0());
    r.public.insert("i".into(), json!(i));
    r
}

fn is_database_error<T: std::fmt::Debug>(r: &Result<T>) -> bool {
    matches!(r, Err(Error::Database { .. }))
}

async fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a raw connection")
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    assert_eq!(store.path(), Some(dir.file().as_path()));
    let writes = (0..50).map(|i| Write::Insert(record(i))).collect();
    for r in store
        .write_batch(writes, BatchMode::Atomic)
        .await
        .expect("batch")
    {
        assert_eq!(r, Ok(Revision(1)));
    }
    let mut changed = record(7);
    changed.state = NumberState::InService;
    assert_eq!(
        store.update(changed.clone(), Revision(1)).await,
        Ok(Revision(2))
    );
    store.delete(&number(8), Revision(1)).await.expect("delete");
    let entry = IdempotencyEntry {
        key: "k".into(),
        fingerprint: "f".into(),
        response: None,
        created: t0(),
        expires_at: t0() + chrono::Duration::hours(1),
        owner: "o".into(),
        lease_until: Some(t0() + chrono::Duration::minutes(1)),
        progress: Default::default(),
    };
    assert!(store.begin_idempotency(entry.clone()).await.expect("begin"));
    store
        .finish_idempotency("k", "o", json!({"ok": true}))
        .await
        .expect("finish");
    store.close().await;
    assert!(
        is_database_error(&store.get(&number(1)).await),
        "a closed store fails cleanly"
    );

    let reopened = SqliteStore::open(dir.file()).await.expect("reopen");
    let got = reopened
        .get(&number(7))
        .await
        .expect("get")
        .expect("stored");
    changed.revision = Revision(2);
    assert_eq!(got, changed);
    assert_eq!(reopened.get(&number(8)).await.expect("get"), None);
    let page = reopened
        .list(&ListQuery::default().with_limit(100))
        .await
        .expect("list");
    assert_eq!(page.records.len(), 49);
    let stored = reopened
        .get_idempotency("k")
        .await
        .expect("get")
        .expect("entry");
    assert_eq!(stored.response, Some(json!({"ok": true})));
    reopened.close().await;

    // The file is in WAL mode and records its schema version once.
    let mut conn = raw(&dir.file()).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("mode");
    assert_eq!(mode, "wal");
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM nm_schema_version")
        .fetch_all(&mut conn)
        .await
        .expect("versions");
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'nm_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        vec![
            "nm_idempotency_expires",
            "nm_numbers_assigned_to",
            "nm_numbers_created",
            "nm_numbers_expires",
            "nm_numbers_modified",
            "nm_numbers_state",
            "nm_tombstones_deleted"
        ]
    );
}

/// A clean close leaves the data in the database file alone: the write-ahead
/// log is emptied, so a copy of the one file holds every write.
#[tokio::test]
async fn a_clean_close_leaves_everything_in_the_one_file() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    let writes = (0..200).map(|i| Write::Insert(record(i))).collect();
    store
        .write_batch(writes, BatchMode::Atomic)
        .await
        .expect("batch");
    let wal = dir.0.join("numbers.db-wal");
    store.close().await;
    let left = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(left, 0, "the log holds {left} bytes after a clean close");
    let copy = dir.0.join("copy.db");
    std::fs::copy(dir.file(), &copy).expect("copy the file alone");
    let reopened = SqliteStore::open(&copy).await.expect("open the copy");
    let page = reopened
        .list(&ListQuery::default().with_limit(1000))
        .await
        .expect("list the copy");
    assert_eq!(page.records.len(), 200);
    reopened.close().await;
}

#[tokio::test]
async fn tombstones_survive_reopening() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    assert_eq!(store.insert(record(1)).await, Ok(Revision(1)));
    let mut stale = record(1);
    stale.state = NumberState::InService;
    for rev in 1..3 {
        assert_eq!(
            store.update(stale.clone(), Revision(rev)).await,
            Ok(Revision(rev + 1))
        );
    }
    store.delete(&number(1), Revision(3)).await.expect("delete");
    // Deleted and re-inserted in one batch, before the store is closed.
    assert_eq!(store.insert(record(2)).await, Ok(Revision(1)));
    let results = store
        .write_batch(
            vec![
                Write::Delete {
                    number: number(2),
                    expected: Revision(1),
                },
                Write::Insert(record(2)),
                Write::Delete {
                    number: number(2),
                    expected: Revision(2),
                },
            ],
            BatchMode::Atomic,
        )
        .await
        .expect("batch");
    assert_eq!(
        results,
        vec![Ok(Revision::NEW), Ok(Revision(2)), Ok(Revision::NEW)]
    );
    store.close().await;

    let reopened = SqliteStore::open(dir.file()).await.expect("reopen");
    // The built-in stores continue right after the last revision.
    assert_eq!(reopened.insert(record(1)).await, Ok(Revision(4)));
    let results = reopened
        .write_batch(
            vec![Write::Insert(record(2)), Write::Insert(record(3))],
            BatchMode::PerItem,
        )
        .await
        .expect("batch");
    assert_eq!(results, vec![Ok(Revision(3)), Ok(Revision(1))]);
    // A writer that read the first incarnation at its last revision is refused,
    // and changes nothing.
    let r = reopened.update(stale.clone(), Revision(3)).await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let r = reopened.delete(&number(1), Revision(3)).await;
    assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    let mut current = record(1);
    current.revision = Revision(4);
    assert_eq!(reopened.get(&number(1)).await, Ok(Some(current)));
    reopened.close().await;

    let mut conn = raw(&dir.file()).await;
    let tombstones: Vec<(String, i64)> =
        sqlx::query_as("SELECT number, revision FROM nm_tombstones ORDER BY number")
            .fetch_all(&mut conn)
            .await
            .expect("tombstones");
    assert_eq!(
        tombstones,
        vec![
            (number(1).as_str().to_string(), 3),
            (number(2).as_str().to_string(), 2)
        ]
    );
}

/// The version 1 schema, as a file written by an earlier version of the library.
const SCHEMA_V1: &[&str] = &[
    "CREATE TABLE nm_schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_ns INTEGER NOT NULL)",
    "CREATE TABLE nm_numbers (number TEXT PRIMARY KEY NOT NULL, revision INTEGER NOT NULL, state TEXT NOT NULL,
        assigned_to TEXT, created_ns INTEGER NOT NULL, modified_ns INTEGER NOT NULL, expires_ns INTEGER,
        doc TEXT NOT NULL) WITHOUT ROWID",
    "CREATE INDEX nm_numbers_assigned_to ON nm_numbers (assigned_to, number)",
    "CREATE INDEX nm_numbers_state ON nm_numbers (state, number)",
    "CREATE INDEX nm_numbers_expires ON nm_numbers (expires_ns) WHERE expires_ns IS NOT NULL",
    "CREATE INDEX nm_numbers_created ON nm_numbers (created_ns)",
    "CREATE INDEX nm_numbers_modified ON nm_numbers (modified_ns)",
    "CREATE TABLE nm_idempotency (key TEXT PRIMARY KEY NOT NULL, fingerprint TEXT NOT NULL,
        expires_ns INTEGER NOT NULL, entry TEXT NOT NULL, response TEXT) WITHOUT ROWID",
    "CREATE INDEX nm_idempotency_expires ON nm_idempotency (expires_ns)",
    "INSERT INTO nm_schema_version (version, applied_ns) VALUES (1, 0)",
];

/// Keys written before keys had owners and leases survive the upgrade: a
/// finished one still answers, a pending one reads back without owner or
/// lease, so a retry of the same request may take it over at once.
#[tokio::test]
async fn idempotency_keys_of_a_version_1_file_survive_the_upgrade() {
    let dir = TempDir::new();
    let mut conn =
        SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", dir.file().display()))
            .await
            .expect("create");
    for statement in SCHEMA_V1 {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .expect("version 1 schema");
    }
    let expires = t0() + chrono::Duration::hours(1);
    for (key, response) in [("done", Some(r#"{"ok":true}"#)), ("pending", None)] {
        // What that version stored: the entry as JSON, without its response.
        let entry = json!({"key": key, "fingerprint": "f", "response": null,
            "created": t0(), "expires_at": expires});
        sqlx::query(
            "INSERT INTO nm_idempotency (key, fingerprint, expires_ns, entry, response) VALUES (?, 'f', ?, ?, ?)",
        )
        .bind(key)
        .bind(expires.timestamp_nanos_opt().expect("in range"))
        .bind(entry.to_string())
        .bind(response)
        .execute(&mut conn)
        .await
        .expect("a version 1 key");
    }
    conn.close().await.expect("close");

    let store = SqliteStore::open(dir.file()).await.expect("open");
    let done = store
        .get_idempotency("done")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(done.response, Some(json!({"ok": true})));
    let pending = store
        .get_idempotency("pending")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(
        (
            pending.response,
            pending.owner.as_str(),
            pending.lease_until
        ),
        (None, "", None)
    );
    assert!(pending.progress.is_empty());
    let retry = IdempotencyEntry {
        key: "pending".into(),
        fingerprint: "f".into(),
        response: None,
        created: t0() + chrono::Duration::seconds(1),
        expires_at: expires + chrono::Duration::hours(1),
        owner: "retry".into(),
        lease_until: Some(t0() + chrono::Duration::minutes(1)),
        progress: Default::default(),
    };
    assert!(store.begin_idempotency(retry).await.expect("take over"));
    let taken = store
        .get_idempotency("pending")
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(taken.owner, "retry");
    assert_eq!(taken.expires_at, expires, "a takeover keeps the expiry");
    store.close().await;
}

#[tokio::test]
async fn a_version_1_file_is_upgraded_in_place() {
    let dir = TempDir::new();
    let mut conn =
        SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", dir.file().display()))
            .await
            .expect("create");
    for statement in SCHEMA_V1 {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .expect("version 1 schema");
    }
    let mut old = record(1);
    old.revision = Revision(7);
    let doc = serde_json::to_string(&old).expect("json");
    sqlx::query(
        "INSERT INTO nm_numbers (number, revision, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
         VALUES (?, 7, 'reserved', NULL, 0, 0, NULL, ?)",
    )
    .bind(number(1).as_str())
    .bind(doc)
    .execute(&mut conn)
    .await
    .expect("a version 1 record");
    conn.close().await.expect("close");

    // Read-only, the file cannot be upgraded, and says so.
    let ro =
        SqliteStore::open_with(dir.file(), SqliteOptions::default().with_read_only(true)).await;
    match ro {
        Err(Error::Database { cause, .. }) => assert!(cause.contains("migrating"), "{cause}"),
        other => panic!("read-only open of a version 1 file: {other:?}"),
    }

    let store = SqliteStore::open(dir.file()).await.expect("open");
    assert_eq!(store.get(&number(1)).await.expect("get"), Some(old.clone()));
    let before = Utc::now();
    store.delete(&number(1), Revision(7)).await.expect("delete");
    let after = Utc::now();
    assert_eq!(store.insert(record(1)).await, Ok(Revision(8)));
    // The upgraded file has the version 2 tombstones, deletion time included.
    assert_eq!(
        store
            .purge_tombstones(before - chrono::Duration::hours(1))
            .await,
        Ok(0)
    );
    store.close().await;

    let mut conn = raw(&dir.file()).await;
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM nm_schema_version")
        .fetch_all(&mut conn)
        .await
        .expect("versions");
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('nm_tombstones') ORDER BY cid")
            .fetch_all(&mut conn)
            .await
            .expect("columns");
    assert_eq!(columns, vec!["number", "revision", "deleted_ns"]);
    let (revision, deleted_ns): (i64, i64) =
        sqlx::query_as("SELECT revision, deleted_ns FROM nm_tombstones WHERE number = ?")
            .bind(number(1).as_str())
            .fetch_one(&mut conn)
            .await
            .expect("a tombstone");
    assert_eq!(revision, 7);
    let ns = |t: DateTime<Utc>| t.timestamp_nanos_opt().expect("in range");
    assert!(
        (ns(before)..=ns(after)).contains(&deleted_ns),
        "deleted_ns {deleted_ns} between {before} and {after}"
    );
}

#[tokio::test]
async fn tombstones_are_purged_by_deletion_time() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    for i in 1..=3 {
        assert_eq!(store.insert(record(i)).await, Ok(Revision(1)));
        assert_eq!(store.update(record(i), Revision(1)).await, Ok(Revision(2)));
    }
    let before = Utc::now();
    store.delete(&number(1), Revision(2)).await.expect("delete");
    let results = store
        .write_batch(
            vec![
                Write::Delete {
                    number: number(2),
                    expected: Revision(2),
                },
                Write::Delete {
                    number: number(3),
                    expected: Revision(2),
                },
            ],
            BatchMode::Atomic,
        )
        .await
        .expect("batch");
    assert_eq!(results, vec![Ok(Revision::NEW), Ok(Revision::NEW)]);
    let after = Utc::now();
    // Deleted after the cutoff: kept, so a re-insert continues after them.
    assert_eq!(store.purge_tombstones(before).await, Ok(0));
    assert_eq!(store.insert(record(1)).await, Ok(Revision(3)));
    store.close().await;

    // They survive reopening, and the cutoff is strict.
    let reopened = SqliteStore::open(dir.file()).await.expect("reopen");
    let mut conn = raw(&dir.file()).await;
    let stamps: Vec<i64> =
        sqlx::query_scalar("SELECT deleted_ns FROM nm_tombstones ORDER BY deleted_ns")
            .fetch_all(&mut conn)
            .await
            .expect("stamps");
    conn.close().await.expect("close");
    assert_eq!(stamps.len(), 3);
    let oldest = Utc.timestamp_nanos(stamps[0]);
    assert!(oldest >= before && oldest <= after, "{oldest}");
    assert_eq!(reopened.purge_tombstones(oldest).await, Ok(0));
    assert_eq!(
        reopened
            .purge_tombstones(oldest + chrono::Duration::nanoseconds(1))
            .await,
        Ok(1)
    );
    // The rest goes with a later cutoff.
    let soon = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(reopened.purge_tombstones(soon).await, Ok(2));
    assert_eq!(reopened.purge_tombstones(soon).await, Ok(0));
    // A number whose tombstone is gone starts again at 1; a stored one keeps
    // its revision, and its next tombstone is its own.
    assert_eq!(reopened.insert(record(2)).await, Ok(Revision(1)));
    assert_eq!(
        reopened.update(record(1), Revision(3)).await,
        Ok(Revision(4))
    );
    reopened
        .delete(&number(1), Revision(4))
        .await
        .expect("delete");
    assert_eq!(reopened.insert(record(1)).await, Ok(Revision(5)));
    reopened.close().await;
}

#[tokio::test]
async fn listing_queries_use_the_indexes() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    store.close().await;
    let mut conn = raw(&dir.file()).await;
    for (sql, index) in [
        (
            "SELECT number FROM nm_numbers WHERE number >= '+1' AND assigned_to = 'a' AND state <> 'discovery' ORDER BY number LIMIT 10",
            "nm_numbers_assigned_to (assigned_to=? AND number>?)",
        ),
        (
            "SELECT number FROM nm_numbers WHERE number >= '+1' AND state = 'discovery' AND expires_ns <= 5 ORDER BY number LIMIT 10",
            "nm_numbers_",
        ),
        (
            "SELECT number FROM nm_numbers WHERE assigned_to IN (SELECT value FROM json_each('[\"a\"]')) AND state <> 'discovery' ORDER BY number LIMIT 10",
            "nm_numbers_assigned_to",
        ),
        (
            "SELECT number FROM nm_numbers WHERE state IN (SELECT value FROM json_each('[\"discovery\"]')) AND expires_ns <= 5 ORDER BY number LIMIT 10",
            "nm_numbers_",
        ),
        ("SELECT number FROM nm_numbers WHERE number >= '+1415' AND number < '+1416' ORDER BY number LIMIT 10", "PRIMARY KEY"),
        ("DELETE FROM nm_tombstones WHERE deleted_ns < 5", "nm_tombstones_deleted"),
    ] {
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(&mut conn)
            .await
            .expect("plan");
        let details: Vec<String> = rows
            .iter()
            .map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap_or_default())
            .collect();
        assert!(
            details.iter().any(|d| d.contains(index)),
            "{sql}\nshould use {index}, plan: {details:?}"
        );
        if sql.contains("assigned_to = 'a'") {
            assert!(
                !details.iter().any(|d| d.contains("TEMP B-TREE")),
                "one account's page needs no sort: {details:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_read_only_store_reads_and_refuses_writes() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    store.insert(record(1)).await.expect("insert");
    store.close().await;

    let ro = SqliteStore::open_with(dir.file(), SqliteOptions::default().with_read_only(true))
        .await
        .expect("open read-only");
    assert_eq!(
        ro.get(&number(1)).await.expect("read").map(|r| r.revision),
        Some(Revision(1))
    );
    let r = ro.insert(record(2)).await;
    assert!(is_database_error(&r), "insert on a read-only store: {r:?}");
    let r = ro.update(record(1), Revision(1)).await;
    assert!(is_database_error(&r), "update on a read-only store: {r:?}");
    let entry = IdempotencyEntry {
        key: "k".into(),
        fingerprint: "f".into(),
        response: None,
        created: t0(),
        expires_at: t0(),
        owner: "o".into(),
        lease_until: None,
        progress: Default::default(),
    };
    assert!(is_database_error(&ro.begin_idempotency(entry).await));
    assert!(is_database_error(&ro.purge_idempotency(t0()).await));
    ro.close().await;

    // A read-only open of a file that does not exist, or was never migrated.
    let missing = SqliteStore::open_with(
        dir.0.join("missing.db"),
        SqliteOptions::default().with_read_only(true),
    )
    .await;
    assert!(is_database_error(&missing), "{missing:?}");
    let empty = dir.0.join("empty.db");
    drop(
        SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", empty.display()))
            .await
            .expect("create"),
    );
    let unmigrated =
        SqliteStore::open_with(&empty, SqliteOptions::default().with_read_only(true)).await;
    assert!(is_database_error(&unmigrated), "{unmigrated:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_without_write_permission_refuses_writes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    store.insert(record(1)).await.expect("insert");
    store.close().await;
    for f in ["numbers.db", "numbers.db-wal", "numbers.db-shm"] {
        let p = dir.0.join(f);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        }
    }
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let writable = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.file())
        .is_ok();
    let outcome = if writable {
        eprintln!("skipped: this process may write a read-only file (it runs as root), so permissions cannot be tested");
        None
    } else {
        Some(match SqliteStore::open(dir.file()).await {
            Err(e) => Err(e),
            Ok(store) => {
                let r = store.insert(record(2)).await;
                store.close().await;
                r.map(|_| ())
            }
        })
    };
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    if let Some(outcome) = outcome {
        assert!(
            is_database_error(&outcome),
            "write to a read-only file: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_garbage_file_is_a_database_error() {
    let dir = TempDir::new();
    let junk: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.file(), &junk).expect("write garbage");
    let r = SqliteStore::open(dir.file()).await;
    assert!(is_database_error(&r), "open of a garbage file: {r:?}");
    if let Err(e) = r {
        assert!(e.to_string().contains("not a database"), "{e}");
    }
}

#[tokio::test]
async fn a_damaged_file_never_panics() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    let writes = (0..2_000).map(|i| Write::Insert(record(i))).collect();
    store
        .write_batch(writes, BatchMode::Atomic)
        .await
        .expect("batch");
    store.close().await;
    // Checkpoint the WAL into the file, then overwrite pages after the first.
    {
        let mut conn = raw(&dir.file()).await;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        conn.close().await.expect("close");
    }
    let mut bytes = std::fs::read(dir.file()).expect("read");
    assert!(bytes.len() > 16_384, "the file has several pages");
    for (i, b) in bytes.iter_mut().enumerate().skip(4_096) {
        *b = (i as u8).wrapping_mul(31) ^ 0x5a;
    }
    std::fs::write(dir.file(), &bytes).expect("damage");
    match SqliteStore::open(dir.file()).await {
        Err(e) => assert!(matches!(e, Error::Database { .. }), "{e:?}"),
        Ok(store) => {
            let r = store
                .get_many(&(0..2_000).map(number).collect::<Vec<_>>())
                .await;
            assert!(r.is_ok() || is_database_error(&r), "{r:?}");
            let r = store.list(&ListQuery::default().with_limit(5_000)).await;
            assert!(r.is_ok() || is_database_error(&r), "{r:?}");
            let r = store.insert(record(9_999)).await;
            assert!(r.is_ok() || is_database_error(&r), "{r:?}");
            store.close().await;
        }
    }
}

#[tokio::test]
async fn a_locked_file_gives_a_clear_error_not_a_hang() {
    let dir = TempDir::new();
    let options = SqliteOptions::default().with_busy_timeout(Duration::from_millis(300));
    let store = SqliteStore::open_with(dir.file(), options.clone())
        .await
        .expect("open");
    store.insert(record(1)).await.expect("insert");

    // Another connection (another process, say) holds the write lock.
    let mut other = raw(&dir.file()).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .expect("lock");
    sqlx::query("DELETE FROM nm_idempotency")
        .execute(&mut other)
        .await
        .expect("write under lock");

    let started = Instant::now();
    let r = store.insert(record(2)).await;
    let waited = started.elapsed();
    match &r {
        Err(Error::Database { cause, .. }) => assert!(cause.contains("locked"), "{cause}"),
        other => panic!("insert while locked: {other:?}"),
    }
    // A busy file may be free later, and the driver's own error is underneath.
    let e = r.as_ref().unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    let source = std::error::Error::source(e).expect("a source");
    assert!(source.downcast_ref::<sqlx::Error>().is_some(), "{source:?}");
    assert!(
        waited >= Duration::from_millis(250),
        "it waited for the busy timeout ({waited:?})"
    );
    assert!(
        waited < Duration::from_secs(5),
        "it did not hang ({waited:?})"
    );
    // Readers are not blocked in WAL mode.
    assert_eq!(
        store
            .get(&number(1))
            .await
            .expect("read while locked")
            .map(|r| r.revision),
        Some(Revision(1))
    );
    // A second store opening the locked (already migrated) file works too.
    let second = SqliteStore::open_with(dir.file(), options)
        .await
        .expect("open while locked");
    assert!(is_database_error(&second.insert(record(3)).await));

    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("unlock");
    assert_eq!(store.insert(record(2)).await, Ok(Revision(1)));
    assert_eq!(second.insert(record(3)).await, Ok(Revision(1)));
    store.close().await;
    second.close().await;
}

#[tokio::test]
async fn a_file_from_a_newer_library_is_refused() {
    let dir = TempDir::new();
    SqliteStore::open(dir.file())
        .await
        .expect("open")
        .close()
        .await;
    let mut conn = raw(&dir.file()).await;
    sqlx::query("INSERT INTO nm_schema_version (version, applied_ns) VALUES (99, 0)")
        .execute(&mut conn)
        .await
        .expect("bump");
    conn.close().await.expect("close");
    match SqliteStore::open(dir.file()).await {
        Err(Error::Database { cause, .. }) => assert!(cause.contains("newer"), "{cause}"),
        other => panic!("open of a newer file: {other:?}"),
    }
}

#[tokio::test]
async fn opening_in_a_missing_directory_is_a_database_error() {
    let dir = TempDir::new();
    let r = SqliteStore::open(dir.0.join("no/such/dir/numbers.db")).await;
    assert!(is_database_error(&r), "{r:?}");
}

/// Several processes starting at once on a file that does not exist yet all
/// race to create it, switch it to WAL and migrate it. SQLite refuses a
/// journal-mode change outright (no busy wait) while another connection holds
/// the file, so this is repeated on fresh files to hit that window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_stores_open_a_fresh_file_at_once() {
    for round in 0..20 {
        let dir = TempDir::new();
        let path = dir.file();
        let opens: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move { SqliteStore::open(path).await })
            })
            .collect();
        let mut stores = Vec::new();
        for o in opens {
            match o.await.expect("join") {
                Ok(store) => stores.push(store),
                Err(e) => panic!("round {round}: open: {e:?}"),
            }
        }
        for (i, s) in stores.iter().enumerate() {
            s.insert(record(i as u32)).await.expect("insert");
        }
        for s in &stores {
            let page = s
                .list(&ListQuery::default().with_limit(100))
                .await
                .expect("list");
            assert_eq!(page.records.len(), stores.len());
            s.close().await;
        }
        let mut conn = raw(&path).await;
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM nm_schema_version")
            .fetch_all(&mut conn)
            .await
            .expect("versions");
        assert_eq!(versions, vec![1, 2, 3, 4, 5]);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .expect("journal mode");
        assert_eq!(mode, "wal", "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_holds_across_two_stores_on_one_file() {
    let dir = TempDir::new();
    let path = dir.file();
    // Two stores on one file, used in turns, as two processes would: the
    // whole conformance suite must hold across them.
    let shared = Arc::new(RoundRobinStore::new(vec![
        SqliteStore::open(&path).await.expect("open"),
        SqliteStore::open(&path).await.expect("open"),
    ]));
    // Every check on the same pair of stores (each check uses its own numbers).
    number_manager::store::conformance::run_all(|| {
        let s = shared.clone();
        async move { s }
    })
    .await;
    for s in shared.stores() {
        s.close().await;
    }
}

/// A minimal executor that is not tokio.
fn block_on_without_tokio<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => return v,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}

#[test]
fn opening_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let dir = TempDir::new();
    let r = block_on_without_tokio(SqliteStore::open(dir.file()));
    match r {
        Err(Error::Database { cause, .. }) => assert!(cause.contains("tokio"), "{cause}"),
        other => panic!("open outside tokio: {other:?}"),
    }
    let r = block_on_without_tokio(SqliteStore::open_in_memory());
    assert!(is_database_error(&r), "{r:?}");
}

/// Public fields are stored as JSON text: a number must read back as the very
/// value written, not its neighbour (found by the `public_fields` fuzz target:
/// `1234567.901234567890` came back one unit in the last place off).
#[tokio::test]
async fn public_field_floats_read_back_exactly() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.file()).await.expect("open");
    let mut rec = record(7);
    let body = r#"{"big": 1234567.901234567890, "small": 0.30000000000000004, "neg": -2.2250738585072014e-308}"#;
    rec.public = serde_json::from_str(body).unwrap();
    store.insert(rec.clone()).await.expect("insert");
    let back = store.get(&rec.number).await.expect("get").expect("present");
    assert_eq!(back.public, rec.public);
}

/// A file of `n` padded records, closed, its WAL checkpointed into it.
async fn filled_file(path: &Path, n: u32) {
    let store = SqliteStore::open(path).await.expect("open");
    let writes: Vec<Write> = (0..n)
        .map(|i| {
            let mut r = record(i);
            r.public.insert("pad".into(), json!("x".repeat(200)));
            Write::Insert(r)
        })
        .collect();
    for chunk in writes.chunks(500) {
        let results = store
            .write_batch(chunk.to_vec(), BatchMode::PerItem)
            .await
            .expect("write");
        assert!(results.iter().all(|r| r.is_ok()));
    }
    store.close().await;
    // Move everything from the WAL into the file itself.
    let mut conn = raw(path).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    conn.close().await.expect("close");
    assert!(std::fs::metadata(path).expect("the file").len() > 1 << 20);
}

/// Overwrites four pages in the middle of the file with garbage.
fn damage_the_middle(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read the file");
    let page = 4096;
    let from = bytes.len() / 2 / page * page;
    for (i, b) in bytes[from..from + 4 * page].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    std::fs::write(path, bytes).expect("write the file");
}

#[tokio::test]
async fn a_file_damaged_in_the_middle_fails_to_open() {
    let dir = TempDir::new();
    let path = dir.file();
    filled_file(&path, 3000).await;
    damage_the_middle(&path);
    let e = SqliteStore::open(&path).await.expect_err("a damaged file");
    let Error::Database { cause, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(cause.contains("quick_check"), "{cause}");
    // A damaged file stays damaged.
    assert!(!e.is_retryable(), "{e:?}");
    // Without the check it opens, and only a read finds the damage.
    let store = SqliteStore::open_with(&path, SqliteOptions::default().with_quick_check(false))
        .await
        .expect("opens unchecked");
    let mut pages =
        number_manager::store::Pages::new(&store, ListQuery::default().with_limit(1000));
    let walk = async {
        while pages.next().await?.is_some() {}
        let numbers: Vec<PhoneNumber> = (0..3000).map(number).collect();
        store.get_many(&numbers).await.map(|_| ())
    };
    let r = walk.await;
    assert!(is_database_error(&r), "{r:?}");
    store.close().await;
}

/// An operation whose future is dropped mid-query (a host's timeout, an
/// aborted task) may cost the in-memory store its connection; the pool's
/// replacement must open the same database, not a new empty one.
#[tokio::test]
async fn an_in_memory_store_keeps_its_data_when_an_operation_is_cancelled() {
    let store = SqliteStore::open_in_memory().await.unwrap();
    store.insert(record(0)).await.unwrap();
    let batch = || -> Vec<Write> { (1..2000).map(|i| Write::Insert(record(i))).collect() };
    // Cancel big batches at ever later points, so some drop lands mid-query.
    for micros in (0..20_000).step_by(97) {
        let _ = tokio::time::timeout(
            Duration::from_micros(micros),
            store.write_batch(batch(), BatchMode::Atomic),
        )
        .await;
        let kept = store.get(&number(0)).await;
        assert!(
            matches!(kept, Ok(Some(_))),
            "after a cancel at {micros} us: {kept:?}"
        );
    }
}
