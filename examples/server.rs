//! The seeds' REST API over HTTP/1.1: `cargo run --example server`.
//!
//! Listens on 127.0.0.1:8000 with the embedded defaults: a SQLite file
//! `numbers.db` in the working directory (so a restarted server still has its
//! numbers; `--store memory` forgets them), the
//! simulated carrier (plus the local one), the simulated E911 provider with
//! the demo address book, and the offline locality provider.
//!
//! Demo mode: without `--accounts FILE` the server loads the demo account
//! tree (master -> reseller -> customer) with fixed tokens
//! (`demo-master-token`, ...), says so on stderr, and prints the ids and
//! tokens. With `--accounts FILE` (a JSON array of `AccountSpec`s) only those
//! accounts exist: no demo account or token, and the token column printed at
//! start says only whether each account has one.
//!
//! `--store` is `sqlite:PATH` (the default is `sqlite:numbers.db` when the
//! `sqlite` feature is on, as it is for `cargo run --example server`),
//! `memory`, or with the `postgres` feature `postgres://URL`.
//!
//! ```text
//! cargo run --example server -- [--config FILE] [--listen ADDR] [--accounts FILE] [--store SPEC]
//!     [--body-limit BYTES] [--header-timeout SECS] [--idle-timeout SECS] [--max-connections N]
//!     [--log off|errors|all] [--shutdown-timeout SECS] [--echo-auth-token on|off]
//! ```
//!
//! `--config FILE` reads a TOML file ([`config`]; `examples/server.toml` shows
//! every field): the server's settings, the manager's [`Config`], and the
//! carriers to load (simulated, local, and with their cargo features Telnyx,
//! Twilio, Bandwidth, secrets from environment variables the file names).
//! `NUMBER_MANAGER__<SECTION>__<FIELD>` environment variables override the
//! file, and the flags override both.
//!
//! Connections are bounded ([`Limits`]): a client must send a request's headers
//! within `--header-timeout` (default 10 s), a connection that sends and
//! receives nothing for `--idle-timeout` (default 30 s) is closed, and past
//! `--max-connections` open connections (default 1,024) a new one gets a 503
//! and is closed at once. `--log` (default `errors`) prints 5xx answers to
//! stderr as `METHOD PATH STATUS MS`; `all` prints every request and
//! connection error, `off` nothing. Those lines, and the library's own spans
//! and events, go through a `tracing` subscriber writing to stderr, filtered
//! by `RUST_LOG` (default `warn,server=info`; `RUST_LOG=number_manager=debug`
//! shows the library's decisions too). `--echo-auth-token off` (default `on`,
//! as the seeds answer) leaves `auth_token` out of every answer's envelope.
//!
//! Operations endpoints, outside the API's `/v2` and without a token:
//! - `GET /healthz`: 200 `{"status": "ok"}` while the process serves;
//! - `GET /readyz`: 200 when the store answers a read within 2 s and no
//!   carrier's `Carrier::health` answers down (or fails to answer within
//!   2 s), else 503 with a JSON body naming what is not ready
//!   (`"not_ready": ["store", "carrier:simulated"]`); a carrier that does not
//!   tell (the trait's default) is listed as `unknown` and does not count;
//! - `GET /metrics`: what the `metrics` facade recorded (the library's
//!   metrics, and the server's `http_requests_total` by status and
//!   `http_request_duration_seconds`), as Prometheus text.
//!
//! Stopping: on SIGTERM or SIGINT the server stops accepting (new connections
//! are refused), lets the requests in flight finish, closes idle
//! connections, waits for housekeeping to finish its round, and exits 0. A
//! request still running after `--shutdown-timeout` (default 30 s) is
//! abandoned and the server exits 1; a purchase cut off so leaves a claim
//! that its TTL (`manager.claim_ttl`) or the next `purge_expired` settles.
//!
//! The hyper glue is [`answer`]: it reads each request's body up to
//! [`Api::body_limit`] (answering 413 past it without reading on) and calls
//! the API's `tower_service::Service` with it; the rest of this file is the
//! server around it (connections, limits, logging). The library itself knows
//! nothing about hyper or tokio, only the `http` types they share;
//! `tests/api_http.rs` includes this file as a module to drive the very same
//! glue over real HTTP.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::LengthLimitError;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tower_service::Service;

