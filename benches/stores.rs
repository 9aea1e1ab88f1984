//! The same manager operations on each store, to choose a store by its costs.
//!
//! - `list_page/{store}/{1k,100k}`: one 50-number page from an account that
//!   owns a thousand numbers and from one that owns a hundred thousand (the
//!   ratio shows the listing is indexed, not scanned).
//! - `activate_many/{store}`: buying 1,000 searched numbers in one call.
//! - `create_release/{store}`: one create then its release.
//!
//! Stores: `memory`, `sqlite` (a file in the temp directory; synchronous =
//! FULL, so every commit waits for the disk), and `postgres` when
//! `NUMBER_MANAGER_PG_URL` is set (a fresh schema, dropped at the end).
//! `cargo bench --bench stores -- --test` runs each once as a smoke test.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use number_manager::state::NumberState;
use number_manager::store::{MemoryStore, SqliteStore, Store};
use number_manager::{Options, PublicChange};
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
                criterion::BatchSize::PerIteration,
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

criterion_group! {
    name = benches;
    // Short runs: the machine's two cores are shared with builds.
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = stores
}
criterion_main!(benches);
