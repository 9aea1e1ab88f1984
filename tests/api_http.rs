//! The four seeds' curl examples replayed over real HTTP, asserting status
//! codes and the seeds' JSON shapes, against two hosts: the demo hyper server
//! (`examples/server.rs`) and the axum router that nests the API under a base
//! path (`examples/axum.rs`), both included below so the very same glue runs.
//! One walk-through serves both; ids, timestamps and request ids are checked
//! for their form only.

#[path = "../examples/axum.rs"]
#[allow(dead_code)]
mod axum_host;

// The hyper server, included by the axum example for its demo setup.
use axum_host::server;

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use number_manager::api::Api;
use number_manager::{NumberManager, Options};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use server::{CUSTOMER_ID, CUSTOMER_TOKEN, MASTER_ID, MASTER_TOKEN, RESELLER_ID, RESELLER_TOKEN};

struct Server {
    addr: SocketAddr,
    manager: NumberManager,
    /// Where the host serves the API: the seeds' `/v2` paths are asked below it.
    base: &'static str,
}

/// Which host the walk-through runs against.
#[derive(Clone, Copy)]
enum Host {
    /// `examples/server.rs`: hyper, the API at `/v2`.
    Hyper,
    /// `examples/axum.rs`: an axum router, the API nested at `axum_host::BASE`.
    Axum,
}

async fn start(host: Host) -> Server {
    // The demo tree plus a customer of master's that is nobody else's ancestor.
    let mut specs = server::demo_accounts();
    specs.push(serde_json::from_value(json!({"id": OTHER_ID, "name": "Other", "parent": MASTER_ID, "allow_additions": true, "token": OTHER_TOKEN})).unwrap());
    let api: Api = server::demo_api(server::open_store("memory").await.unwrap(), &specs).unwrap();
    let manager = api.manager().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = match host {
        Host::Hyper => {
            tokio::spawn(server::serve(listener, api));
            "/v2"
        }
        Host::Axum => {
            tokio::spawn(axum_host::serve(listener, api));
            axum_host::BASE
        }
    };
    Server {
        addr,
        manager,
        base,
    }
}

struct Answer {
    status: u16,
    json: Value,
    headers: hyper::HeaderMap,
}

impl Server {
    /// One request on a fresh connection, as curl would send it; `target` is
    /// the seeds' path (`/v2/...`), asked below the host's base. Every answer
    /// is JSON with exactly one `content-type` and the envelope's request id
    /// in `X-Request-Id`.
    async fn curl(
        &self,
        method: &str,
        target: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let below = target
            .strip_prefix("/v2")
            .unwrap_or_else(|| panic!("{target} is not a seeds' path"));
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{below}", self.base))
            .header("host", self.addr.to_string())
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"));
        let types: Vec<_> = headers.get_all("content-type").iter().collect();
        assert_eq!(types, ["application/json"], "{method} {target}");
        assert_eq!(
            headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            json["request_id"].as_str(),
            "{method} {target}"
        );
        Answer {
            status,
            json,
            headers,
        }
    }
}

const OTHER_ID: &str = "0ther000000000000000000000000000f";
const OTHER_TOKEN: &str = "other-token";
const ACCT: &str = "/v2/accounts/009afc511c97b2ae693c6cc4920988e8/phone_numbers";

fn enc(number: &str) -> String {
    number.replace('+', "%2B")
}

