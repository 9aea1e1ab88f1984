//! The transactional outbox and its relay, on every built-in store:
//! MemoryStore, SQLite and PostgreSQL (each test in its own fresh schema,
//! dropped afterwards; PostgreSQL is skipped with a message unless
//! `NUMBER_MANAGER_PG_URL` names a server, as in tests/store_postgres.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use number_manager::account::{AccountId, Actor, MemoryAccounts};
use number_manager::async_trait;
use number_manager::carrier::{CarrierRegistry, Fault, LocalCarrier, SimulatedCarrier};
use number_manager::events::{AuditLog, Event};
use number_manager::manager::SearchQuery;
use number_manager::outbox::{Message, Publisher, Relay, RelayOptions};
use number_manager::state::{NumberState, Operation};
use number_manager::store::{MemoryStore, SqliteStore, Store, StoreExt};
use number_manager::testing::{FaultKind, FaultPlan, FaultyStore, MemoryPublisher};
use number_manager::{Error, NumberManager, Options, PhoneNumber, Result};
use serde_json::json;

/// A fresh store and what tears it down.
type Teardown = Pin<Box<dyn Future<Output = ()> + Send>>;
struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    teardown: Option<Teardown>,
}

async fn backends() -> Vec<Backend> {
    let mut all = vec![
        Backend {
            name: "memory",
            store: Arc::new(MemoryStore::new()),
            teardown: None,
        },
        Backend {
            name: "sqlite",
            store: Arc::new(SqliteStore::open_in_memory().await.expect("sqlite")),
            teardown: None,
        },
    ];
    #[cfg(feature = "postgres")]
    if let Some(pg) = postgres_backend().await {
        all.push(pg);
    }
    all
}

#[cfg(feature = "postgres")]
async fn postgres_backend() -> Option<Backend> {
    use number_manager::store::{PostgresOptions, PostgresStore};
    static N: AtomicUsize = AtomicUsize::new(0);
    let url = match std::env::var("NUMBER_MANAGER_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: PostgreSQL tests need NUMBER_MANAGER_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test); it is not set");
            return None;
        }
    };
    let schema = format!(
        "nm_test_outbox_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) % 1_000_000_007
    );
    let store = PostgresStore::connect_with(&url, PostgresOptions::default().with_schema(&schema))
        .await
        .expect("connect to PostgreSQL");
    let pool = store.pool().clone();
    let teardown: Teardown = Box::pin(async move {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&pool)
            .await
            .expect("drop the test schema");
        pool.close().await;
    });
    Some(Backend {
        name: "postgres",
        store: Arc::new(store),
        teardown: Some(teardown),
    })
}

/// Runs `test` on every backend, tearing each down afterwards.
async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(&'static str, Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for b in backends().await {
        let outcome = tokio::spawn(test(b.name, b.store)).await;
        if let Some(t) = b.teardown {
            t.await;
        }
        if let Err(e) = outcome {
            eprintln!("failed on {}", b.name);
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

struct World {
    manager: NumberManager,
    carrier: Arc<SimulatedCarrier>,
    audit: Arc<AuditLog>,
    customer: AccountId,
}

fn world(store: Arc<dyn Store>, outbox: bool) -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).expect("master");
    accounts.set_master(&master, true);
    let customer = accounts
        .add("customer", "Customer", Some(&master))
        .expect("customer");
    accounts.set_allow_additions(&customer, true);
    let carrier = Arc::new(SimulatedCarrier::new(2600));
    let carriers = CarrierRegistry::new()
        .with(Arc::new(LocalCarrier::new(store.clone())))
        .with(carrier.clone());
    let audit = Arc::new(AuditLog::default());
    let manager = NumberManager::builder()
        .store(store)
        .accounts(accounts)
        .carriers(carriers)
        .audit_log(audit.clone())
        .outbox(outbox)
        .build();
    World {
        manager,
        carrier,
        audit,
        customer,
    }
}

fn opts(w: &World, request: &str) -> Options {
    Options::as_account(&w.customer).with_request_id(request)
}

async fn pending(store: &dyn Store) -> Vec<Message> {
    store
        .outbox_pending(0, 100_000)
        .await
        .expect("outbox_pending")
}