use number_manager::account::{AccountSpec, MemoryAccounts};
use number_manager::api::Api;
use number_manager::carrier::{CarrierRegistry, LocalCarrier, SimulatedCarrier};
use number_manager::e911::SimulatedE911;
use number_manager::locality::OfflineLocality;
use number_manager::porting::PortRequestStore;
use number_manager::store::{MemoryStore, Store};
use number_manager::{Config, NumberManager};

#[path = "server/config.rs"]
pub mod config;
#[path = "server/metrics.rs"]
pub mod metrics;
#[path = "server/ops.rs"]
pub mod ops;

/// The demo master account (may do anything).
pub const MASTER_ID: &str = "4f5c0ba4b9b24b8a9b1c4a2f7d6e0a01";
/// The demo reseller, a child of master.
pub const RESELLER_ID: &str = "7e2d1c9a8b3f4e5d6c7b8a9f0e1d2c3b";
/// The demo customer, a child of the reseller, with `allow_additions` (the seeds' identify example id).
pub const CUSTOMER_ID: &str = "009afc511c97b2ae693c6cc4920988e8";
/// Tokens of the demo accounts (fixed so the README's curl commands work; demo only).
pub const MASTER_TOKEN: &str = "demo-master-token";
/// The reseller's token.
pub const RESELLER_TOKEN: &str = "demo-reseller-token";
/// The customer's token.
pub const CUSTOMER_TOKEN: &str = "demo-customer-token";

/// Seed of the simulated carrier's catalogue (the same numbers every run).
pub const CARRIER_SEED: u64 = 2600;

/// The demo account tree (built from JSON, as `--accounts FILE` is, so new
/// optional `AccountSpec` fields keep their defaults).
pub fn demo_accounts() -> Vec<AccountSpec> {
    let specs = serde_json::json!([
        {"id": MASTER_ID, "name": "Master", "is_master": true, "token": MASTER_TOKEN},
        {"id": RESELLER_ID, "name": "Reseller", "parent": MASTER_ID, "token": RESELLER_TOKEN},
        {"id": CUSTOMER_ID, "name": "Customer", "parent": RESELLER_ID, "allow_additions": true, "token": CUSTOMER_TOKEN},
    ]);
    serde_json::from_value(specs).expect("the demo accounts are valid AccountSpecs")
}

/// Opens the store named by `--store`: `memory`, and with the matching cargo
/// features `sqlite:PATH` and `postgres://...`. Each kind of store is one arm.
pub async fn open_store(spec: &str) -> Result<Arc<dyn Store>, String> {
    open_backends(spec).await.map(|(store, _)| store)
}

/// The store named by `--store`, and the same store as the port request
/// store (every built-in store keeps port requests too).
pub async fn open_backends(
    spec: &str,
) -> Result<(Arc<dyn Store>, Arc<dyn PortRequestStore>), String> {
    fn both<S: Store + PortRequestStore + 'static>(
        s: S,
    ) -> (Arc<dyn Store>, Arc<dyn PortRequestStore>) {
        let s = Arc::new(s);
        (s.clone(), s)
    }
    let (kind, _rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "memory" => Ok(both(MemoryStore::new())),
        #[cfg(feature = "sqlite")]
        "sqlite" => number_manager::store::SqliteStore::open(_rest)
            .await
            .map(both)
            .map_err(|e| format!("{spec}: {e}")),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => number_manager::store::PostgresStore::connect(spec)
            .await
            .map(both)
            .map_err(|e| format!("{spec}: {e}")),
        other => Err(format!(
            "unknown store {other:?} (this build knows: {})",
            KNOWN_STORES.join(", ")
        )),
    }
}

/// The `--store` kinds this build was compiled with.
const KNOWN_STORES: &[&str] = &[
    "memory",
    #[cfg(feature = "sqlite")]
    "sqlite:PATH",
    #[cfg(feature = "postgres")]
    "postgres://URL",
];

/// The demo carriers: the local one over `store`, and the simulated one.
pub fn demo_carriers(store: Arc<dyn Store>) -> CarrierRegistry {
    CarrierRegistry::new()
        .with(Arc::new(LocalCarrier::new(store)))
        .with(Arc::new(SimulatedCarrier::new(CARRIER_SEED)))
}

