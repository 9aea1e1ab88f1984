//! TelnyxCarrier against a local stub of Telnyx's API v2: the requests it
//! sends (method, path, query, auth header, body), what it makes of each
//! documented answer and failure, and a purchase through the manager that
//! settles later through `owned_numbers`.

mod carrier_support;

use std::sync::Arc;
use std::time::Duration;

use carrier_support::{fixture, Harness, HyperClient, Reply, Stub};
use number_manager::carrier::{
    Carrier, HttpClient, NumberOrder, Ownership, SearchRequest, TelnyxCarrier,
};
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::{Error, Options, PhoneNumber};
use serde_json::{json, Value};

const KEY: &str = "KEY01234567890ABCDEF_secret";
const N: &str = "+14155550123";
const ORDER: &str = "/v2/number_orders";
const ORDER_ID: &str = "12ade33a-21c0-473b-b055-b3c836e1c292";
const PHONES: &str = "/v2/phone_numbers";

fn client(timeout: Duration) -> Arc<dyn HttpClient> {
    Arc::new(HyperClient::new(timeout))
}

fn carrier(stub: &Stub) -> TelnyxCarrier {
    TelnyxCarrier::new(client(Duration::from_secs(5)), KEY, stub.url("/v2"))
}

fn number(s: &str) -> PhoneNumber {
    PhoneNumber::from_e164(s).unwrap()
}

fn order_for(n: &str) -> NumberOrder {
    NumberOrder::new(number(n))
}

fn search(prefix: &str, country: &str, quantity: usize) -> SearchRequest {
    SearchRequest::new(prefix, quantity).with_country(country)
}

/// The documented order answer with `status` for the order and its number.
fn order_answer(status: &str) -> Value {
    let mut v = fixture("telnyx/number_order.json");
    v["data"]["status"] = json!(status);
    v["data"]["phone_numbers"][0]["status"] = json!(status);
    v
}

/// The documented phone-number list with one row for `N` in `status`.
fn phone_list(status: &str) -> Value {
    let mut v = fixture("telnyx/phone_numbers.json");
    v["data"][0]["status"] = json!(status);
    v
}

fn empty_list() -> Value {
    json!({"data": [], "meta": {"total_pages": 0, "total_results": 0, "page_number": 1, "page_size": 20}})
}

fn telnyx_error(code: &str, title: &str, detail: &str) -> Value {
    json!({"errors": [{"code": code, "title": title, "detail": detail}]})
}

fn assert_bearer(stub: &Stub) {
    for r in stub.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str()),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("accept"), Some("application/json"));
    }
}

#[tokio::test]
async fn a_nanp_search_sends_the_documented_filters() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        "/v2/available_phone_numbers",
        vec![Reply::json(
            200,
            fixture("telnyx/available_phone_numbers.json"),
        )],
    );
    let telnyx = carrier(&stub)
        .with_features(["voice", "sms"])
        .with_locality("San Francisco")
        .with_administrative_area("CA");
    let found = telnyx
        .find_numbers(&search("+1415555", "US", 5))
        .await
        .unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.query_value("filter[country_code]"), Some("US"));
    assert_eq!(
        r.query_value("filter[national_destination_code]"),
        Some("415")
    );
    assert_eq!(
        r.query_value("filter[phone_number][starts_with]"),
        Some("555")
    );
    assert_eq!(r.query_value("filter[features]"), Some("voice,sms"));
    assert_eq!(r.query_value("filter[locality]"), Some("San Francisco"));
    assert_eq!(r.query_value("filter[administrative_area]"), Some("CA"));
    assert_eq!(r.query_value("filter[limit]"), Some("5"));
    assert_bearer(&stub);
    // The best-effort +1650 result does not match the prefix and is dropped.
    let numbers: Vec<&str> = found.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(numbers, vec!["+14155550123", "+14155550187"]);
    let first = &found[0];
    assert_eq!(first.state, NumberState::Discovery);
    assert_eq!(first.data["npa_nxx"], "415555");
    assert_eq!(first.data["rate_center"]["name"], "SAN FRANCISCO");
    assert_eq!(first.data["rate_center"]["state"], "CA");
    assert_eq!(first.data["features"], json!(["sms", "voice", "emergency"]));
    assert_eq!(first.data["cost_information"]["monthly_cost"], "1.00");
}