fn event(m: &Message) -> Event {
    serde_json::from_slice(&m.body).expect("a body is an Event")
}

/// Creates `count` numbers and edits each `edits` times: `count * (1 + edits)` events.
async fn changes(w: &World, count: u32, edits: u32) -> Vec<PhoneNumber> {
    let mut numbers = Vec::new();
    for i in 0..count {
        let raw = format!("+1415555{i:04}");
        let o = opts(w, &format!("create-{i}"));
        w.manager
            .create(&w.customer, &raw, Default::default(), &o)
            .await
            .expect("create");
        for e in 0..edits {
            let public = json!({"edit": e}).as_object().cloned().unwrap_or_default();
            w.manager.update(&raw, public, &o).await.expect("update");
        }
        numbers.push(PhoneNumber::parse(&raw).expect("number"));
    }
    numbers
}

/// Every entry of `expected` was delivered at least once, and, keeping the
/// first delivery of each `seq`, each number's messages came in `seq` order.
fn assert_delivered(expected: &[Message], delivered: &[Message]) {
    let want: BTreeSet<u64> = expected.iter().map(|m| m.seq).collect();
    let got: BTreeSet<u64> = delivered.iter().map(|m| m.seq).collect();
    assert_eq!(got, want, "every event arrives, none lost, none invented");
    let mut seen = BTreeSet::new();
    let mut per_number: BTreeMap<PhoneNumber, Vec<u64>> = BTreeMap::new();
    for m in delivered {
        if seen.insert(m.seq) {
            per_number.entry(m.number).or_default().push(m.seq);
        }
    }
    for (n, seqs) in per_number {
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(seqs, sorted, "{n}'s events arrived out of order");
    }
    // Each delivered message is the one stored.
    let by_seq: BTreeMap<u64, &Message> = expected.iter().map(|m| (m.seq, m)).collect();
    for m in delivered {
        assert_eq!(Some(&m), by_seq.get(&m.seq), "message {} changed", m.seq);
    }
}

#[tokio::test]
async fn with_the_outbox_off_nothing_is_written() {
    on_every_backend(|_, store| async move {
        let w = world(store.clone(), false);
        changes(&w, 2, 1).await;
        assert!(pending(&*store).await.is_empty());
        assert_eq!(w.audit.len(), 4, "the sink hears of every change as before");
    })
    .await;
}

