//! TwilioCarrier against a local stub of Twilio's 2010-04-01 REST API: the
//! requests it sends (method, path, query, basic auth, form body), what it
//! makes of each documented answer and failure, and a purchase through the
//! manager whose answer was lost, settled through `owned_numbers`.

mod carrier_support;

use std::sync::Arc;
use std::time::Duration;

use carrier_support::{fixture, Harness, HyperClient, Reply, Stub};
use number_manager::carrier::{
    Carrier, HttpClient, NumberOrder, Ownership, SearchRequest, TwilioCarrier,
};
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::{Error, Options, PhoneNumber};
use serde_json::{json, Value};

const SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN: &str = "tok_0123456789abcdef_secret";
const N: &str = "+14155550123";
const PN: &str = "PNbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn path(tail: &str) -> String {
    format!("/2010-04-01/Accounts/{SID}{tail}")
}

fn incoming() -> String {
    path("/IncomingPhoneNumbers.json")
}

fn incoming_one() -> String {
    path(&format!("/IncomingPhoneNumbers/{PN}.json"))
}

fn client(timeout: Duration) -> Arc<dyn HttpClient> {
    Arc::new(HyperClient::new(timeout))
}

fn carrier(stub: &Stub) -> TwilioCarrier {
    TwilioCarrier::new(client(Duration::from_secs(5)), SID, TOKEN, stub.url(""))
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

fn twilio_error(status: u16, code: i64, message: &str) -> Reply {
    Reply::json(
        status,
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status
        }),
    )
}

fn empty_list() -> Value {
    let mut v = fixture("twilio/incoming_phone_numbers.json");
    v["incoming_phone_numbers"] = json!([]);
    v
}

/// Basic auth of SID and token, as RFC 7617 spells it.
fn expected_auth() -> String {
    // Encoded independently of the adapter: a small base64 over the bytes.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{SID}:{TOKEN}").into_bytes();
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= c.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

fn assert_basic_auth(stub: &Stub) {
    let auth = expected_auth();
    for r in stub.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(auth.as_str()),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("accept"), Some("application/json"));
    }
}

#[tokio::test]
async fn a_local_search_sends_area_code_and_an_anchored_pattern() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/AvailablePhoneNumbers/US/Local.json"),
        vec![Reply::json(200, fixture("twilio/available_local.json"))],
    );
    let found = carrier(&stub)
        .find_numbers(&search("+1415555", "US", 5))
        .await
        .unwrap();
    let r = &stub.requests()[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.query_value("AreaCode"), Some("415"));
    assert_eq!(r.query_value("Contains"), Some("415555****"));
    assert_eq!(r.query_value("PageSize"), Some("5"));
    assert_basic_auth(&stub);
    let numbers: Vec<&str> = found.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(numbers, vec!["+14155550123", "+14155550187"]);
    assert_eq!(found[0].state, NumberState::Discovery);
    assert_eq!(found[0].data["rate_center"]["name"], "SNFC CNTRL");
    assert_eq!(found[0].data["rate_center"]["state"], "CA");
    assert_eq!(found[0].data["locality"], "San Francisco");
    assert_eq!(found[0].data["capabilities"]["SMS"], true);
    assert_eq!(found[0].data["ten_digit"], "4155550123");
}

#[tokio::test]
async fn a_toll_free_prefix_searches_toll_free_and_results_respect_the_prefix() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/AvailablePhoneNumbers/US/TollFree.json"),
        vec![Reply::json(
            200,
            json!({"available_phone_numbers": [
                {"phone_number": "+18005550100", "friendly_name": "(800) 555-0100"},
                {"phone_number": "+18885550100", "friendly_name": "(888) 555-0100"},
                {"phone_number": "not a number"}
            ]}),
        )],
    );
    let found = carrier(&stub)
        .find_numbers(&search("800", "US", 10))
        .await
        .unwrap();
    let r = &stub.requests()[0];
    assert_eq!(r.query_value("AreaCode"), Some("800"));
    assert_eq!(r.query_value("Contains"), None);
    let numbers: Vec<&str> = found.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(numbers, vec!["+18005550100"]);
}

#[tokio::test]
async fn a_purchase_posts_the_number_as_a_form() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &incoming(),
        vec![Reply::json(
            201,
            fixture("twilio/incoming_phone_number.json"),
        )],
    );
    let data = carrier(&stub).acquire(&order_for(N)).await.unwrap();
    assert_eq!(data["twilio_sid"], PN);
    let posts = stub.requests_to("POST", &incoming());
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8_lossy(&posts[0].body),
        "PhoneNumber=%2B14155550123"
    );
    assert_eq!(
        posts[0].form(),
        vec![("PhoneNumber".to_string(), N.to_string())]
    );
    assert_basic_auth(&stub);
}

