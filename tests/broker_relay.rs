//! The outbox end to end: a SQLite store writes each committed change's event
//! in the change's own transaction, a `Relay` carries the outbox to the real
//! RabbitMQ and NATS this machine kind runs, and a consumer checks what
//! arrived against the manager's own record of what happened (the
//! `AuditLog`): every event at least once, in order per number, none lost,
//! when the relay is killed mid-stream and when the broker goes away.
//! Never skipped: without the brokers these tests fail.

mod broker_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_support::{broker_url, socket, unique, Proxy};
use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::events::AuditLog;
use number_manager::outbox::{AmqpPublisher, NatsPublisher, Publisher, Relay, RelayOptions};
use number_manager::store::{SqliteStore, Store};
use number_manager::{NumberManager, Options};
use serde_json::Value;

struct World {
    manager: NumberManager,
    store: Arc<dyn Store>,
    log: Arc<AuditLog>,
    master: AccountId,
    customer: AccountId,
}

async fn world() -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let customer = accounts.add("customer", "Customer", Some(&master)).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let log = Arc::new(AuditLog::default());
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts)
        .events(log.clone())
        .outbox(true)
        .build();
    World {
        manager,
        store,
        log,
        master,
        customer,
    }
}

fn numbers(block: u32, count: u32) -> Vec<String> {
    (0..count)
        .map(|i| format!("+1628{block:03}{i:04}"))
        .collect()
}

/// Creates `numbers` (reserved) for the customer, then releases every third.
async fn churn(w: &World, numbers: &[String]) {
    let opts = Options::as_account(&w.master).with_request_id(unique("req"));
    let created = w
        .manager
        .create_many(&w.customer, numbers, Default::default(), &opts)
        .await
        .unwrap();
    assert!(
        created.errors.is_empty(),
        "{:?}",
        created.errors.iter().next()
    );
    let some: Vec<&String> = numbers.iter().step_by(3).collect();
    let released = w.manager.release_many(&some, &opts).await.unwrap();
    assert!(
        released.errors.is_empty(),
        "{:?}",
        released.errors.iter().next()
    );
}

/// What the manager says happened, per number: (operation, revision after).
fn expected(w: &World, numbers: &[String]) -> BTreeMap<String, Vec<(String, u64)>> {
    numbers
        .iter()
        .map(|n| {
            let pn = number_manager::PhoneNumber::parse(n).unwrap();
            let history = w
                .log
                .history(&pn)
                .iter()
                .map(|e| (e.operation.as_str().to_string(), e.after.0))
                .collect();
            (n.clone(), history)
        })
        .collect()
}

/// What arrived, per number, first arrivals only (a redelivery repeats a
/// `seq` already seen), in arrival order; also checks the seqs of one
/// number only grow.
fn arrived(received: &[(u64, Vec<u8>)]) -> BTreeMap<String, Vec<(String, u64)>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for (seq, body) in received {
        if !seen.insert(*seq) {
            continue;
        }
        let event: Value = serde_json::from_slice(body).unwrap();
        let number = event["number"].as_str().unwrap().to_string();
        if let Some(prev) = last.insert(number.clone(), *seq) {
            assert!(prev < *seq, "{number}: seq {seq} after {prev}");
        }
        let op = event["operation"].as_str().unwrap().to_string();
        out.entry(number)
            .or_default()
            .push((op, event["after"].as_u64().unwrap()));
    }
    out
}

/// A publisher that takes its time over each batch.
#[derive(Debug)]
struct Slow(Arc<dyn Publisher>);

#[number_manager::async_trait]
impl Publisher for Slow {
    async fn publish(
        &self,
        batch: &[number_manager::outbox::Message],
    ) -> number_manager::Result<()> {
        tokio::time::sleep(Duration::from_millis(40)).await;
        self.0.publish(batch).await
    }
}

