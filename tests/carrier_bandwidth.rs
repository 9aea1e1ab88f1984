//! BandwidthCarrier against a local stub of Bandwidth's Numbers API v2: the
//! requests it sends (method, path, query, basic-auth header, XML body),
//! what it makes of each documented answer and failure, a purchase through
//! the manager that settles later through `owned_numbers`, and the carrier
//! conformance suite against a stateful fake of a small Bandwidth account.

#[path = "carrier_support/bandwidth_fake.rs"]
mod bandwidth_fake;
mod carrier_support;

use std::sync::Arc;
use std::time::Duration;

use carrier_support::{Harness, HyperClient, Reply, Stub};
use number_manager::carrier::conformance::{self, Fixture};
use number_manager::carrier::{
    BandwidthCarrier, Carrier, HttpClient, NumberOrder, Ownership, SearchRequest, BANDWIDTH_API,
};
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::{Error, Options, PhoneNumber};
use serde_json::json;

const ACCOUNT: &str = "9900000";
const SITE: &str = "743";
const USER: &str = "api-user";
const PASSWORD: &str = "P@ss:w0rd-secret";
/// `Basic base64("api-user:P@ss:w0rd-secret")`.
const BASIC: &str = "Basic YXBpLXVzZXI6UEBzczp3MHJkLXNlY3JldA==";
const BASIC_TOKEN: &str = "YXBpLXVzZXI6UEBzczp3MHJkLXNlY3JldA==";
const N: &str = "+14155550123";
const BASE: &str = "/api/v2/accounts/9900000";
const ORDER_ID: &str = "34adcd9f-2c4a-4631-9dae-d1f318ed57bc";
const DISCONNECT_ID: &str = "ba05e04b-192a-47cb-b182-b1bf6cfef0d7";

fn path(tail: &str) -> String {
    format!("{BASE}{tail}")
}

fn client(timeout: Duration) -> Arc<dyn HttpClient> {
    Arc::new(HyperClient::new(timeout))
}

fn carrier(stub: &Stub) -> BandwidthCarrier {
    BandwidthCarrier::new(
        client(Duration::from_secs(5)),
        ACCOUNT,
        SITE,
        USER,
        PASSWORD,
        stub.url("/api/v2"),
    )
}

fn number(s: &str) -> PhoneNumber {
    PhoneNumber::from_e164(s).unwrap()
}

fn order_for(n: &str) -> NumberOrder {
    NumberOrder::new(number(n))
}

fn search(prefix: &str, quantity: usize) -> SearchRequest {
    SearchRequest::new(prefix, quantity)
}

/// A fixture file under `tests/carrier_support/fixtures/bandwidth/`.
fn fixture(name: &str) -> String {
    let full = format!(
        "{}/tests/carrier_support/fixtures/bandwidth/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn xml(status: u16, body: &str) -> Reply {
    Reply::raw(status, "application/xml; charset=utf-8", body)
}

/// The documented order answer (`order_complete.xml`) in `status`.
fn order_in(status: &str) -> Reply {
    let body = fixture("order_complete.xml").replace(
        "<OrderStatus>COMPLETE</OrderStatus>",
        &format!("<OrderStatus>{status}</OrderStatus>"),
    );
    xml(200, &body)
}

/// The orders placed for `N`, the one listed in `status`.
fn orders_listed(status: &str) -> Reply {
    let body = fixture("orders_by_customer_order_id.xml").replace(
        "<OrderStatus>PROCESSING</OrderStatus>",
        &format!("<OrderStatus>{status}</OrderStatus>"),
    );
    xml(200, &body)
}

fn bandwidth_error(status: u16, code: &str, description: &str) -> Reply {
    xml(
        status,
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><OrderResponse><ErrorList>\
             <Error><Code>{code}</Code><Description>{description}</Description></Error>\
             </ErrorList></OrderResponse>"
        ),
    )
}

fn in_service_path(n: &str) -> String {
    path(&format!("/inserviceNumbers/{}", n.replace('+', "%2B")))
}