#[tokio::test]
async fn a_failed_change_writes_no_event() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        let o = opts(&w, "r1");
        w.manager
            .create(&w.customer, "4155550100", Default::default(), &o)
            .await
            .expect("create");
        let again = w
            .manager
            .create(&w.customer, "4155550100", Default::default(), &o)
            .await;
        assert!(again.is_err(), "{name}: a second create is refused");
        let entries = pending(&*store).await;
        assert_eq!(entries.len(), 1, "{name}: only the committed create");
        assert_eq!(event(&entries[0]).operation, Operation::Create);

        // A store write that fails as a whole commits nothing and writes no event.
        let faulty: Arc<dyn Store> = Arc::new(FaultyStore::new(
            store.clone(),
            FaultPlan::nth(1, FaultKind::Error).only(&["write_batch_outboxed"]),
        ));
        let w2 = world(faulty, true);
        let failed = w2
            .manager
            .create(
                &w2.customer,
                "4155550101",
                Default::default(),
                &opts(&w2, "r2"),
            )
            .await;
        assert!(
            matches!(failed, Err(Error::Database { .. })),
            "{name}: {failed:?}"
        );
        assert_eq!(
            pending(&*store).await.len(),
            1,
            "{name}: no event for the failed write"
        );
        assert!(store
            .get(&PhoneNumber::parse("+14155550101").expect("n"))
            .await
            .expect("get")
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn every_committed_change_of_a_collection_purchase_is_in_the_outbox() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        let hits = w
            .manager
            .search(&SearchQuery::new("415", 6), &Options::system())
            .await
            .expect("search");
        let numbers: Vec<PhoneNumber> = hits.iter().map(|h| h.number).collect();
        assert_eq!(numbers.len(), 6);
        let failing = numbers[2];
        w.carrier.fail_number(failing, Fault::Error);
        let raws: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
        let public = json!({"label": "shop"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let result = w
            .manager
            .activate_many(&w.customer, &raws, public, &opts(&w, "req-7"))
            .await
            .expect("activate_many");
        assert_eq!(result.success.len(), 5, "{name}: {:?}", result.errors);

        let entries = pending(&*store).await;
        let activations: Vec<Event> = entries
            .iter()
            .map(event)
            .filter(|e| e.operation == Operation::Activate)
            .collect();
        assert_eq!(
            activations.len(),
            5,
            "{name}: one event per committed number"
        );
        for e in &activations {
            assert_ne!(
                e.number, failing,
                "{name}: the failed purchase has no event"
            );
            let stored = store.get(&e.number).await.expect("get").expect("stored");
            assert_eq!(e.to, NumberState::InService);
            assert_eq!(e.owner_before, None);
            assert_eq!(e.owner_after.as_ref(), Some(&w.customer));
            assert_eq!(e.actor, Actor::Account(w.customer.clone()));
            assert_eq!(e.request_id.as_deref(), Some("req-7"));
            assert_eq!(e.changed_fields, vec!["label".to_string()]);
            assert_eq!(e.features_after, stored.features, "{name}: features after");
            assert_eq!(e.after, stored.revision, "{name}: the committed revision");
            // The sink heard the same event.
            let heard = w.audit.history(&e.number);
            assert_eq!(heard.last(), Some(e), "{name}: sink and outbox agree");
        }
        // Seq order is commit order, and each message routes by operation.
        let seqs: Vec<u64> = entries.iter().map(|m| m.seq).collect();
        assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{name}: {seqs:?}");
        for m in &entries {
            assert_eq!(
                m.routing_key,
                number_manager::outbox::routing_key(&event(m))
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_keyed_request_writes_its_events_once_and_a_replay_none() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        let raws = ["+14155550100", "+14155550101", "+14155550102"];
        let o = opts(&w, "keyed").with_idempotency_key("order-1");
        let first = w
            .manager
            .create_many(&w.customer, &raws, Default::default(), &o)
            .await
            .expect("create_many");
        assert_eq!(first.success.len(), 3, "{name}: {:?}", first.errors);
        let again = w
            .manager
            .create_many(&w.customer, &raws, Default::default(), &o)
            .await
            .expect("replay");
        assert_eq!(
            again.success.len(),
            3,
            "{name}: the replay answers the same"
        );
        let entries = pending(&*store).await;
        let numbers: Vec<String> = entries.iter().map(|m| m.number.to_string()).collect();
        assert_eq!(
            numbers, raws,
            "{name}: one event per committed number, none for the replay"
        );
        assert!(entries
            .iter()
            .all(|m| event(m).request_id.as_deref() == Some("keyed")));
    })
    .await;
}

#[tokio::test]
async fn the_aging_sweep_goes_through_the_outbox() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        let number = PhoneNumber::parse("+14155550100").expect("n");
        let long_ago = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let mut record = number_manager::record::NumberRecord::new(
            number,
            NumberState::Aging,
            "local",
            long_ago,
        );
        record.assigned_to = Some(w.customer.clone());
        let revision = store.insert(record).await.expect("insert");
        let report = w.manager.purge_expired().await.expect("purge");
        assert_eq!(report.aged, 1, "{name}");
        let entries = pending(&*store).await;
        assert_eq!(entries.len(), 1, "{name}");
        let aged = event(&entries[0]);
        assert_eq!(aged.operation, Operation::Age, "{name}");
        assert_eq!(
            (aged.from, aged.to),
            (Some(NumberState::Aging), NumberState::Available)
        );
        assert_eq!(aged.actor, Actor::System);
        assert_eq!(aged.owner_before.as_ref(), Some(&w.customer));
        assert_eq!(aged.owner_after, None);
        assert_eq!((aged.before, aged.after), (revision, revision.next()));
        assert_eq!(
            w.audit.history(&number),
            vec![aged],
            "{name}: the sink heard it too"
        );
    })
    .await;
}

/// Accepts the first `budget` calls, then records the next batch and hangs
/// (a broker that never confirms), so the relay's future can be dropped
/// mid-publish.
#[derive(Debug, Default)]
struct Hangs {
    inner: MemoryPublisher,
    budget: usize,
    calls: AtomicUsize,
    sent: Mutex<Vec<Message>>,
}

