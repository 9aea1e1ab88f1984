//! Input limits and the schema's nested fields, through `NumberManager` and
//! through `api::Api`: one maximum for every list of numbers, bounded bodies
//! and public fields, and `porting` / `e911.legacy_data` checked like the rest.

use std::sync::Arc;

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::api::{Api, ApiRequest, Method};
use number_manager::locality::OfflineLocality;
use number_manager::manager::PublicChange;
use number_manager::store::{MemoryStore, Store, StoreExt};
use number_manager::{Config, Error, Limits, NumberManager, Options, PhoneNumber};
use serde_json::{json, Map, Value};

const MASTER: &str = "master-token";
const CUSTOMER: &str = "customer-token";
const BASE: &str = "/v2/accounts/customer/phone_numbers";

struct World {
    manager: NumberManager,
    api: Api,
    store: Arc<dyn Store>,
    customer: AccountId,
}

impl World {
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(config: Config) -> Self {
        let accounts = Arc::new(MemoryAccounts::new());
        let master = accounts.add("master", "Master", None).unwrap();
        accounts.set_master(&master, true);
        let customer = accounts.add("customer", "Customer", Some(&master)).unwrap();
        accounts.set_allow_additions(&customer, true);
        accounts.set_token(&master, MASTER);
        accounts.set_token(&customer, CUSTOMER);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let manager = NumberManager::builder()
            .store(store.clone())
            .accounts(accounts.clone())
            .locality(Arc::new(OfflineLocality::new()))
            .config(config)
            .build();
        World {
            api: Api::new(manager.clone(), accounts),
            manager,
            store,
            customer,
        }
    }

    fn opts(&self) -> Options {
        Options::as_account(&self.customer)
    }

    async fn create(&self, number: &str, fields: Value) -> Result<(), Error> {
        let change = PublicChange::fields(fields.as_object().cloned().unwrap_or_default());
        self.manager
            .create(&self.customer, number, change, &self.opts())
            .await
            .map(drop)
    }

    async fn stored(&self, number: &str) -> bool {
        let n = PhoneNumber::parse(number).unwrap();
        self.store.get(&n).await.unwrap().is_some()
    }

    async fn send(&self, method: Method, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
        let req = ApiRequest::new(method, &format!("{BASE}{path}"))
            .token(CUSTOMER)
            .body(body);
        let res = self.api.handle(req).await;
        (res.status, res.json().expect("every answer is JSON"))
    }
}

fn numbers(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("+1415{:07}", i)).collect()
}

/// The `data` of a `validation error`, from the library.
fn details(result: Result<impl std::fmt::Debug, Error>) -> Value {
    match result {
        Err(e @ Error::Validation { .. }) => e.envelope().2,
        other => panic!("expected a validation error, got {}", short(&other)),
    }
}

/// The start of a value's debug form (answers here can be megabytes).
fn short(v: &impl std::fmt::Debug) -> String {
    format!("{v:?}").chars().take(300).collect()
}

/// Asserts the seeds' error envelope and returns its `data`.
fn envelope(status: u16, v: &Value, expected: u16, message: &str) -> Value {
    assert_eq!(status, expected, "{}", short(v));
    assert_eq!(v["status"], "error", "{}", short(v));
    assert_eq!(v["error"], expected.to_string(), "{}", short(v));
    assert_eq!(v["message"], message, "{}", short(v));
    v["data"].clone()
}

fn nested(levels: usize) -> Value {
    (0..levels).fold(json!("leaf"), |inner, _| json!({ "n": inner }))
}

// ---------- one maximum for every list of numbers ----------

#[tokio::test]
async fn check_and_locality_take_at_most_1000_numbers() {
    let w = World::new();
    let over = numbers(1001);
    let d = details(w.manager.check(&over).await);
    assert!(d["numbers"]["maxItems"]["message"].is_string(), "{d}");
    let d = details(w.manager.locality(&over).await);
    assert!(d["numbers"]["maxItems"]["message"].is_string(), "{d}");
    // The maximum itself is fine.
    let at = numbers(1000);
    assert_eq!(w.manager.check(&at).await.unwrap().len(), 1000);
    assert_eq!(w.manager.locality(&at).await.unwrap().len(), 1000);
}

