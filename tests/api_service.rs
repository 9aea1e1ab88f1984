//! The API on `http` types: the `tower_service::Service` answers exactly as
//! `Api::handle` does, the conversions between `ApiRequest`/`ApiResponse` and
//! `http::Request`/`http::Response`, a configurable base path, `X-Request-Id`
//! kept (and carried into the manager's events), and the body limit through
//! the service.

use std::sync::Arc;

use number_manager::account::MemoryAccounts;
use number_manager::api::{Api, ApiRequest, ApiResponse, Method, MAX_REQUEST_ID_LEN};
use number_manager::carrier::{CarrierRegistry, LocalCarrier};
use number_manager::clock::ManualClock;
use number_manager::events::AuditLog;
use number_manager::store::{MemoryStore, Store};
use number_manager::{NumberManager, Options, PhoneNumber};
use serde_json::{json, Value};
use tower_service::Service;

const TOKEN: &str = "customer-token";
const ACCT: &str = "/v2/accounts/customer/phone_numbers";
const LIMIT: usize = 4096;

struct World {
    api: Api,
    audit: Arc<AuditLog>,
}

/// A master and a customer (with `allow_additions`), a memory store, the
/// local carrier, a fixed clock (two worlds answer byte for byte alike) and
/// an audit log as the event sink.
fn world() -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let customer = accounts.add("customer", "Customer", Some(&master)).unwrap();
    accounts.set_allow_additions(&customer, true);
    accounts.set_token(&customer, TOKEN);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let audit = Arc::new(AuditLog::default());
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts.clone())
        .carriers(CarrierRegistry::new().with(Arc::new(LocalCarrier::new(store))))
        .clock(Arc::new(ManualClock::at_gregorian(63_628_550_806)))
        .events(audit.clone())
        .build();
    World {
        api: Api::new(manager, accounts).with_body_limit(LIMIT),
        audit,
    }
}

/// One request through the service, answered as an `ApiResponse`; asserts
/// the `http` answer has exactly one `content-type`.
async fn serve<B: Into<Vec<u8>>>(api: &Api, request: http::Request<B>) -> ApiResponse {
    let mut service = api.clone();
    std::future::poll_fn(|cx| Service::<http::Request<B>>::poll_ready(&mut service, cx))
        .await
        .unwrap();
    let Ok(answer) = service.call(request).await;
    assert_eq!(
        answer
            .headers()
            .get_all(http::header::CONTENT_TYPE)
            .iter()
            .count(),
        1,
        "{answer:?}"
    );
    ApiResponse::from(answer)
}

fn request(method: &str, target: &str) -> http::request::Builder {
    http::Request::builder()
        .method(method)
        .uri(target)
        .header("x-auth-token", TOKEN)
}

fn history(w: &World, number: &str) -> Vec<Option<String>> {
    w.audit
        .history(&PhoneNumber::parse(number).unwrap())
        .into_iter()
        .map(|e| e.request_id)
        .collect()
}