#[tokio::test]
async fn a_search_honours_quantity_offset_and_foreign_prefixes() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        "/v2/available_phone_numbers",
        vec![Reply::json(
            200,
            fixture("telnyx/available_phone_numbers.json"),
        )],
    );
    let telnyx = carrier(&stub);
    let mut req = search("415", "US", 1);
    req.offset = 1;
    let found = telnyx.find_numbers(&req).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].number.as_str(), "+14155550187");
    let r = &stub.requests()[0];
    assert_eq!(
        r.query_value("filter[national_destination_code]"),
        Some("415")
    );
    assert_eq!(r.query_value("filter[phone_number][starts_with]"), None);
    assert_eq!(r.query_value("filter[limit]"), Some("2"));
    assert_eq!(r.query_value("filter[features]"), None);

    stub.clear_requests();
    stub.on(
        "GET",
        "/v2/available_phone_numbers",
        vec![Reply::json(
            200,
            json!({"data": [{"phone_number": "+442079460123"}]}),
        )],
    );
    let found = telnyx
        .find_numbers(&search("+44207", "GB", 3))
        .await
        .unwrap();
    assert_eq!(found[0].number.as_str(), "+442079460123");
    let r = &stub.requests()[0];
    assert_eq!(r.query_value("filter[country_code]"), Some("GB"));
    // No country code in starts_with, and no NANP area-code filter.
    assert_eq!(
        r.query_value("filter[phone_number][starts_with]"),
        Some("207")
    );
    assert_eq!(r.query_value("filter[national_destination_code]"), None);
}

#[tokio::test]
async fn a_successful_order_is_a_purchase() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        ORDER,
        vec![Reply::json(200, order_answer("success"))],
    );
    stub.on("GET", PHONES, vec![Reply::json(200, phone_list("active"))]);
    let telnyx = carrier(&stub).with_connection_id("346789098765567");
    let data = telnyx.acquire(&order_for(N)).await.unwrap();
    assert_eq!(data["telnyx_order_id"], ORDER_ID);
    assert_eq!(data["telnyx_phone_number_id"], "1293384261075731499");
    let posts = stub.requests_to("POST", ORDER);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].header("content-type"), Some("application/json"));
    assert_eq!(
        posts[0].json(),
        json!({"phone_numbers": [{"phone_number": N}], "connection_id": "346789098765567"})
    );
    // No second look at a settled order: the next request finds the number's id.
    let paths: Vec<String> = stub
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        vec![format!("POST {ORDER}"), format!("GET {PHONES}")]
    );
    assert_bearer(&stub);
}

#[tokio::test]
async fn a_pending_order_is_looked_at_again_until_it_settles() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        ORDER,
        vec![Reply::json(200, order_answer("pending"))],
    );
    let path = format!("{ORDER}/{ORDER_ID}");
    stub.on(
        "GET",
        &path,
        vec![
            Reply::json(200, order_answer("pending")),
            Reply::json(200, order_answer("success")),
        ],
    );
    let data = carrier(&stub).acquire(&order_for(N)).await.unwrap();
    assert_eq!(data["telnyx_order_id"], ORDER_ID);
    assert_eq!(stub.requests_to("GET", &path).len(), 2);
    assert_bearer(&stub);
}

#[tokio::test]
async fn an_order_still_pending_is_an_unknown_outcome_and_owned_numbers_waits() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        ORDER,
        vec![Reply::json(200, order_answer("pending"))],
    );
    stub.on(
        "GET",
        &format!("{ORDER}/{ORDER_ID}"),
        vec![Reply::json(200, order_answer("pending"))],
    );
    let telnyx = carrier(&stub).with_order_checks(1);
    let e = telnyx.acquire(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert!(e.to_string().contains("pending"), "{e}");
    // While Telnyx still provisions it, the carrier cannot tell.
    stub.on(
        "GET",
        PHONES,
        vec![Reply::json(200, phone_list("purchase-pending"))],
    );
    let owned = telnyx.owned_numbers(&[number(N)]).await.unwrap();
    assert!(owned.is_empty(), "{owned:?}");
    let r = stub.requests_to("GET", PHONES).pop().unwrap();
    assert_eq!(r.query_value("filter[phone_number]"), Some("14155550123"));
}

#[tokio::test]
async fn a_failed_order_bought_nothing() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        ORDER,
        vec![Reply::json(200, order_answer("failure"))],
    );
    let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    assert!(e.to_string().contains("failed"), "{e}");
}

#[tokio::test]
async fn a_number_no_longer_available_is_number_not_available() {
    for status in [404, 422] {
        let stub = Stub::start().await;
        stub.on(
            "POST",
            ORDER,
            vec![Reply::json(
                status,
                telnyx_error(
                    "85001",
                    "Number not available",
                    "+14155550123 is no longer available",
                ),
            )],
        );
        let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
        assert_eq!(e.message(), "number_not_available", "{status}: {e:?}");
        assert_eq!(e.cause().as_deref(), Some(N));
    }
}

