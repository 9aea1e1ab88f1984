//! The seeds' REST API nested in an axum router: `cargo run --example axum`.
//!
//! Listens on 127.0.0.1:8001 and serves the `server` example's demo API
//! (its accounts and tokens, simulated carrier, E911 provider and locality,
//! on a memory store) under [`BASE`], beside a route of the host's own
//! (`GET /health`):
//!
//! ```text
//! curl -s "http://127.0.0.1:8001/api/numbers/v2/phone_numbers?prefix=415&quantity=2"
//! ```
//!
//! The glue is [`numbers`]: collect the body up to [`Api::body_limit`], call
//! the API's `tower_service::Service`, hand the answer back. The API routes the
//! full path itself ([`Api::with_base_path`]), so no prefix is stripped and no
//! `OriginalUri` is needed. `tests/api_http.rs` includes this file as a module
//! and runs the seeds' curl walk-through through [`router`], as it does
//! through the hyper server.

/// The `server` example's demo setup (public so `tests/api_http.rs`, which
/// includes this file, reaches the demo accounts through here too).
#[path = "server.rs"]
#[allow(dead_code)]
pub mod server;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use number_manager::api::Api;
use tokio::net::TcpListener;
use tower_service::Service;

/// Where the host nests the API.
pub const BASE: &str = "/api/numbers/v2";

/// The host's router: its own routes, and every path below [`BASE`] to the API.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(&format!("{BASE}/{{*rest}}"), any(numbers))
        .with_state(api.with_base_path(BASE))
}

/// The glue. A body that cannot be read within the limit is answered 413.
async fn numbers(State(mut api): State<Api>, request: Request) -> Response {
    let (head, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, api.body_limit()).await else {
        return api.payload_too_large_for(&head).map(Body::from);
    };
    let Ok(answer) = api.call(axum::http::Request::from_parts(head, body)).await;
    answer.map(Body::from)
}

/// Serves `api` on `listener` under [`BASE`] until the task is dropped.
pub async fn serve(listener: TcpListener, api: Api) -> std::io::Result<()> {
    axum::serve(listener, router(api)).await
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let store = server::open_store("memory").await?;
    let api = server::demo_api(store, &server::demo_accounts())?;
    let listener = TcpListener::bind("127.0.0.1:8001")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:8001: {e}"))?;
    println!("number-manager API on http://127.0.0.1:8001{BASE} (store: memory; tokens as in the server example)");
    serve(listener, api).await.map_err(|e| e.to_string())
}