#[tokio::test]
async fn a_number_no_longer_available_is_number_not_available() {
    let answers = [
        twilio_error(400, 21422, "PhoneNumber requested is not available"),
        twilio_error(400, 21452, "No phone numbers found"),
        twilio_error(404, 20404, "The requested resource was not found"),
    ];
    for answer in answers {
        let stub = Stub::start().await;
        stub.on("POST", &incoming(), vec![answer.clone()]);
        let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
        assert_eq!(e.message(), "number_not_available", "{answer:?}: {e:?}");
        assert_eq!(e.cause().as_deref(), Some(N));
    }
    // Any other client error is the carrier's fault, with its code.
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &incoming(),
        vec![twilio_error(400, 21631, "Address required")],
    );
    let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    assert!(e.to_string().contains("21631"), "{e}");
}

#[tokio::test]
async fn authentication_failures_never_show_the_token() {
    for status in [401, 403] {
        let stub = Stub::start().await;
        stub.on(
            "GET",
            &incoming(),
            vec![twilio_error(
                status,
                20003,
                &format!("Authenticate {TOKEN} {}", expected_auth()),
            )],
        );
        let twilio = carrier(&stub);
        let e = twilio.owned_numbers(&[number(N)]).await.unwrap_err();
        assert_eq!(e.message(), "carrier_authentication_failed", "{e:?}");
        let basic = expected_auth();
        let basic = basic.trim_start_matches("Basic ");
        for shown in [
            e.to_string(),
            format!("{e:?}"),
            e.to_json().to_string(),
            format!("{twilio:?}"),
        ] {
            assert!(!shown.contains(TOKEN), "{shown}");
            assert!(!shown.contains(basic), "{shown}");
        }
    }
}

#[tokio::test]
async fn rate_limits_name_their_retry_after() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/AvailablePhoneNumbers/US/Local.json"),
        vec![twilio_error(429, 20429, "Too Many Requests").header("Retry-After", "2")],
    );
    let e = carrier(&stub)
        .find_numbers(&search("+1415", "US", 1))
        .await
        .unwrap_err();
    assert_eq!(e.message(), "rate_limited", "{e:?}");
    assert!(e.cause().unwrap().contains("retry after 2 s"), "{e:?}");
}

#[tokio::test]
async fn server_errors_and_malformed_answers_are_never_purchases() {
    let mut other_number = fixture("twilio/incoming_phone_number.json");
    other_number["phone_number"] = json!("+14155550999");
    let mut no_sid = fixture("twilio/incoming_phone_number.json");
    no_sid["sid"] = json!("");
    let answers = [
        Reply::raw(503, "text/html", "<html>Service Unavailable</html>"),
        twilio_error(500, 20500, "Internal Server Error"),
        Reply::raw(201, "application/json", "<Response/>"),
        Reply::json(201, json!({"status": "in-use"})),
        Reply::json(201, other_number),
        Reply::json(201, no_sid),
    ];
    for answer in answers {
        let stub = Stub::start().await;
        stub.on("POST", &incoming(), vec![answer.clone()]);
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
        &incoming(),
        vec![
            Reply::json(201, fixture("twilio/incoming_phone_number.json"))
                .delayed(Duration::from_secs(5)),
        ],
    );
    let twilio = TwilioCarrier::new(client(Duration::from_millis(200)), SID, TOKEN, stub.url(""));
    let e = twilio.acquire(&order_for(N)).await.unwrap_err();
    assert_eq!(e.message(), "timeout", "{e:?}");
}

#[tokio::test]
async fn owned_numbers_lists_incoming_numbers_by_number() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &incoming(),
        vec![Reply::json(
            200,
            fixture("twilio/incoming_phone_numbers.json"),
        )],
    );
    let owned = carrier(&stub).owned_numbers(&[number(N)]).await.unwrap();
    let r = &stub.requests()[0];
    assert_eq!(r.query_value("PhoneNumber"), Some(N));
    match owned.get(&number(N)) {
        Some(Ownership::Ours { carrier_data }) => assert_eq!(carrier_data["twilio_sid"], PN),
        other => panic!("{other:?}"),
    }
    stub.on("GET", &incoming(), vec![Reply::json(200, empty_list())]);
    let owned = carrier(&stub).owned_numbers(&[number(N)]).await.unwrap();
    assert_eq!(owned.get(&number(N)), Some(&Ownership::NotOurs));
    stub.on(
        "GET",
        &incoming(),
        vec![Reply::json(200, json!({"page": 0}))],
    );
    let e = carrier(&stub)
        .owned_numbers(&[number(N)])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    assert_basic_auth(&stub);
}