/// The manager with the demo backends over `store` and `accounts`.
pub fn demo_manager(store: Arc<dyn Store>, accounts: Arc<MemoryAccounts>) -> NumberManager {
    let carriers = demo_carriers(store.clone());
    manager_with(store, accounts, carriers, Config::default())
}

/// The manager over `store`, `accounts` and `carriers` with `config`, and the
/// demo E911 provider and offline locality (port requests in a memory store
/// of their own).
pub fn manager_with(
    store: Arc<dyn Store>,
    accounts: Arc<MemoryAccounts>,
    carriers: CarrierRegistry,
    config: Config,
) -> NumberManager {
    manager_with_ports(store, None, accounts, carriers, config)
}

/// [`manager_with`], keeping port requests in `ports` when given.
pub fn manager_with_ports(
    store: Arc<dyn Store>,
    ports: Option<Arc<dyn PortRequestStore>>,
    accounts: Arc<MemoryAccounts>,
    carriers: CarrierRegistry,
    config: Config,
) -> NumberManager {
    let mut builder = NumberManager::builder()
        .store(store)
        .accounts(accounts)
        .carriers(carriers)
        .config(config)
        .e911(Arc::new(SimulatedE911::seed_demo()))
        .locality(Arc::new(OfflineLocality::default()));
    if let Some(ports) = ports {
        builder = builder.port_requests(ports);
    }
    builder.build()
}

/// The API over the demo manager, with the accounts as the token authenticator.
pub fn demo_api(store: Arc<dyn Store>, specs: &[AccountSpec]) -> Result<Api, String> {
    let accounts =
        Arc::new(MemoryAccounts::from_specs(specs).map_err(|e| format!("accounts: {e}"))?);
    Ok(Api::new(demo_manager(store, accounts.clone()), accounts))
}

/// The API as `config` describes it over `store` and `specs`, the carriers'
/// secrets read through `env`.
pub fn configured_api(
    store: Arc<dyn Store>,
    specs: &[AccountSpec],
    config: &config::ServerConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Api, String> {
    configured_api_with_ports(store, None, specs, config, env)
}

/// [`configured_api`], keeping port requests in `ports` when given.
pub fn configured_api_with_ports(
    store: Arc<dyn Store>,
    ports: Option<Arc<dyn PortRequestStore>>,
    specs: &[AccountSpec],
    config: &config::ServerConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Api, String> {
    let accounts =
        Arc::new(MemoryAccounts::from_specs(specs).map_err(|e| format!("accounts: {e}"))?);
    let carriers = config::carriers(config.carriers.as_deref(), store.clone(), env)?;
    let manager = manager_with_ports(
        store,
        ports,
        accounts.clone(),
        carriers,
        config.manager.clone(),
    );
    let mut api = Api::new(manager, accounts);
    if let Some(limit) = config.server.body_limit {
        api = api.with_body_limit(limit);
    }
    Ok(api.with_auth_token_echo(config.server.echo_auth_token))
}

/// What the server logs to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// Nothing.
    Off,
    /// 5xx answers and failed accepts (the default): a flood of client
    /// mistakes or slow clients does not turn into a flood of lines.
    Errors,
    /// Every request, and every connection that ends in an error.
    All,
}

/// How long and how many connections the server keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's headers must arrive within this (slowloris).
    pub header_timeout: Duration,
    /// A connection with no byte read or written for this long is closed
    /// (an idle keep-alive connection, or one that never sends anything).
    pub idle_timeout: Duration,
    /// Connections open at once; past it a new one gets a 503 and is closed.
    pub max_connections: usize,
    /// What is logged.
    pub log: Log,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            log: Log::Errors,
        }
    }
}

/// Serves `api` on `listener` with the default [`Limits`].
pub async fn serve(listener: TcpListener, api: Api) -> std::io::Result<()> {
    serve_with(listener, api, Limits::default()).await
}

