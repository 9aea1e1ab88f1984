//! The Store conformance suite on every built-in backend: MemoryStore, SQLite
//! (a file in a temporary directory, and in memory) and PostgreSQL (each test
//! in its own fresh schema, dropped afterwards; skipped with a message unless
//! `NUMBER_MANAGER_PG_URL` names a server).
//!
//! Each check is its own test, so a failure names the backend and the check.

use number_manager::store::conformance;
use number_manager::store::MemoryStore;

/// One `#[tokio::test]` per conformance check, each on a store from `$make`
/// (an async block giving a store, or `None` to skip) and torn down by `$done`.
macro_rules! suite {
    ($backend:ident, $make:expr, $done:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            suite!(@checks $make, $done;
                insert_and_get, record_round_trip, get_many_order_and_missing,
                insert_existing_is_rejected, update_compare_and_swap, delete_compare_and_swap,
                batch_per_item, batch_atomic, batch_sees_earlier_writes, large_batches,
                list_by_accounts, list_filters, list_paging, list_paging_while_writing, list_scan_limit,
                discovery_expiry, idempotency, idempotency_purge, concurrent_counter,
                concurrent_inserts, concurrent_idempotency_begin, idempotency_lease,
                idempotency_journal, concurrent_idempotency_takeover,
                reinsert_never_repeats_revisions, reinsert_in_one_batch, tombstone_purge);
        }
    };
    (@checks $make:expr, $done:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some((store, guard)) = $make.await else { return };
                let store = std::sync::Arc::new(store);
                let running = store.clone();
                // Run the check in its own task so a failure still tears down.
                let outcome = tokio::spawn(async move { conformance::$check(&*running).await }).await;
                $done(store, guard).await;
                if let Err(e) = outcome {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        )*
    };
}

async fn no_teardown<S>(_store: std::sync::Arc<S>, _guard: ()) {}

#[test]
fn the_suite_lists_every_check() {
    assert_eq!(conformance::CHECKS.len(), 27);
}

suite!(
    memory,
    async { Some((MemoryStore::new(), ())) },
    no_teardown
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_run_all() {
    conformance::run_all(|| async { MemoryStore::new() }).await;
}

#[cfg(feature = "sqlite")]
mod sqlite_support {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use number_manager::store::SqliteStore;

    /// A directory removed when dropped.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "nm-conformance-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).expect("create a temporary directory");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub async fn file() -> Option<(SqliteStore, TempDir)> {
        let dir = TempDir::new();
        let store = SqliteStore::open(dir.0.join("numbers.db"))
            .await
            .expect("open a SQLite file");
        Some((store, dir))
    }

    pub async fn memory() -> Option<(SqliteStore, ())> {
        Some((
            SqliteStore::open_in_memory()
                .await
                .expect("open SQLite in memory"),
            (),
        ))
    }

    pub async fn close<G>(store: Arc<SqliteStore>, guard: G) {
        store.close().await;
        drop(guard);
    }
}

#[cfg(feature = "sqlite")]
use sqlite_support::*;

#[cfg(feature = "sqlite")]
suite!(sqlite_file, file(), close);

#[cfg(feature = "sqlite")]
suite!(sqlite_memory, memory(), close);

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_run_all() {
    conformance::run_all(|| async {
        number_manager::store::SqliteStore::open_in_memory()
            .await
            .expect("open")
    })
    .await;
}

#[cfg(feature = "postgres")]
mod postgres_support {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use number_manager::store::PostgresStore;

    pub const URL_VAR: &str = "NUMBER_MANAGER_PG_URL";

    /// The server to test against, or `None` (with a message) to skip.
    pub fn url() -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!(
                    "skipped: PostgreSQL tests need {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test); it is not set"
                );
                None
            }
        }
    }

    /// A schema name no other test uses.
    pub fn fresh_schema() -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_usize(N.fetch_add(1, Ordering::SeqCst));
        format!("nm_test_{:016x}", h.finish())
    }

    pub async fn connect() -> Option<(PostgresStore, String)> {
        let url = url()?;
        let schema = fresh_schema();
        let store = PostgresStore::connect_with_schema(&url, &schema)
            .await
            .expect("connect to PostgreSQL");
        Some((store, schema))
    }

    pub async fn drop_schema(store: Arc<PostgresStore>, schema: String) {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(store.pool())
            .await
            .expect("drop the test schema");
        store.close().await;
    }
}

#[cfg(feature = "postgres")]
use postgres_support::*;

#[cfg(feature = "postgres")]
suite!(postgres, connect(), drop_schema);

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_run_all() {
    let Some(url) = url() else { return };
    let made = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let outcome = tokio::spawn({
        let made = made.clone();
        async move {
            conformance::run_all(|| {
                let url = url.clone();
                let made = made.clone();
                async move {
                    let schema = fresh_schema();
                    made.lock().expect("lock").push(schema.clone());
                    number_manager::store::PostgresStore::connect_with_schema(&url, &schema)
                        .await
                        .expect("connect to PostgreSQL")
                }
            })
            .await
        }
    })
    .await;
    let schemas: Vec<String> = made.lock().expect("lock").clone();
    if let Some(url) = postgres_support::url() {
        let pool = sqlx::PgPool::connect(&url)
            .await
            .expect("connect to PostgreSQL");
        for s in schemas {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
                .execute(&pool)
                .await
                .expect("drop a test schema");
        }
        pool.close().await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
