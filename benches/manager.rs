//! NumberManager throughput and the listing-cost target.
//!
//! - `list_page/1k` vs `list_page/1M`: one 50-number page from an account that
//!   owns a thousand numbers and from one that owns a million. The target is
//!   that the two cost about the same (the ratio is what BENCHMARKS.md reports).
//! - `activate_many/1000`: buying 1,000 searched numbers in one collection call
//!   (per-number cost = time / 1000).
//! - `create_release`: one single-number create followed by its release.
//! - `identify/1M`: `NumberManager::identify` of 1,000 numbers spread over a
//!   MemoryStore holding 1,000,000 in-service numbers, against a plain
//!   `HashMap<String, String>` (number to account id) of the same million
//!   answering the same 1,000 lookups: the ratio is the cost of the manager's
//!   read path (parse, store read, authorization, answer) over a bare lookup.
//!
//! `cargo bench --bench manager -- --test` runs each once as a smoke test.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use number_manager::state::NumberState;
use number_manager::store::MemoryStore;
use number_manager::{Options, PublicChange};
use support::{list_pages, runtime, seed, setup};

mod support;

fn list_page(c: &mut Criterion) {
    let rt = runtime();
    let store = Arc::new(MemoryStore::new());
    let s = setup(store.clone());
    rt.block_on(seed(
        &*store,
        &s.small,
        2_000_000_000,
        1_000,
        NumberState::InService,
        10_000,
    ));
    rt.block_on(seed(
        &*store,
        &s.large,
        3_000_000_000,
        1_000_000,
        NumberState::InService,
        10_000,
    ));
    let mut group = c.benchmark_group("list_page");
    group.measurement_time(Duration::from_secs(5));
    list_pages(
        &mut group,
        &rt,
        &s.manager,
        [
            ("1k", &s.small, "+12000000500"),
            ("1M", &s.large, "+13000500000"),
        ],
    );
    group.finish();
    identify(c, &rt, &s);
}

/// Identify against a bare `HashMap` over the same million numbers (the
/// large account's, seeded by `list_page`).
fn identify(c: &mut Criterion, rt: &tokio::runtime::Runtime, s: &support::Setup) {
    const BASE: u64 = 3_000_000_000;
    let map: HashMap<String, String> = (0..1_000_000u64)
        .map(|i| (format!("+1{}", BASE + i), s.large.to_string()))
        .collect();
    // 1,000 numbers spread over the million (a stride coprime to it).
    let probes: Vec<String> = (0..1_000u64)
        .map(|i| format!("+1{}", BASE + (i * 7_919) % 1_000_000))
        .collect();
    let opts = Options::system();
    let mut group = c.benchmark_group("identify/1M");
    group.throughput(Throughput::Elements(probes.len() as u64));
    group.bench_function("manager", |b| {
        b.iter(|| {
            rt.block_on(async {
                for n in &probes {
                    black_box(s.manager.identify(black_box(n), &opts).await.unwrap());
                }
            })
        })
    });
    group.bench_function("hashmap", |b| {
        b.iter(|| {
            for n in &probes {
                black_box(map.get(black_box(n.as_str())));
            }
        })
    });
    group.finish();
}

fn activate_many(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("activate_many");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000", |b| {
        b.iter_batched(
            || {
                let store = Arc::new(MemoryStore::new());
                let s = setup(store.clone());
                rt.block_on(seed(
                    &*store,
                    &s.buyer,
                    4_150_000_000,
                    1000,
                    NumberState::Discovery,
                    1000,
                ));
                let numbers: Vec<String> = (0..1000u64)
                    .map(|i| format!("+1{}", 4_150_000_000 + i))
                    .collect();
                (s, numbers)
            },
            |(s, numbers)| {
                let opts = Options::as_account(&s.buyer);
                let r = rt
                    .block_on(s.manager.activate_many(
                        &s.buyer,
                        &numbers,
                        Default::default(),
                        &opts,
                    ))
                    .unwrap();
                assert_eq!(r.success.len(), 1000);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn create_release(c: &mut Criterion) {
    let rt = runtime();
    let s = setup(Arc::new(MemoryStore::new()));
    let opts = Options::as_account(&s.buyer);
    c.bench_function("create_release", |b| {
        b.iter(|| {
            rt.block_on(async {
                s.manager
                    .create(&s.buyer, "+14155550100", PublicChange::default(), &opts)
                    .await
                    .unwrap();
                s.manager.release("+14155550100", &opts).await.unwrap();
            })
        })
    });
}

criterion_group!(benches, list_page, activate_many, create_release);
criterion_main!(benches);