#[tokio::test]
async fn release_deletes_the_number_by_its_sid() {
    let stub = Stub::start().await;
    stub.on("DELETE", &incoming_one(), vec![Reply::empty(204)]);
    let mut order = order_for(N);
    order.carrier_data.insert("twilio_sid".into(), json!(PN));
    carrier(&stub).disconnect(&order).await.unwrap();
    assert_eq!(stub.requests().len(), 1);
    assert_eq!(stub.requests_to("DELETE", &incoming_one()).len(), 1);
    // No SID remembered: looked up by number first.
    stub.clear_requests();
    stub.on(
        "GET",
        &incoming(),
        vec![Reply::json(
            200,
            fixture("twilio/incoming_phone_numbers.json"),
        )],
    );
    carrier(&stub).disconnect(&order_for(N)).await.unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[1].method, "DELETE");
    assert_basic_auth(&stub);
    // Already released (404) is done; a server error is not.
    stub.on(
        "DELETE",
        &incoming_one(),
        vec![twilio_error(404, 20404, "Not found")],
    );
    carrier(&stub).disconnect(&order).await.unwrap();
    stub.on(
        "DELETE",
        &incoming_one(),
        vec![twilio_error(500, 20500, "Internal")],
    );
    let e = carrier(&stub).disconnect(&order).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
}

/// Search, a purchase whose answer is lost (the connection drops after
/// Twilio bought the number), its settlement through `owned_numbers`, and
/// the release.
#[tokio::test]
async fn the_manager_settles_a_purchase_whose_answer_was_lost() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/AvailablePhoneNumbers/US/Local.json"),
        vec![Reply::json(200, fixture("twilio/available_local.json"))],
    );
    stub.on("POST", &incoming(), vec![Reply::hang_up()]);
    // Twilio did buy it: the number is in the account's list.
    stub.on(
        "GET",
        &incoming(),
        vec![Reply::json(
            200,
            fixture("twilio/incoming_phone_numbers.json"),
        )],
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
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    let stored = h.store.get(&number(N)).await.unwrap().unwrap();
    assert!(
        stored.pending.is_some(),
        "the purchase may have gone through"
    );

    h.clock.advance(chrono::Duration::seconds(61));
    let bought = h.buy(N).await.unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(bought.record.carrier_data["twilio_sid"], PN);
    assert_eq!(
        stub.requests_to("POST", &incoming()).len(),
        1,
        "never bought twice"
    );

    stub.on("DELETE", &incoming_one(), vec![Reply::empty(204)]);
    h.manager.delete(N, &Options::system()).await.unwrap();
    assert_eq!(stub.requests_to("DELETE", &incoming_one()).len(), 1);
    assert!(h.store.get(&number(N)).await.unwrap().is_none());
    assert_basic_auth(&stub);
}

/// A purchase that failed, and that `owned_numbers` says did not happen,
/// leaves no claim: the next try buys at once.
#[tokio::test]
async fn a_purchase_that_never_happened_frees_the_number_at_once() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/AvailablePhoneNumbers/US/Local.json"),
        vec![Reply::json(200, fixture("twilio/available_local.json"))],
    );
    stub.on(
        "POST",
        &incoming(),
        vec![
            twilio_error(503, 20503, "Service Unavailable"),
            Reply::json(201, fixture("twilio/incoming_phone_number.json")),
        ],
    );
    stub.on("GET", &incoming(), vec![Reply::json(200, empty_list())]);
    let h = Harness::new(Arc::new(carrier(&stub)));
    h.manager
        .search(
            &number_manager::manager::SearchQuery::new("415", 5),
            &Options::system(),
        )
        .await
        .unwrap();
    let e = h.buy(N).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    let stored = h.store.get(&number(N)).await.unwrap().unwrap();
    assert!(stored.pending.is_none(), "{stored:?}");
    let bought = h.buy(N).await.unwrap();
    assert_eq!(bought.record.carrier_data["twilio_sid"], PN);
    assert_eq!(stub.requests_to("POST", &incoming()).len(), 2);
}
