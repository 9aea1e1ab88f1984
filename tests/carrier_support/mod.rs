//! A stub carrier API for the adapter tests: a small hyper server on
//! 127.0.0.1:0 that answers from scripted fixtures and records every request,
//! and an [`HttpClient`] over hyper that talks to it with a time limit.
//!
//! Routes match on method and path (and, when given, query pairs); a route's
//! replies are used in order and the last one repeats. A request no route
//! matches is answered 599 with a note, and recorded like any other.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use number_manager::carrier::{HttpClient, HttpError, HttpRequest, HttpResponse};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

pub mod fakes;

/// A fixture file under `tests/carrier_support/fixtures/`, as JSON.
pub fn fixture(path: &str) -> Value {
    let full = format!(
        "{}/tests/carrier_support/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Option<Duration>,
    hang_up: bool,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: None,
            hang_up: false,
        }
    }

    /// A raw answer (for malformed bodies, HTML error pages...).
    pub fn raw(status: u16, content_type: &str, body: &str) -> Self {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
            delay: None,
            hang_up: false,
        }
    }

    /// An empty answer (e.g. 204).
    pub fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
            hang_up: false,
        }
    }

    /// The connection is closed without an answer.
    pub fn hang_up() -> Self {
        Reply {
            hang_up: true,
            ..Reply::empty(0)
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers only after `d` (to run past a client's time limit).
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
}

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (without `?`).
    pub raw_query: String,
    /// The query pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The body as form pairs, decoded.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_pairs(&String::from_utf8_lossy(&self.body))
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

struct Route {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    replies: VecDeque<Reply>,
}

/// A stateful answerer, asked before the scripted routes; `None` passes.
pub type Handler = Arc<dyn Fn(&Recorded) -> Option<Reply> + Send + Sync>;

#[derive(Default)]
struct State {
    handlers: Vec<Handler>,
    routes: Vec<Route>,
    requests: Vec<Recorded>,
}

impl State {
    /// The reply for a request: the matching route with the most query
    /// constraints; its next reply (the last one repeats).
    fn reply(&mut self, r: &Recorded) -> Reply {
        if let Some(reply) = self.handlers.iter().find_map(|h| h(r)) {
            return reply;
        }
        let route = self
            .routes
            .iter_mut()
            .filter(|route| route.method == r.method && route.path == r.path)
            .filter(|route| {
                route
                    .query
                    .iter()
                    .all(|(k, v)| r.query.iter().any(|(qk, qv)| qk == k && qv == v))
            })
            .max_by_key(|route| route.query.len());
        match route {
            Some(route) if route.replies.len() > 1 => route.replies.pop_front().unwrap(),
            Some(route) => route.replies.front().cloned().unwrap(),
            None => Reply::raw(
                599,
                "text/plain",
                &format!("no fixture for {} {}?{}", r.method, r.path, r.raw_query),
            ),
        }
    }
}

/// The stub server. Dropping it stops accepting connections.
pub struct Stub {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    /// Starts a stub on 127.0.0.1 with a free port.
    pub async fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Stub { addr, state, task }
    }

    /// `http://127.0.0.1:PORT` followed by `prefix` (e.g. `/v2`).
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    /// Scripts `replies` (in order; the last repeats) for `method path`.
    pub fn on(&self, method: &str, path: &str, replies: Vec<Reply>) {
        self.on_query(method, path, &[], replies);
    }

    /// Like [`on`](Self::on), for requests whose query has all of `query`.
    pub fn on_query(&self, method: &str, path: &str, query: &[(&str, &str)], replies: Vec<Reply>) {
        assert!(!replies.is_empty(), "a route needs a reply");
        let mut state = self.state.lock().unwrap();
        // A new script for the same route replaces the old one.
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        state
            .routes
            .retain(|r| !(r.method == method && r.path == path && r.query == query));
        state.routes.push(Route {
            method: method.into(),
            path: path.into(),
            query,
            replies: replies.into(),
        });
    }

    /// Answers with `handler` whenever it has an answer (before any route).
    pub fn handle(&self, handler: Handler) {
        self.state.lock().unwrap().handlers.push(handler);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests received so far with this method and path.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let recorded = Recorded {
        method,
        path,
        query: decode_pairs(&raw_query),
        raw_query,
        headers,
        body,
    };
    let reply = {
        let mut state = state.lock().unwrap();
        let reply = state.reply(&recorded);
        state.requests.push(recorded);
        reply
    };
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    if reply.hang_up {
        return Err(std::io::Error::other("stub hangs up"));
    }
    let mut response = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        response = response.header(k.as_str(), v.as_str());
    }
    Ok(response.body(Full::new(Bytes::from(reply.body))).unwrap())
}

/// Decodes `a=b&c=d` (percent escapes, `+` as space).
pub fn decode_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// An [`HttpClient`] over hyper (HTTP/1.1, plain TCP, one connection per
/// request) that gives up after `timeout`.
#[derive(Debug, Clone)]
pub struct HyperClient {
    timeout: Duration,
}

impl HyperClient {
    /// A client with a time limit per request.
    pub fn new(timeout: Duration) -> Self {
        HyperClient { timeout }
    }
}

#[async_trait]
impl HttpClient for HyperClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        match tokio::time::timeout(self.timeout, send(request)).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout),
        }
    }
}

async fn send(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let rest = request
        .url
        .strip_prefix("http://")
        .ok_or_else(|| HttpError::Transport(format!("not http: {}", request.url)))?;
    let (host, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let stream = TcpStream::connect(host)
        .await
        .map_err(|e| HttpError::Connect(e.to_string()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(request.method.as_str())
        .uri(target)
        .header("host", host);
    for (k, v) in &request.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let req = builder
        .body(Full::new(Bytes::from(request.body)))
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))?;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| HttpError::Transport(e.to_string()))?
        .to_bytes()
        .to_vec();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A manager over a memory store with one account and a manual clock, whose
/// only carrier is `carrier`; claims last 60 s.
pub struct Harness {
    pub manager: number_manager::NumberManager,
    pub store: Arc<dyn number_manager::store::Store>,
    pub account: number_manager::account::AccountId,
    pub clock: Arc<number_manager::clock::ManualClock>,
}

impl Harness {
    pub fn new(carrier: Arc<dyn number_manager::carrier::Carrier>) -> Harness {
        use number_manager::account::MemoryAccounts;
        use number_manager::carrier::CarrierRegistry;
        use number_manager::clock::ManualClock;
        use number_manager::store::MemoryStore;
        let accounts = Arc::new(MemoryAccounts::new());
        let account = accounts
            .add("009afc511c97b2ae693c6cc4920988e8", "Customer", None)
            .unwrap();
        accounts.set_allow_additions(&account, true);
        let store: Arc<dyn number_manager::store::Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::at_gregorian(63_628_550_806));
        let manager = number_manager::NumberManager::builder()
            .store(store.clone())
            .accounts(accounts)
            .carriers(CarrierRegistry::new().with(carrier))
            .clock(clock.clone())
            .config(
                number_manager::Config::default()
                    .with_carrier_timeout(Duration::from_secs(10))
                    .with_claim_ttl(Duration::from_secs(60)),
            )
            .build();
        Harness {
            manager,
            store,
            account,
            clock,
        }
    }

    /// Activates (buys) `number` onto the account, as the system.
    pub async fn buy(&self, number: &str) -> number_manager::Result<number_manager::Outcome> {
        self.manager
            .activate(
                &self.account,
                number,
                serde_json::Map::new(),
                &number_manager::Options::system(),
            )
            .await
    }
}