/// `actual` has the seed's shape: `"*"` matches anything, `"#"` any integer,
/// `"<hex32>"` a 32-hex request id; objects must have exactly the same keys.
#[track_caller]
fn shaped(actual: &Value, pattern: &Value) {
    fn go(a: &Value, p: &Value, path: &str) -> Result<(), String> {
        match p {
            Value::String(s) if s == "*" => Ok(()),
            Value::String(s) if s == "#" => a
                .as_i64()
                .map(|_| ())
                .ok_or(format!("{path}: {a} is not an integer")),
            Value::String(s) if s == "<hex32>" => match a.as_str() {
                Some(t) if t.len() == 32 && t.bytes().all(|c| c.is_ascii_hexdigit()) => Ok(()),
                _ => Err(format!("{path}: {a} is not a 32-hex id")),
            },
            Value::Object(pm) => {
                let am = a
                    .as_object()
                    .ok_or(format!("{path}: {a} is not an object"))?;
                let ak: Vec<&String> = am
                    .keys()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let pk: Vec<&String> = pm
                    .keys()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if ak != pk {
                    return Err(format!("{path}: keys {ak:?}, expected {pk:?}"));
                }
                for (k, pv) in pm {
                    go(&am[k], pv, &format!("{path}.{k}"))?;
                }
                Ok(())
            }
            Value::Array(pa) => {
                let aa = a.as_array().ok_or(format!("{path}: {a} is not an array"))?;
                if aa.len() != pa.len() {
                    return Err(format!("{path}: {} items, expected {}", aa.len(), pa.len()));
                }
                for (i, (x, y)) in aa.iter().zip(pa).enumerate() {
                    go(x, y, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            other => (a == other)
                .then_some(())
                .ok_or(format!("{path}: {a}, expected {other}")),
        }
    }
    if let Err(e) = go(actual, pattern, "$") {
        panic!("{e}\nactual: {actual:#}");
    }
}

/// The seeds' success envelope around `data`.
#[track_caller]
fn success(a: &Answer, status: u16, token: &str, data: Value) {
    assert_eq!(a.status, status, "{:#}", a.json);
    shaped(
        &a.json,
        &json!({"auth_token": token, "data": data, "request_id": "<hex32>", "revision": "undefined", "status": "success"}),
    );
}

/// The seeds' error envelope.
#[track_caller]
fn failure(a: &Answer, status: u16, token: &str, message: &str, data: Value) {
    assert_eq!(a.status, status, "{:#}", a.json);
    shaped(
        &a.json,
        &json!({"auth_token": token, "data": data, "error": status.to_string(), "message": message,
                "request_id": "<hex32>", "status": "error"}),
    );
}

fn number(state: &str) -> Value {
    json!({"_read_only": {"created": "#", "modified": "#", "state": state}, "id": "*", "state": state})
}

fn not_found() -> Value {
    json!({"message": "bad identifier", "not_found": "The number could not be found"})
}

const C: Option<&str> = Some(CUSTOMER_TOKEN);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_over_http() {
    the_seeds(&start(Host::Hyper).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_over_axum_nested_under_a_base_path() {
    the_seeds(&start(Host::Axum).await).await;
}

#[tokio::test]
async fn the_classifiers_over_http() {
    the_classifiers(&start(Host::Hyper).await).await;
}

#[tokio::test]
async fn the_classifiers_over_axum_nested_under_a_base_path() {
    the_classifiers(&start(Host::Axum).await).await;
}

/// The seeds' curl walk-through, against any host.
async fn the_seeds(s: &Server) {
    // ----- seed 001: search (no auth) -----
    let a = s
        .curl("GET", "/v2/phone_numbers?prefix=415&quantity=2", None, None)
        .await;
    let hit = json!({"e164": "*", "formatted_number": "*", "npa_nxx": "*", "number": "*", "number_id": "*",
                     "rate_center": {"lata": "*", "name": "*", "state": "*"}, "status": "Available", "ten_digit": "*"});
    success(&a, 200, "", json!([hit, hit]));
    for h in a.json["data"].as_array().unwrap() {
        let e164 = h["e164"].as_str().unwrap();
        assert!(e164.starts_with("+1415"), "{h}");
        assert_eq!(h["number"], e164);
        assert_eq!(h["ten_digit"], &e164[2..]);
        assert_eq!(h["npa_nxx"], &e164[2..8]);
        assert_eq!(
            h["formatted_number"],
            format!("1-{}-{}-{}", &e164[2..5], &e164[5..8], &e164[8..])
        );
    }
    // A bigger page to buy from; page 1 is the next `quantity` results (offset is a page number).
    let a = s
        .curl(
            "GET",
            "/v2/phone_numbers?prefix=%2B1415&quantity=8&offset=0&country=US",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    let found: Vec<String> = a.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found.len(), 8);
    let p1 = s
        .curl(
            "GET",
            "/v2/phone_numbers?prefix=415&quantity=4&offset=1",
            None,
            None,
        )
        .await;
    let page1: Vec<&str> = p1.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        page1,
        found[4..8].iter().map(String::as_str).collect::<Vec<_>>()
    );

    // ----- seed 000 / 001: activate (buy) a searched number -----
    let (n1, n2) = (&found[0], &found[1]);
    let a = s
        .curl(
            "PUT",
            &format!("{ACCT}/{}/activate", enc(n1)),
            C,
            Some("{}"),
        )
        .await;
    success(&a, 201, CUSTOMER_TOKEN, number("in_service"));
    assert_eq!(a.json["data"]["id"], n1.as_str());
    // Activating it again charges nothing and changes nothing.
    let a = s
        .curl("PUT", &format!("{ACCT}/{}/activate", enc(n1)), C, None)
        .await;
    success(&a, 201, CUSTOMER_TOKEN, number("in_service"));
    // A number never seen in a search cannot be bought from a carrier.
    let a = s
        .curl("PUT", &format!("{ACCT}/%2B19005550123/activate"), C, None)
        .await;
    assert!(
        a.status >= 400 && a.status < 600 && a.status != 201,
        "{:#}",
        a.json
    );
    assert_eq!(a.json["status"], "error");

    // ----- seed 001: reserve -----
    let a = s
        .curl("PUT", &format!("{ACCT}/{}/reserve", enc(n2)), C, None)
        .await;
    success(&a, 201, CUSTOMER_TOKEN, number("reserved"));
    let a = s
        .curl("PUT", &format!("{ACCT}/{}/reserve", enc(n2)), C, None)
        .await;
    failure(
        &a,
        400,
        CUSTOMER_TOKEN,
        "no_change_required",
        json!({"code": 400, "error": "no_change_required", "message": "no change required"}),
    );
    let a = s
        .curl("PUT", &format!("{ACCT}/%2B14155550999/reserve"), C, None)
        .await;
    failure(&a, 404, CUSTOMER_TOKEN, "bad_identifier", not_found());

    // ----- seed 001: add, show, update, remove -----
    let mine = "+14155558920";
    let a = s
        .curl(
            "PUT",
            &format!("{ACCT}/{}", enc(mine)),
            C,
            Some(r#"{"data": {"my_own_field": {}}}"#),
        )
        .await;
    let mut created = number("reserved");
    created["my_own_field"] = json!({});
    created["features"] = json!(["local"]);
    created["_read_only"]["features"] = json!(["local"]);
    success(&a, 201, CUSTOMER_TOKEN, created.clone());
    assert_eq!(a.json["data"]["id"], mine);
    let a = s
        .curl("PUT", &format!("{ACCT}/{}", enc(mine)), C, None)
        .await;
    failure(
        &a,
        409,
        CUSTOMER_TOKEN,
        "number_exists",
        json!({"cause": mine, "code": 409, "error": "number_exists", "message": format!("number {mine} already exists")}),
    );
    let a = s
        .curl("PUT", &format!("{ACCT}/%2B141510010%2B15"), C, None)
        .await;
    failure(
        &a,
        404,
        CUSTOMER_TOKEN,
        "not_reconcilable",
        json!({"cause": "+141510010+15", "code": 404, "error": "not_reconcilable", "message": "number +141510010+15 is not reconcilable"}),
    );
    // An account without allow_additions may not add numbers (seed: "Account unauthorized").
    let reseller_acct = format!("/v2/accounts/{RESELLER_ID}/phone_numbers");
    let a = s
        .curl(
            "PUT",
            &format!("{reseller_acct}/%2B14155550111"),
            Some(RESELLER_TOKEN),
            None,
        )
        .await;
    assert_eq!(a.status, 403, "{:#}", a.json);
    assert_eq!(a.json["message"], "forbidden");

    let a = s
        .curl("GET", &format!("{ACCT}/{}", enc(mine)), C, None)
        .await;
    success(&a, 200, CUSTOMER_TOKEN, created);
    let a = s
        .curl("GET", &format!("{ACCT}/%2B14155550998"), C, None)
        .await;
    failure(&a, 404, CUSTOMER_TOKEN, "bad_identifier", not_found());

    // Update with CNAM (seed: the number is used by callflow, which the callflow app sets).
    s.manager
        .assign_to_app(
            n1,
            Some("callflow"),
            &Options::as_account(&CUSTOMER_ID.parse().unwrap()),
        )
        .await
        .unwrap();
    let a = s
        .curl(
            "POST",
            &format!("{ACCT}/{}", enc(n1)),
            C,
            Some(r#"{"data":{"my_own_field":"some other value", "cnam":{"display_name":"My caller ID", "inbound_lookup":true}}}"#),
        )
        .await;
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({
            "_read_only": {"created": "#", "features": "*", "modified": "#", "state": "in_service", "used_by": "callflow"},
            "cnam": {"display_name": "My caller ID", "inbound_lookup": true},
            "features": "*", "id": n1, "my_own_field": "some other value", "state": "in_service", "used_by": "callflow"
        }),
    );
    let mut features: Vec<&str> = a.json["data"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    features.sort();
    assert_eq!(features, ["inbound_cnam", "outbound_cnam"]);
    assert_eq!(
        a.json["data"]["_read_only"]["features"],
        a.json["data"]["features"]
    );

    // ----- seed 001: identify -----
    let a = s
        .curl("GET", &format!("{ACCT}/{}/identify", enc(n1)), C, None)
        .await;
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"account_id": CUSTOMER_ID, "number": n1}),
    );
    let a = s
        .curl("GET", &format!("{ACCT}/%2B14155550998/identify"), C, None)
        .await;
    failure(&a, 404, CUSTOMER_TOKEN, "bad_identifier", not_found());

    // ----- seed 000 / 001: E911, three outcomes -----
    let e911 = |street: &str, extended: &str, city: &str, zip: &str| {
        json!({"data": {"used_by": "callflow", "id": n1, "dash_e911": {
            "postal_code": zip, "street_address": street, "extended_address": extended, "locality": city, "region": "CA"}}})
        .to_string()
    };
    let good = e911("116 NATOMA ST", "APT 116", "SAN FRANCISCO", "94105");
    let a = s
        .curl("POST", &format!("{ACCT}/{}", enc(n1)), C, Some(&good))
        .await;
    assert_eq!(a.status, 200, "{:#}", a.json);
    // The provider also stamps `activated_time` (in the schema, not in the seed's example).
    let mut addr = a.json["data"]["dash_e911"].clone();
    assert!(addr
        .as_object_mut()
        .unwrap()
        .remove("activated_time")
        .is_some());
    shaped(
        &addr,
        &json!({"street_address": "116 NATOMA ST", "extended_address": "APT 116", "caller_name": "*",
                "locality": "SAN FRANCISCO", "latitude": "*", "longitude": "*", "location_id": "*", "plus_four": "*",
                "postal_code": "94105", "region": "CA", "status": "PROVISIONED",
                "legacy_data": {"house_number": "116", "streetname": "NATOMA ST", "suite": "APT 116"}}),
    );
    assert_eq!(a.json["data"]["used_by"], "callflow");
    assert_eq!(a.json["data"]["id"], n1.as_str());

    let bad = e911("1 NOWHERE LN", "", "NOWHERE", "00000");
    let a = s
        .curl("POST", &format!("{ACCT}/{}", enc(n1)), C, Some(&bad))
        .await;
    failure(
        &a,
        400,
        CUSTOMER_TOKEN,
        "invalid data",
        json!({"address": {"invalid": {"cause": "*", "message": "Location is not geocoded", "provider": "dash_e911"}}}),
    );
    let ambiguous = server_ambiguous_address(n1);
    let a = s
        .curl("POST", &format!("{ACCT}/{}", enc(n1)), C, Some(&ambiguous))
        .await;
    assert_eq!(a.status, 400, "{:#}", a.json);
    assert_eq!(a.json["message"], "multiple_choice");
    let choice = &a.json["data"]["multiple_choice"]["dash_e911"];
    assert_eq!(choice["message"], "more than one address found");
    assert!(choice["cause"].is_object());
    assert!(choice["details"].as_array().unwrap().len() >= 2, "{choice}");

    // ----- seed 001: check and locality -----
    let body = json!({"data": {"numbers": [found[2], "+14155550997"]}}).to_string();
    let a = s
        .curl("POST", &format!("{ACCT}/check"), C, Some(&body))
        .await;
    assert_eq!(a.status, 200, "{:#}", a.json);
    assert_eq!(a.json["data"]["+14155550997"], "error");
    assert!(["success", "error"].contains(&a.json["data"][&found[2]].as_str().unwrap()));

    let body = json!({"data": {"numbers": [found[2], found[3]]}}).to_string();
    let a = s
        .curl("POST", &format!("{ACCT}/locality"), C, Some(&body))
        .await;
    assert_eq!(a.status, 200, "{:#}", a.json);
    for n in [&found[2], &found[3]] {
        let l = &a.json["data"][n.as_str()];
        // The offline provider leaves out what only a carrier database knows (`carrier`).
        for k in [
            "country",
            "e164_number",
            "geocode",
            "locality",
            "number",
            "status",
        ] {
            assert!(l.get(k).is_some(), "{n}: {k} missing in {l}");
        }
        assert_eq!(l["e164_number"], n.as_str());
        assert_eq!(l["status"], "success");
    }
    let a = s
        .curl("GET", &format!("{ACCT}/prefix?city=San+Francisco"), C, None)
        .await;
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"San Francisco": ["415", "628"]}),
    );
    // Seed: "Country or city not found", with its data, but a 404: an unknown
    // city is not a server failure.
    let a = s
        .curl("GET", &format!("{ACCT}/prefix?city=Atlantis"), C, None)
        .await;
    failure(
        &a,
        404,
        CUSTOMER_TOKEN,
        "Not Found",
        json!({"data": {}, "error": 404, "message": "Not Found", "status": "error"}),
    );
    let a = s.curl("GET", &format!("{ACCT}/prefix"), C, None).await;
    failure(&a, 404, CUSTOMER_TOKEN, "bad_identifier", not_found());

    // ----- seed 001: collections -----
    let (c1, c2, c3) = ("+14155551001", "+14155551002", "+14155551003");
    let body = json!({"data": {"numbers": [c1, c2, c3]}}).to_string();
    let a = s
        .curl("PUT", &format!("{ACCT}/collection"), C, Some(&body))
        .await;
    let mut local = number("reserved");
    local["features"] = json!(["local"]);
    local["_read_only"]["features"] = json!(["local"]);
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"success": {c1: local, c2: local, c3: local}}),
    );
    let body = json!({"data": {"numbers": [c2, c3]}}).to_string();
    let a = s
        .curl("PUT", &format!("{ACCT}/collection"), C, Some(&body))
        .await;
    let exists = |n: &str| json!({"cause": n, "code": 409, "error": "number_exists", "message": format!("number {n} already exists")});
    failure(
        &a,
        400,
        CUSTOMER_TOKEN,
        "client error",
        json!({c2: exists(c2), c3: exists(c3)}),
    );

    let body = json!({"data": {"numbers": [c1, c2], "myfield": 1337}}).to_string();
    let a = s
        .curl("POST", &format!("{ACCT}/collection"), C, Some(&body))
        .await;
    let mut with_field = local.clone();
    with_field["myfield"] = json!(1337);
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"success": {c1: with_field, c2: with_field}}),
    );
    let body = json!({"data": {"numbers": [c1, c2], "other": true}}).to_string();
    let a = s
        .curl("PATCH", &format!("{ACCT}/collection"), C, Some(&body))
        .await;
    assert_eq!(a.status, 200, "{:#}", a.json);
    assert_eq!(a.json["data"]["success"][c1]["myfield"], 1337);
    assert_eq!(a.json["data"]["success"][c1]["other"], true);

    // Buy a list of searched numbers; an unsearched one alone fails the whole call.
    let body = json!({"data": {"numbers": [found[4], found[5]]}}).to_string();
    let a = s
        .curl(
            "PUT",
            &format!("{ACCT}/collection/activate"),
            C,
            Some(&body),
        )
        .await;
    let bought = number("in_service");
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"success": {found[4].as_str(): bought, found[5].as_str(): bought}}),
    );
    let body = json!({"data": {"numbers": ["+19005550124"]}}).to_string();
    let a = s
        .curl(
            "PUT",
            &format!("{ACCT}/collection/activate"),
            C,
            Some(&body),
        )
        .await;
    assert_eq!(a.status, 400, "{:#}", a.json);
    assert_eq!(a.json["message"], "client error");
    assert!(a.json["data"]["+19005550124"]["error"].is_string());

    // Release a list (carrier numbers go back to available), then hard-delete (master).
    let body = json!({"data": {"numbers": [found[4], found[5], n2]}}).to_string();
    let a = s
        .curl("DELETE", &format!("{ACCT}/collection"), C, Some(&body))
        .await;
    let avail = number("available");
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"success": {found[4].as_str(): avail, found[5].as_str(): avail, n2.as_str(): avail}}),
    );
    let body = json!({"data": {"numbers": [c1, c2, c3]}}).to_string();
    let a = s
        .curl(
            "DELETE",
            &format!("{ACCT}/collection?hard=true"),
            Some(MASTER_TOKEN),
            Some(&body),
        )
        .await;
    let mut gone = local.clone();
    gone["state"] = json!("deleted");
    gone["_read_only"]["state"] = json!("deleted");
    success(
        &a,
        200,
        MASTER_TOKEN,
        json!({"success": {c1: gone, c2: gone, c3: gone}}),
    );

    // ----- seed 001: remove one number -----
    let a = s
        .curl(
            "PUT",
            &format!("{ACCT}/{}/activate", enc(&found[6])),
            C,
            None,
        )
        .await;
    assert_eq!(a.status, 201, "{:#}", a.json);
    let a = s
        .curl("DELETE", &format!("{ACCT}/{}", enc(&found[6])), C, None)
        .await;
    success(&a, 200, CUSTOMER_TOKEN, number("available"));
    // Released numbers are available: releasing again is not a state change.
    let a = s
        .curl("DELETE", &format!("{ACCT}/{}", enc(&found[6])), C, None)
        .await;
    assert_eq!(a.status, 400, "{:#}", a.json);
    assert_eq!(a.json["message"], "invalid_state_transition");
    // Seed: "Number not in account" (someone else's number) is 404 bad_identifier.
    let other_acct = format!("/v2/accounts/{OTHER_ID}/phone_numbers");
    let a = s
        .curl(
            "PUT",
            &format!("{other_acct}/%2B14155553000"),
            Some(OTHER_TOKEN),
            None,
        )
        .await;
    assert_eq!(a.status, 201, "{:#}", a.json);
    let a = s
        .curl("DELETE", &format!("{ACCT}/%2B14155553000"), C, None)
        .await;
    failure(&a, 404, CUSTOMER_TOKEN, "bad_identifier", not_found());
    let a = s
        .curl(
            "DELETE",
            &format!("{ACCT}/{}?hard=true", enc(mine)),
            Some(MASTER_TOKEN),
            None,
        )
        .await;
    let mut deleted = number("deleted");
    deleted["features"] = json!(["local"]);
    deleted["_read_only"]["features"] = json!(["local"]);
    success(&a, 200, MASTER_TOKEN, deleted);
    let a = s
        .curl("GET", &format!("{ACCT}/{}", enc(mine)), C, None)
        .await;
    failure(&a, 404, CUSTOMER_TOKEN, "bad_identifier", not_found());

    // ----- seed 001: listing, paged, filtered -----
    for n in [
        "+14152338421",
        "+14155234712",
        "+14155558921",
        "+14155558922",
    ] {
        let a = s
            .curl(
                "PUT",
                &format!("{ACCT}/{}", enc(n)),
                C,
                Some(r#"{"data": {"create_with_state": "in_service"}}"#),
            )
            .await;
        assert_eq!(a.status, 201, "{:#}", a.json);
    }
    let a = s
        .curl(
            "GET",
            &format!("{ACCT}?page_size=3&start_key=%2B14152338421"),
            C,
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{:#}", a.json);
    let row = json!({"assigned_to": CUSTOMER_ID, "created": "#", "features": "*", "state": "*", "updated": "#"});
    shaped(
        &a.json,
        &json!({"auth_token": CUSTOMER_TOKEN, "data": {"cascade_quantity": 0, "casquade_quantity": 0, "numbers": "*"},
                "next_start_key": "*", "page_size": 3, "request_id": "<hex32>", "revision": "undefined",
                "start_key": "+14152338421", "status": "success"}),
    );
    let rows = a.json["data"]["numbers"].as_object().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.keys().next().unwrap(), "+14152338421");
    for r in rows.values() {
        let mut pattern = row.clone();
        if r.get("used_by").is_some() {
            pattern["used_by"] = json!("*");
        }
        shaped(r, &pattern);
    }
    let next = a.json["next_start_key"].as_str().unwrap().to_string();
    let a = s
        .curl(
            "GET",
            &format!("{ACCT}?page_size=3&start_key={}", enc(&next)),
            C,
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json["data"]["numbers"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap(),
        &next
    );
    let a = s
        .curl("GET", &format!("{ACCT}?filter_state=in_service"), C, None)
        .await;
    assert!(a.json["data"]["numbers"]
        .as_object()
        .unwrap()
        .values()
        .all(|r| r["state"] == "in_service"));
    let a = s
        .curl("GET", &format!("{ACCT}?created_from=63627345744"), C, None)
        .await;
    assert_eq!(a.status, 200);

    // ----- seed 001: search the account's own numbers -----
    let a = s
        .curl(
            "GET",
            &format!("{ACCT}?prefix=415&quantity=3&offset=0"),
            C,
            None,
        )
        .await;
    let own = json!({"number": "*", "state": "*"});
    success(&a, 200, CUSTOMER_TOKEN, json!([own, own, own]));

    // ----- seed 001 / 003: carriers_info, fix -----
    let a = s
        .curl("GET", &format!("{ACCT}/carriers_info"), C, None)
        .await;
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"maximal_prefix_length": "#", "usable_carriers": "*", "usable_creation_states": ["in_service", "reserved"]}),
    );
    let a = s.curl("POST", &format!("{ACCT}/fix"), C, None).await;
    assert_eq!(a.status, 200, "{:#}", a.json);
    shaped(
        &a.json,
        &json!({"auth_token": CUSTOMER_TOKEN, "data": {"cascade_quantity": 0, "casquade_quantity": 0, "numbers": "*"},
                "page_size": "#", "request_id": "<hex32>", "revision": "undefined", "status": "success"}),
    );
    let a = s
        .curl("POST", &format!("{ACCT}/fix/{}", enc(n1)), C, None)
        .await;
    success(&a, 200, CUSTOMER_TOKEN, json!({}));

    // ----- seed 003: port in -----
    let a = s
        .curl("PUT", &format!("{ACCT}/%2B14155552000/port"), C, None)
        .await;
    assert_eq!(a.status, 201, "{:#}", a.json);
    assert_eq!(a.json["data"]["state"], "port_in");

    // ----- request-level errors over the wire -----
    let a = s.curl("GET", ACCT, None, None).await;
    failure(&a, 401, "", "invalid_credentials", json!({"message": "*"}));
    let a = s.curl("GET", &format!("{ACCT}/collection"), C, None).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.headers.get("allow").unwrap(), "PUT, POST, PATCH, DELETE");
    let a = s.curl("GET", "/v2/nowhere", None, None).await;
    assert_eq!(a.status, 404);
    let a = s
        .curl("POST", &format!("{ACCT}/check"), C, Some("{not json"))
        .await;
    failure(
        &a,
        400,
        CUSTOMER_TOKEN,
        "invalid request body",
        json!({"message": "*"}),
    );
    let a = s
        .curl(
            "GET",
            &format!("/v2/accounts/{RESELLER_ID}/phone_numbers"),
            C,
            None,
        )
        .await;
    assert_eq!(a.status, 403);
    let big = format!(
        r#"{{"data": {{"pad": "{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let a = s
        .curl("POST", &format!("{ACCT}/{}", enc(n1)), C, Some(&big))
        .await;
    failure(
        &a,
        413,
        CUSTOMER_TOKEN,
        "payload_too_large",
        json!({"message": "*"}),
    );
}

