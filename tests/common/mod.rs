//! Shared test world: an account tree like the seeds' (master -> reseller ->
//! customer -> sub-account, plus an unrelated customer), a manual clock at a
//! seeds-era Gregorian second, and the embedded default store.
#![allow(dead_code)]

use std::sync::Arc;

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, LocalCarrier, SimulatedCarrier};
use number_manager::clock::ManualClock;
use number_manager::e911::SimulatedE911;
use number_manager::store::{MemoryStore, Store};
use number_manager::{Config, NumberManager, Options};

pub const T0: i64 = 63_628_550_806;

pub struct World {
    pub manager: NumberManager,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<MemoryAccounts>,
    pub clock: Arc<ManualClock>,
    pub carrier: Arc<SimulatedCarrier>,
    pub e911: Arc<SimulatedE911>,
    pub master: AccountId,
    pub reseller: AccountId,
    pub customer: AccountId,
    pub sub: AccountId,
    pub other: AccountId,
}

impl World {
    pub fn new() -> Self {
        Self::with(Arc::new(MemoryStore::new()), Config::default())
    }

    pub fn with(store: Arc<dyn Store>, config: Config) -> Self {
        Self::with_carrier(store, config, SimulatedCarrier::new(2600))
    }

    /// A world whose simulated carrier is `carrier`.
    pub fn with_carrier(store: Arc<dyn Store>, config: Config, carrier: SimulatedCarrier) -> Self {
        let accounts = Arc::new(MemoryAccounts::new());
        let master = accounts
            .add("master0000000000000000000000000a", "Master", None)
            .unwrap();
        accounts.set_master(&master, true);
        let reseller = accounts
            .add(
                "reseller00000000000000000000000b",
                "Reseller",
                Some(&master),
            )
            .unwrap();
        let customer = accounts
            .add("009afc511c97b2ae693c6cc4920988e8", "", Some(&reseller))
            .unwrap();
        accounts.set_allow_additions(&customer, true);
        let sub = accounts
            .add("sub00000000000000000000000000000", "Sub", Some(&customer))
            .unwrap();
        let other = accounts
            .add("other000000000000000000000000000", "Other", Some(&reseller))
            .unwrap();
        let clock = Arc::new(ManualClock::at_gregorian(T0));
        let carrier = Arc::new(carrier);
        let e911 = Arc::new(SimulatedE911::seed_demo());
        let carriers = CarrierRegistry::new()
            .with(Arc::new(LocalCarrier::new(store.clone())))
            .with(carrier.clone());
        let manager = NumberManager::builder()
            .store(store.clone())
            .accounts(accounts.clone())
            .carriers(carriers)
            .e911(e911.clone())
            .clock(clock.clone())
            .config(config)
            .build();
        World {
            manager,
            store,
            accounts,
            clock,
            carrier,
            e911,
            master,
            reseller,
            customer,
            sub,
            other,
        }
    }

    pub fn as_master(&self) -> Options {
        Options::as_account(&self.master)
    }

    pub fn as_customer(&self) -> Options {
        Options::as_account(&self.customer)
    }
}

pub fn body(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The public JSON without the parts the seeds leave as placeholders.
pub fn shape(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(ro) = v.get_mut("_read_only").and_then(|r| r.as_object_mut()) {
        ro.remove("created");
        ro.remove("modified");
    }
    v
}

/// A store wrapper that counts calls, to prove collections are batched.
#[derive(Debug)]
pub struct CountingStore<S> {
    pub inner: S,
    pub get_many: std::sync::atomic::AtomicUsize,
    pub write_batch: std::sync::atomic::AtomicUsize,
    pub list: std::sync::atomic::AtomicUsize,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        CountingStore {
            inner,
            get_many: Default::default(),
            write_batch: Default::default(),
            list: Default::default(),
        }
    }
    pub fn reads(&self) -> usize {
        self.get_many.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn writes(&self) -> usize {
        self.write_batch.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn lists(&self) -> usize {
        self.list.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl<S: Store> Store for CountingStore<S> {
    async fn get_many(
        &self,
        numbers: &[number_manager::PhoneNumber],
    ) -> number_manager::Result<Vec<Option<number_manager::record::NumberRecord>>> {
        self.get_many
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get_many(numbers).await
    }
    async fn write_batch(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
    ) -> number_manager::Result<Vec<number_manager::store::WriteResult>> {
        self.write_batch
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.write_batch(writes, mode).await
    }
    async fn list(
        &self,
        query: &number_manager::store::ListQuery,
    ) -> number_manager::Result<number_manager::store::Page> {
        self.list.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.list(query).await
    }
    async fn get_idempotency(
        &self,
        key: &str,
    ) -> number_manager::Result<Option<number_manager::store::IdempotencyEntry>> {
        self.inner.get_idempotency(key).await
    }
    async fn begin_idempotency(
        &self,
        entry: number_manager::store::IdempotencyEntry,
    ) -> number_manager::Result<bool> {
        self.inner.begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> number_manager::Result<bool> {
        self.inner.renew_idempotency(key, owner, lease_until).await
    }
    async fn finish_idempotency(
        &self,
        key: &str,
        owner: &str,
        response: serde_json::Value,
    ) -> number_manager::Result<()> {
        self.inner.finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> number_manager::Result<()> {
        self.inner.abandon_idempotency(key, owner).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
        journal: &number_manager::store::Journal,
    ) -> number_manager::Result<Vec<number_manager::store::WriteResult>> {
        self.write_batch
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner
            .write_batch_journaled(writes, mode, journal)
            .await
    }
    async fn purge_idempotency(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> number_manager::Result<usize> {
        self.inner.purge_idempotency(now).await
    }
}
