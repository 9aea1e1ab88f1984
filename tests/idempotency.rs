//! Idempotency keys when the first call dies: the key is held under a lease,
//! a retry takes it over once the lease lapses, and it answers the numbers the
//! dead call committed from the key's progress instead of doing them again.
//! The dead call is a request future dropped mid-way (as a killed process
//! leaves it: no finish, no abandon); `tests/crash_safety.rs` kills a real
//! process.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::World;
use number_manager::carrier::Fault;
use number_manager::manager::SearchQuery;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{
    BatchMode, IdempotencyEntry, Journal, ListQuery, MemoryStore, Page, Store, Write, WriteResult,
};
use number_manager::{Config, ConflictKind, Error, Options, PhoneNumber, PublicChange};
use serde_json::{json, Map, Value};

async fn discover(w: &World, prefix: &str, count: usize) -> Vec<String> {
    let hits = w
        .manager
        .search(&SearchQuery::new(prefix, count), &Options::system())
        .await
        .unwrap();
    assert_eq!(hits.len(), count);
    hits.iter().map(|h| h.number.to_string()).collect()
}

/// Past the lease of a pending key (a purchase claim's life and a half).
fn past_the_lease() -> chrono::Duration {
    chrono::Duration::from_std(Config::default().claim_ttl * 2).expect("minutes fit")
}

fn still_running(e: &Error) -> bool {
    matches!(
        e,
        Error::Conflict {
            kind: ConflictKind::KeyRunning,
            ..
        }
    )
}

#[tokio::test]
async fn a_retry_after_the_first_call_died_mid_purchase_gets_the_outcome() {
    let w = World::new();
    let numbers = discover(&w, "212", 5).await;
    // The fourth purchase hangs: the first call dies with its claims written,
    // four numbers bought from the carrier and nothing committed.
    let stuck = PhoneNumber::parse(&numbers[3]).unwrap();
    w.carrier
        .fail_number(stuck, Fault::Delay(Duration::from_secs(3600)));
    let o = w.as_customer().idempotency_key("buy-5");
    let first = tokio::time::timeout(
        Duration::from_millis(300),
        w.manager
            .activate_many(&w.customer, &numbers, Map::new(), &o),
    )
    .await;
    assert!(first.is_err(), "the first call hangs and is dropped");
    assert_eq!(w.carrier.purchase_count(), 4);

    // While its lease may still be held, a retry is told the call is running.
    let early = w
        .manager
        .activate_many(&w.customer, &numbers, Map::new(), &o)
        .await
        .unwrap_err();
    assert!(still_running(&early), "{early:?}");

    // Once it lapsed (and the dead call's claims with it), the retry takes
    // the key over and finishes the job: every number bought exactly once.
    w.clock.advance(past_the_lease());
    let retry = w
        .manager
        .activate_many(&w.customer, &numbers, Map::new(), &o)
        .await
        .unwrap();
    assert!(retry.errors.is_empty(), "{:?}", retry.errors);
    assert_eq!(retry.success.len(), 5);
    for n in &numbers {
        let r = &retry.success[n].record;
        assert_eq!(r.state, NumberState::InService, "{n}");
        assert_eq!(r.assigned_to.as_ref(), Some(&w.customer));
    }
    assert_eq!(w.carrier.purchase_count(), 5, "nothing bought twice");

    // And that answer is now the key's answer.
    let again = w
        .manager
        .activate_many(&w.customer, &numbers, Map::new(), &o)
        .await
        .unwrap();
    assert_eq!(again, retry);
    assert_eq!(w.carrier.purchase_count(), 5);
}

/// A store whose `finish_idempotency` never returns while `hang` is set: the
/// call dies after committing everything, before recording its answer.
#[derive(Debug, Default)]
struct FinishHangs {
    inner: MemoryStore,
    hang: AtomicBool,
}