#[tokio::test]
async fn authentication_failures_never_show_the_key() {
    for status in [401, 403] {
        let stub = Stub::start().await;
        // Even an answer that echoes the key back does not leak it.
        let echo = format!("The API key {KEY} was rejected");
        stub.on(
            "GET",
            "/v2/available_phone_numbers",
            vec![Reply::json(
                status,
                telnyx_error("10009", "Authentication failed", &echo),
            )],
        );
        let telnyx = carrier(&stub);
        let e = telnyx
            .find_numbers(&search("+1415", "US", 1))
            .await
            .unwrap_err();
        assert_eq!(e.message(), "carrier_authentication_failed", "{e:?}");
        for shown in [e.to_string(), format!("{e:?}"), e.to_json().to_string()] {
            assert!(!shown.contains(KEY), "{shown}");
        }
        assert!(!format!("{telnyx:?}").contains(KEY));
    }
}

#[tokio::test]
async fn rate_limits_name_their_retry_after() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        ORDER,
        vec![
            Reply::json(429, telnyx_error("10011", "Too many requests", "Slow down"))
                .header("Retry-After", "30"),
        ],
    );
    let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
    assert_eq!(e.message(), "rate_limited", "{e:?}");
    assert!(e.cause().unwrap().contains("retry after 30 s"), "{e:?}");
}

#[tokio::test]
async fn server_errors_and_malformed_answers_are_faults_by_the_carrier() {
    let answers = [
        Reply::raw(503, "text/html", "<html>Service Unavailable</html>"),
        Reply::json(500, telnyx_error("10001", "Internal error", "oops")),
        // 200 but not JSON, or JSON without what the documentation promises.
        Reply::raw(200, "application/json", "{not json"),
        Reply::json(200, json!({"data": {"status": "success"}})),
        Reply::json(200, json!({"data": {"id": ORDER_ID}})),
        Reply::json(
            200,
            json!({"data": {"id": ORDER_ID, "status": "teleported"}}),
        ),
        Reply::json(201, json!([1, 2, 3])),
    ];
    for answer in answers {
        let stub = Stub::start().await;
        stub.on("POST", ORDER, vec![answer.clone()]);
        let r = carrier(&stub).acquire(&order_for(N)).await;
        assert!(
            matches!(r, Err(Error::ByCarrier { .. })),
            "{answer:?} gave {r:?}"
        );
    }
}

#[tokio::test]
async fn a_slow_answer_past_the_time_limit_is_a_timeout() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        ORDER,
        vec![Reply::json(200, order_answer("success")).delayed(Duration::from_secs(5))],
    );
    let telnyx = TelnyxCarrier::new(client(Duration::from_millis(200)), KEY, stub.url("/v2"));
    let e = telnyx.acquire(&order_for(N)).await.unwrap_err();
    assert_eq!(e.message(), "timeout", "{e:?}");
    assert_eq!(e.cause().as_deref(), Some(N));
}

#[tokio::test]
async fn a_dropped_connection_is_a_fault_by_the_carrier() {
    let stub = Stub::start().await;
    stub.on("GET", PHONES, vec![Reply::hang_up()]);
    let e = carrier(&stub)
        .owned_numbers(&[number(N)])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
}

#[tokio::test]
async fn owned_numbers_reads_the_phone_number_statuses() {
    let cases: [(Value, Option<bool>); 5] = [
        (phone_list("active"), Some(true)),
        (phone_list("deleted"), Some(false)),
        (phone_list("purchase-failed"), Some(false)),
        (empty_list(), Some(false)),
        (phone_list("provision-pending"), None),
    ];
    for (answer, expected) in cases {
        let stub = Stub::start().await;
        stub.on("GET", PHONES, vec![Reply::json(200, answer.clone())]);
        let owned = carrier(&stub).owned_numbers(&[number(N)]).await.unwrap();
        match (owned.get(&number(N)), expected) {
            (Some(Ownership::Ours { carrier_data }), Some(true)) => {
                assert_eq!(
                    carrier_data["telnyx_phone_number_id"],
                    "1293384261075731499"
                );
            }
            (Some(Ownership::NotOurs), Some(false)) | (None, None) => {}
            (got, _) => panic!("{answer} gave {got:?}"),
        }
        assert_bearer(&stub);
    }
    // A partial match of the filter is not the number.
    let stub = Stub::start().await;
    let mut other = phone_list("active");
    other["data"][0]["phone_number"] = json!("+141555501234");
    stub.on("GET", PHONES, vec![Reply::json(200, other)]);
    let owned = carrier(&stub).owned_numbers(&[number(N)]).await.unwrap();
    assert_eq!(owned.get(&number(N)), Some(&Ownership::NotOurs));
}

