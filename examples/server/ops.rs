//! The operations endpoints, served outside the API's base path and without
//! a token: `/healthz` (the process serves), `/readyz` (the store answers)
//! and `/metrics` (Prometheus text).

use std::time::Duration;

use hyper::{Method, Response};
use number_manager::api::Api;
use number_manager::PhoneNumber;
use serde_json::{json, Value};

/// Liveness: answered while the process serves.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the store answers.
pub const READY_PATH: &str = "/readyz";
/// The metrics the `metrics` facade recorded, as Prometheus text.
pub const METRICS_PATH: &str = "/metrics";

/// How long the store may take to answer the readiness read.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The number the readiness check reads: any answer, found or not, shows the
/// store serves reads.
const PROBE: &str = "+10000000000";

/// The answer for an operations path, or `None` for any other path (the
/// API's). Only `GET` and `HEAD` are served on them; another method is 405.
pub async fn route(api: &Api, method: &Method, path: &str) -> Option<Response<Vec<u8>>> {
    if ![HEALTH_PATH, READY_PATH, METRICS_PATH].contains(&path) {
        return None;
    }
    if method != Method::GET && method != Method::HEAD {
        return Some(
            Response::builder()
                .status(405)
                .header("allow", "GET, HEAD")
                .header("content-type", "application/json")
                .body(
                    json!({"status": "error", "message": "method_not_allowed"})
                        .to_string()
                        .into(),
                )
                .unwrap_or_default(),
        );
    }
    Some(match path {
        HEALTH_PATH => json_answer(200, &json!({"status": "ok"})),
        READY_PATH => {
            let (status, body) = readiness(api).await;
            json_answer(status, &body)
        }
        _ => metrics_answer(),
    })
}

/// 200 and what was checked when the store answers a read within
/// [`STORE_TIMEOUT`], else 503 naming what is not ready.
pub async fn readiness(api: &Api) -> (u16, Value) {
    let manager = api.manager();
    let store = match PhoneNumber::parse(PROBE) {
        Ok(probe) => {
            match tokio::time::timeout(
                STORE_TIMEOUT,
                manager.store().get_many(std::slice::from_ref(&probe)),
            )
            .await
            {
                Ok(Ok(_)) => json!({"status": "ok"}),
                Ok(Err(e)) => json!({"status": "error", "error": e.to_string()}),
                Err(_) => json!({
                    "status": "error",
                    "error": format!("no answer within {}", number_manager::duration::format(STORE_TIMEOUT)),
                }),
            }
        }
        Err(e) => json!({"status": "error", "error": e.to_string()}),
    };
    let not_ready: Vec<&str> = (store["status"] != "ok")
        .then_some("store")
        .into_iter()
        .collect();
    // Carriers have no health call: listed, never failing readiness.
    let carriers: serde_json::Map<String, Value> = manager
        .carriers()
        .names()
        .iter()
        .map(|name| (name.clone(), json!({"status": "unchecked"})))
        .collect();
    let status = if not_ready.is_empty() { 200 } else { 503 };
    let body = json!({
        "status": if not_ready.is_empty() { "ready" } else { "not_ready" },
        "not_ready": not_ready,
        "checks": {"store": store, "carriers": carriers},
    });
    (status, body)
}

fn json_answer(status: u16, body: &Value) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(body.to_string().into_bytes())
        .unwrap_or_default()
}

/// The installed recorder's text, or 404 when the process has none (the
/// server installs one at start; a test that includes this file may not).
fn metrics_answer() -> Response<Vec<u8>> {
    match super::metrics::installed() {
        Some(registry) => Response::builder()
            .status(200)
            .header("content-type", super::metrics::CONTENT_TYPE)
            .header("cache-control", "no-store")
            .body(registry.render().into_bytes())
            .unwrap_or_default(),
        None => json_answer(
            404,
            &json!({"status": "error", "message": "no metrics recorder is installed"}),
        ),
    }
}
