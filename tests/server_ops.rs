//! The demo server's operations endpoints (`examples/server.rs`, included
//! below), over real HTTP: `/healthz` and `/readyz` outside `/v2` and without
//! a token, readiness following the store (an outage and a hang answer 503
//! naming it, a recovery 200 again) and each carrier's health (one that says
//! it is down, or does not answer, is named), and `/metrics` as Prometheus
//! text with the server's own request counter.

#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use number_manager::account::MemoryAccounts;
use number_manager::api::Api;
use number_manager::carrier::{
    Capabilities, Carrier, CarrierHealth, CarrierRegistry, Fault, NumberOrder, SearchRequest,
    SearchResult, SimulatedCarrier,
};
use number_manager::store::{MemoryStore, Store};
use number_manager::testing::{FaultKind, FaultPlan, FaultyStore};
use number_manager::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(store: Arc<dyn Store>) -> SocketAddr {
    let api = server::demo_api(store, &server::demo_accounts()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, api));
    addr
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

async fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut raw))
        .await
        .expect("the server answers")
        .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_need_no_token_and_sit_outside_the_api() {
    let addr = start(Arc::new(MemoryStore::new())).await;
    let health = request(addr, "GET", "/healthz").await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(health.header("content-type"), Some("application/json"));

    let ready = request(addr, "GET", "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let v = ready.json();
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["not_ready"], serde_json::json!([]), "{v}");
    assert_eq!(v["checks"]["store"]["status"], "ok", "{v}");
    // The simulated carrier says it is up; the local one does not tell.
    assert_eq!(v["checks"]["carriers"]["simulated"]["status"], "ok", "{v}");
    assert_eq!(v["checks"]["carriers"]["local"]["status"], "unknown", "{v}");

    // Only reads are served there; the API's paths are untouched.
    let post = request(addr, "POST", "/healthz").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let head = request(addr, "HEAD", "/readyz").await;
    assert_eq!(head.status, 200);
    assert_eq!(
        request(addr, "GET", "/v2/healthz").await.status,
        404,
        "under /v2 it is the API's"
    );
    assert_eq!(request(addr, "GET", "/healthz/x").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_store() {
    let store = Arc::new(FaultyStore::new(MemoryStore::new(), FaultPlan::none()));
    let addr = start(store.clone()).await;
    assert_eq!(request(addr, "GET", "/readyz").await.status, 200);

    // An outage: every store call fails.
    store.set_plan(FaultPlan::nth(1, FaultKind::Error).times(usize::MAX));
    let down = request(addr, "GET", "/readyz").await;
    assert_eq!(down.status, 503, "{}", down.body);
    let v = down.json();
    assert_eq!(v["status"], "not_ready", "{v}");
    assert_eq!(v["not_ready"], serde_json::json!(["store"]), "{v}");
    assert_eq!(v["checks"]["store"]["status"], "error", "{v}");
    assert!(v["checks"]["store"]["error"].is_string(), "{v}");
    // The process itself is still up.
    assert_eq!(request(addr, "GET", "/healthz").await.status, 200);

    // A store that does not answer in time is not ready either.
    store.set_plan(
        FaultPlan::nth(1, FaultKind::Hang(server::ops::STORE_TIMEOUT * 3)).times(usize::MAX),
    );
    let slow = request(addr, "GET", "/readyz").await;
    assert_eq!(slow.status, 503, "{}", slow.body);
    let v = slow.json();
    assert_eq!(v["not_ready"], serde_json::json!(["store"]), "{v}");
    assert!(
        v["checks"]["store"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no answer within")),
        "{v}"
    );

    store.set_plan(FaultPlan::none());
    assert_eq!(request(addr, "GET", "/readyz").await.status, 200);
}

/// A carrier whose health question never gets an answer.
#[derive(Debug)]
struct Mute;

#[async_trait]
impl Carrier for Mute {
    fn name(&self) -> &str {
        "mute"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn find_numbers(&self, _: &SearchRequest) -> number_manager::Result<Vec<SearchResult>> {
        Ok(Vec::new())
    }
    async fn acquire(
        &self,
        order: &NumberOrder,
    ) -> number_manager::Result<serde_json::Map<String, Value>> {
        Ok(order.carrier_data.clone())
    }
    async fn disconnect(&self, _: &NumberOrder) -> number_manager::Result<()> {
        Ok(())
    }
    async fn health(&self) -> CarrierHealth {
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_a_carrier_that_is_down_or_does_not_answer() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let simulated = Arc::new(SimulatedCarrier::new(server::CARRIER_SEED));
    let carriers = CarrierRegistry::new()
        .with(simulated.clone())
        .with(Arc::new(Mute));
    let accounts = Arc::new(MemoryAccounts::from_specs(&server::demo_accounts()).unwrap());
    let manager = server::manager_with(store, accounts.clone(), carriers, Config::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve(listener, Api::new(manager, accounts)));

    let mute = request(addr, "GET", "/readyz").await;
    assert_eq!(mute.status, 503, "{}", mute.body);
    let v = mute.json();
    assert_eq!(v["not_ready"], serde_json::json!(["carrier:mute"]), "{v}");
    assert_eq!(v["checks"]["carriers"]["mute"]["status"], "down", "{v}");
    assert_eq!(v["checks"]["carriers"]["simulated"]["status"], "ok", "{v}");
    assert_eq!(v["checks"]["store"]["status"], "ok", "{v}");

    simulated.outage(Fault::Error);
    let v = request(addr, "GET", "/readyz").await.json();
    assert_eq!(
        v["not_ready"],
        serde_json::json!(["carrier:simulated", "carrier:mute"]),
        "{v}"
    );
    assert_eq!(
        v["checks"]["carriers"]["simulated"]["status"], "down",
        "{v}"
    );
    assert!(
        v["checks"]["carriers"]["simulated"]["error"].is_string(),
        "{v}"
    );
    // Asking is not a carrier call.
    assert_eq!(simulated.find_calls(), 0);
    simulated.restore();
    let v = request(addr, "GET", "/readyz").await.json();
    assert_eq!(v["not_ready"], serde_json::json!(["carrier:mute"]), "{v}");
}

/// The value of the sample `line` starts with, if the text has one.
fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_with_the_servers_request_counter() {
    assert!(
        server::metrics::install().is_some(),
        "the recorder installs"
    );
    let addr = start(Arc::new(MemoryStore::new())).await;
    assert_eq!(
        request(addr, "GET", "/v2/phone_numbers?prefix=415&quantity=1")
            .await
            .status,
        200
    );
    assert_eq!(request(addr, "GET", "/v2/nowhere").await.status, 404);
    let m = request(addr, "GET", "/metrics").await;
    assert_eq!(m.status, 200, "{}", m.body);
    let ctype = m.header("content-type").unwrap_or_default();
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    assert!(ctype.contains("version=0.0.4"), "{ctype}");
    let text = &m.body;
    assert!(
        text.contains("# TYPE http_requests_total counter"),
        "{text}"
    );
    // Counts are process-wide (other tests here may add to them): at least ours.
    let ok = sample(text, "http_requests_total{status=\"200\"}").expect(text);
    assert!(ok >= 1.0, "{text}");
    let missing = sample(text, "http_requests_total{status=\"404\"}").expect(text);
    assert!(missing >= 1.0, "{text}");
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );
    let count = sample(text, "http_request_duration_seconds_count").expect(text);
    let inf = sample(text, "http_request_duration_seconds_bucket{le=\"+Inf\"}").expect(text);
    assert!(count >= 2.0 && inf == count, "{text}");
    // Every line is a comment or `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect(line);
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
    }
}

#[test]
fn the_recorder_renders_labels_escaped_and_names_made_safe() {
    let registry = server::metrics::install().expect("the recorder installs");
    metrics::counter!("ops.test-counter", "kind" => "a\"b\\c\nd").increment(2);
    metrics::gauge!("ops_test_gauge").set(1.5);
    metrics::describe_counter!("ops.test-counter", "A counter\nof two lines");
    let text = registry.render();
    assert!(
        text.contains("# HELP ops_test_counter A counter\\nof two lines"),
        "{text}"
    );
    assert!(
        text.contains("ops_test_counter{kind=\"a\\\"b\\\\c\\nd\"} 2"),
        "{text}"
    );
    assert!(text.contains("# TYPE ops_test_gauge gauge"), "{text}");
    assert!(text.contains("ops_test_gauge 1.5"), "{text}");
}
