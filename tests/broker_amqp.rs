//! `AmqpPublisher` against the RabbitMQ this machine kind runs
//! (`NUMBER_MANAGER_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`).
//! Never skipped: without a broker these tests fail.

mod broker_support;

use std::time::{Duration, Instant};

use broker_support::{assert_delivered, messages, socket, unique, Proxy};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions};
use lapin::{Channel, Connection};
use number_manager::outbox::{AmqpPublisher, Publisher};
use number_manager::Error;

use broker_support::amqp::url as amqp_url;

/// A queue bound to `exchange` with `number.#`, read with basic.get.
struct Consumer {
    _connection: Connection,
    channel: Channel,
    queue: String,
    exchange: String,
}

impl Consumer {
    async fn bind(exchange: &str, binding: &str) -> Consumer {
        let (connection, channel, queue) =
            broker_support::amqp::bound_queue(exchange, binding).await;
        Consumer {
            _connection: connection,
            channel,
            queue,
            exchange: exchange.to_string(),
        }
    }

    /// Reads until `count` messages came or nothing more comes for a while.
    async fn take(&self, count: usize) -> Vec<(u64, String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut quiet = Instant::now();
        while out.len() < count && quiet.elapsed() < Duration::from_secs(10) {
            let got = self
                .channel
                .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap();
            match got {
                Some(m) => {
                    let d = m.delivery;
                    let props = &d.properties;
                    assert_eq!(
                        props.content_type().as_ref().map(|s| s.as_str()),
                        Some("application/json")
                    );
                    assert_eq!(*props.delivery_mode(), Some(2), "persistent");
                    let id = props
                        .message_id()
                        .as_ref()
                        .unwrap()
                        .as_str()
                        .parse()
                        .unwrap();
                    out.push((id, d.routing_key.to_string(), d.data));
                    quiet = Instant::now();
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        out
    }

    async fn drop_exchange(self) {
        let _ = self
            .channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }
}

#[tokio::test]
async fn a_batch_is_confirmed_and_arrives_in_order_with_its_routing_keys() {
    let exchange = unique("nm_test");
    let consumer = Consumer::bind(&exchange, "number.#").await;
    let publisher = AmqpPublisher::new(amqp_url()).with_exchange(&exchange);
    let sent = messages(1, 60, 7);
    publisher.publish(&sent[..25]).await.unwrap();
    publisher.publish(&sent[25..]).await.unwrap();
    let received = consumer.take(60).await;
    assert_eq!(received.len(), 60, "exactly once when nothing fails");
    assert_eq!(
        received.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=60).collect::<Vec<_>>(),
        "one channel keeps the outbox order"
    );
    assert_delivered(&sent, &received);
    consumer.drop_exchange().await;
}

#[tokio::test]
async fn a_topic_binding_selects_by_operation() {
    let exchange = unique("nm_test");
    let consumer = Consumer::bind(&exchange, "number.activate.*").await;
    let publisher = AmqpPublisher::new(amqp_url()).with_exchange(&exchange);
    let sent = messages(1, 9, 3);
    publisher.publish(&sent).await.unwrap();
    let received = consumer.take(3).await;
    let keys: Vec<&str> = received.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("number.activate.")),
        "{keys:?}"
    );
    consumer.drop_exchange().await;
}

#[tokio::test]
async fn a_broker_that_goes_away_fails_the_batch_and_a_retry_delivers_it() {
    let exchange = unique("nm_test");
    let consumer = Consumer::bind(&exchange, "number.#").await;
    let broker = amqp_url();
    let host = broker
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    let proxy = Proxy::start(socket(host)).await;
    let via_proxy = broker.replace(host, &proxy.addr.to_string());
    let publisher = AmqpPublisher::new(via_proxy)
        .with_exchange(&exchange)
        .with_timeout(Duration::from_secs(3));
    let sent = messages(1, 40, 4);

    publisher.publish(&sent[..10]).await.unwrap();
    proxy.cut();
    let err = publisher.publish(&sent[10..20]).await.unwrap_err();
    assert!(matches!(err, Error::Broker { .. }), "{err:?}");
    assert!(err.is_retryable());
    // Still down: a second attempt fails too, and nothing is lost.
    assert!(publisher.publish(&sent[10..20]).await.is_err());
    proxy.restore();
    // The relay's retry: the same batch again, then the rest.
    publisher.publish(&sent[10..20]).await.unwrap();
    publisher.publish(&sent[20..]).await.unwrap();

    let received = consumer.take(40).await;
    assert_delivered(&sent, &received);
    consumer.drop_exchange().await;
}

#[tokio::test]
async fn an_unreachable_broker_is_a_retryable_broker_error() {
    // A port nothing listens on: bind one, then free it.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let publisher = AmqpPublisher::new(format!("amqp://guest:guest@{free}/%2f"))
        .with_timeout(Duration::from_secs(3));
    let err = publisher.publish(&messages(1, 1, 1)).await.unwrap_err();
    assert_eq!((err.name(), err.code()), ("broker_unavailable", 503));
    assert!(err.is_retryable());
    assert!(
        !format!("{publisher:?}").contains("guest:guest"),
        "password redacted"
    );
}