/// The seeds' classifier examples, against any host.
async fn the_classifiers(s: &Server) {
    // The default classifiers are Kazoo's current list (DECISIONS 4), whose
    // regexes differ in form from the seeds' older list: names and results are
    // the seeds', the regex text is not compared.
    // ----- seed 000 / 001: classify without and with an account -----
    let a = s
        .curl(
            "GET",
            "/v2/phone_numbers/classifiers/4158867900",
            None,
            None,
        )
        .await;
    success(
        &a,
        200,
        "",
        json!({"e164": "+14158867900", "friendly_name": "US DID", "name": "did_us", "number": "4158867900",
               "pretty_print": "*", "regex": "*"}),
    );
    let a = s
        .curl("GET", &format!("{ACCT}/classifiers/4158551292"), C, None)
        .await;
    success(
        &a,
        200,
        CUSTOMER_TOKEN,
        json!({"e164": "+14158551292", "friendly_name": "US DID", "name": "did_us", "number": "4158551292",
               "pretty_print": "SS(###) ### - ####", "regex": "*"}),
    );
    let a = s.curl("GET", &format!("{ACCT}/classifiers"), C, None).await;
    assert_eq!(a.status, 200);
    let names: Vec<&String> = a.json["data"].as_object().unwrap().keys().collect();
    for n in [
        "tollfree_us",
        "toll_us",
        "emergency",
        "caribbean",
        "did_us",
        "international",
        "unknown",
    ] {
        assert!(names.iter().any(|k| *k == n), "{n} missing from {names:?}");
        assert!(
            a.json["data"][n]["regex"].is_string()
                && a.json["data"][n]["friendly_name"].is_string()
        );
    }
}

/// An address the demo E911 provider matches to several locations.
fn server_ambiguous_address(n: &str) -> String {
    json!({"data": {"used_by": "callflow", "id": n, "dash_e911": {
        "postal_code": "94105", "street_address": "1 MARKET", "locality": "SAN FRANCISCO", "region": "CA"}}})
    .to_string()
}