/// The answer to a connection past the cap, written without waiting.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Serves `api` on `listener` until the task is dropped: one task per
/// connection, HTTP/1.1 with keep-alive, within `limits`.
pub async fn serve_with(listener: TcpListener, api: Api, limits: Limits) -> std::io::Result<()> {
    serve_until(
        listener,
        api,
        limits,
        std::future::pending(),
        Duration::ZERO,
    )
    .await?;
    Ok(())
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished its requests and closed in time.
    Drained,
    /// This many connections were still answering at the deadline and were
    /// abandoned.
    TimedOut(usize),
}

/// Serves `api` on `listener` within `limits` until `stop` resolves; then
/// stops accepting (the listener is closed, so new connections are
/// refused), lets each connection finish the request it is answering and
/// closes it, and waits up to `grace` for all of them.
pub async fn serve_until(
    listener: TcpListener,
    api: Api,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<Stopped> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let (stopping, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; all are gone when all have ended.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, keep serving.
                if limits.log != Log::Off {
                    tracing::error!("accept failed: {e}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Full: say so if the socket takes it at once, and close. What the
            // client already sent is read first: closing a socket with unread
            // data resets it, and the client would lose the 503.
            let mut sink = [0u8; 4096];
            while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
            let _ = stream.try_write(BUSY);
            continue;
        };
        let api = api.clone();
        let (open, stop_rx) = (open.clone(), stop_rx.clone());
        tokio::spawn(async move {
            connection(stream, api, limits, stop_rx)
                .await
                .unwrap_or_else(|e| {
                    if limits.log == Log::All {
                        tracing::info!("connection from {peer}: {e}");
                    }
                });
            drop((slot, open));
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(open);
    match tokio::time::timeout(grace, all_closed.recv()).await {
        Ok(_) => Ok(Stopped::Drained),
        Err(_) => Ok(Stopped::TimedOut(max - slots.available_permits())),
    }
}

/// One connection: hyper with a header timeout, closed when idle, or once
/// its request in flight is answered when `stop` turns true.
async fn connection(
    stream: TcpStream,
    api: Api,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> hyper::Result<()> {
    let started = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    let io = Tracked {
        inner: stream,
        started,
        last: last.clone(),
    };
    // Requests being answered: a slow answer (a carrier purchase) is not idleness.
    let busy = Arc::new(AtomicUsize::new(0));
    let in_service = busy.clone();
    let service = service_fn(move |req| {
        let api = api.clone();
        let busy = Busy::enter(&in_service);
        async move {
            let answer = respond(&api, req, limits.log).await;
            drop(busy);
            Ok::<_, Infallible>(answer)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let idle = limits.idle_timeout;
    let mut tick =
        tokio::time::interval((idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)));
    let mut closing_since: Option<Instant> = None;
    let mut stopping = *stop.borrow_and_update();
    if stopping {
        conn.as_mut().graceful_shutdown();
        closing_since = Some(Instant::now());
    }
    loop {
        tokio::select! {
            done = conn.as_mut() => return done,
            // The server stops: answer what is in flight, take no new request.
            _ = stop.changed(), if !stopping => {
                stopping = true;
                if closing_since.is_none() {
                    conn.as_mut().graceful_shutdown();
                    closing_since = Some(Instant::now());
                }
            }
            _ = tick.tick() => {
                let quiet = started.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                match closing_since {
                    // Idle: let an answer in progress finish, take no new request.
                    None if quiet >= idle && busy.load(Ordering::Relaxed) == 0 => {
                        conn.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                    // Answered, yet still not closed: a client that does not
                    // read its answer. Drop it.
                    Some(t) if t.elapsed() >= idle && quiet >= idle
                        && busy.load(Ordering::Relaxed) == 0 => return Ok(()),
                    _ => {}
                }
            }
        }
    }
}

/// Counts a request as being answered while it lives.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that remembers when it last read or wrote a byte (milliseconds
/// since `started`), for the idle timeout.
struct Tracked {
    inner: TcpStream,
    started: Instant,
    last: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// One request: an operations path ([`ops`]) or the API, counted in
/// `http_requests_total{status}` and `http_request_duration_seconds`, and
/// logged as `METHOD PATH STATUS MS` when `log` asks for it.
pub async fn respond(api: &Api, req: Request<Incoming>, log: Log) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let answer = match ops::route(api, &method, &path).await {
        Some(answer) => answer,
        None => answer(api.clone(), req, log).await,
    };
    let status = answer.status();
    let elapsed = started.elapsed();
    ::metrics::counter!("http_requests_total", "status" => status.as_str().to_string())
        .increment(1);
    ::metrics::histogram!("http_request_duration_seconds").record(elapsed.as_secs_f64());
    if log == Log::All || (log == Log::Errors && status.is_server_error()) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let line = format!("{method} {path} {} {ms:.1}ms", status.as_u16());
        if status.is_server_error() {
            tracing::error!("{line}");
        } else {
            tracing::info!("{line}");
        }
    }
    answer.map(Full::from)
}

/// The glue: the body up to the API's limit, then the API's `Service`.
async fn answer(mut api: Api, req: Request<Incoming>, log: Log) -> Response<Vec<u8>> {
    let (head, body) = req.into_parts();
    let body = match Limited::new(body, api.body_limit()).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return api.payload_too_large_for(&head),
        // The client went away or sent a broken body: the API answers the
        // truncated body (malformed JSON, a clean 400).
        Err(e) => {
            if log == Log::All {
                tracing::info!("reading a body failed: {e}");
            }
            Bytes::from_static(b"{")
        }
    };
    let Ok(answer) = api.call(Request::from_parts(head, body)).await;
    answer
}

const USAGE: &str = "usage: server [--config FILE] [--listen ADDR] [--accounts FILE] [--store sqlite:PATH|memory|postgres://URL] [--body-limit BYTES] [--header-timeout SECS] [--idle-timeout SECS] [--max-connections N] [--log off|errors|all] [--shutdown-timeout SECS] [--echo-auth-token on|off]";

/// How long requests in flight may take to finish after SIGTERM or SIGINT
/// unless `--shutdown-timeout` says otherwise.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A positive number of seconds (fractions allowed).
fn seconds(flag: &str, value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{flag}: {value:?} is not a positive number of seconds"
        )),
    }
}

/// The store used when `--store` is not given: durable when SQLite is built in.
#[cfg(feature = "sqlite")]
pub const DEFAULT_STORE: &str = "sqlite:numbers.db";
/// The store used when `--store` is not given: durable when SQLite is built in.
#[cfg(not(feature = "sqlite"))]
pub const DEFAULT_STORE: &str = "memory";

/// The configuration the command line asks for: `--config FILE` (or none)
/// with the environment's overrides, then the other flags over it.
pub fn from_args(
    args: Vec<String>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<config::ServerConfig, String> {
    let file = args
        .iter()
        .position(|a| a == "--config")
        .map(|i| {
            args.get(i + 1)
                .ok_or_else(|| format!("--config needs a value\n{USAGE}"))
        })
        .transpose()?;
    let mut config = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            config::parse(&text, env).map_err(|e| format!("{path}: {e}"))?
        }
        None => config::parse("", env)?,
    };
    apply_flags(args.into_iter(), &mut config.server)?;
    Ok(config)
}

/// The flags other than `--config`, written over `server`.
fn apply_flags(
    mut args: impl Iterator<Item = String>,
    out: &mut config::ServerSection,
) -> Result<(), String> {
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--config" => {
                value()?;
            }
            "--listen" => out.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--accounts" => out.accounts = Some(value()?),
            "--store" => out.store = value()?,
            "--body-limit" => {
                out.body_limit = Some(value()?.parse().map_err(|e| format!("--body-limit: {e}"))?)
            }
            "--header-timeout" => out.header_timeout = seconds(&flag, &value()?)?,
            "--idle-timeout" => out.idle_timeout = seconds(&flag, &value()?)?,
            "--max-connections" => {
                out.max_connections = match value()?.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("{flag}: needs a positive integer")),
                }
            }
            "--log" => {
                out.log = match value()?.as_str() {
                    "off" => config::LogLevel::Off,
                    "errors" => config::LogLevel::Errors,
                    "all" => config::LogLevel::All,
                    other => return Err(format!("{flag}: {other:?} is not off, errors or all")),
                }
            }
            "--shutdown-timeout" => out.shutdown_timeout = seconds(&flag, &value()?)?,
            "--echo-auth-token" => {
                out.echo_auth_token = match value()?.as_str() {
                    "on" | "true" => true,
                    "off" | "false" => false,
                    other => return Err(format!("{flag}: {other:?} is not on or off")),
                }
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(())
}

