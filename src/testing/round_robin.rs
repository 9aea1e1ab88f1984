//! [`RoundRobinStore`]: several handles on one backend, used in turns.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::NumberRecord;
use crate::store::{
    BatchMode, IdempotencyEntry, Journal, ListQuery, Page, Store, Write, WriteResult,
};

/// Several stores on the same backend (two connection pools on one database,
/// as two processes would hold), each call going to the next one in turn.
/// Running the conformance suite through it checks that what one process
/// writes, the other reads.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::store::{MemoryStore, StoreExt};
/// use number_manager::testing::RoundRobinStore;
/// use number_manager::PhoneNumber;
///
/// let store = RoundRobinStore::new(vec![MemoryStore::new(), MemoryStore::new()]);
/// let n = PhoneNumber::from_e164("+14155550100").unwrap();
/// assert!(store.get(&n).await.unwrap().is_none());
/// assert_eq!(store.stores().len(), 2);
/// # });
/// ```
#[derive(Debug)]
pub struct RoundRobinStore<S> {
    stores: Vec<S>,
    turn: AtomicUsize,
}

impl<S: Store> RoundRobinStore<S> {
    /// Uses `stores` in turns, starting with the first. With no store at
    /// all, every call fails with [`Error::Database`].
    pub fn new(stores: Vec<S>) -> Self {
        RoundRobinStore {
            stores,
            turn: AtomicUsize::new(0),
        }
    }

    /// The stores, in turn order.
    pub fn stores(&self) -> &[S] {
        &self.stores
    }

    fn next(&self) -> Result<&S> {
        if self.stores.is_empty() {
            return Err(Error::database("RoundRobinStore has no store"));
        }
        let i = self.turn.fetch_add(1, Ordering::Relaxed) % self.stores.len();
        Ok(&self.stores[i])
    }
}

#[async_trait]
impl<S: Store> Store for RoundRobinStore<S> {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        self.next()?.get_many(numbers).await
    }
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        self.next()?.write_batch(writes, mode).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.next()?.list(query).await
    }
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        self.next()?.get_idempotency(key).await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        self.next()?.begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        self.next()?
            .renew_idempotency(key, owner, lease_until)
            .await
    }
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        self.next()?.finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        self.next()?.abandon_idempotency(key, owner).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        self.next()?
            .write_batch_journaled(writes, mode, journal)
            .await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        self.next()?.purge_idempotency(now).await
    }
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        self.next()?.purge_tombstones(deleted_before).await
    }
    async fn count(&self, query: &ListQuery) -> Result<usize> {
        self.next()?.count(query).await
    }
    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        self.next()?
            .write_batch_outboxed(writes, mode, journal, events)
            .await
    }
    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        self.next()?.outbox_append(events).await
    }
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        self.next()?.outbox_pending(after_seq, limit).await
    }
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        self.next()?.outbox_ack(up_to_seq).await
    }
}
