//! The operations endpoints, served outside the API's base path and without
//! a token: `/healthz` (the process serves), `/readyz` (the store answers,
//! and no carrier says it is down) and `/metrics` (Prometheus text).

use std::time::Duration;

use hyper::{Method, Response};
use number_manager::api::Api;
use number_manager::carrier::CarrierHealth;
use number_manager::PhoneNumber;
use serde_json::{json, Value};

/// Liveness: answered while the process serves.
pub const HEALTH_PATH: &str = "/healthz";
/// Readiness: the store answers, and no carrier says it is down.
pub const READY_PATH: &str = "/readyz";
/// The metrics the `metrics` facade recorded, as Prometheus text.
pub const METRICS_PATH: &str = "/metrics";

/// How long the store may take to answer the readiness read, and each
/// carrier its health question.
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
/// [`STORE_TIMEOUT`] and no carrier answers [`CarrierHealth::Down`] (or
/// fails to answer [`Carrier::health`](number_manager::carrier::Carrier::health) within it), else 503 naming what is
/// not ready: `store`, `carrier:NAME`. A carrier that does not tell
/// ([`CarrierHealth::Unknown`], the trait's default) is listed as `unknown`
/// and does not hold readiness back.
pub async fn readiness(api: &Api) -> (u16, Value) {
    let manager = api.manager();
    // Every carrier is asked at once, while the store is read.
    let asked: Vec<_> = manager
        .carriers()
        .all()
        .iter()
        .map(|c| {
            let c = c.clone();
            tokio::spawn(async move { tokio::time::timeout(STORE_TIMEOUT, c.health()).await })
        })
        .collect();
    let store = store_check(api).await;
    let mut not_ready: Vec<String> = Vec::new();
    if store["status"] != "ok" {
        not_ready.push("store".into());
    }
    let mut carriers = serde_json::Map::new();
    for (name, answer) in manager.carriers().names().iter().zip(asked) {
        let check = match answer.await {
            Ok(Ok(CarrierHealth::Up)) => json!({"status": "ok"}),
            Ok(Ok(CarrierHealth::Down(reason))) => json!({"status": "down", "error": reason}),
            Ok(Ok(_)) => json!({"status": "unknown"}),
            Ok(Err(_)) => json!({"status": "down", "error": no_answer()}),
            Err(e) => json!({"status": "down", "error": e.to_string()}),
        };
        if check["status"] == "down" {
            not_ready.push(format!("carrier:{name}"));
        }
        carriers.insert(name.clone(), check);
    }
    let status = if not_ready.is_empty() { 200 } else { 503 };
    let body = json!({
        "status": if not_ready.is_empty() { "ready" } else { "not_ready" },
        "not_ready": not_ready,
        "checks": {"store": store, "carriers": carriers},
    });
    (status, body)
}

fn no_answer() -> String {
    format!(
        "no answer within {}",
        number_manager::duration::format(STORE_TIMEOUT)
    )
}

/// The store's check: one read of a fixed number within [`STORE_TIMEOUT`].
async fn store_check(api: &Api) -> Value {
    let probe = match PhoneNumber::parse(PROBE) {
        Ok(probe) => probe,
        Err(e) => return json!({"status": "error", "error": e.to_string()}),
    };
    let read = api.manager().store().get_many(std::slice::from_ref(&probe));
    match tokio::time::timeout(STORE_TIMEOUT, read).await {
        Ok(Ok(_)) => json!({"status": "ok"}),
        Ok(Err(e)) => json!({"status": "error", "error": e.to_string()}),
        Err(_) => json!({"status": "error", "error": no_answer()}),
    }
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