#[async_trait]
impl Store for FinishHangs {
    async fn get_many(
        &self,
        numbers: &[PhoneNumber],
    ) -> number_manager::Result<Vec<Option<NumberRecord>>> {
        self.inner.get_many(numbers).await
    }
    async fn write_batch(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
    ) -> number_manager::Result<Vec<WriteResult>> {
        self.inner.write_batch(writes, mode).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> number_manager::Result<Vec<WriteResult>> {
        self.inner
            .write_batch_journaled(writes, mode, journal)
            .await
    }
    async fn list(&self, query: &ListQuery) -> number_manager::Result<Page> {
        self.inner.list(query).await
    }
    async fn get_idempotency(&self, key: &str) -> number_manager::Result<Option<IdempotencyEntry>> {
        self.inner.get_idempotency(key).await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> number_manager::Result<bool> {
        self.inner.begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> number_manager::Result<bool> {
        self.inner.renew_idempotency(key, owner, lease_until).await
    }
    async fn finish_idempotency(
        &self,
        key: &str,
        owner: &str,
        response: Value,
    ) -> number_manager::Result<()> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> number_manager::Result<()> {
        self.inner.abandon_idempotency(key, owner).await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> number_manager::Result<usize> {
        self.inner.purge_idempotency(now).await
    }
    async fn purge_tombstones(
        &self,
        deleted_before: DateTime<Utc>,
    ) -> number_manager::Result<usize> {
        self.inner.purge_tombstones(deleted_before).await
    }
    async fn count(&self, query: &ListQuery) -> number_manager::Result<usize> {
        self.inner.count(query).await
    }
}

#[tokio::test]
async fn a_retry_after_the_first_call_died_having_committed_everything_gets_its_answer() {
    let store = Arc::new(FinishHangs::default());
    store.hang.store(true, Ordering::SeqCst);
    let w = World::with(store.clone(), Config::default());
    let numbers = ["4155552001", "4155552002", "4155552003"];
    let change = || PublicChange::fields(json!({"label": "first"}).as_object().unwrap().clone());
    let o = w.as_customer().idempotency_key("order-1");
    let first = tokio::time::timeout(
        Duration::from_millis(300),
        w.manager.create_many(&w.customer, &numbers, change(), &o),
    )
    .await;
    assert!(
        first.is_err(),
        "the first call dies before recording its answer"
    );
    let stored = w
        .store
        .get_many(
            &numbers
                .iter()
                .map(|n| PhoneNumber::parse(n).unwrap())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    assert!(
        stored.iter().all(|r| r.is_some()),
        "every number was committed"
    );
    let events = w.manager.audit_log().unwrap().len();
    store.hang.store(false, Ordering::SeqCst);

    w.clock.advance(past_the_lease());
    let retry = w
        .manager
        .create_many(&w.customer, &numbers, change(), &o)
        .await
        .unwrap();
    // The dead call's outcome, not `number_exists` from creating them again.
    assert!(retry.errors.is_empty(), "{:?}", retry.errors);
    assert_eq!(retry.success.len(), 3);
    for (n, r) in numbers.iter().zip(stored) {
        let r = r.unwrap();
        let got = &retry.success[r.number.as_str()];
        assert_eq!(
            got.record, r,
            "{n}: the record as committed, revision included"
        );
        assert_eq!(got.record.state, NumberState::Reserved);
        assert_eq!(got.plan.operation, "create");
    }
    assert_eq!(
        w.manager.audit_log().unwrap().len(),
        events,
        "nothing was done again"
    );
    let again = w
        .manager
        .create_many(&w.customer, &numbers, change(), &o)
        .await
        .unwrap();
    assert_eq!(again, retry);
}

#[tokio::test]
async fn a_retry_is_the_same_request_however_its_body_is_laid_out() {
    let w = World::new();
    let o = w.as_customer().idempotency_key("order-2");
    let fields = |v: Value| PublicChange::fields(v.as_object().unwrap().clone());
    let first = w
        .manager
        .create_many(
            &w.customer,
            &["4155552011", "+1 415 555 2012"],
            fields(json!({"a": 1, "b": {"x": 1, "y": 2}})),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(first.success.len(), 2);
    // Keys in another order, numbers written and listed differently: a retry.
    let retry = w
        .manager
        .create_many(
            &w.customer,
            &["+14155552012", "(415) 555-2011"],
            fields(json!({"b": {"y": 2, "x": 1}, "a": 1})),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(retry, first);
    // The same body in another state is another request.
    let mut other = fields(json!({"a": 1, "b": {"x": 1, "y": 2}}));
    other.state = Some(NumberState::InService);
    let e = w
        .manager
        .create_many(&w.customer, &["4155552011", "4155552012"], other, &o)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Conflict {
                kind: ConflictKind::KeyReused,
                ..
            }
        ),
        "{e:?}"
    );
}