fn assert_basic_auth(stub: &Stub) {
    for r in stub.requests() {
        assert_eq!(
            r.header("authorization"),
            Some(BASIC),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("accept"), Some("application/xml"));
    }
}

fn assert_never_shows_the_password(e: &Error) {
    for shown in [e.to_string(), format!("{e:?}"), e.to_json().to_string()] {
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!shown.contains(BASIC_TOKEN), "{shown}");
    }
}

#[tokio::test]
async fn an_area_code_search_sends_the_documented_query() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(200, &fixture("available_numbers_detail.xml"))],
    );
    let found = carrier(&stub)
        .find_numbers(&search("+1415", 5))
        .await
        .unwrap();
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", path("/availableNumbers").as_str())
    );
    assert_eq!(
        r.query,
        vec![
            ("areaCode".to_string(), "415".to_string()),
            ("quantity".to_string(), "5".to_string()),
            ("enableTNDetail".to_string(), "true".to_string()),
        ]
    );
    assert_basic_auth(&stub);
    // The local-calling-area +1650 row does not match the prefix and is dropped.
    let numbers: Vec<&str> = found.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(numbers, vec!["+14155550123", "+14155550187"]);
    let first = &found[0];
    assert_eq!(first.state, NumberState::Discovery);
    assert_eq!(first.data["npa_nxx"], "415555");
    assert_eq!(first.data["ten_digit"], "4155550123");
    assert_eq!(
        first.data["rate_center"],
        json!({"name": "SNFC CNTRL", "state": "CA", "lata": "722"})
    );
    assert_eq!(first.data["locality"], "SAN FRANCISCO");
    assert_eq!(first.data["tier"], "0");
    assert_eq!(first.data["status"], "Available");
}

#[tokio::test]
async fn longer_prefixes_search_by_npa_nxx_and_npa_nxx_x_without_lca() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(200, &fixture("available_numbers_detail.xml"))],
    );
    let bw = carrier(&stub);
    // Six national digits: the NPA-NXX, exactly.
    bw.find_numbers(&search("+1415555", 2)).await.unwrap();
    // Seven: the NPA-NXX-X.
    bw.find_numbers(&search("4155550", 2)).await.unwrap();
    // Ten (a whole number): its NPA-NXX-X, all of the block read and filtered.
    let whole = bw.find_numbers(&search(N, 1)).await.unwrap();
    // Four: the area code, filtered.
    let four = bw.find_numbers(&search("+14155", 9)).await.unwrap();
    let reqs = stub.requests();
    let q = |i: usize, k: &str| reqs[i].query_value(k).map(str::to_string);
    assert_eq!(q(0, "npaNxx").as_deref(), Some("415555"));
    assert_eq!(q(0, "LCA").as_deref(), Some("false"));
    assert_eq!(q(0, "orderBy").as_deref(), Some("fullNumber"));
    assert_eq!(q(0, "quantity").as_deref(), Some("2"));
    assert_eq!(q(0, "areaCode"), None);
    assert_eq!(q(1, "npaNxxx").as_deref(), Some("4155550"));
    assert_eq!(q(1, "quantity").as_deref(), Some("2"));
    assert_eq!(q(2, "npaNxxx").as_deref(), Some("4155550"));
    assert_eq!(q(2, "quantity").as_deref(), Some("5000"));
    assert_eq!(q(3, "areaCode").as_deref(), Some("415"));
    assert_eq!(q(3, "quantity").as_deref(), Some("5000"));
    assert_eq!(
        whole.iter().map(|r| r.number.as_str()).collect::<Vec<_>>(),
        vec![N]
    );
    assert_eq!(four.len(), 2);
    assert_basic_auth(&stub);
}