#[tokio::test]
async fn the_api_refuses_60000_numbers_on_check_and_locality() {
    let w = World::new();
    let body = json!({"data": {"numbers": numbers(60_000)}}).to_string();
    assert!(body.len() <= 1024 * 1024);
    for path in ["/check", "/locality"] {
        let (s, v) = w.send(Method::Post, path, body.clone()).await;
        let data = envelope(s, &v, 400, "validation error");
        assert!(
            data["numbers"]["maxItems"]["message"].is_string(),
            "{path}: {data}"
        );
    }
}

#[tokio::test]
async fn every_list_shares_the_configured_maximum() {
    let mut config = Config::default();
    config.limits.max_numbers = 3;
    let w = World::with(config);
    let (four, three) = (numbers(4), numbers(3));
    let o = w.opts();
    let m = &w.manager;
    let refused = [
        details(m.check(&four).await),
        details(m.locality(&four).await),
        details(
            m.create_many(&w.customer, &four, PublicChange::default(), &o)
                .await,
        ),
        details(m.port_in_many(&w.customer, &four, Map::new(), &o).await),
        details(m.reserve_many(&w.customer, &four, Map::new(), &o).await),
        details(m.release_many(&four, &o).await),
    ];
    for d in refused {
        assert_eq!(
            d["numbers"]["maxItems"]["message"],
            "at most 3 numbers may be given at once, 4 were"
        );
    }
    assert!(!w.stored(&four[0]).await, "nothing is done past the limit");
    let r = m
        .port_in_many(&w.customer, &three, Map::new(), &o)
        .await
        .unwrap();
    assert_eq!(r.success.len(), 3);
    // Through the API, on a collection route and on check.
    let body = json!({"data": {"numbers": four}}).to_string();
    for (method, path) in [(Method::Put, "/collection"), (Method::Post, "/check")] {
        let (s, v) = w.send(method, path, body.clone()).await;
        let data = envelope(s, &v, 400, "validation error");
        assert!(data["numbers"]["maxItems"].is_object(), "{path}: {data}");
    }
}

// ---------- bounded bodies and public fields ----------

#[tokio::test]
async fn a_1mib_body_of_60000_fields_is_refused() {
    let w = World::new();
    let fields: Map<String, Value> = (0..60_000)
        .map(|i| (format!("f{i:05}"), json!("xxxxx")))
        .collect();
    let body = json!({ "data": fields }).to_string();
    assert!(
        body.len() > 1_000_000 && body.len() <= 1024 * 1024,
        "{}",
        body.len()
    );
    let (s, v) = w.send(Method::Put, "/%2B14155550100", body).await;
    let data = envelope(s, &v, 400, "validation error");
    assert!(
        data["data"]["maxProperties"]["message"].is_string(),
        "{data}"
    );
    assert!(!w.stored("+14155550100").await);
    // The library refuses the same fields.
    let d = details(w.create("+14155550101", Value::Object(fields)).await);
    assert!(d["data"]["maxProperties"].is_object(), "{d}");
    assert!(!w.stored("+14155550101").await);
}

#[tokio::test]
async fn strings_keys_depth_and_size_of_public_fields_are_bounded() {
    let w = World::new();
    let long = "x".repeat(4097);
    let deepest = format!("deep{}", ".n".repeat(15));
    let cases = [
        (json!({"note": long}), "note", "maxLength"),
        (
            json!({"team": {"notes": [long]}}),
            "team.notes.0",
            "maxLength",
        ),
        (json!({ "k".repeat(257): 1 }), "", "maxLength"),
        (json!({"deep": nested(16)}), deepest.as_str(), "maxDepth"),
        (
            Value::Object(
                (0..20)
                    .map(|i| (format!("s{i}"), json!("y".repeat(4000))))
                    .collect(),
            ),
            "data",
            "maxSize",
        ),
    ];
    for (i, (fields, field, code)) in cases.into_iter().enumerate() {
        let number = format!("+1415555{i:04}");
        let d = details(w.create(&number, fields).await);
        let found = if field.is_empty() {
            // An over-long key is echoed back cut short.
            d.as_object().unwrap().values().any(|v| v[code].is_object())
        } else {
            d[field][code].is_object()
        };
        assert!(found, "{field} {code}: {d}");
        assert!(!w.stored(&number).await);
    }
    // Just inside every limit is fine.
    let ok = json!({
        "note": "x".repeat(4096),
        "k".repeat(256): 1,
        "deep": nested(15),
    });
    w.create("+14155559999", ok).await.unwrap();
}