/// The accounts to serve: those of `--accounts FILE`, or without one the
/// demo accounts (demo mode, the second value `true`).
pub fn load_specs(path: Option<&str>) -> Result<(Vec<AccountSpec>, bool), String> {
    let Some(path) = path else {
        return Ok((demo_accounts(), true));
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let specs = serde_json::from_str(&text)
        .map_err(|e| format!("{path}: not a JSON array of accounts: {e}"))?;
    Ok((specs, false))
}

/// The `tracing` subscriber: stderr, filtered by `RUST_LOG` (default
/// `warn,server=info`: the server's own lines, and the library's warnings).
fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,server=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C elsewhere than Unix). The
/// handlers are installed before this returns, so a signal that arrives
/// before the future is first polled is not lost.
fn stop_signal() -> Result<impl std::future::Future<Output = &'static str>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        })
    }
}

/// Prints where the server listens and the accounts; tokens only in demo
/// mode (a real account file's tokens are never printed).
fn print_banner(
    addr: std::net::SocketAddr,
    server: &config::ServerSection,
    api: &Api,
    specs: &[AccountSpec],
    demo: bool,
) {
    println!(
        "number-manager API on http://{addr}/v2 (store: {}, carriers: {})",
        server.store,
        api.manager().carriers().names().join(", ")
    );
    println!(
        "{:<34} {:<10} {:<7} {:<10} token",
        "account id", "name", "master", "additions"
    );
    for s in specs {
        let token = match (&s.token, demo) {
            (Some(t), true) => t.as_str(),
            (Some(_), false) => "(set)",
            (None, _) => "-",
        };
        println!(
            "{:<34} {:<10} {:<7} {:<10} {token}",
            s.id, s.name, s.is_master, s.allow_additions,
        );
    }
}

