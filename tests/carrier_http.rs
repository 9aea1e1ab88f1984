//! ReqwestClient against the local stub server: what goes on the wire, what
//! comes back, and how it fails (a slow answer past the time limit, no
//! server, a dropped connection).

mod carrier_support;

use std::time::Duration;

use carrier_support::{Reply, Stub};
use number_manager::carrier::{HttpClient, HttpError, HttpRequest, Method, ReqwestClient};
use serde_json::json;

fn client(request: Duration) -> ReqwestClient {
    ReqwestClient::with_timeouts(Duration::from_secs(2), request).unwrap()
}

#[tokio::test]
async fn requests_and_answers_travel_whole() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        "/v2/things",
        vec![Reply::json(201, json!({"ok": true})).header("Retry-After", "3")],
    );
    let request = HttpRequest::new(Method::Post, stub.url("/v2/things?a=1&b=x%20y"))
        .header("Authorization", "Bearer k")
        .header("Content-Type", "application/json")
        .body(r#"{"n":1}"#);
    let response = client(Duration::from_secs(5)).send(request).await.unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(response.header("retry-after"), Some("3"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&response.body).unwrap(),
        json!({"ok": true})
    );
    let seen = stub.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v2/things");
    assert_eq!(seen[0].query_value("b"), Some("x y"));
    assert_eq!(seen[0].header("authorization"), Some("Bearer k"));
    assert_eq!(seen[0].json(), json!({"n": 1}));
}

#[tokio::test]
async fn any_status_is_an_answer() {
    let stub = Stub::start().await;
    stub.on("DELETE", "/gone", vec![Reply::empty(404)]);
    let response = client(Duration::from_secs(5))
        .send(HttpRequest::new(Method::Delete, stub.url("/gone")))
        .await
        .unwrap();
    assert_eq!(response.status, 404);
    assert!(response.body.is_empty());
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        "/slow",
        vec![Reply::empty(200).delayed(Duration::from_secs(5))],
    );
    let e = client(Duration::from_millis(200))
        .send(HttpRequest::new(Method::Get, stub.url("/slow")))
        .await
        .unwrap_err();
    assert_eq!(e, HttpError::Timeout);
}

#[tokio::test]
async fn no_server_and_a_dropped_connection_are_transport_failures() {
    // A port nobody listens on: bind one, then let it go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = client(Duration::from_secs(5))
        .send(HttpRequest::new(Method::Get, format!("http://{addr}/x")))
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Connect(_)), "{e:?}");

    let stub = Stub::start().await;
    stub.on("GET", "/drop", vec![Reply::hang_up()]);
    let e = client(Duration::from_secs(5))
        .send(HttpRequest::new(Method::Get, stub.url("/drop")))
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Transport(_)), "{e:?}");
}