#[tokio::test]
async fn a_patch_cannot_grow_public_fields_past_the_limits() {
    let mut config = Config::default();
    config.limits.max_fields = 4;
    let w = World::with(config);
    w.create("+14155550100", json!({"a": 1, "b": 2, "c": 3}))
        .await
        .unwrap();
    // The patch alone is within the limit; the merged fields are not.
    let patch = json!({"d": 4, "e": 5}).as_object().cloned().unwrap();
    let d = details(w.manager.patch("+14155550100", patch, &w.opts()).await);
    assert!(d["data"]["maxProperties"].is_object(), "{d}");
    let stored = w.manager.get("+14155550100", &w.opts()).await.unwrap();
    assert_eq!(stored.public.len(), 3);
}

#[tokio::test]
async fn limits_are_configurable() {
    let config = Config::default().with_limits(
        Limits::default()
            .with_max_body_bytes(2048)
            .with_max_depth(2)
            .with_max_string_chars(10)
            .with_max_key_chars(5)
            .with_max_fields(3)
            .with_max_public_bytes(40),
    );
    let w = World::with(config);
    let cases = [
        (json!({"note": "x".repeat(11)}), "note", "maxLength"),
        (json!({"a": {"b": {}}}), "a.b", "maxDepth"),
        (
            json!({"a": 1, "b": 2, "c": 3, "d": 4}),
            "data",
            "maxProperties",
        ),
        (
            json!({"a": "xxxxxxxxxx", "b": "xxxxxxxxxx", "c": "x"}),
            "data",
            "maxSize",
        ),
    ];
    for (i, (fields, field, code)) in cases.into_iter().enumerate() {
        let d = details(w.create(&format!("+1415555{i:04}"), fields).await);
        assert!(d[field][code].is_object(), "{field} {code}: {d}");
    }
    // The API takes its body limit from the manager's limits: 413 in the envelope.
    assert_eq!(w.api.body_limit(), 2048);
    let big = json!({"data": {"a": "x".repeat(3000)}}).to_string();
    let (s, v) = w.send(Method::Post, "/%2B14155550100", big).await;
    let data = envelope(s, &v, 413, "payload_too_large");
    assert!(data["message"].as_str().unwrap().contains("2048"), "{data}");
}

#[tokio::test]
async fn the_api_refuses_deep_bodies_before_parsing_them() {
    let w = World::new();
    // 100 levels parse as JSON (the parser allows 128), but nest past the limit.
    let body = json!({"data": {"deep": nested(99)}}).to_string();
    let (s, v) = w.send(Method::Put, "/%2B14155550100", body).await;
    let data = envelope(s, &v, 400, "validation error");
    assert!(data["data"]["maxDepth"]["message"].is_string(), "{data}");
    assert!(!w.stored("+14155550100").await);
    // Brackets inside strings are not nesting; 16 public levels are allowed.
    let body = json!({"data": {"s": "[[[[[[[[[[[[[[[[[[[[[[[[", "deep": nested(15)}}).to_string();
    let (s, v) = w.send(Method::Put, "/%2B14155550100", body).await;
    assert_eq!(s, 201, "{v}");
    let body = json!({"data": {"deep": nested(16)}}).to_string();
    let (s, v) = w.send(Method::Post, "/%2B14155550100", body).await;
    envelope(s, &v, 400, "validation error");
}