#[tokio::test]
async fn searches_add_the_configured_rate_center_and_zip_and_use_toll_free_patterns() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(200, &fixture("available_numbers_detail.xml"))],
    );
    let bw = carrier(&stub)
        .with_rate_center("SNFC CNTRL", "CA")
        .with_zip("94105");
    bw.find_numbers(&search("+1415", 3)).await.unwrap();
    // With a rate center, even a bare country prefix has something to search by.
    bw.find_numbers(&search("+1", 3)).await.unwrap();
    bw.find_numbers(&search("+1888", 3)).await.unwrap();
    let reqs = stub.requests();
    let q = |i: usize, k: &str| reqs[i].query_value(k).map(str::to_string);
    assert_eq!(q(0, "areaCode").as_deref(), Some("415"));
    assert_eq!(q(0, "rateCenter").as_deref(), Some("SNFC CNTRL"));
    assert_eq!(q(0, "state").as_deref(), Some("CA"));
    assert_eq!(q(0, "zip").as_deref(), Some("94105"));
    assert_eq!(q(0, "orderBy").as_deref(), Some("fullNumber"));
    assert!(
        reqs[0].raw_query.contains("rateCenter=SNFC%20CNTRL"),
        "{}",
        reqs[0].raw_query
    );
    assert_eq!(q(1, "areaCode"), None);
    assert_eq!(q(1, "rateCenter").as_deref(), Some("SNFC CNTRL"));
    // Toll-free: the pattern, and no geographic filter.
    assert_eq!(q(2, "tollFreeWildCardPattern").as_deref(), Some("888"));
    assert_eq!(q(2, "areaCode"), None);
    assert_eq!(q(2, "rateCenter"), None);
}

#[tokio::test]
async fn searches_bandwidth_cannot_make_find_nothing_without_a_request() {
    let stub = Stub::start().await;
    let bw = carrier(&stub);
    for (prefix, country, quantity) in [
        ("+44207", "GB", 5),
        ("+1", "US", 5),
        ("+141", "US", 5),
        ("+1415", "US", 0),
        ("+141555501234", "US", 5),
        ("not digits", "US", 5),
    ] {
        let mut req = search(prefix, quantity);
        req.country = country.into();
        let found = bw.find_numbers(&req).await.unwrap();
        assert!(found.is_empty(), "{prefix}: {found:?}");
    }
    assert!(stub.requests().is_empty(), "{:?}", stub.requests());
}

#[tokio::test]
async fn a_plain_number_list_offset_and_quantity() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(200, &fixture("available_numbers.xml"))],
    );
    let mut req = search("+1415", 1);
    req.offset = 1;
    let found = carrier(&stub).find_numbers(&req).await.unwrap();
    // Ten digits, E.164 and eleven digits all read as E.164.
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].number.as_str(), "+14155550187");
    assert_eq!(found[0].data.get("rate_center"), None);
    assert_eq!(stub.requests()[0].query_value("quantity"), Some("2"));
    req.offset = 0;
    req.quantity = 10;
    let all = carrier(&stub).find_numbers(&req).await.unwrap();
    let numbers: Vec<&str> = all.iter().map(|r| r.number.as_str()).collect();
    assert_eq!(
        numbers,
        vec!["+14155550123", "+14155550187", "+14155550199"]
    );
    // No numbers at all is an empty answer.
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(
            200,
            "<SearchResult><ResultCount>0</ResultCount></SearchResult>",
        )],
    );
    assert!(carrier(&stub).find_numbers(&req).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_search_error_answer_is_a_fault_by_the_carrier() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(
            400,
            "<SearchResult><Error><Code>4010</Code><Description>One of more required search \
             parameters are null or empty</Description></Error></SearchResult>",
        )],
    );
    let e = carrier(&stub)
        .find_numbers(&search("+1415", 1))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    assert!(e.to_string().contains("4010"), "{e}");
}