/// Housekeeping (expired search results, aging numbers, lapsed leases) every
/// `every`, until `stop` turns true; a round in progress is finished first.
fn housekeeping(
    manager: NumberManager,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = manager.purge_expired().await {
                tracing::error!("purge_expired: {e}");
            }
        }
    })
}

async fn run() -> Result<Stopped, String> {
    let config = from_args(std::env::args().skip(1).collect(), std::env::vars())?;
    let server = &config.server;
    let (specs, demo) = load_specs(server.accounts.as_deref())?;
    if demo {
        eprintln!(
            "demo mode: serving the demo accounts with their fixed tokens \
             (demo-master-token, ...); give --accounts FILE to serve real accounts"
        );
    }
    let (store, ports) = open_backends(&server.store).await?;
    let api = configured_api_with_ports(store, Some(ports), &specs, &config, &|var| {
        std::env::var(var).ok()
    })?;
    let listener = TcpListener::bind(server.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", server.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let signal = stop_signal()?;
    print_banner(addr, server, &api, &specs, demo);
    let (stop_housekeeping, stopped) = watch::channel(false);
    let purge = housekeeping(api.manager().clone(), server.purge_every, stopped);
    let (signalled, got) = tokio::sync::oneshot::channel();
    let stop = async move {
        let name = signal.await;
        let _ = signalled.send((name, Instant::now()));
    };
    let grace = server.shutdown_timeout;
    let outcome = serve_until(listener, api, server.limits(), stop, grace)
        .await
        .map_err(|e| e.to_string())?;
    let (name, at) = got.await.unwrap_or(("a signal", Instant::now()));
    let _ = stop_housekeeping.send(true);
    // The purge round in progress is part of what a clean stop finishes,
    // within the same deadline as the requests.
    let left = grace.saturating_sub(at.elapsed());
    if outcome == Stopped::Drained && tokio::time::timeout(left, purge).await.is_err() {
        return Ok(Stopped::TimedOut(1));
    }
    tracing::info!("{name}: stopped ({outcome:?})");
    Ok(outcome)
}

#[tokio::main]
async fn main() {
    install_tracing();
    metrics::install();
    match run().await {
        Ok(Stopped::Drained) => {}
        Ok(Stopped::TimedOut(n)) => {
            eprintln!("stopped with {n} connection(s) still answering after the shutdown timeout");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