#[async_trait]
impl Publisher for Hangs {
    async fn publish(&self, batch: &[Message]) -> Result<()> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.budget {
            return self.inner.publish(batch).await;
        }
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(batch.iter().cloned());
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_relay_killed_mid_stream_is_restarted_and_loses_nothing() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        changes(&w, 5, 5).await;
        let expected = pending(&*store).await;
        assert_eq!(expected.len(), 30, "{name}");
        let options = RelayOptions::default().with_batch_size(4);

        // First relay: two batches confirmed, then a publish that never
        // returns, dropped after a while (as a killed process would).
        let hangs = Arc::new(Hangs {
            budget: 2,
            ..Default::default()
        });
        let mut relay = Relay::new(store.clone(), hangs.clone(), options.clone());
        assert_eq!(relay.run_once().await.expect("round 1"), 4);
        assert_eq!(relay.run_once().await.expect("round 2"), 4);
        let killed = tokio::time::timeout(Duration::from_millis(50), relay.run_once()).await;
        assert!(killed.is_err(), "{name}: the third publish hangs");
        drop(relay);
        assert_eq!(hangs.sent.lock().expect("sent").len(), 4);
        assert_eq!(
            pending(&*store).await.len(),
            22,
            "{name}: only confirmed batches acked"
        );

        // Second relay: the broker takes 3 messages of a batch and drops the connection.
        let second = Arc::new(MemoryPublisher::new());
        second.accept_then_fail(3);
        let mut relay = Relay::new(store.clone(), second.clone(), options.clone());
        assert!(relay.run_once().await.is_err());
        drop(relay);

        // Third relay: runs to the end.
        let mut relay = Relay::new(store.clone(), second.clone(), options);
        while relay.run_once().await.expect("round") > 0 {}
        assert!(
            pending(&*store).await.is_empty(),
            "{name}: all acknowledged"
        );

        let mut delivered = hangs.inner.messages();
        delivered.extend(hangs.sent.lock().expect("sent").iter().cloned());
        delivered.extend(second.messages());
        assert!(delivered.len() > expected.len(), "{name}: some went twice");
        assert_delivered(&expected, &delivered);
    })
    .await;
}

#[tokio::test]
async fn a_broker_down_for_a_while_delays_delivery_and_loses_nothing() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        changes(&w, 3, 3).await;
        let expected = pending(&*store).await;
        assert_eq!(expected.len(), 12, "{name}");
        let publisher = Arc::new(MemoryPublisher::new());
        publisher.set_down(true);
        let options = RelayOptions::default()
            .with_batch_size(5)
            .with_idle(Duration::from_millis(1))
            .with_backoff(Duration::from_millis(1), Duration::from_millis(4));
        let mut relay = Relay::new(store.clone(), publisher.clone(), options);

        // The broker comes back after five failed attempts; the loop stops
        // once the outbox is empty.
        let watcher = {
            let publisher = publisher.clone();
            let store = store.clone();
            async move {
                while publisher.failures() < 5 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                assert!(publisher.messages().is_empty(), "nothing while down");
                publisher.set_down(false);
                while !pending(&*store).await.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        };
        let delivered = relay.run(tokio::time::sleep, watcher).await;
        assert_eq!(delivered, 12, "{name}");
        assert!(publisher.failures() >= 5);
        // Down means nothing was taken: each message went exactly once, in order.
        let seqs: Vec<u64> = publisher.messages().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, expected.iter().map(|m| m.seq).collect::<Vec<_>>());
        assert_delivered(&expected, &publisher.messages());
    })
    .await;
}

