//! [`Counting`]: any store, carrier or E911 provider, with its calls counted.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::carrier::{
    Availability, Capabilities, Carrier, CarrierHealth, NumberOrder, Ownership, SearchRequest,
    SearchResult,
};
use crate::e911::{E911Address, E911Provider, Validation};
use crate::error::Result;
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::NumberRecord;
use crate::store::{
    BatchMode, IdempotencyEntry, Journal, ListQuery, Page, Store, Write, WriteResult,
};

/// Wraps a [`Store`], [`Carrier`] or [`E911Provider`] and counts its async
/// calls by method name (the trait's own names: `get_many`, `write_batch`,
/// `acquire`, `provision`, ...). Calls are counted when they start, whatever
/// they answer.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::store::{ListQuery, MemoryStore, Store, StoreExt};
/// use number_manager::testing::Counting;
/// use number_manager::PhoneNumber;
///
/// let store = Counting::new(MemoryStore::new());
/// let n = PhoneNumber::from_e164("+14155550100").unwrap();
/// store.get(&n).await.unwrap();
/// store.list(&ListQuery::default()).await.unwrap();
/// assert_eq!(store.calls("get_many"), 1);
/// assert_eq!(store.calls("write_batch"), 0);
/// assert_eq!(store.total(), 2);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Counting<T> {
    inner: T,
    counts: Mutex<BTreeMap<&'static str, usize>>,
}

impl<T> Counting<T> {
    /// Wraps `inner` with every count at zero.
    pub fn new(inner: T) -> Self {
        Counting {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, usize>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many calls of `method` were made.
    pub fn calls(&self, method: &str) -> usize {
        self.lock().get(method).copied().unwrap_or(0)
    }

    /// How many calls were made, all methods together.
    pub fn total(&self) -> usize {
        self.lock().values().sum()
    }

    /// Every count, by method name.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.lock().clone()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    /// The wrapped value.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn count<F: Future>(&self, method: &'static str, call: F) -> F {
        *self.lock().entry(method).or_default() += 1;
        call
    }
}

#[async_trait]
impl<S: Store> Store for Counting<S> {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        self.count("get_many", self.inner.get_many(numbers)).await
    }
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        self.count("write_batch", self.inner.write_batch(writes, mode))
            .await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.count("list", self.inner.list(query)).await
    }
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        self.count("get_idempotency", self.inner.get_idempotency(key))
            .await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        self.count("begin_idempotency", self.inner.begin_idempotency(entry))
            .await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let call = self.inner.renew_idempotency(key, owner, lease_until);
        self.count("renew_idempotency", call).await
    }
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        let call = self.inner.finish_idempotency(key, owner, response);
        self.count("finish_idempotency", call).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        let call = self.inner.abandon_idempotency(key, owner);
        self.count("abandon_idempotency", call).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        let call = self.inner.write_batch_journaled(writes, mode, journal);
        self.count("write_batch_journaled", call).await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        self.count("purge_idempotency", self.inner.purge_idempotency(now))
            .await
    }
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        let call = self.inner.purge_tombstones(deleted_before);
        self.count("purge_tombstones", call).await
    }
    async fn count(&self, query: &ListQuery) -> Result<usize> {
        Counting::count(self, "count", self.inner.count(query)).await
    }
    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        let call = self
            .inner
            .write_batch_outboxed(writes, mode, journal, events);
        self.count("write_batch_outboxed", call).await
    }
    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        self.count("outbox_append", self.inner.outbox_append(events))
            .await
    }
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        let call = self.inner.outbox_pending(after_seq, limit);
        self.count("outbox_pending", call).await
    }
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        self.count("outbox_ack", self.inner.outbox_ack(up_to_seq))
            .await
    }
}

#[async_trait]
impl<C: Carrier> Carrier for Counting<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn health(&self) -> CarrierHealth {
        self.inner.health().await
    }
    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        self.count("find_numbers", self.inner.find_numbers(request))
            .await
    }
    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        self.count("acquire", self.inner.acquire(order)).await
    }
    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        self.count("disconnect", self.inner.disconnect(order)).await
    }
    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        self.count("check_numbers", self.inner.check_numbers(numbers))
            .await
    }
    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        self.count("owned_numbers", self.inner.owned_numbers(numbers))
            .await
    }
}

#[async_trait]
impl<E: E911Provider> E911Provider for Counting<E> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn validate(&self, address: &E911Address) -> Result<Validation> {
        self.count("validate", self.inner.validate(address)).await
    }
    async fn provision(
        &self,
        number: &PhoneNumber,
        address: &E911Address,
        caller_name: &str,
    ) -> Result<E911Address> {
        let call = self.inner.provision(number, address, caller_name);
        self.count("provision", call).await
    }
    async fn remove(&self, number: &PhoneNumber) -> Result<()> {
        self.count("remove", self.inner.remove(number)).await
    }
}
