//! What the benches share: a manager over a given store with a small account
//! tree, and bulk seeding of numbers.

use std::sync::Arc;

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
use number_manager::manager::ListOptions;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{BatchMode, Store, Write};
use number_manager::{NumberManager, Options, PhoneNumber};
use tokio::runtime::Runtime;

pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A manager over one store, with a master account and three children:
/// `small` and `large` to list, `buyer` (allowed additions) to buy.
pub struct Setup {
    pub manager: NumberManager,
    pub small: AccountId,
    pub large: AccountId,
    pub buyer: AccountId,
}

pub fn setup(store: Arc<dyn Store>) -> Setup {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).expect("account");
    accounts.set_master(&master, true);
    let small = accounts
        .add("small", "Small", Some(&master))
        .expect("account");
    let large = accounts
        .add("large", "Large", Some(&master))
        .expect("account");
    let buyer = accounts
        .add("buyer", "Buyer", Some(&master))
        .expect("account");
    accounts.set_allow_additions(&buyer, true);
    let carrier = Arc::new(SimulatedCarrier::new(7).accept_any_number());
    let manager = NumberManager::builder()
        .store(store)
        .accounts(accounts)
        .carriers(CarrierRegistry::new().with(carrier))
        .build();
    Setup {
        manager,
        small,
        large,
        buyer,
    }
}

/// Inserts `count` NANP numbers from `+1{base}` up, in `state`, owned by
/// `owner` (unowned for `discovery`), `batch` per write.
pub async fn seed(
    store: &dyn Store,
    owner: &AccountId,
    base: u64,
    count: u64,
    state: NumberState,
    batch: usize,
) {
    let now = chrono::Utc::now();
    let mut writes = Vec::with_capacity(batch);
    for i in 0..count {
        let n = PhoneNumber::from_e164(&format!("+1{}", base + i)).expect("number");
        let mut r = NumberRecord::new(n, state, "simulated", now);
        if state != NumberState::Discovery {
            r.assigned_to = Some(owner.clone());
        }
        writes.push(Write::Insert(r));
        if writes.len() == batch {
            store
                .write_batch(std::mem::take(&mut writes), BatchMode::PerItem)
                .await
                .expect("seed");
        }
    }
    if !writes.is_empty() {
        store
            .write_batch(writes, BatchMode::PerItem)
            .await
            .expect("seed");
    }
}

/// One benchmark per `(label, account, start key)`: a 50-number page of the
/// account's listing from that key.
pub fn list_pages(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    manager: &NumberManager,
    cases: [(&str, &AccountId, &str); 2],
) {
    for (label, account, start) in cases {
        let opts = Options::as_account(account);
        let list = ListOptions::default()
            .with_page_size(50)
            .with_start_key(PhoneNumber::from_e164(start).expect("number"));
        group.bench_with_input(BenchmarkId::from_parameter(label), &list, |b, list| {
            b.iter(|| {
                let page = rt
                    .block_on(manager.list_numbers(account, list, &opts))
                    .expect("list");
                black_box(page.numbers.len())
            })
        });
    }
}
