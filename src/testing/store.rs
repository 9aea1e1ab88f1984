//! [`FaultyStore`]: any [`Store`] whose calls fail as a [`FaultPlan`] says.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::plan::{Failures, Injector};
use super::FaultPlan;
use crate::error::{DatabaseFault, Error, Result};
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::NumberRecord;
use crate::store::{
    BatchMode, IdempotencyEntry, Journal, ListQuery, Page, Store, Write, WriteResult,
};

const FAILURES: Failures = Failures {
    error: |method| Error::database(format!("injected fault in {method}")),
    timeout: |method| Error::Database {
        cause: format!("timeout (injected) in {method}"),
        fault: DatabaseFault::Unavailable,
        source: None,
    },
};

/// Wraps any [`Store`] and fails its calls as a [`FaultPlan`] says; every
/// other call goes straight to the inner store.
///
/// The method names a plan can single out are those of [`Store`]:
/// `get_many`, `write_batch`, `write_batch_journaled`, `list`, `count`,
/// `get_idempotency`, `begin_idempotency`, `renew_idempotency`,
/// `finish_idempotency`, `abandon_idempotency`, `purge_idempotency`,
/// `purge_tombstones`, `write_batch_outboxed`, `outbox_append`,
/// `outbox_pending`, `outbox_ack`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::store::{MemoryStore, Store, StoreExt};
/// use number_manager::testing::{FaultKind, FaultPlan, FaultyStore};
/// use number_manager::PhoneNumber;
///
/// let n = PhoneNumber::from_e164("+14155550100").unwrap();
/// let store = FaultyStore::new(MemoryStore::new(), FaultPlan::nth(2, FaultKind::Error));
/// assert!(store.get(&n).await.unwrap().is_none()); // call 1 goes through
/// assert!(store.get(&n).await.is_err()); // call 2 fails
/// assert!(store.get(&n).await.is_ok()); // and the store is healthy again
/// assert_eq!((store.calls(), store.injected()), (3, 1));
/// # });
/// ```
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Injector,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`, failing calls as `plan` says.
    pub fn new(inner: S, plan: FaultPlan) -> Self {
        FaultyStore {
            inner,
            faults: Injector::new(plan),
        }
    }

    /// Replaces the plan and resets the counters.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.faults.set_plan(plan);
    }

    /// Calls the plan matched since it was set.
    pub fn calls(&self) -> usize {
        self.faults.calls()
    }

    /// Faults injected since the plan was set.
    pub fn injected(&self) -> usize {
        self.faults.injected()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: Store> Store for FaultyStore<S> {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        let call = self.inner.get_many(numbers);
        self.faults.run("get_many", &FAILURES, call).await
    }
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        let call = self.inner.write_batch(writes, mode);
        self.faults.run("write_batch", &FAILURES, call).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let call = self.inner.list(query);
        self.faults.run("list", &FAILURES, call).await
    }
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        let call = self.inner.get_idempotency(key);
        self.faults.run("get_idempotency", &FAILURES, call).await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        let call = self.inner.begin_idempotency(entry);
        self.faults.run("begin_idempotency", &FAILURES, call).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let call = self.inner.renew_idempotency(key, owner, lease_until);
        self.faults.run("renew_idempotency", &FAILURES, call).await
    }
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        let call = self.inner.finish_idempotency(key, owner, response);
        self.faults.run("finish_idempotency", &FAILURES, call).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        let call = self.inner.abandon_idempotency(key, owner);
        self.faults
            .run("abandon_idempotency", &FAILURES, call)
            .await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        let call = self.inner.write_batch_journaled(writes, mode, journal);
        self.faults
            .run("write_batch_journaled", &FAILURES, call)
            .await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        let call = self.inner.purge_idempotency(now);
        self.faults.run("purge_idempotency", &FAILURES, call).await
    }
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        let call = self.inner.purge_tombstones(deleted_before);
        self.faults.run("purge_tombstones", &FAILURES, call).await
    }
    async fn count(&self, query: &ListQuery) -> Result<usize> {
        let call = self.inner.count(query);
        self.faults.run("count", &FAILURES, call).await
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
        self.faults
            .run("write_batch_outboxed", &FAILURES, call)
            .await
    }
    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        let call = self.inner.outbox_append(events);
        self.faults.run("outbox_append", &FAILURES, call).await
    }
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        let call = self.inner.outbox_pending(after_seq, limit);
        self.faults.run("outbox_pending", &FAILURES, call).await
    }
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        let call = self.inner.outbox_ack(up_to_seq);
        self.faults.run("outbox_ack", &FAILURES, call).await
    }
}
