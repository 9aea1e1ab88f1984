//! PostgresStore against a real server: migrations (concurrent, idempotent,
//! refusing a newer schema), schema isolation, connection failures as
//! `Error::Database`, and the conformance suite across two pools sharing one
//! schema (as two processes would).
//!
//! The server is named by `NUMBER_MANAGER_PG_URL`; without it every test says
//! it was skipped and returns. Each test works in its own fresh schema and
//! drops it at the end, so tests run in parallel and leave nothing behind.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use number_manager::record::{NumberRecord, Revision};
use number_manager::state::NumberState;
use number_manager::store::{
    BatchMode, ListQuery, PostgresOptions, PostgresStore, Store, StoreExt, Write,
};
use number_manager::testing::RoundRobinStore;
use number_manager::{ConflictKind, Error, PhoneNumber};
use serde_json::json;
use sqlx::PgPool;

const URL_VAR: &str = "NUMBER_MANAGER_PG_URL";

fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: PostgreSQL tests need {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test); it is not set");
            None
        }
    }
}

fn fresh_schema(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_usize(N.fetch_add(1, Ordering::SeqCst));
    format!("nm_test_{tag}_{:016x}", h.finish())
}

/// Runs `test` with the URL and fresh schema names, then drops those schemas,
/// whether the test passed or not.
async fn with_schemas<F, Fut>(tag: &str, count: usize, test: F)
where
    F: FnOnce(String, Vec<String>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = url() else { return };
    let schemas: Vec<String> = (0..count).map(|_| fresh_schema(tag)).collect();
    let outcome = tokio::spawn(test(url.clone(), schemas.clone())).await;
    let admin = PgPool::connect(&url).await.expect("connect to PostgreSQL");
    for s in &schemas {
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            s.replace('"', "\"\"")
        ))
        .execute(&admin)
        .await
        .expect("drop a test schema");
    }
    admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
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

/// A server that refuses connections is reported with that reason, not as a
/// pool that timed out: the acquire timeout here is long, and the cause must
/// be the connect error itself.
#[tokio::test]
async fn a_refused_connection_names_its_cause() {
    let refused = PostgresStore::connect_with(
        "postgres://postgres@127.0.0.1:1/test",
        PostgresOptions::default().with_acquire_timeout(Duration::from_secs(20)),
    )
    .await;
    let Err(Error::Database { cause, .. }) = &refused else {
        panic!("{refused:?}")
    };
    assert!(cause.to_lowercase().contains("refused"), "{cause}");
    assert!(!cause.contains("timed out"), "{cause}");
    // A server that refuses now may accept later; the driver's error is underneath.
    let e = refused.as_ref().unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    let source = std::error::Error::source(e).expect("a source");
    assert!(source.downcast_ref::<sqlx::Error>().is_some(), "{source:?}");
}

/// A TCP relay to the real server that can be cut: once cut, it refuses new
/// connections and drops the ones it carries, as a server that went away would.
struct Relay {
    addr: std::net::SocketAddr,
    tasks: Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a relay port");
        let addr = listener.local_addr().expect("the relay's address");
        let tasks = Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let carried = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                carried.lock().expect("relay tasks").spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay {
            addr,
            tasks,
            accept,
        }
    }

    /// Stops listening (the port then refuses) and closes every relayed connection.
    async fn cut(self) {
        self.accept.abort();
        let _ = self.accept.await;
        self.tasks.lock().expect("relay tasks").abort_all();
    }
}