#[tokio::test]
async fn the_service_answers_exactly_as_handle_does() {
    // Two identical worlds take the same requests, one through `handle`, one
    // through the service; each answer must match in status, headers and body.
    let (by_handle, by_service) = (world(), world());
    let n = "%2B14155550100";
    let steps: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::Get,
            "/v2/phone_numbers/classifiers/4158867900".into(),
            None,
        ),
        (
            Method::Put,
            format!("{ACCT}/{n}"),
            Some(json!({"data": {"my_own_field": 1}})),
        ),
        (Method::Put, format!("{ACCT}/{n}"), None),
        (Method::Get, format!("{ACCT}/{n}"), None),
        (
            Method::Post,
            format!("{ACCT}/{n}"),
            Some(json!({"data": {"my_own_field": 2}})),
        ),
        (
            Method::Patch,
            format!("{ACCT}/{n}?dry_run=true"),
            Some(json!({"data": {"x": true}})),
        ),
        (Method::Get, format!("{ACCT}?page_size=1"), None),
        (
            Method::Put,
            format!("{ACCT}/collection"),
            Some(json!({"data": {"numbers": ["+14155550101", "+14155550102"]}})),
        ),
        (Method::Get, format!("{ACCT}/collection"), None),
        (Method::Get, "/v2/nowhere".into(), None),
        (
            Method::Post,
            format!("{ACCT}/check"),
            Some(json!("not an object")),
        ),
        (Method::Delete, format!("{ACCT}/{n}"), None),
        (
            Method::Get,
            "/v2/accounts/master/phone_numbers".into(),
            None,
        ),
    ];
    let mut statuses = Vec::new();
    for (i, (method, target, body)) in steps.into_iter().enumerate() {
        let id = format!("step-{i}");
        let mut plain = ApiRequest::new(method, &target)
            .token(TOKEN)
            .header("X-Request-Id", &id);
        if let Some(b) = &body {
            plain = plain.json(b);
        }
        let through_http = http::Request::try_from(plain.clone()).unwrap();
        let expected = by_handle.api.handle(plain).await;
        let got = serve(&by_service.api, through_http).await;
        assert_eq!(got, expected, "{method} {target}");
        statuses.push(got.status);
        assert_eq!(got.header("x-request-id"), Some(id.as_str()));
    }
    // Successes, a 201, and each kind of failure were compared.
    assert_eq!(
        statuses,
        [200, 201, 409, 200, 200, 200, 200, 200, 405, 404, 400, 200, 403]
    );
    // The 405 keeps its `Allow` header through the service.
    let got = serve(
        &by_service.api,
        request("GET", &format!("{ACCT}/collection"))
            .body("")
            .unwrap(),
    )
    .await;
    assert_eq!(got.status, 405);
    assert_eq!(got.header("allow"), Some("PUT, POST, PATCH, DELETE"));
}

#[tokio::test]
async fn bodies_of_every_collected_kind_are_accepted() {
    let w = world();
    let body = r#"{"data": {"numbers": ["+14155550111"]}}"#;
    let target = format!("{ACCT}/collection");
    let as_str = serve(&w.api, request("PUT", &target).body(body).unwrap()).await;
    assert_eq!(as_str.status, 200, "{:?}", as_str.json());
    let bytes = bytes::Bytes::from(body.replace("0111", "0112"));
    let as_bytes = serve(&w.api, request("PUT", &target).body(bytes).unwrap()).await;
    assert_eq!(as_bytes.status, 200, "{:?}", as_bytes.json());
    let vec = body.replace("0111", "0113").into_bytes();
    let as_vec = serve(&w.api, request("PUT", &target).body(vec).unwrap()).await;
    assert_eq!(as_vec.status, 200, "{:?}", as_vec.json());
    assert_eq!(
        as_vec.json().unwrap()["data"]["success"]["+14155550113"]["state"],
        "reserved"
    );
}

#[tokio::test]
async fn conversions_keep_every_part() {
    let plain = ApiRequest::new(
        Method::Post,
        "/v2/accounts/a/phone_numbers/%2B1415?dry_run=true&x=%20",
    )
    .token(TOKEN)
    .header("idempotency-key", "k1")
    .body("{}");
    let http_req = http::Request::try_from(plain.clone()).unwrap();
    assert_eq!(http_req.method(), http::Method::POST);
    assert_eq!(
        http_req.uri().path(),
        "/v2/accounts/a/phone_numbers/%2B1415"
    );
    assert_eq!(http_req.uri().query(), Some("dry_run=true&x=%20"));
    assert_eq!(http_req.headers()["idempotency-key"], "k1");
    assert_eq!(ApiRequest::from(http_req), plain);
    // Not every request is one `http` accepts.
    let bad = ApiRequest::new(Method::Get, "/v2/phone_numbers").header("bad name", "x");
    assert!(http::Request::try_from(bad).is_err());
    // A header value that is not UTF-8 is left out; an extension method is `Other`.
    let odd = http::Request::builder()
        .method("PURGE")
        .uri("/v2/phone_numbers")
        .header("x-odd", http::HeaderValue::from_bytes(b"\xff\xfe").unwrap())
        .header("x-auth-token", TOKEN)
        .body(Vec::new())
        .unwrap();
    let converted = ApiRequest::from(odd);
    assert_eq!(converted.method, Method::Other);
    assert_eq!(
        converted.headers,
        [("x-auth-token".to_string(), TOKEN.to_string())]
    );
    assert_eq!(Method::from(&http::Method::DELETE), Method::Delete);

    let answer = world()
        .api
        .handle(ApiRequest::new(Method::Get, "/v2/nowhere"))
        .await;
    let http_res = http::Response::try_from(answer.clone()).unwrap();
    assert_eq!(http_res.status(), http::StatusCode::NOT_FOUND);
    assert_eq!(ApiResponse::from(http_res), answer);
    let impossible = ApiResponse {
        status: 1000,
        headers: Vec::new(),
        body: Vec::new(),
    };
    assert!(http::Response::try_from(impossible).is_err());
}