#[tokio::test]
async fn the_api_bounds_strings_and_keys() {
    let w = World::new();
    let body = json!({"data": {"note": "x".repeat(5000), "k".repeat(300): 1}}).to_string();
    let (s, v) = w.send(Method::Put, "/%2B14155550100", body).await;
    let data = envelope(s, &v, 400, "validation error");
    assert!(data["note"]["maxLength"].is_object(), "{data}");
    let cut = format!("{}...", "k".repeat(64));
    assert!(data[cut.as_str()]["maxLength"].is_object(), "{data}");
    // A collection body is checked once, before any number is touched.
    let body = json!({"data": {"numbers": ["+14155550101"], "note": "x".repeat(5000)}}).to_string();
    let (s, v) = w.send(Method::Put, "/collection", body).await;
    envelope(s, &v, 400, "validation error");
    assert!(!w.stored("+14155550101").await);
}

// ---------- the schema's nested fields ----------

#[tokio::test]
async fn porting_sub_fields_are_strings_and_comments_a_list_of_strings() {
    let w = World::new();
    let bad = json!({"porting": {
        "billing_name": 5,
        "port_id": {"id": 1},
        "requested_port_date": "2026-12-01",
        "comments": "call after five",
    }});
    let d = details(w.create("+14155550100", bad).await);
    assert!(d["porting.billing_name"]["type"].is_object(), "{d}");
    assert!(d["porting.port_id"]["type"].is_object(), "{d}");
    assert!(d["porting.comments"]["type"].is_object(), "{d}");
    assert!(d.get("porting.requested_port_date").is_none(), "{d}");
    let d = details(
        w.create("+14155550100", json!({"porting": {"comments": ["ok", 7]}}))
            .await,
    );
    assert!(d["porting.comments.1"]["type"].is_object(), "{d}");
    assert!(!w.stored("+14155550100").await);
    // The same through the API, and a valid one is kept.
    let body = json!({"data": {"porting": {"customer_contact": 4155550100u64}}}).to_string();
    let (s, v) = w.send(Method::Put, "/%2B14155550101/port", body).await;
    let data = envelope(s, &v, 400, "validation error");
    assert!(
        data["porting.customer_contact"]["type"].is_object(),
        "{data}"
    );
    let good = json!({"porting": {"billing_name": "Ann", "comments": ["a", "b"]}});
    let body = json!({ "data": good }).to_string();
    let (s, v) = w.send(Method::Put, "/%2B14155550101/port", body).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["porting"], good["porting"]);
}

#[tokio::test]
async fn e911_legacy_data_is_an_object_of_strings() {
    let w = World::new();
    let address = |legacy: Value| {
        json!({"e911": {
            "street_address": "116 NATOMA ST",
            "locality": "San Francisco",
            "region": "CA",
            "postal_code": "94105",
            "legacy_data": legacy,
        }})
    };
    let d = details(
        w.create("+14155550100", address(json!(["116", "NATOMA ST"])))
            .await,
    );
    assert!(d["e911.legacy_data"]["type"].is_object(), "{d}");
    let d = details(
        w.create("+14155550100", address(json!({"suite": 116})))
            .await,
    );
    assert!(d["e911.legacy_data.suite"]["type"].is_object(), "{d}");
    assert!(!w.stored("+14155550100").await);
    // Through the API, under the `dash_e911` alias too.
    let mut body = address(json!("116 NATOMA ST"));
    let e911 = body["e911"].take();
    let body = json!({"data": {"dash_e911": e911}}).to_string();
    let (s, v) = w.send(Method::Put, "/%2B14155550100", body).await;
    let data = envelope(s, &v, 400, "validation error");
    assert!(data["dash_e911.legacy_data"]["type"].is_object(), "{data}");
    // A PATCH is checked before it is merged.
    w.create("+14155550101", json!({})).await.unwrap();
    let body = json!({"data": {"e911": {"legacy_data": [1]}}}).to_string();
    let (s, v) = w.send(Method::Patch, "/%2B14155550101", body).await;
    let data = envelope(s, &v, 400, "validation error");
    assert!(data["e911.legacy_data"]["type"].is_object(), "{data}");
}
