//! Shared by the broker tests: where the brokers are, a TCP proxy that can
//! cut a publisher off from its broker, and the outbox messages to send.
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use number_manager::outbox::Message;
use number_manager::PhoneNumber;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// `var`, or the broker this machine kind runs locally. Never skipped: a
/// missing broker fails the test that needs it.
pub fn broker_url(var: &str, local: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| local.to_string())
}

/// A name no other test run uses (broker objects outlive a test process).
pub fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{tag}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A TCP proxy in front of a broker. `cut` drops every open connection and
/// refuses new ones (the broker is "down" for whoever goes through the
/// proxy) until `restore`.
pub struct Proxy {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (d, l) = (down.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    drop(client); // refused: closed at once
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Proxy {
            addr,
            down,
            links,
            accept,
        }
    }

    /// The broker goes away: open connections are dropped, new ones closed.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// The broker is back.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The first address `host:port` resolves to.
pub fn socket(host_port: &str) -> SocketAddr {
    use std::net::ToSocketAddrs;
    host_port.to_socket_addrs().unwrap().next().unwrap()
}

/// `count` outbox messages over `numbers` numbers, round robin, starting at
/// outbox position `from`: each number's messages are in seq order.
pub fn messages(from: u64, count: u64, numbers: u64) -> Vec<Message> {
    let ops = ["create", "activate", "update"];
    (0..count)
        .map(|i| {
            let seq = from + i;
            let number = PhoneNumber::parse(&format!("+1415555{:04}", i % numbers)).unwrap();
            let op = ops[(seq % 3) as usize];
            Message {
                seq,
                number,
                routing_key: format!("number.{op}.{}", number.strip_plus()),
                body: serde_json::json!({"number": number.as_str(), "operation": op, "seq": seq})
                    .to_string()
                    .into_bytes(),
            }
        })
        .collect()
}

/// What a consumer received, as (message id, routing key, body): checks
/// that every message sent arrived at least once and that, per number,
/// first arrivals are in seq order and nothing else came.
pub fn assert_delivered(sent: &[Message], received: &[(u64, String, Vec<u8>)]) {
    use std::collections::{BTreeMap, BTreeSet};
    let by_seq: BTreeMap<u64, &Message> = sent.iter().map(|m| (m.seq, m)).collect();
    let mut seen = BTreeSet::new();
    let mut last_per_key: BTreeMap<String, u64> = BTreeMap::new();
    for (seq, key, body) in received {
        let message = by_seq
            .get(seq)
            .unwrap_or_else(|| panic!("message {seq} was never sent"));
        assert_eq!(&message.routing_key, key, "routing key of {seq}");
        assert_eq!(&message.body, body, "body of {seq}");
        if !seen.insert(*seq) {
            continue; // a redelivery: allowed (at least once)
        }
        let number = message.number.as_str().to_string();
        if let Some(last) = last_per_key.insert(number.clone(), *seq) {
            assert!(last < *seq, "{number}: {seq} arrived after {last}");
        }
    }
    let missing: Vec<u64> = by_seq
        .keys()
        .filter(|s| !seen.contains(s))
        .copied()
        .collect();
    assert!(missing.is_empty(), "never arrived: {missing:?}");
}

/// RabbitMQ: where it is, and a queue to read what a publisher sent.
#[cfg(feature = "amqp")]
pub mod amqp {
    use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

    /// `NUMBER_MANAGER_AMQP_URL`, or the local RabbitMQ.
    pub fn url() -> String {
        super::broker_url(
            "NUMBER_MANAGER_AMQP_URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        )
    }

    /// An exclusive, auto-deleted queue bound with `binding` to `exchange`
    /// (a durable topic exchange, declared as the publisher declares it);
    /// answers the connection (keep it alive), the channel and the queue's name.
    pub async fn bound_queue(exchange: &str, binding: &str) -> (Connection, Channel, String) {
        let url = url();
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ is needed at {url}: {e}"));
        let channel = connection.create_channel().await.unwrap();
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await
            .unwrap();
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), exclusive, FieldTable::default())
            .await
            .unwrap();
        let name = queue.name().to_string();
        channel
            .queue_bind(
                name.as_str().into(),
                exchange.into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        (connection, channel, name)
    }
}