/// Runs a relay on its own task until `done` says so; returns the task.
fn spawn_relay(
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
) -> tokio::task::JoinHandle<u64> {
    let options = RelayOptions::default()
        .with_batch_size(16)
        .with_idle(Duration::from_millis(20))
        .with_backoff(Duration::from_millis(20), Duration::from_millis(400));
    tokio::spawn(async move {
        let mut relay = Relay::new(store, publisher, options);
        relay
            .run(tokio::time::sleep, std::future::pending::<()>())
            .await
    })
}

/// Polls `read` until `want` distinct seqs arrived or 20 s passed.
async fn collect<F, Fut>(want: usize, read: &F) -> Vec<(u64, Vec<u8>)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<(u64, Vec<u8>)>>,
{
    let start = Instant::now();
    loop {
        let got = read().await;
        let distinct: std::collections::BTreeSet<u64> = got.iter().map(|g| g.0).collect();
        if distinct.len() >= want || start.elapsed() > Duration::from_secs(20) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

mod nats {
    use super::*;
    use async_nats::jetstream;

    pub async fn stored(stream: &str) -> Vec<(u64, Vec<u8>)> {
        let url = broker_url("NUMBER_MANAGER_NATS_URL", "nats://127.0.0.1:4222");
        let client = async_nats::connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("NATS is needed at {url}: {e}"));
        let js = jetstream::new(client);
        let Ok(mut stream) = js.get_stream(stream).await else {
            return Vec::new();
        };
        let state = stream.info().await.unwrap().state.clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let m = stream.get_raw_message(seq).await.unwrap();
            let id = m
                .headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .unwrap()
                .as_str()
                .parse()
                .unwrap();
            out.push((id, m.payload.to_vec()));
        }
        out
    }

    pub async fn drop_stream(stream: &str) {
        let url = broker_url("NUMBER_MANAGER_NATS_URL", "nats://127.0.0.1:4222");
        if let Ok(client) = async_nats::connect(url.as_str()).await {
            let _ = jetstream::new(client).delete_stream(stream).await;
        }
    }
}

mod amqp {
    use super::*;
    use lapin::options::BasicGetOptions;
    use lapin::{Channel, Connection};
    use std::sync::Mutex;

    pub use crate::broker_support::amqp::url;

    /// A queue bound to the exchange with `number.#`; `read` drains it and
    /// answers everything received so far.
    pub struct Queue {
        _connection: Connection,
        channel: Channel,
        name: String,
        got: Mutex<Vec<(u64, Vec<u8>)>>,
    }

    impl Queue {
        pub async fn bind(exchange: &str) -> Arc<Queue> {
            let (connection, channel, name) =
                crate::broker_support::amqp::bound_queue(exchange, "number.#").await;
            Arc::new(Queue {
                _connection: connection,
                channel,
                name,
                got: Mutex::new(Vec::new()),
            })
        }

        pub async fn read(&self) -> Vec<(u64, Vec<u8>)> {
            loop {
                let next = self
                    .channel
                    .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
                    .await
                    .unwrap();
                let Some(m) = next else { break };
                let id = m
                    .delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .unwrap()
                    .as_str()
                    .parse()
                    .unwrap();
                self.got.lock().unwrap().push((id, m.delivery.data));
            }
            self.got.lock().unwrap().clone()
        }
    }
}

/// Changes, a relay killed once part of them is out, more changes while no
/// relay runs, a new relay: everything arrives, in order per number.
async fn relay_killed_mid_stream<R, Fut>(w: &World, make: impl Fn() -> Arc<dyn Publisher>, read: R)
where
    R: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<(u64, Vec<u8>)>>,
{
    let first = numbers(101, 60);
    churn(w, &first).await;
    // Slowed down, so that the kill lands mid-stream (and maybe mid-publish).
    let relay = spawn_relay(w.store.clone(), Arc::new(Slow(make())));
    let first_total: usize = expected(w, &first).values().map(Vec::len).sum();
    let part = collect(20, &read).await;
    relay.abort();
    let _ = relay.await;
    let distinct: std::collections::BTreeSet<u64> = part.iter().map(|p| p.0).collect();
    assert!(!distinct.is_empty(), "the first relay delivered something");
    assert!(
        distinct.len() < first_total,
        "killed mid-stream: {} of {first_total} out",
        distinct.len()
    );
    let second = numbers(102, 40);
    churn(w, &second).await;
    let relay = spawn_relay(w.store.clone(), make());
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let want = expected(w, &all);
    let got = collect(want.values().map(Vec::len).sum(), &read).await;
    relay.abort();
    assert_eq!(arrived(&got), want, "every event, in order per number");
    assert!(
        w.store.outbox_pending(0, 10).await.unwrap().is_empty(),
        "all acknowledged"
    );
}