#[tokio::test]
async fn an_order_posts_the_documented_xml_and_completes() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &path("/orders"),
        vec![xml(201, &fixture("order_created.xml"))],
    );
    let get = path(&format!("/orders/{ORDER_ID}"));
    stub.on("GET", &get, vec![order_in("COMPLETE")]);
    let bw = carrier(&stub).with_peer_id("500025");
    let data = bw.acquire(&order_for(N)).await.unwrap();
    assert_eq!(
        data,
        json!({"bandwidth_order_id": ORDER_ID})
            .as_object()
            .unwrap()
            .clone()
    );
    let posts = stub.requests_to("POST", &path("/orders"));
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        String::from_utf8(posts[0].body.clone()).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <Order><CustomerOrderId>nm-14155550123</CustomerOrderId>\
         <Name>number-manager +14155550123</Name>\
         <ExistingTelephoneNumberOrderType><TelephoneNumberList>\
         <TelephoneNumber>+14155550123</TelephoneNumber>\
         </TelephoneNumberList></ExistingTelephoneNumberOrderType>\
         <PartialAllowed>false</PartialAllowed><SiteId>743</SiteId><PeerId>500025</PeerId></Order>"
    );
    // One look at the received order found it complete.
    assert_eq!(stub.requests_to("GET", &get).len(), 1);
    assert_eq!(stub.requests().len(), 2);
    assert_basic_auth(&stub);
}

#[tokio::test]
async fn an_order_id_may_come_from_the_location_header_and_a_complete_answer_needs_no_look() {
    let stub = Stub::start().await;
    let created = "<OrderResponse><Order><PartialAllowed>false</PartialAllowed></Order>\
                   <OrderStatus>COMPLETE</OrderStatus></OrderResponse>";
    stub.on(
        "POST",
        &path("/orders"),
        vec![xml(201, created).header(
            "Location",
            &format!("https://dashboard.bandwidth.com/api/v2/accounts/9900000/orders/{ORDER_ID}"),
        )],
    );
    let data = carrier(&stub).acquire(&order_for(N)).await.unwrap();
    assert_eq!(data["bandwidth_order_id"], ORDER_ID);
    assert_eq!(stub.requests().len(), 1);
}

#[tokio::test]
async fn an_order_still_processing_is_an_unknown_outcome_and_owned_numbers_waits() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &path("/orders"),
        vec![xml(201, &fixture("order_created.xml"))],
    );
    stub.on(
        "GET",
        &path(&format!("/orders/{ORDER_ID}")),
        vec![order_in("RECEIVED"), order_in("PROCESSING")],
    );
    let bw = carrier(&stub);
    let e = bw.acquire(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert!(e.to_string().contains("PROCESSING"), "{e}");
    assert_eq!(
        stub.requests_to("GET", &path(&format!("/orders/{ORDER_ID}")))
            .len(),
        2
    );

    // Not in service yet, and its order is still processing: cannot tell.
    stub.on("GET", &in_service_path(N), vec![Reply::empty(404)]);
    stub.on("GET", &path("/orders"), vec![orders_listed("PROCESSING")]);
    let owned = bw.owned_numbers(&[number(N)]).await.unwrap();
    assert!(owned.is_empty(), "{owned:?}");
    let list = stub.requests_to("GET", &path("/orders")).pop().unwrap();
    assert_eq!(list.query_value("customerOrderId"), Some("nm-14155550123"));
    // The order failed after all: not ours.
    stub.on("GET", &path("/orders"), vec![orders_listed("FAILED")]);
    let owned = bw.owned_numbers(&[number(N)]).await.unwrap();
    assert_eq!(owned.get(&number(N)), Some(&Ownership::NotOurs));
    // It completed: in service, ours.
    stub.on("GET", &in_service_path(N), vec![Reply::empty(200)]);
    let owned = bw.owned_numbers(&[number(N), number(N)]).await.unwrap();
    assert_eq!(owned.len(), 1);
    assert!(
        matches!(owned.get(&number(N)), Some(Ownership::Ours { .. })),
        "{owned:?}"
    );
    assert_basic_auth(&stub);
}