#[tokio::test]
async fn a_base_path_routes_below_it_and_nowhere_else() {
    let w = world();
    let api = w.api.clone().with_base_path("/api/numbers/v2/");
    assert_eq!(api.base_path(), "/api/numbers/v2");
    let nested = "/api/numbers/v2/accounts/customer/phone_numbers";
    let created = serve(
        &api,
        request("PUT", &format!("{nested}/%2B14155550120"))
            .body("")
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let listed = serve(&api, request("GET", nested).body("").unwrap()).await;
    assert_eq!(listed.status, 200);
    assert!(listed.json().unwrap()["data"]["numbers"]["+14155550120"].is_object());
    let public = serve(
        &api,
        request(
            "GET",
            "/api/numbers/v2/phone_numbers/classifiers/4158867900",
        )
        .body("")
        .unwrap(),
    )
    .await;
    assert_eq!(public.json().unwrap()["data"]["name"], "did_us");
    // Outside the base (the default `/v2` included, and a longer segment): 404 in the envelope.
    for outside in [
        ACCT.to_string(),
        "/api/numbers/v2x/accounts/customer/phone_numbers".into(),
        "/api/numbers".into(),
        "/api/numbers/v2".into(),
    ] {
        let a = serve(&api, request("GET", &outside).body("").unwrap()).await;
        assert_eq!(a.status, 404, "{outside}");
        let v = a.json().unwrap();
        assert_eq!(v["status"], "error", "{outside}");
        assert_eq!(v["message"], "not_found", "{outside}");
        assert!(v["data"]["message"].as_str().unwrap().contains(&outside));
    }
    // `handle` routes the same way.
    let a = api
        .handle(ApiRequest::new(Method::Get, nested).token(TOKEN))
        .await;
    assert_eq!(a.status, 200);
    // A base without a leading slash gets one; an empty base is the root.
    assert_eq!(
        w.api.clone().with_base_path("numbers").base_path(),
        "/numbers"
    );
    let root = w.api.clone().with_base_path("/");
    assert_eq!(root.base_path(), "");
    let a = root
        .handle(ApiRequest::new(Method::Get, "/accounts/customer/phone_numbers").token(TOKEN))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    let a = root
        .handle(ApiRequest::new(Method::Get, ACCT).token(TOKEN))
        .await;
    assert_eq!(a.status, 404);
    // The default is the seeds' `/v2`, and `routes()` keeps the seeds' patterns.
    assert_eq!(w.api.base_path(), "/v2");
    assert!(Api::routes().iter().all(|r| r.pattern.starts_with("/v2/")));
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_and_reaches_the_events() {
    let w = world();
    let kept = "req-7f3a_9b:01/Z~!";
    let a = serve(
        &w.api,
        request("PUT", &format!("{ACCT}/%2B14155550130"))
            .header("X-Request-Id", kept)
            .body("")
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("x-request-id"), Some(kept));
    assert_eq!(a.json().unwrap()["request_id"], kept);
    assert_eq!(history(&w, "+14155550130"), [Some(kept.to_string())]);

    // The longest id kept, and through `handle` too.
    let longest = "x".repeat(MAX_REQUEST_ID_LEN);
    let a = w
        .api
        .handle(
            ApiRequest::new(Method::Put, &format!("{ACCT}/%2B14155550131"))
                .token(TOKEN)
                .header("x-request-id", &longest),
        )
        .await;
    assert_eq!(a.header("x-request-id"), Some(longest.as_str()));
    assert_eq!(history(&w, "+14155550131"), [Some(longest.clone())]);

    // Too long, empty, with a space or a non-ASCII character: a fresh 32-hex id
    // instead, the same in the header, the envelope and the event.
    let too_long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
    for (i, bad) in [too_long.as_str(), "", "two words", "caf\u{e9}", "tab\there"]
        .into_iter()
        .enumerate()
    {
        let number = format!("+1415555014{i}");
        let a = w
            .api
            .handle(
                ApiRequest::new(
                    Method::Put,
                    &format!("{ACCT}/{}", number.replace('+', "%2B")),
                )
                .token(TOKEN)
                .header("X-Request-Id", bad),
            )
            .await;
        assert_eq!(a.status, 201, "{bad:?}");
        let id = a.header("x-request-id").unwrap().to_string();
        assert_eq!(id.len(), 32, "{bad:?} -> {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(a.json().unwrap()["request_id"], id.as_str());
        assert_eq!(history(&w, &number), [Some(id)]);
    }
    // Without one, the generated id reaches the events as well.
    let a = w
        .api
        .handle(ApiRequest::new(Method::Put, &format!("{ACCT}/%2B14155550150")).token(TOKEN))
        .await;
    let id = a.header("x-request-id").unwrap().to_string();
    assert_eq!(history(&w, "+14155550150"), [Some(id)]);
    // Every event of a collection carries the request's id.
    let a = w
        .api
        .handle(
            ApiRequest::new(Method::Post, &format!("{ACCT}/collection"))
                .token(TOKEN)
                .header("x-request-id", "batch-1")
                .json(&json!({"data": {"numbers": ["+14155550130", "+14155550131"], "f": 1}})),
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json());
    assert_eq!(history(&w, "+14155550130")[1].as_deref(), Some("batch-1"));
    assert_eq!(history(&w, "+14155550131")[1].as_deref(), Some("batch-1"));
}

#[tokio::test]
async fn options_carry_a_request_id_into_events_without_the_api() {
    let w = world();
    let customer = "customer".parse().unwrap();
    let opts = Options::as_account(&customer).with_request_id("host-42");
    assert_eq!(opts.request_id.as_deref(), Some("host-42"));
    w.api
        .manager()
        .create(&customer, "+14155550160", Default::default(), &opts)
        .await
        .unwrap();
    w.api
        .manager()
        .create(
            &customer,
            "+14155550161",
            Default::default(),
            &Options::as_account(&customer),
        )
        .await
        .unwrap();
    assert_eq!(history(&w, "+14155550160"), [Some("host-42".to_string())]);
    assert_eq!(history(&w, "+14155550161"), [None]);
    // An event without a request id serializes as before (no `request_id` key).
    let event = &w
        .audit
        .history(&PhoneNumber::parse("+14155550161").unwrap())[0];
    assert!(serde_json::to_value(event)
        .unwrap()
        .get("request_id")
        .is_none());
    let event = &w
        .audit
        .history(&PhoneNumber::parse("+14155550160").unwrap())[0];
    assert_eq!(
        serde_json::to_value(event).unwrap()["request_id"],
        "host-42"
    );
}

#[tokio::test]
async fn the_body_limit_holds_through_the_service() {
    let w = world();
    let target = format!("{ACCT}/%2B14155550170");
    let pad = |n: usize| {
        let frame = r#"{"data": {"pad": ""}}"#;
        format!(
            r#"{{"data": {{"pad": "{}"}}}}"#,
            "x".repeat(n - frame.len())
        )
    };
    let over = serve(
        &w.api,
        request("PUT", &target)
            .header("x-request-id", "big-1")
            .body(pad(LIMIT + 1))
            .unwrap(),
    )
    .await;
    assert_eq!(over.status, 413);
    let v = over.json().unwrap();
    assert_eq!(v["message"], "payload_too_large");
    assert_eq!(v["request_id"], "big-1");
    assert!(v["data"]["message"]
        .as_str()
        .unwrap()
        .contains(&LIMIT.to_string()));
    // Exactly at the limit is read.
    let at = serve(&w.api, request("PUT", &target).body(pad(LIMIT)).unwrap()).await;
    assert_eq!(at.status, 201, "{:?}", at.json());
    // The early answer for a host that stops reading at the limit.
    let (head, ()) = request("PUT", &target)
        .header("x-request-id", "big-2")
        .body(())
        .unwrap()
        .into_parts();
    let early = w.api.payload_too_large_for(&head);
    assert_eq!(early.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(early.headers()["x-request-id"], "big-2");
    assert_eq!(early.headers().get_all("content-type").iter().count(), 1);
    let v: Value = serde_json::from_slice(early.body()).unwrap();
    assert_eq!(v["auth_token"], TOKEN);
    assert_eq!(v["message"], "payload_too_large");
}
