//! `NatsPublisher` against the NATS server with JetStream this machine kind
//! runs (`NUMBER_MANAGER_NATS_URL`, default `nats://127.0.0.1:4222`).
//! Never skipped: without a server these tests fail.

mod broker_support;

use std::time::Duration;

use async_nats::jetstream;
use broker_support::{assert_delivered, broker_url, messages, socket, unique, Proxy};
use number_manager::outbox::{Message, NatsPublisher, Publisher};
use number_manager::Error;

fn nats_url() -> String {
    broker_url("NUMBER_MANAGER_NATS_URL", "nats://127.0.0.1:4222")
}

async fn jetstream() -> jetstream::Context {
    let url = nats_url();
    let client = async_nats::connect(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("NATS is needed at {url}: {e}"));
    jetstream::new(client)
}

/// Everything the stream holds, in stream order, as (message id, subject
/// without the prefix, body).
async fn stored(stream: &str, prefix: &str) -> Vec<(u64, String, Vec<u8>)> {
    let js = jetstream().await;
    let mut stream = js.get_stream(stream).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let m = stream.get_raw_message(seq).await.unwrap();
        let id = m
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .unwrap_or_else(|| panic!("no Nats-Msg-Id in {:?}", m.headers))
            .as_str()
            .parse()
            .unwrap();
        let subject = m
            .subject
            .as_str()
            .strip_prefix(&format!("{prefix}."))
            .unwrap();
        out.push((id, subject.to_string(), m.payload.to_vec()));
    }
    out
}

async fn drop_stream(stream: &str) {
    let _ = jetstream().await.delete_stream(stream).await;
}

fn publisher(url: String, stream: &str, prefix: &str) -> NatsPublisher {
    NatsPublisher::new(url)
        .with_stream(stream)
        .with_subject_prefix(prefix)
        .with_timeout(Duration::from_secs(3))
}

#[tokio::test]
async fn a_batch_is_acked_and_stored_in_order_on_its_subjects() {
    let (stream, prefix) = (unique("NM_TEST"), unique("nmtest"));
    let publisher = publisher(nats_url(), &stream, &prefix);
    let sent = messages(1, 50, 6);
    publisher.publish(&sent[..20]).await.unwrap();
    publisher.publish(&sent[20..]).await.unwrap();
    assert_eq!(
        publisher.subject(&sent[0]),
        format!("{prefix}.{}", sent[0].routing_key)
    );
    let got = stored(&stream, &prefix).await;
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );
    assert_delivered(&sent, &got);
    drop_stream(&stream).await;
}

#[tokio::test]
async fn a_batch_sent_twice_is_stored_once() {
    let (stream, prefix) = (unique("NM_TEST"), unique("nmtest"));
    let publisher = publisher(nats_url(), &stream, &prefix);
    let sent: Vec<Message> = messages(1, 10, 2);
    publisher.publish(&sent).await.unwrap();
    // What a relay does after a publish whose ack it never saw.
    publisher.publish(&sent).await.unwrap();
    let got = stored(&stream, &prefix).await;
    assert_eq!(got.len(), 10, "Nats-Msg-Id drops the redelivery");
    assert_delivered(&sent, &got);
    drop_stream(&stream).await;
}

#[tokio::test]
async fn a_server_that_goes_away_fails_the_batch_and_a_retry_delivers_it() {
    let (stream, prefix) = (unique("NM_TEST"), unique("nmtest"));
    let url = nats_url();
    let host = url.trim_start_matches("nats://").to_string();
    let proxy = Proxy::start(socket(&host)).await;
    let publisher = publisher(format!("nats://{}", proxy.addr), &stream, &prefix);
    let sent = messages(1, 30, 3);

    publisher.publish(&sent[..10]).await.unwrap();
    proxy.cut();
    let err = publisher.publish(&sent[10..20]).await.unwrap_err();
    assert!(matches!(err, Error::Broker { .. }), "{err:?}");
    assert!(err.is_retryable());
    proxy.restore();
    // The relay retries the batch until it is acked.
    let mut tries = 0;
    while publisher.publish(&sent[10..20]).await.is_err() {
        tries += 1;
        assert!(tries < 10, "no ack after the server came back");
    }
    publisher.publish(&sent[20..]).await.unwrap();

    let got = stored(&stream, &prefix).await;
    assert_delivered(&sent, &got);
    drop_stream(&stream).await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_broker_error() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let publisher =
        NatsPublisher::new(format!("nats://{free}")).with_timeout(Duration::from_secs(2));
    let err = publisher.publish(&messages(1, 1, 1)).await.unwrap_err();
    assert_eq!((err.name(), err.code()), ("broker_unavailable", 503));
    assert!(err.is_retryable());
}