#[tokio::test]
async fn owned_numbers_cannot_tell_when_the_order_list_is_cut_short() {
    let stub = Stub::start().await;
    stub.on("GET", &in_service_path(N), vec![Reply::empty(404)]);
    let listed = fixture("orders_by_customer_order_id.xml")
        .replace(
            "<OrderStatus>PROCESSING</OrderStatus>",
            "<OrderStatus>COMPLETE</OrderStatus>",
        )
        .replace(
            "<TotalCount>1</TotalCount>",
            "<TotalCount>1200</TotalCount>",
        );
    stub.on("GET", &path("/orders"), vec![xml(200, &listed)]);
    let owned = carrier(&stub).owned_numbers(&[number(N)]).await.unwrap();
    assert!(owned.is_empty(), "{owned:?}");
    // No order with that id at all (404) is not ours.
    stub.on("GET", &path("/orders"), vec![Reply::empty(404)]);
    let owned = carrier(&stub).owned_numbers(&[number(N)]).await.unwrap();
    assert_eq!(owned.get(&number(N)), Some(&Ownership::NotOurs));
    assert!(carrier(&stub).owned_numbers(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_order_for_a_number_no_longer_available_bought_nothing() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &path("/orders"),
        vec![xml(201, &fixture("order_created.xml"))],
    );
    stub.on(
        "GET",
        &path(&format!("/orders/{ORDER_ID}")),
        vec![xml(200, &fixture("order_failed.xml"))],
    );
    let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
    assert_eq!(e.message(), "number_not_available", "{e:?}");
    assert_eq!(e.cause().as_deref(), Some(N));
}

#[tokio::test]
async fn failed_and_partial_orders_for_other_reasons_are_faults_naming_the_error() {
    for status in ["FAILED", "PARTIAL"] {
        let stub = Stub::start().await;
        let body = fixture("order_failed.xml")
            .replace("<Code>5005</Code>", "<Code>5003</Code>")
            .replace(
                "The telephone number is unavailable for ordering",
                "Provisioning Failure",
            )
            .replace(
                "<OrderStatus>FAILED</OrderStatus>",
                &format!("<OrderStatus>{status}</OrderStatus>"),
            );
        // The order's own answer names no id here; its Location header does.
        let location =
            format!("https://dashboard.bandwidth.com/api/v2/accounts/9900000/orders/{ORDER_ID}");
        stub.on(
            "POST",
            &path("/orders"),
            vec![xml(201, &body).header("Location", &location)],
        );
        let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
        assert!(matches!(e, Error::ByCarrier { .. }), "{status}: {e:?}");
        assert!(e.to_string().contains(ORDER_ID), "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains(status) && shown.contains("5003: Provisioning Failure"),
            "{shown}"
        );
        // Already final: no second look.
        assert_eq!(stub.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_number_refused_at_once_is_number_not_available() {
    let answers = [
        bandwidth_error(409, "5000", "Conflict"),
        bandwidth_error(400, "5005", "Telephone Number Unavailable"),
        bandwidth_error(
            400,
            "5071",
            "Telephone number is not available on the system.",
        ),
        bandwidth_error(
            400,
            "5018",
            "The entire quantity of telephone numbers ordered is unavailable",
        ),
    ];
    for answer in answers {
        let stub = Stub::start().await;
        stub.on("POST", &path("/orders"), vec![answer.clone()]);
        let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
        assert_eq!(e.message(), "number_not_available", "{answer:?}: {e:?}");
        assert_eq!(e.cause().as_deref(), Some(N));
    }
    // Another 400 (a bad site, say) is the carrier's fault, naming the error.
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &path("/orders"),
        vec![bandwidth_error(
            400,
            "5016",
            "The SiteId submitted is invalid.",
        )],
    );
    let e = carrier(&stub).acquire(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("5016: The SiteId submitted is invalid."),
        "{e}"
    );
}

#[tokio::test]
async fn authentication_failures_never_show_the_password() {
    for status in [401, 403] {
        let stub = Stub::start().await;
        // Even an answer that echoes the credentials back does not leak them.
        let echo = format!(
            "<Error><Description>bad credentials {USER}:{PASSWORD} ({BASIC})</Description></Error>"
        );
        stub.on("GET", &path("/availableNumbers"), vec![xml(status, &echo)]);
        stub.on("POST", &path("/orders"), vec![xml(status, &echo)]);
        let bw = carrier(&stub);
        let e = bw.find_numbers(&search("+1415", 1)).await.unwrap_err();
        assert_eq!(e.message(), "carrier_authentication_failed", "{e:?}");
        assert_never_shows_the_password(&e);
        let e = bw.acquire(&order_for(N)).await.unwrap_err();
        assert_eq!(e.message(), "carrier_authentication_failed", "{e:?}");
        assert_never_shows_the_password(&e);
        let shown = format!("{bw:?}");
        assert!(
            !shown.contains(PASSWORD) && !shown.contains(BASIC_TOKEN),
            "{shown}"
        );
        assert!(shown.contains(ACCOUNT) && shown.contains(USER), "{shown}");
    }
}

#[tokio::test]
async fn rate_limits_name_their_retry_after() {
    let stub = Stub::start().await;
    stub.on(
        "POST",
        &path("/orders"),
        vec![xml(
            429,
            "<Error><Description>Too many requests</Description></Error>",
        )
        .header("Retry-After", "30")],
    );
    stub.on("GET", &in_service_path(N), vec![Reply::empty(429)]);
    let bw = carrier(&stub);
    let e = bw.acquire(&order_for(N)).await.unwrap_err();
    assert_eq!(e.message(), "rate_limited", "{e:?}");
    assert!(e.cause().unwrap().contains("retry after 30 s"), "{e:?}");
    let e = bw.owned_numbers(&[number(N)]).await.unwrap_err();
    assert_eq!(e.message(), "rate_limited", "{e:?}");
    assert!(e.cause().unwrap().contains("no retry-after"), "{e:?}");
}

#[tokio::test]
async fn server_errors_and_malformed_answers_are_faults_by_the_carrier() {
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let huge = format!(
        "<OrderResponse><OrderStatus>{}</OrderStatus></OrderResponse>",
        "X".repeat(100_000)
    );
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">\
                <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><OrderResponse>&b;</OrderResponse>";
    let answers = [
        Reply::raw(503, "text/html", "<html>Service Unavailable</html>"),
        xml(500, "<Error><Description>oops</Description></Error>"),
        Reply::empty(502),
        // 404 to an order says nothing about the number: the path or account is wrong.
        Reply::empty(404),
        // 2xx, but not the documented XML.
        xml(201, "<OrderResponse><Order><id>x</id></Order"),
        Reply::raw(201, "application/json", "{\"orderStatus\": \"COMPLETE\"}"),
        xml(201, "<Something><OrderStatus>COMPLETE</OrderStatus></Something>"),
        xml(201, "<OrderResponse><OrderStatus>COMPLETE</OrderStatus></OrderResponse>"),
        xml(201, "<OrderResponse><Order><id>x</id></Order><OrderStatus>TELEPORTED</OrderStatus></OrderResponse>"),
        xml(201, "<OrderResponse><Order><id>x</id></Order><OrderStatus>COMPLETE</OrderStatus><CompletedNumbers><TelephoneNumber><FullNumber>+14155550999</FullNumber></TelephoneNumber></CompletedNumbers></OrderResponse>"),
        xml(201, "<OrderResponse><Order><id>x</id></Order><OrderStatus>COMPLETE&nbsp;</OrderStatus></OrderResponse>"),
        xml(201, &deep),
        xml(201, &huge),
        xml(201, bomb),
        Reply::raw(201, "application/xml", "\u{FEFF}\u{0}garbage"),
    ];
    for answer in answers {
        let stub = Stub::start().await;
        stub.on("POST", &path("/orders"), vec![answer.clone()]);
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
        &path("/orders"),
        vec![xml(201, &fixture("order_created.xml")).delayed(Duration::from_secs(5))],
    );
    let bw = BandwidthCarrier::new(
        client(Duration::from_millis(200)),
        ACCOUNT,
        SITE,
        USER,
        PASSWORD,
        stub.url("/api/v2"),
    );
    let e = bw.acquire(&order_for(N)).await.unwrap_err();
    assert_eq!(e.message(), "timeout", "{e:?}");
    assert_eq!(e.cause().as_deref(), Some(N));
}

#[tokio::test]
async fn a_dropped_connection_is_a_fault_by_the_carrier() {
    let stub = Stub::start().await;
    stub.on("GET", &in_service_path(N), vec![Reply::hang_up()]);
    let e = carrier(&stub)
        .owned_numbers(&[number(N)])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
}

#[tokio::test]
async fn disconnect_posts_the_documented_xml_and_waits_for_completion() {
    let stub = Stub::start().await;
    stub.on("GET", &in_service_path(N), vec![Reply::empty(200)]);
    stub.on(
        "POST",
        &path("/disconnects"),
        vec![xml(201, &fixture("disconnect_created.xml"))],
    );
    let get = path(&format!("/disconnects/{DISCONNECT_ID}"));
    stub.on(
        "GET",
        &get,
        vec![xml(200, &fixture("disconnect_complete.xml"))],
    );
    carrier(&stub).disconnect(&order_for(N)).await.unwrap();
    let reqs = stub.requests();
    let calls: Vec<(String, String)> = reqs
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("GET".to_string(), in_service_path(N)),
            ("POST".to_string(), path("/disconnects")),
            ("GET".to_string(), get.clone()),
        ]
    );
    assert_eq!(
        reqs[1].header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        String::from_utf8(reqs[1].body.clone()).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <DisconnectTelephoneNumberOrder><Name>number-manager +14155550123</Name>\
         <CustomerOrderId>nm-14155550123</CustomerOrderId>\
         <DisconnectTelephoneNumberOrderType><TelephoneNumberList>\
         <TelephoneNumber>+14155550123</TelephoneNumber>\
         </TelephoneNumberList></DisconnectTelephoneNumberOrderType>\
         </DisconnectTelephoneNumberOrder>"
    );
    assert_basic_auth(&stub);
}

#[tokio::test]
async fn disconnect_of_a_number_not_in_service_is_done_without_an_order() {
    let stub = Stub::start().await;
    stub.on("GET", &in_service_path(N), vec![Reply::empty(404)]);
    carrier(&stub).disconnect(&order_for(N)).await.unwrap();
    assert!(stub.requests_to("POST", &path("/disconnects")).is_empty());
}

#[tokio::test]
async fn a_disconnect_still_pending_or_failed_is_an_error() {
    let stub = Stub::start().await;
    stub.on("GET", &in_service_path(N), vec![Reply::empty(200)]);
    stub.on(
        "POST",
        &path("/disconnects"),
        vec![xml(201, &fixture("disconnect_created.xml"))],
    );
    let get = path(&format!("/disconnects/{DISCONNECT_ID}"));
    let processing = fixture("disconnect_complete.xml").replace(
        "<OrderStatus>COMPLETE</OrderStatus>",
        "<OrderStatus>PROCESSING</OrderStatus>",
    );
    stub.on("GET", &get, vec![xml(200, &processing)]);
    let e = carrier(&stub).disconnect(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert!(e.to_string().contains("still PROCESSING"), "{e}");

    let failed = fixture("disconnect_complete.xml")
        .replace("<OrderStatus>COMPLETE</OrderStatus>", "<OrderStatus>FAILED</OrderStatus>")
        .replace(
            "<ErrorList/>",
            "<ErrorList><Error><Code>5006</Code><Description>TelephoneNumber Disconnect Error</Description></Error></ErrorList>",
        );
    stub.on("GET", &get, vec![xml(200, &failed)]);
    let e = carrier(&stub).disconnect(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
    assert!(e.to_string().contains("5006"), "{e}");

    stub.on("POST", &path("/disconnects"), vec![Reply::empty(500)]);
    let e = carrier(&stub).disconnect(&order_for(N)).await.unwrap_err();
    assert!(matches!(e, Error::ByCarrier { .. }), "{e:?}");
}

/// Search, a purchase whose order stays processing (the claim stays), its
/// settlement through `owned_numbers` once the claim lapses (no second
/// order), and the release.
#[tokio::test]
async fn the_manager_settles_a_processing_purchase_through_owned_numbers() {
    let stub = Stub::start().await;
    stub.on(
        "GET",
        &path("/availableNumbers"),
        vec![xml(200, &fixture("available_numbers_detail.xml"))],
    );
    stub.on(
        "POST",
        &path("/orders"),
        vec![xml(201, &fixture("order_created.xml"))],
    );
    stub.on(
        "GET",
        &path(&format!("/orders/{ORDER_ID}")),
        vec![order_in("PROCESSING")],
    );
    stub.on("GET", &path("/orders"), vec![orders_listed("PROCESSING")]);
    stub.on("GET", &in_service_path(N), vec![Reply::empty(404)]);
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

    // Bandwidth completes the order; the claim lapses; the next buyer takes it over.
    stub.on("GET", &in_service_path(N), vec![Reply::empty(200)]);
    stub.on("GET", &path("/orders"), vec![orders_listed("COMPLETE")]);
    h.clock.advance(chrono::Duration::seconds(61));
    let bought = h.buy(N).await.unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(bought.record.carrier, "bandwidth2");
    assert_eq!(
        stub.requests_to("POST", &path("/orders")).len(),
        1,
        "never ordered twice"
    );

    stub.on(
        "POST",
        &path("/disconnects"),
        vec![xml(201, &fixture("disconnect_created.xml"))],
    );
    stub.on(
        "GET",
        &path(&format!("/disconnects/{DISCONNECT_ID}")),
        vec![xml(200, &fixture("disconnect_complete.xml"))],
    );
    h.manager.delete(N, &Options::system()).await.unwrap();
    assert_eq!(stub.requests_to("POST", &path("/disconnects")).len(), 1);
    assert!(h.store.get(&number(N)).await.unwrap().is_none());
    assert_basic_auth(&stub);
}

#[test]
fn the_default_base_url_is_production_v2() {
    assert_eq!(BANDWIDTH_API, "https://dashboard.bandwidth.com/api/v2");
}

/// The carrier conformance suite on the adapter, each check on a fresh
/// adapter over one fake account (which offers a disconnected number again).
#[tokio::test]
async fn bandwidth_conforms() {
    let stub = Stub::start().await;
    stub.handle(bandwidth_fake::bandwidth(ACCOUNT, BASIC));
    let base = stub.url("/api/v2");
    let report = conformance::run_all(&Fixture::new("+1415", "US"), || {
        let base = base.clone();
        async move {
            Arc::new(BandwidthCarrier::new(
                client(Duration::from_secs(10)),
                ACCOUNT,
                SITE,
                USER,
                PASSWORD,
                base,
            )) as Arc<dyn Carrier>
        }
    })
    .await;
    println!("{report}");
    assert!(report.failed().is_empty(), "{report}");
    let caps = carrier(&stub).capabilities();
    let applies: Vec<&str> = conformance::applicable(&caps).map(|c| c.name()).collect();
    assert_eq!(report.passed(), applies, "{report}");
    for check in [
        "acquire_sells_once",
        "acquire_refuses_unoffered",
        "owned_numbers_follows_purchases",
        "owned_numbers_after_refused_purchases",
        "concurrent_acquires_one_wins",
        "search_by_whole_number",
    ] {
        assert!(report.passed().contains(&check), "{check}: {report}");
    }
    assert_eq!(
        report.skipped(),
        vec![
            "local_acquire_changes_nothing",
            "check_numbers_follows_offer"
        ]
    );
    // The fake rejects any other credentials: every request carried them.
    assert!(stub
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some(BASIC)));
}
