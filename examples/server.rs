//! The seeds' REST API over HTTP/1.1: `cargo run --example server`.
//!
//! Listens on 127.0.0.1:8000 with the embedded defaults: a SQLite file
//! `numbers.db` in the working directory (so a restarted server still has its
//! numbers; `--store memory` forgets them), the
//! simulated carrier (plus the local one), the simulated E911 provider with
//! the demo address book, and the offline locality provider. A demo account
//! tree (master -> reseller -> customer) is created unless `--accounts FILE`
//! names a JSON array of `AccountSpec`s; the ids and tokens are printed at
//! start. `--store` is `sqlite:PATH` (the default is `sqlite:numbers.db` when
//! the `sqlite` feature is on, as it is for `cargo run --example server`),
//! `memory`, or with the `postgres` feature `postgres://URL`. Every request is logged to stderr as `METHOD PATH STATUS MS`.
//!
//! ```text
//! cargo run --example server -- [--listen ADDR] [--accounts FILE] [--store SPEC] [--body-limit BYTES]
//! ```
//!
//! The hyper glue is [`serve`]: it reads each request's body up to
//! [`Api::body_limit`] (answering 413 past it without reading on), hands an
//! [`ApiRequest`] to [`Api::handle`] and writes the [`ApiResponse`] back. The
//! library itself knows nothing about hyper or tokio; `tests/api_http.rs`
//! includes this file as a module to drive the very same glue over real HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use number_manager::account::{AccountSpec, MemoryAccounts};
use number_manager::api::{Api, ApiRequest, ApiResponse, Method};
use number_manager::carrier::{CarrierRegistry, LocalCarrier, SimulatedCarrier};
use number_manager::e911::SimulatedE911;
use number_manager::locality::OfflineLocality;
use number_manager::store::{MemoryStore, Store};
use number_manager::NumberManager;

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
    let (kind, _rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "memory" => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "sqlite")]
        "sqlite" => number_manager::store::SqliteStore::open(_rest)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("{spec}: {e}")),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => number_manager::store::PostgresStore::connect(spec)
            .await
            .map(|s| Arc::new(s) as Arc<dyn Store>)
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

/// The manager with the demo backends over `store` and `accounts`.
pub fn demo_manager(store: Arc<dyn Store>, accounts: Arc<MemoryAccounts>) -> NumberManager {
    let carriers = CarrierRegistry::new()
        .with(Arc::new(LocalCarrier::new(store.clone())))
        .with(Arc::new(SimulatedCarrier::new(CARRIER_SEED)));
    NumberManager::builder()
        .store(store)
        .accounts(accounts)
        .carriers(carriers)
        .e911(Arc::new(SimulatedE911::seed_demo()))
        .locality(Arc::new(OfflineLocality::default()))
        .build()
}

/// The API over the demo manager, with the accounts as the token authenticator.
pub fn demo_api(store: Arc<dyn Store>, specs: &[AccountSpec]) -> Result<Api, String> {
    let accounts =
        Arc::new(MemoryAccounts::from_specs(specs).map_err(|e| format!("accounts: {e}"))?);
    Ok(Api::new(demo_manager(store, accounts.clone()), accounts))
}

/// Serves `api` on `listener` until the task is dropped: one task per
/// connection, HTTP/1.1 with keep-alive.
pub async fn serve(listener: TcpListener, api: Api) -> std::io::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, keep serving.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(respond(&api, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection from {peer}: {e}");
            }
        });
    }
}

/// One request through the API, logged as `METHOD PATH STATUS MS`.
pub async fn respond(api: &Api, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let answer = answer(api, req).await;
    eprintln!(
        "{method} {path} {} {:.1}ms",
        answer.status,
        started.elapsed().as_secs_f64() * 1000.0
    );
    to_hyper(answer)
}

async fn answer(api: &Api, req: Request<Incoming>) -> ApiResponse {
    let (parts, body) = req.into_parts();
    let mut request = ApiRequest::new(Method::from(parts.method.as_str()), parts.uri.path());
    request.query = parts.uri.query().unwrap_or("").to_string();
    request.headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    match Limited::new(body, api.body_limit()).collect().await {
        Ok(collected) => {
            request.body = collected.to_bytes().to_vec();
            api.handle(request).await
        }
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            api.payload_too_large(&request)
        }
        Err(e) => {
            // The client went away or sent a broken body: let the API answer
            // the truncated body (it will be malformed JSON, a clean 400).
            eprintln!("reading a body failed: {e}");
            request.body = b"{".to_vec();
            api.handle(request).await
        }
    }
}

fn to_hyper(answer: ApiResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

struct Args {
    listen: SocketAddr,
    accounts: Option<String>,
    store: String,
    body_limit: Option<usize>,
}

const USAGE: &str =
    "usage: server [--listen ADDR] [--accounts FILE] [--store sqlite:PATH|memory|postgres://URL] [--body-limit BYTES]";

/// The store used when `--store` is not given: durable when SQLite is built in.
#[cfg(feature = "sqlite")]
pub const DEFAULT_STORE: &str = "sqlite:numbers.db";
/// The store used when `--store` is not given: durable when SQLite is built in.
#[cfg(not(feature = "sqlite"))]
pub const DEFAULT_STORE: &str = "memory";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
        accounts: None,
        store: DEFAULT_STORE.into(),
        body_limit: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => out.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--accounts" => out.accounts = Some(value()?),
            "--store" => out.store = value()?,
            "--body-limit" => {
                out.body_limit = Some(value()?.parse().map_err(|e| format!("--body-limit: {e}"))?)
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(out)
}

fn load_specs(path: Option<&str>) -> Result<Vec<AccountSpec>, String> {
    let Some(path) = path else {
        return Ok(demo_accounts());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: not a JSON array of accounts: {e}"))
}

async fn run() -> Result<(), String> {
    let args = parse_args(std::env::args().skip(1))?;
    let specs = load_specs(args.accounts.as_deref())?;
    let store = open_store(&args.store).await?;
    let mut api = demo_api(store, &specs)?;
    if let Some(limit) = args.body_limit {
        api = api.with_body_limit(limit);
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "number-manager API on http://{addr}/v2 (store: {})",
        args.store
    );
    println!(
        "{:<34} {:<10} {:<7} {:<10} token",
        "account id", "name", "master", "additions"
    );
    for s in &specs {
        println!(
            "{:<34} {:<10} {:<7} {:<10} {}",
            s.id,
            s.name,
            s.is_master,
            s.allow_additions,
            s.token.as_deref().unwrap_or("-")
        );
    }
    // Housekeeping: expired search results, aging numbers, lapsed leases.
    let manager = api.manager().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = manager.purge_expired().await {
                eprintln!("purge_expired: {e}");
            }
        }
    });
    serve(listener, api).await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