/// A server that starts refusing connections after the store opened is
/// reported with that reason when the pool has no connection to give, not
/// only as "pool timed out".
#[tokio::test]
async fn a_server_refusing_after_open_names_its_cause() {
    with_schemas("refused_later", 1, |url, schemas| async move {
        let upstream: std::net::SocketAddr = "127.0.0.1:5432".parse().expect("an address");
        let relay = Relay::start(upstream).await;
        let relayed = url.replacen("127.0.0.1:5432", &relay.addr.to_string(), 1);
        assert_ne!(relayed, url, "the test URL names 127.0.0.1:5432");
        let store = PostgresStore::connect_with(
            &relayed,
            PostgresOptions::default()
                .with_schema(&schemas[0])
                .with_max_connections(2)
                .with_acquire_timeout(Duration::from_secs(2)),
        )
        .await
        .expect("open through the relay");
        store
            .write_batch(vec![Write::Insert(record(1))], BatchMode::PerItem)
            .await
            .expect("a write while the server answers");
        relay.cut().await;
        for (what, result) in [
            ("read", store.get_many(&[number(1)]).await.map(|_| ())),
            (
                "write",
                store
                    .write_batch(vec![Write::Insert(record(2))], BatchMode::PerItem)
                    .await
                    .map(|_| ()),
            ),
        ] {
            let Err(Error::Database { cause, .. }) = &result else {
                panic!("{what}: {result:?}")
            };
            assert!(cause.to_lowercase().contains("refused"), "{what}: {cause}");
        }
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn connection_failures_are_database_errors() {
    let started = Instant::now();
    let refused = PostgresStore::connect_with(
        "postgres://postgres@127.0.0.1:1/test",
        PostgresOptions::default().with_acquire_timeout(Duration::from_secs(3)),
    )
    .await;
    assert!(
        matches!(refused, Err(Error::Database { .. })),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not hang"
    );
    let invalid = PostgresStore::connect("not a url").await;
    assert!(
        matches!(invalid, Err(Error::Database { .. })),
        "{invalid:?}"
    );
}

#[tokio::test]
async fn a_bad_schema_name_is_invalid() {
    let Some(url) = url() else { return };
    for name in ["", "a\0b", &"x".repeat(64)] {
        let r = PostgresStore::connect_with_schema(&url, name).await;
        assert!(matches!(r, Err(Error::Invalid { .. })), "{name:?}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_keep_stores_apart() {
    with_schemas("apart", 2, |url, schemas| async move {
        let a = PostgresStore::connect_with_schema(&url, &schemas[0])
            .await
            .expect("connect a");
        let b = PostgresStore::connect_with_schema(&url, &schemas[1])
            .await
            .expect("connect b");
        assert_eq!(a.schema(), schemas[0]);
        assert_eq!(a.insert(record(1)).await, Ok(Revision(1)));
        assert_eq!(b.get(&number(1)).await, Ok(None));
        assert_eq!(b.insert(record(1)).await, Ok(Revision(1)));
        assert_eq!(a.update(record(1), Revision(1)).await, Ok(Revision(2)));
        assert_eq!(
            b.get(&number(1)).await.expect("get").map(|r| r.revision),
            Some(Revision(1))
        );
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_odd_schema_name_is_quoted() {
    with_schemas("odd \"quoted\" Name", 1, |url, schemas| async move {
        let store = PostgresStore::connect_with_schema(&url, &schemas[0])
            .await
            .expect("connect");
        assert_eq!(store.insert(record(1)).await, Ok(Revision(1)));
        let page = store
            .list(&ListQuery::default().with_limit(10))
            .await
            .expect("list");
        assert_eq!(page.records.len(), 1);
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_migrate_once_and_reconnecting_keeps_data() {
    with_schemas("migrate", 1, |url, schemas| async move {
        let schema = schemas[0].clone();
        let connects: Vec<_> = (0..6)
            .map(|_| {
                let (url, schema) = (url.clone(), schema.clone());
                tokio::spawn(async move {
                    PostgresStore::connect_with(
                        &url,
                        PostgresOptions::default()
                            .with_schema(schema)
                            .with_max_connections(2),
                    )
                    .await
                })
            })
            .collect();
        let mut stores = Vec::new();
        for c in connects {
            stores.push(c.await.expect("join").expect("connect"));
        }
        for (i, s) in stores.iter().enumerate() {
            assert_eq!(s.insert(record(i as u32)).await, Ok(Revision(1)));
        }
        for s in &stores {
            s.close().await;
        }
        let again = PostgresStore::connect_with_schema(&url, &schema)
            .await
            .expect("reconnect");
        let page = again
            .list(&ListQuery::default().with_limit(100))
            .await
            .expect("list");
        assert_eq!(page.records.len(), 6);
        let versions: Vec<i32> = sqlx::query_scalar(&format!(
            "SELECT version FROM \"{schema}\".nm_schema_version"
        ))
        .fetch_all(again.pool())
        .await
        .expect("versions");
        assert_eq!(versions, vec![1, 2, 3, 4, 5]);
        // Every index the queries need is there.
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname",
        )
        .bind(&schema)
        .fetch_all(again.pool())
        .await
        .expect("indexes");
        for want in [
            "nm_idempotency_expires",
            "nm_idempotency_pkey",
            "nm_numbers_assigned_to",
            "nm_numbers_created",
            "nm_numbers_expires",
            "nm_numbers_modified",
            "nm_numbers_pkey",
            "nm_numbers_state",
            "nm_tombstones_deleted",
            "nm_tombstones_pkey",
        ] {
            assert!(
                indexes.iter().any(|i| i == want),
                "{want} missing from {indexes:?}"
            );
        }
        again.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_from_a_newer_library_is_refused() {
    with_schemas("newer", 1, |url, schemas| async move {
        let schema = &schemas[0];
        let store = PostgresStore::connect_with_schema(&url, schema)
            .await
            .expect("connect");
        sqlx::query(&format!(
            "INSERT INTO \"{schema}\".nm_schema_version (version) VALUES (99)"
        ))
        .execute(store.pool())
        .await
        .expect("bump");
        store.close().await;
        match PostgresStore::connect_with_schema(&url, schema).await {
            Err(Error::Database { cause, .. }) => assert!(cause.contains("newer"), "{cause}"),
            other => panic!("connect to a newer schema: {other:?}"),
        }
    })
    .await;
}

/// The version 1 schema, as written by an earlier version of the library.
const SCHEMA_V1: &[&str] = &[
    "CREATE TABLE {s}.nm_schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE {s}.nm_numbers (number TEXT COLLATE \"C\" PRIMARY KEY, revision BIGINT NOT NULL,
        state TEXT NOT NULL, assigned_to TEXT, created_ns BIGINT NOT NULL, modified_ns BIGINT NOT NULL,
        expires_ns BIGINT, doc JSON NOT NULL)",
    "CREATE INDEX nm_numbers_assigned_to ON {s}.nm_numbers (assigned_to, number)",
    "CREATE INDEX nm_numbers_state ON {s}.nm_numbers (state, number)",
    "CREATE INDEX nm_numbers_expires ON {s}.nm_numbers (expires_ns) WHERE expires_ns IS NOT NULL",
    "CREATE INDEX nm_numbers_created ON {s}.nm_numbers (created_ns)",
    "CREATE INDEX nm_numbers_modified ON {s}.nm_numbers (modified_ns)",
    "CREATE TABLE {s}.nm_idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
        expires_ns BIGINT NOT NULL, entry JSON NOT NULL, response JSON)",
    "CREATE INDEX nm_idempotency_expires ON {s}.nm_idempotency (expires_ns)",
    "INSERT INTO {s}.nm_schema_version (version) VALUES (1)",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_schema_is_upgraded_in_place() {
    with_schemas("v1", 1, |url, schemas| async move {
        let schema = &schemas[0];
        let quoted = format!("\"{schema}\"");
        let pool = PgPool::connect(&url).await.expect("pool");
        sqlx::query(&format!("CREATE SCHEMA {quoted}"))
            .execute(&pool)
            .await
            .expect("schema");
        for statement in SCHEMA_V1 {
            sqlx::query(&statement.replace("{s}", &quoted))
                .execute(&pool)
                .await
                .expect("version 1 schema");
        }
        let mut old = record(1);
        old.revision = Revision(7);
        sqlx::query(&format!(
            "INSERT INTO {quoted}.nm_numbers (number, revision, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
             VALUES ($1, 7, 'reserved', NULL, 0, 0, NULL, $2::json)"
        ))
        .bind(number(1).as_str())
        .bind(serde_json::to_string(&old).expect("json"))
        .execute(&pool)
        .await
        .expect("a version 1 record");

        let store = PostgresStore::from_pool(pool.clone(), schema)
            .await
            .expect("upgrade");
        assert_eq!(store.get(&number(1)).await, Ok(Some(old)));
        let before = Utc::now();
        store.delete(&number(1), Revision(7)).await.expect("delete");
        let after = Utc::now();
        assert_eq!(store.insert(record(1)).await, Ok(Revision(8)));
        // The upgraded schema has the version 2 tombstones, deletion time included.
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = $1 AND table_name = 'nm_tombstones' ORDER BY ordinal_position",
        )
        .bind(schema)
        .fetch_all(&pool)
        .await
        .expect("columns");
        assert_eq!(columns, vec!["number", "revision", "deleted_ns"]);
        let (revision, deleted_ns): (i64, i64) = sqlx::query_as(&format!(
            "SELECT revision, deleted_ns FROM {quoted}.nm_tombstones WHERE number = $1"
        ))
        .bind(number(1).as_str())
        .fetch_one(&pool)
        .await
        .expect("a tombstone");
        assert_eq!(revision, 7);
        let ns = |t: DateTime<Utc>| t.timestamp_nanos_opt().expect("in range");
        assert!(
            (ns(before)..=ns(after)).contains(&deleted_ns),
            "deleted_ns {deleted_ns} between {before} and {after}"
        );
        assert_eq!(store.purge_tombstones(before).await, Ok(0));
        assert_eq!(
            store
                .purge_tombstones(after + chrono::Duration::seconds(1))
                .await,
            Ok(1)
        );
        store.delete(&number(1), Revision(8)).await.expect("delete");
        assert_eq!(store.insert(record(1)).await, Ok(Revision(9)));
        let versions: Vec<i32> = sqlx::query_scalar(&format!(
            "SELECT version FROM {quoted}.nm_schema_version ORDER BY version"
        ))
        .fetch_all(&pool)
        .await
        .expect("versions");
        assert_eq!(versions, vec![1, 2, 3, 4, 5]);
        store.close().await;
    })
    .await;
}

/// An insert that runs while another transaction deletes the same number
/// either sees the number still stored (and is refused) or sees the delete's
/// tombstone; it never waits for the delete and then reuses a revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_racing_a_delete_never_reuses_a_revision() {
    with_schemas("race", 1, |url, schemas| async move {
        let schema = &schemas[0];
        let quoted = format!("\"{schema}\"");
        let store = PostgresStore::connect_with_schema(&url, schema)
            .await
            .expect("connect");
        assert_eq!(store.insert(record(1)).await, Ok(Revision(1)));
        assert_eq!(store.update(record(1), Revision(1)).await, Ok(Revision(2)));
        for batch in [false, true] {
            // Another process deletes number 1 (as the store does: row and
            // tombstone in one transaction) and has not committed yet.
            let mut other = store.pool().begin().await.expect("begin");
            let expected: i64 = if batch { 4 } else { 2 };
            let gone = sqlx::query(&format!(
                "DELETE FROM {quoted}.nm_numbers WHERE number = $1 AND revision = $2"
            ))
            .bind(number(1).as_str())
            .bind(expected)
            .execute(&mut *other)
            .await
            .expect("delete");
            assert_eq!(gone.rows_affected(), 1);
            sqlx::query(&format!(
                "INSERT INTO {quoted}.nm_tombstones (number, revision, deleted_ns) VALUES ($1, $2, $3)
                 ON CONFLICT (number) DO UPDATE SET revision = EXCLUDED.revision, deleted_ns = EXCLUDED.deleted_ns"
            ))
            .bind(number(1).as_str())
            .bind(expected)
            .bind(Utc::now().timestamp_nanos_opt().expect("in range"))
            .execute(&mut *other)
            .await
            .expect("tombstone");

            let writes = if batch {
                // Distinct numbers: the UNNEST path.
                vec![Write::Insert(record(1)), Write::Insert(record(3))]
            } else {
                vec![Write::Insert(record(1))]
            };
            let racing = tokio::time::timeout(
                Duration::from_secs(5),
                store.write_batch(writes, BatchMode::PerItem),
            )
            .await
            .expect("the insert does not wait for the delete")
            .expect("batch");
            assert!(
                matches!(racing[0], Err(Error::NumberExists { .. })),
                "an insert during the delete sees the number stored: {racing:?}"
            );
            other.commit().await.expect("commit");

            let rev = store
                .insert(record(1))
                .await
                .expect("insert after the delete");
            assert_eq!(rev, Revision(expected.unsigned_abs() + 1));
            assert_eq!(
                store.update(record(1), rev).await,
                Ok(rev.next()),
                "the new incarnation"
            );
        }
        store.close().await;
    })
    .await;
}

/// Tombstones are dropped by deletion time, whether left by a single delete
/// or by a batch (the `UNNEST` path), and a purge never breaks a write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones_are_purged_by_deletion_time() {
    with_schemas("purge", 1, |url, schemas| async move {
        let store = PostgresStore::connect_with_schema(&url, &schemas[0])
            .await
            .expect("connect");
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
                BatchMode::PerItem,
            )
            .await
            .expect("batch");
        assert_eq!(results, vec![Ok(Revision::NEW), Ok(Revision::NEW)]);
        let after = Utc::now();
        assert_eq!(store.purge_tombstones(before).await, Ok(0));
        assert_eq!(store.insert(record(1)).await, Ok(Revision(3)));
        let stamps: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT deleted_ns FROM \"{}\".nm_tombstones ORDER BY deleted_ns",
            schemas[0]
        ))
        .fetch_all(store.pool())
        .await
        .expect("stamps");
        assert_eq!(stamps.len(), 3);
        let oldest = Utc.timestamp_nanos(stamps[0]);
        assert!(oldest >= before && oldest <= after, "{oldest}");
        // The cutoff is strict.
        assert_eq!(store.purge_tombstones(oldest).await, Ok(0));
        assert_eq!(
            store
                .purge_tombstones(oldest + chrono::Duration::nanoseconds(1))
                .await,
            Ok(1)
        );
        let soon = Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(store.purge_tombstones(soon).await, Ok(2));
        assert_eq!(store.purge_tombstones(soon).await, Ok(0));
        // A number whose tombstone is gone starts again at 1; a stored one
        // keeps its revision, and its next tombstone is its own.
        let results = store
            .write_batch(
                vec![Write::Insert(record(2)), Write::Insert(record(3))],
                BatchMode::PerItem,
            )
            .await
            .expect("batch");
        assert_eq!(results, vec![Ok(Revision(1)), Ok(Revision(1))]);
        assert_eq!(store.update(record(1), Revision(3)).await, Ok(Revision(4)));
        store.delete(&number(1), Revision(4)).await.expect("delete");
        assert_eq!(store.insert(record(1)).await, Ok(Revision(5)));
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_a_host_pool_and_a_broken_schema() {
    with_schemas("pool", 1, |url, schemas| async move {
        let schema = &schemas[0];
        let pool = PgPool::connect(&url).await.expect("pool");
        let store = PostgresStore::from_pool(pool.clone(), schema)
            .await
            .expect("from pool");
        assert_eq!(store.insert(record(1)).await, Ok(Revision(1)));
        // Someone drops the table under the store: errors, not panics.
        sqlx::query(&format!("DROP TABLE \"{schema}\".nm_numbers"))
            .execute(&pool)
            .await
            .expect("drop");
        let r = store.get(&number(1)).await;
        assert!(matches!(r, Err(Error::Database { .. })), "{r:?}");
        let r = store
            .write_batch(vec![Write::Insert(record(2))], BatchMode::Atomic)
            .await;
        assert!(matches!(r, Err(Error::Database { .. })), "{r:?}");
        let r = store.list(&ListQuery::default().with_limit(1)).await;
        assert!(matches!(r, Err(Error::Database { .. })), "{r:?}");
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_takes_few_round_trips() {
    with_schemas("bulk", 1, |url, schemas| async move {
        let store = PostgresStore::connect_with_schema(&url, &schemas[0])
            .await
            .expect("connect");
        let n = 5_000u32;
        let started = Instant::now();
        let results = store
            .write_batch(
                (0..n).map(|i| Write::Insert(record(i))).collect(),
                BatchMode::Atomic,
            )
            .await
            .expect("batch");
        let took = started.elapsed();
        assert!(results.iter().all(|r| r == &Ok(Revision(1))));
        eprintln!("{n} inserts in one batch: {took:?}");
        let updates = (0..n)
            .map(|i| Write::Update {
                record: record(i),
                expected: Revision(if i % 10 == 0 { 7 } else { 1 }),
            })
            .collect();
        let results = store
            .write_batch(updates, BatchMode::PerItem)
            .await
            .expect("batch");
        for (i, r) in results.iter().enumerate() {
            if i % 10 == 0 {
                match r {
                    Err(Error::Conflict {
                        kind: ConflictKind::StaleRevision,
                        detail,
                        ..
                    }) => {
                        let detail = detail.as_deref().unwrap_or_default();
                        assert!(detail.contains("revision is 1"), "{detail}")
                    }
                    other => panic!("{other:?}"),
                }
            } else {
                assert_eq!(r, &Ok(Revision(2)));
            }
        }
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_holds_across_two_pools_on_one_schema() {
    with_schemas("two", 1, |url, schemas| async move {
        // Two stores (two pools) on one schema, used in turns, as two
        // processes would: the whole conformance suite must hold across them.
        let shared = Arc::new(RoundRobinStore::new(vec![
            PostgresStore::connect_with_schema(&url, &schemas[0])
                .await
                .expect("connect"),
            PostgresStore::connect_with_schema(&url, &schemas[0])
                .await
                .expect("connect"),
        ]));
        number_manager::store::conformance::run_all(|| {
            let s = shared.clone();
            async move { s }
        })
        .await;
        for s in shared.stores() {
            s.close().await;
        }
    })
    .await;
}

#[test]
fn connecting_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(PostgresStore::connect(
        "postgres://postgres@127.0.0.1:5432/test"
    ));
    let r = loop {
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => break v,
            std::task::Poll::Pending => std::thread::park(),
        }
    };
    match r {
        Err(Error::Database { cause, .. }) => assert!(cause.contains("tokio"), "{cause}"),
        other => panic!("connect outside tokio: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_a_large_account_uses_the_indexes() {
    with_schemas("walk", 1, |url, schemas| async move {
        let schema = &schemas[0];
        let store = PostgresStore::connect_with_schema(&url, schema).await.expect("connect");
        let a = number_manager::account::AccountId::new("walker").expect("account");
        let b = number_manager::account::AccountId::new("other").expect("account");
        let total = 20_000u32;
        for chunk in 0..(total / 5_000) {
            let writes = (chunk * 5_000..(chunk + 1) * 5_000)
                .map(|i| {
                    let mut r = NumberRecord::new(
                        PhoneNumber::from_e164(&format!("+1555{i:07}")).expect("number"),
                        NumberState::InService,
                        "local",
                        t0(),
                    );
                    r.assigned_to = Some(if i % 2 == 0 { a.clone() } else { b.clone() });
                    Write::Insert(r)
                })
                .collect();
            store.write_batch(writes, BatchMode::PerItem).await.expect("batch");
        }
        sqlx::query(&format!("ANALYZE \"{schema}\".nm_numbers"))
            .execute(store.pool())
            .await
            .expect("analyze");
        let started = Instant::now();
        let mut q = ListQuery::default().with_accounts(vec![a.clone()]).with_limit(500);
        let mut seen = 0;
        loop {
            let page = store.list(&q).await.expect("list");
            seen += page.records.len();
            match page.next_start_key {
                Some(k) => q.start_key = Some(k),
                None => break,
            }
        }
        eprintln!("walked {seen} of {total} numbers in pages of 500: {:?}", started.elapsed());
        assert_eq!(seen, (total / 2) as usize);
        assert_eq!(store.count(&ListQuery::default().with_accounts(vec![a.clone()])).await, Ok(seen));
        let plan: Vec<String> = sqlx::query_scalar(&format!(
            "EXPLAIN SELECT number FROM \"{schema}\".nm_numbers WHERE number >= $1 AND assigned_to = ANY($2) \
             AND state <> 'discovery' ORDER BY number LIMIT 501"
        ))
        .bind("+15550010000")
        .bind(vec!["walker".to_string()])
        .fetch_all(store.pool())
        .await
        .expect("explain");
        eprintln!("{}", plan.join("\n"));
        assert!(plan.iter().any(|l| l.contains("Index")), "an index scan: {plan:?}");
        store.close().await;
    })
    .await;
}
