//! The same manager operations on each store, to choose a store by its costs.
//!
//! - `list_page/{store}/{1k,100k}`: one 50-number page from an account that
//!   owns a thousand numbers and from one that owns a hundred thousand (the
//!   ratio shows the listing is indexed, not scanned).
//! - `activate_many/{store}`: buying 1,000 searched numbers in one call.
//! - `create_release/{store}`: one create then its release.
//! - `write_batch/1000/{sqlite,sqlite_raw}`: 1,000 inserts of fresh numbers,
//!   as one `Store::write_batch` and as the raw driver (sqlx) inserting the
//!   same rows, already encoded, in one transaction on a file with the same
//!   schema: the ratio is what the store adds to the driver. Measured in
//!   CPU time of the process (on Unix), not wall time: the one commit's wait
//!   for the disk is the same for both and would only add noise.
//!
//! Stores: `memory`, `sqlite` (a file in the temp directory; synchronous =
//! FULL, so every commit waits for the disk), and `postgres` when
//! `NUMBER_MANAGER_PG_URL` is set (a fresh schema, dropped at the end).
//! `cargo bench --bench stores -- --test` runs each once as a smoke test.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use number_manager::record::{NumberRecord, Revision};
use number_manager::state::NumberState;
use number_manager::store::{BatchMode, MemoryStore, SqliteStore, Store, Write};
use number_manager::{Options, PhoneNumber, PublicChange};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use support::{list_pages, runtime, seed, setup};
use tokio::runtime::Runtime;

mod support;

/// A store under test, with what must happen when the bench is done.
struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    None,
    File(PathBuf),
    #[cfg(feature = "postgres")]
    Schema(Box<number_manager::store::PostgresStore>),
}

impl Backend {
    fn finish(self, rt: &Runtime) {
        match self.cleanup {
            Cleanup::None => {}
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            #[cfg(feature = "postgres")]
            Cleanup::Schema(store) => rt.block_on(async {
                let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", store.schema());
                sqlx::query(&drop)
                    .execute(store.pool())
                    .await
                    .expect("drop the bench schema");
                store.close().await;
            }),
        }
        let _ = rt;
    }
}

