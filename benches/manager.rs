//! NumberManager throughput and the listing-cost target.
//!
//! - `list_page/1k` vs `list_page/1M`: one 50-number page from an account that
//!   owns a thousand numbers and from one that owns a million. The target is
//!   that the two cost about the same (the ratio is what BENCHMARKS.md reports).
//! - `activate_many/1000`: buying 1,000 searched numbers in one collection call
//!   (per-number cost = time / 1000).
//! - `create_release`: one single-number create followed by its release.
//!
//! `cargo bench --bench manager -- --test` runs each once as a smoke test.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
use number_manager::manager::ListOptions;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{BatchMode, MemoryStore, Store, Write};
use number_manager::{NumberManager, Options, PhoneNumber, PublicChange};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

struct Setup {
    manager: NumberManager,
    store: Arc<MemoryStore>,
    small: AccountId,
    large: AccountId,
    buyer: AccountId,
}

fn setup() -> Setup {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let small = accounts.add("small", "Small", Some(&master)).unwrap();
    let large = accounts.add("large", "Large", Some(&master)).unwrap();
    let buyer = accounts.add("buyer", "Buyer", Some(&master)).unwrap();
    accounts.set_allow_additions(&buyer, true);
    let store = Arc::new(MemoryStore::new());
    let carrier = Arc::new(SimulatedCarrier::new(7).accept_any_number());
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts)
        .carriers(CarrierRegistry::new().with(carrier))
        .build();
    Setup {
        manager,
        store,
        small,
        large,
        buyer,
    }
}

async fn seed(store: &MemoryStore, owner: &AccountId, base: u64, count: u64, state: NumberState) {
    let now = chrono::Utc::now();
    let mut writes = Vec::with_capacity(10_000);
    for i in 0..count {
        let n = PhoneNumber::from_e164(&format!("+1{}", base + i)).unwrap();
        let mut r = NumberRecord::new(n, state, "simulated", now);
        if state != NumberState::Discovery {
            r.assigned_to = Some(owner.clone());
        }
        writes.push(Write::Insert(r));
        if writes.len() == 10_000 {
            store
                .write_batch(std::mem::take(&mut writes), BatchMode::PerItem)
                .await
                .unwrap();
        }
    }
    if !writes.is_empty() {
        store.write_batch(writes, BatchMode::PerItem).await.unwrap();
    }
}

fn list_page(c: &mut Criterion) {
    let rt = runtime();
    let s = setup();
    rt.block_on(seed(
        &s.store,
        &s.small,
        2_000_000_000,
        1_000,
        NumberState::InService,
    ));
    rt.block_on(seed(
        &s.store,
        &s.large,
        3_000_000_000,
        1_000_000,
        NumberState::InService,
    ));
    let mut group = c.benchmark_group("list_page");
    group.measurement_time(Duration::from_secs(5));
    for (label, account, start) in [
        ("1k", &s.small, "+12000000500"),
        ("1M", &s.large, "+13000500000"),
    ] {
        let opts = Options::as_account(account);
        let list = ListOptions {
            page_size: Some(50),
            start_key: Some(PhoneNumber::from_e164(start).unwrap()),
            ..Default::default()
        };
        group.bench_with_input(BenchmarkId::from_parameter(label), &list, |b, list| {
            b.iter(|| {
                let page = rt
                    .block_on(s.manager.list_numbers(account, list, &opts))
                    .unwrap();
                black_box(page.numbers.len())
            })
        });
    }
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
                let s = setup();
                rt.block_on(seed(
                    &s.store,
                    &s.buyer,
                    4_150_000_000,
                    1000,
                    NumberState::Discovery,
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
    let s = setup();
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