#[tokio::test]
async fn disconnect_deletes_the_phone_number_by_id() {
    let stub = Stub::start().await;
    let path = format!("{PHONES}/1293384261075731499");
    stub.on(
        "DELETE",
        &path,
        vec![Reply::json(200, phone_list("deleted"))],
    );
    // Known id: one DELETE.
    let mut order = order_for(N);
    order.carrier_data.insert(
        "telnyx_phone_number_id".into(),
        json!("1293384261075731499"),
    );
    carrier(&stub).disconnect(&order).await.unwrap();
    assert_eq!(stub.requests().len(), 1);
    assert_eq!(stub.requests_to("DELETE", &path).len(), 1);
    // Unknown id: looked up by number first.
    stub.clear_requests();
    stub.on("GET", PHONES, vec![Reply::json(200, phone_list("active"))]);
    carrier(&stub).disconnect(&order_for(N)).await.unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", PHONES)
    );
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].path.as_str()),
        ("DELETE", path.as_str())
    );
    assert_bearer(&stub);
}

#[tokio::test]
async fn disconnect_of_a_number_already_gone_is_done() {
    let stub = Stub::start().await;
    // Not in the account: nothing to delete.
    stub.on("GET", PHONES, vec![Reply::json(200, empty_list())]);
    carrier(&stub).disconnect(&order_for(N)).await.unwrap();
    assert!(stub
        .requests_to("DELETE", &format!("{PHONES}/1293384261075731499"))
        .is_empty());
    // Deleted between look-up and delete: 404 is done too.
    stub.on("GET", PHONES, vec![Reply::json(200, phone_list("active"))]);
    stub.on(
        "DELETE",
        &format!("{PHONES}/1293384261075731499"),
        vec![Reply::json(
            404,
            telnyx_error("10005", "Resource not found", ""),
        )],
    );
    carrier(&stub).disconnect(&order_for(N)).await.unwrap();
    // Other failures are failures.
    stub.on(
        "DELETE",
        &format!("{PHONES}/1293384261075731499"),
        vec![Reply::json(
            500,
            telnyx_error("10001", "Internal error", ""),
        )],
    );
    let e = carrier(&stub).disconnect(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
}

/// Search, a purchase whose order stays pending (the claim stays), its
/// settlement through `owned_numbers` once the claim lapses (no second
/// order), and the release.
#[tokio::test]
async fn the_manager_settles_a_pending_purchase_through_owned_numbers() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        "/v2/available_phone_numbers",
        vec![Reply::json(
            200,
            fixture("telnyx/available_phone_numbers.json"),
        )],
    );
    stub.on(
        "POST",
        ORDER,
        vec![Reply::json(200, order_answer("pending"))],
    );
    stub.on(
        "GET",
        &format!("{ORDER}/{ORDER_ID}"),
        vec![Reply::json(200, order_answer("pending"))],
    );
    stub.on(
        "GET",
        PHONES,
        vec![Reply::json(200, phone_list("purchase-pending"))],
    );
    let h = Harness::new(Arc::new(carrier(&stub)));
    let hits = h
        .manager
        .search(
            &number_manager::manager::SearchQuery::new("415", 5),
            &Options::system(),
        )
        .await
        .unwrap();
    assert!(hits.iter().any(|hit| hit.number.as_str() == N), "{hits:?}");

    let e = h.buy(N).await.unwrap_err();
    assert_eq!(e.code(), 409, "{e:?}");
    let stored = h.store.get(&number(N)).await.unwrap().unwrap();
    assert!(
        stored.pending.is_some(),
        "the claim stays as the purchase's trace"
    );
    assert_eq!(stored.state, NumberState::Discovery);

    // Telnyx finishes the order; the claim lapses; the next buyer takes it over.
    stub.on("GET", PHONES, vec![Reply::json(200, phone_list("active"))]);
    h.clock.advance(chrono::Duration::seconds(61));
    let bought = h.buy(N).await.unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(
        bought.record.carrier_data["telnyx_phone_number_id"],
        "1293384261075731499"
    );
    assert_eq!(
        stub.requests_to("POST", ORDER).len(),
        1,
        "never ordered twice"
    );

    let delete = format!("{PHONES}/1293384261075731499");
    stub.on(
        "DELETE",
        &delete,
        vec![Reply::json(200, phone_list("deleted"))],
    );
    h.manager.delete(N, &Options::system()).await.unwrap();
    assert_eq!(stub.requests_to("DELETE", &delete).len(), 1);
    assert!(h.store.get(&number(N)).await.unwrap().is_none());
    assert_bearer(&stub);
}