fn backends(rt: &Runtime) -> Vec<Backend> {
    let mut all = vec![Backend {
        name: "memory",
        store: Arc::new(MemoryStore::new()),
        cleanup: Cleanup::None,
    }];
    let dir = std::env::temp_dir().join(format!("nm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let sqlite = rt
        .block_on(SqliteStore::open(dir.join("numbers.db")))
        .expect("open the SQLite file");
    all.push(Backend {
        name: "sqlite",
        store: Arc::new(sqlite),
        cleanup: Cleanup::File(dir),
    });
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("NUMBER_MANAGER_PG_URL") {
        if !url.is_empty() {
            let schema = format!("nm_bench_{}", std::process::id());
            let pg = rt
                .block_on(number_manager::store::PostgresStore::connect_with_schema(
                    &url, &schema,
                ))
                .expect("connect to PostgreSQL");
            all.push(Backend {
                name: "postgres",
                store: Arc::new(pg.clone()),
                cleanup: Cleanup::Schema(Box::new(pg)),
            });
        }
    }
    all
}

fn stores(c: &mut Criterion) {
    let rt = runtime();
    for backend in backends(&rt) {
        let s = setup(backend.store.clone());
        let store = &*backend.store;
        rt.block_on(seed(
            store,
            &s.small,
            2_000_000_000,
            1_000,
            NumberState::InService,
            1000,
        ));
        rt.block_on(seed(
            store,
            &s.large,
            3_000_000_000,
            100_000,
            NumberState::InService,
            1000,
        ));

        let mut group = c.benchmark_group(format!("list_page/{}", backend.name));
        group.measurement_time(Duration::from_secs(3));
        list_pages(
            &mut group,
            &rt,
            &s.manager,
            [
                ("1k", &s.small, "+12000000500"),
                ("100k", &s.large, "+13000050000"),
            ],
        );
        group.finish();

        // Each iteration buys 1,000 fresh search results.
        let next_base = AtomicU64::new(4_150_000_000);
        let mut group = c.benchmark_group("activate_many");
        group.sample_size(10);
        group.throughput(Throughput::Elements(1000));
        group.bench_function(backend.name, |b| {
            b.iter_batched(
                || {
                    let base = next_base.fetch_add(1000, Ordering::Relaxed);
                    rt.block_on(seed(
                        store,
                        &s.buyer,
                        base,
                        1000,
                        NumberState::Discovery,
                        1000,
                    ));
                    (0..1000u64)
                        .map(|i| format!("+1{}", base + i))
                        .collect::<Vec<_>>()
                },
                |numbers| {
                    let opts = Options::as_account(&s.buyer);
                    let r = rt
                        .block_on(s.manager.activate_many(
                            &s.buyer,
                            &numbers,
                            Default::default(),
                            &opts,
                        ))
                        .expect("activate");
                    assert_eq!(r.success.len(), 1000, "{:?}", r.errors.iter().next());
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();

        let mut group = c.benchmark_group("create_release");
        group.measurement_time(Duration::from_secs(3));
        let opts = Options::as_account(&s.buyer);
        group.bench_function(backend.name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    s.manager
                        .create(&s.buyer, "+14155550100", PublicChange::default(), &opts)
                        .await
                        .expect("create");
                    s.manager
                        .release("+14155550100", &opts)
                        .await
                        .expect("release");
                })
            })
        });
        group.finish();
        drop(s);
        backend.finish(&rt);
    }
}

/// 1,000 fresh unowned records from `+1{base}` up.
fn fresh_records(base: u64) -> Vec<NumberRecord> {
    let now = chrono::Utc::now();
    (0..1000u64)
        .map(|i| {
            let n = PhoneNumber::from_e164(&format!("+1{}", base + i)).expect("number");
            NumberRecord::new(n, NumberState::Discovery, "simulated", now)
        })
        .collect()
}

/// The columns of one row as the raw baseline binds them.
struct RawRow {
    number: String,
    state: &'static str,
    created_ns: i64,
    modified_ns: i64,
    doc: String,
}

fn raw_rows(records: Vec<NumberRecord>) -> Vec<RawRow> {
    records
        .into_iter()
        .map(|mut r| {
            r.revision = Revision(1);
            RawRow {
                number: r.number.as_str().to_string(),
                state: r.state.as_str(),
                created_ns: r.created.timestamp_nanos_opt().expect("time"),
                modified_ns: r.modified.timestamp_nanos_opt().expect("time"),
                doc: serde_json::to_string(&r).expect("encode"),
            }
        })
        .collect()
}

/// The baseline: the driver inserting the rows in one transaction.
async fn raw_insert(pool: &SqlitePool, rows: &[RawRow]) {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
    for r in rows {
        sqlx::query(
            "INSERT INTO nm_numbers (number, revision, state, assigned_to, created_ns, modified_ns, expires_ns, doc)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.number)
        .bind(1i64)
        .bind(r.state)
        .bind(None::<String>)
        .bind(r.created_ns)
        .bind(r.modified_ns)
        .bind(None::<i64>)
        .bind(&r.doc)
        .execute(&mut *tx)
        .await
        .expect("insert");
    }
    tx.commit().await.expect("commit");
}

/// The process's CPU time (every thread: the runtime's and the SQLite
/// driver's worker), so that waits for the disk and for the other programs
/// sharing the machine's cores are left out of the ratio.
#[cfg(unix)]
fn cpu_now() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Elsewhere, wall time since the first call.
#[cfg(not(unix))]
fn cpu_now() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// The CPU time of `iters` runs, each prepared (untimed) by `setup`.
fn cpu_time_of<R: FnOnce()>(iters: u64, mut setup: impl FnMut(u64) -> R) -> Duration {
    let mut total = Duration::ZERO;
    for i in 0..iters {
        let run = setup(i);
        let start = cpu_now();
        run();
        total += cpu_now().saturating_sub(start);
    }
    total
}

/// `write_batch` of 1,000 inserts on SQLite against the raw driver, each on
/// its own file made by `SqliteStore::open` (the same schema and indexes).
fn write_batch(c: &mut Criterion) {
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("nm-bench-wb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let store = rt
        .block_on(SqliteStore::open(dir.join("store.db")))
        .expect("open the SQLite file");
    let raw_path = dir.join("raw.db");
    rt.block_on(async {
        SqliteStore::open(&raw_path)
            .await
            .expect("create the raw file")
            .close()
            .await
    });
    let connect = SqliteConnectOptions::new()
        .filename(&raw_path)
        .synchronous(SqliteSynchronous::Full);
    let raw = rt
        .block_on(
            SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(connect),
        )
        .expect("open the raw file");

    let (rt, store, raw) = (&rt, &store, &raw);
    let next_base = AtomicU64::new(5_000_000_000);
    let mut group = c.benchmark_group("write_batch/1000");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1000));
    group.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            cpu_time_of(iters, |_| {
                let base = next_base.fetch_add(1000, Ordering::Relaxed);
                let writes: Vec<Write> =
                    fresh_records(base).into_iter().map(Write::Insert).collect();
                move || {
                    let results = rt
                        .block_on(store.write_batch(writes, BatchMode::PerItem))
                        .expect("write_batch");
                    assert!(results.iter().all(|r| r.is_ok()), "{:?}", results.first());
                }
            })
        })
    });
    group.bench_function("sqlite_raw", |b| {
        b.iter_custom(|iters| {
            cpu_time_of(iters, |_| {
                let rows = raw_rows(fresh_records(next_base.fetch_add(1000, Ordering::Relaxed)));
                move || rt.block_on(raw_insert(raw, &rows))
            })
        })
    });
    group.finish();
    rt.block_on(async {
        store.close().await;
        raw.close().await;
    });
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group! {
    name = benches;
    // Short runs: the machine's two cores are shared with builds.
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = write_batch, stores
}
criterion_main!(benches);