/// Changes while the broker is away stay in the outbox, and arrive once it is back.
async fn broker_down<R, Fut>(w: &World, publisher: Arc<dyn Publisher>, proxy: &Proxy, read: R)
where
    R: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<(u64, Vec<u8>)>>,
{
    let relay = spawn_relay(w.store.clone(), publisher);
    let first = numbers(103, 30);
    churn(w, &first).await;
    let _ = collect(expected(w, &first).values().map(Vec::len).sum(), &read).await;
    proxy.cut();
    let second = numbers(104, 30);
    churn(w, &second).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !w.store.outbox_pending(0, 1).await.unwrap().is_empty(),
        "while the broker is down the events wait in the outbox"
    );
    proxy.restore();
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    let want = expected(w, &all);
    let got = collect(want.values().map(Vec::len).sum(), &read).await;
    relay.abort();
    assert_eq!(arrived(&got), want, "every event, in order per number");
}

fn nats_publisher(url: &str, stream: &str, prefix: &str) -> Arc<dyn Publisher> {
    Arc::new(
        NatsPublisher::new(url)
            .with_stream(stream)
            .with_subject_prefix(prefix)
            .with_timeout(Duration::from_secs(2)),
    )
}

fn amqp_publisher(url: &str, exchange: &str) -> Arc<dyn Publisher> {
    Arc::new(
        AmqpPublisher::new(url)
            .with_exchange(exchange)
            .with_timeout(Duration::from_secs(2)),
    )
}

fn nats_url() -> String {
    broker_url("NUMBER_MANAGER_NATS_URL", "nats://127.0.0.1:4222")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_relay_killed_mid_stream_and_restarted_loses_nothing() {
    let w = world().await;
    let (stream, prefix) = (unique("NM_RELAY"), unique("nmrelay"));
    let url = nats_url();
    relay_killed_mid_stream(
        &w,
        || nats_publisher(&url, &stream, &prefix),
        || nats::stored(&stream),
    )
    .await;
    nats::drop_stream(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_broker_down_delays_delivery_and_loses_nothing() {
    let w = world().await;
    let (stream, prefix) = (unique("NM_RELAY"), unique("nmrelay"));
    let url = nats_url();
    let proxy = Proxy::start(socket(url.trim_start_matches("nats://"))).await;
    let publisher = nats_publisher(&format!("nats://{}", proxy.addr), &stream, &prefix);
    broker_down(&w, publisher, &proxy, || nats::stored(&stream)).await;
    nats::drop_stream(&stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_a_relay_killed_mid_stream_and_restarted_loses_nothing() {
    let w = world().await;
    let exchange = unique("nm_relay");
    let queue = amqp::Queue::bind(&exchange).await;
    let url = amqp::url();
    let q = queue.clone();
    relay_killed_mid_stream(
        &w,
        || amqp_publisher(&url, &exchange),
        move || {
            let q = q.clone();
            async move { q.read().await }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_a_broker_down_delays_delivery_and_loses_nothing() {
    let w = world().await;
    let exchange = unique("nm_relay");
    let queue = amqp::Queue::bind(&exchange).await;
    let url = amqp::url();
    let host = url
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let proxy = Proxy::start(socket(&host)).await;
    let publisher = amqp_publisher(&url.replace(&host, &proxy.addr.to_string()), &exchange);
    let q = queue.clone();
    broker_down(&w, publisher, &proxy, move || {
        let q = q.clone();
        async move { q.read().await }
    })
    .await;
}