#[tokio::test]
async fn a_shutdown_once_the_broker_confirmed_still_acknowledges_the_batch() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        changes(&w, 3, 3).await;
        let expected = pending(&*store).await;
        assert_eq!(expected.len(), 12, "{name}");
        let publisher = Arc::new(MemoryPublisher::new());
        let options = RelayOptions::default().with_batch_size(5);
        let mut relay = Relay::new(store.clone(), publisher.clone(), options);
        // Shuts down at the first poll after the broker confirmed a batch,
        // while the store may still be writing the acknowledgement.
        let confirmed = {
            let publisher = publisher.clone();
            std::future::poll_fn(move |cx| {
                if publisher.messages().is_empty() {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                } else {
                    std::task::Poll::Ready(())
                }
            })
        };
        let delivered = relay.run(tokio::time::sleep, confirmed).await;
        assert_eq!(delivered, 5, "{name}: the confirmed batch counts");
        assert_eq!(publisher.messages().len(), 5, "{name}");
        let left = pending(&*store).await;
        assert_eq!(
            left,
            expected[5..].to_vec(),
            "{name}: and it is acknowledged"
        );
    })
    .await;
}

/// A memory store whose `outbox_ack` waits until `open` is set, and sets it
/// only from the shutdown future's poll: an acknowledgement that needs the
/// shutdown future to make progress (as when that future holds the one
/// pooled connection of an in-memory SQLite store).
#[derive(Debug)]
struct GatedAck {
    inner: MemoryStore,
    open: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl Store for GatedAck {
    async fn get_many(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<Vec<Option<number_manager::record::NumberRecord>>> {
        self.inner.get_many(numbers).await
    }
    async fn write_batch(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
    ) -> Result<Vec<number_manager::store::WriteResult>> {
        self.inner.write_batch(writes, mode).await
    }
    async fn list(
        &self,
        query: &number_manager::store::ListQuery,
    ) -> Result<number_manager::store::Page> {
        self.inner.list(query).await
    }
    async fn count(&self, query: &number_manager::store::ListQuery) -> Result<usize> {
        self.inner.count(query).await
    }
    async fn get_idempotency(
        &self,
        key: &str,
    ) -> Result<Option<number_manager::store::IdempotencyEntry>> {
        self.inner.get_idempotency(key).await
    }
    async fn begin_idempotency(
        &self,
        entry: number_manager::store::IdempotencyEntry,
    ) -> Result<bool> {
        self.inner.begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        self.inner.renew_idempotency(key, owner, lease_until).await
    }
    async fn finish_idempotency(
        &self,
        key: &str,
        owner: &str,
        response: serde_json::Value,
    ) -> Result<()> {
        self.inner.finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        self.inner.abandon_idempotency(key, owner).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
        journal: &number_manager::store::Journal,
    ) -> Result<Vec<number_manager::store::WriteResult>> {
        self.inner
            .write_batch_journaled(writes, mode, journal)
            .await
    }
    async fn purge_idempotency(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        self.inner.purge_idempotency(now).await
    }
    async fn purge_tombstones(
        &self,
        deleted_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize> {
        self.inner.purge_tombstones(deleted_before).await
    }
    async fn write_batch_outboxed(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
        journal: Option<&number_manager::store::Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<number_manager::store::WriteResult>> {
        self.inner
            .write_batch_outboxed(writes, mode, journal, events)
            .await
    }
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        self.inner.outbox_pending(after_seq, limit).await
    }
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        while !self.open.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        self.inner.outbox_ack(up_to_seq).await
    }
}

#[tokio::test]
async fn a_shutdown_future_the_acknowledgement_waits_for_is_still_polled() {
    let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let store = Arc::new(GatedAck {
        inner: MemoryStore::new(),
        open: open.clone(),
    });
    let w = world(store.clone(), true);
    changes(&w, 2, 1).await;
    assert_eq!(pending(&*store).await.len(), 4);
    let publisher = Arc::new(MemoryPublisher::new());
    let mut relay = Relay::new(store.clone(), publisher.clone(), RelayOptions::default());
    let shutdown = {
        let publisher = publisher.clone();
        std::future::poll_fn(move |cx| {
            if publisher.messages().is_empty() {
                cx.waker().wake_by_ref();
                return std::task::Poll::Pending;
            }
            open.store(true, Ordering::SeqCst);
            std::task::Poll::Ready(())
        })
    };
    let delivered = tokio::time::timeout(
        Duration::from_secs(10),
        relay.run(tokio::time::sleep, shutdown),
    )
    .await
    .expect("the acknowledgement does not wait forever on the shutdown future");
    assert_eq!(delivered, 4);
    assert!(pending(&*store).await.is_empty());
}

#[tokio::test]
async fn fix_writes_each_repair_into_the_outbox() {
    on_every_backend(|name, store| async move {
        let w = world(store.clone(), true);
        let n = changes(&w, 1, 0).await[0];
        // Damage the record behind the manager's back: features lost.
        let mut r = store.get(&n).await.expect("get").expect("record");
        let (rev, features) = (r.revision, r.features.clone());
        assert!(
            !features.is_empty(),
            "{name}: a created number has features"
        );
        r.features.clear();
        let damaged = store.update(r, rev).await.expect("damage");
        let before = pending(&*store).await.len();

        let o = opts(&w, "fix-1");
        let report = w.manager.fix(&w.customer, &o).await.expect("fix");
        assert_eq!(
            report.fixed[n.as_str()],
            vec!["features recomputed"],
            "{name}"
        );
        let after = pending(&*store).await;
        assert_eq!(after.len(), before + 1, "{name}: one event for one repair");
        let e = event(after.last().expect("the fix's event"));
        let now = store.get(&n).await.expect("get").expect("record");
        assert_eq!(e.operation, Operation::Fix, "{name}");
        assert_eq!((e.from, e.to), (Some(now.state), now.state), "{name}");
        assert_eq!(e.request_id.as_deref(), Some("fix-1"), "{name}");
        assert!(e.features_before.is_empty(), "{name}");
        assert_eq!(e.features_after, features, "{name}");
        assert_eq!((e.before, e.after), (damaged, now.revision), "{name}");
        assert_eq!(
            w.audit.history(&n).last(),
            Some(&e),
            "{name}: the sink heard it"
        );

        // Nothing left to repair: no event.
        let report = w.manager.fix(&w.customer, &o).await.expect("fix again");
        assert!(report.fixed.is_empty(), "{name}");
        assert_eq!(pending(&*store).await.len(), before + 1, "{name}");
    })
    .await;
}

#[tokio::test]
async fn a_store_without_an_outbox_refuses_rather_than_drop_events() {
    let w = world(Arc::new(NoOutbox(MemoryStore::new())), true);
    let refused = w
        .manager
        .create(
            &w.customer,
            "4155550100",
            Default::default(),
            &opts(&w, "r"),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::Database { .. })),
        "{refused:?}"
    );
    assert!(w.audit.is_empty(), "nothing committed, nothing heard");
}

/// A host store that forwards everything but has no outbox (the trait's
/// refusing defaults).
#[derive(Debug)]
struct NoOutbox(MemoryStore);

#[async_trait]
impl Store for NoOutbox {
    async fn get_many(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<Vec<Option<number_manager::record::NumberRecord>>> {
        self.0.get_many(numbers).await
    }
    async fn write_batch(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
    ) -> Result<Vec<number_manager::store::WriteResult>> {
        self.0.write_batch(writes, mode).await
    }
    async fn list(
        &self,
        query: &number_manager::store::ListQuery,
    ) -> Result<number_manager::store::Page> {
        self.0.list(query).await
    }
    async fn get_idempotency(
        &self,
        key: &str,
    ) -> Result<Option<number_manager::store::IdempotencyEntry>> {
        self.0.get_idempotency(key).await
    }
    async fn begin_idempotency(
        &self,
        entry: number_manager::store::IdempotencyEntry,
    ) -> Result<bool> {
        self.0.begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        self.0.renew_idempotency(key, owner, lease_until).await
    }
    async fn finish_idempotency(
        &self,
        key: &str,
        owner: &str,
        response: serde_json::Value,
    ) -> Result<()> {
        self.0.finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        self.0.abandon_idempotency(key, owner).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<number_manager::store::Write>,
        mode: number_manager::store::BatchMode,
        journal: &number_manager::store::Journal,
    ) -> Result<Vec<number_manager::store::WriteResult>> {
        self.0.write_batch_journaled(writes, mode, journal).await
    }
    async fn purge_idempotency(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        self.0.purge_idempotency(now).await
    }
    async fn purge_tombstones(
        &self,
        deleted_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize> {
        self.0.purge_tombstones(deleted_before).await
    }
    async fn count(&self, query: &number_manager::store::ListQuery) -> Result<usize> {
        self.0.count(query).await
    }
}
