//! `Api::handle` called directly: every request-level error path, the seeds'
//! error envelopes, collections' all/some/none-failed mapping, dry runs,
//! idempotency keys, and a property test that no input panics or answers 500.

use std::sync::Arc;

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::api::{Api, ApiRequest, ApiResponse, Method};
use number_manager::carrier::{CarrierRegistry, LocalCarrier};
use number_manager::store::{MemoryStore, Store};
use number_manager::NumberManager;
use serde_json::{json, Value};

const MASTER: &str = "master-token";
const RESELLER: &str = "reseller-token";
const CUSTOMER: &str = "customer-token";
const OTHER: &str = "other-token";
const DISABLED: &str = "disabled-token";

struct World {
    api: Api,
    manager: NumberManager,
    customer: AccountId,
    other: AccountId,
}

fn world() -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let reseller = accounts.add("reseller", "Reseller", Some(&master)).unwrap();
    let customer = accounts
        .add("customer", "Customer", Some(&reseller))
        .unwrap();
    accounts.set_allow_additions(&customer, true);
    let other = accounts.add("other", "Other", Some(&master)).unwrap();
    let disabled = accounts.add("disabled", "Disabled", Some(&master)).unwrap();
    accounts.set_enabled(&disabled, false);
    for (id, token) in [
        (&master, MASTER),
        (&reseller, RESELLER),
        (&customer, CUSTOMER),
        (&other, OTHER),
        (&disabled, DISABLED),
    ] {
        accounts.set_token(id, token);
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts.clone())
        .carriers(CarrierRegistry::new().with(Arc::new(LocalCarrier::new(store))))
        .build();
    World {
        api: Api::new(manager.clone(), accounts).with_body_limit(4096),
        manager,
        customer,
        other,
    }
}

const BASE: &str = "/v2/accounts/customer/phone_numbers";

async fn send(api: &Api, req: ApiRequest) -> (u16, Value) {
    let res: ApiResponse = api.handle(req).await;
    let v = res.json().expect("every answer is JSON");
    assert!(v.is_object(), "{v}");
    (res.status, v)
}

async fn call(
    api: &Api,
    method: Method,
    target: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = ApiRequest::new(method, target);
    if !token.is_empty() {
        req = req.token(token);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(api, req).await
}

/// Asserts the seeds' error envelope and returns its data.
fn error(v: &Value, status: u16, message: &str) -> Value {
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["error"], status.to_string(), "{v}");
    assert_eq!(v["message"], message, "{v}");
    assert_eq!(v["request_id"].as_str().map(str::len), Some(32), "{v}");
    assert!(v.get("auth_token").is_some(), "{v}");
    v["data"].clone()
}

// ---------- 401 ----------

#[tokio::test]
async fn a_missing_token_is_401() {
    let w = world();
    let (s, v) = call(&w.api, Method::Get, BASE, "", None).await;
    assert_eq!(s, 401);
    let data = error(&v, 401, "invalid_credentials");
    assert_eq!(v["auth_token"], "");
    assert!(data["message"].as_str().unwrap().contains("X-Auth-Token"));
}

#[tokio::test]
async fn an_unknown_or_disabled_token_is_401_and_echoed() {
    let w = world();
    for token in ["nope", DISABLED] {
        let (s, v) = call(
            &w.api,
            Method::Get,
            &format!("{BASE}/%2B14155550100"),
            token,
            None,
        )
        .await;
        assert_eq!(s, 401, "{token}");
        error(&v, 401, "invalid_credentials");
        assert_eq!(v["auth_token"], token);
    }
}

#[tokio::test]
async fn a_bearer_token_works_too() {
    let w = world();
    let req =
        ApiRequest::new(Method::Get, BASE).header("Authorization", &format!("Bearer {CUSTOMER}"));
    let (s, v) = send(&w.api, req).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["auth_token"], CUSTOMER);
}

#[tokio::test]
async fn with_the_echo_off_no_answer_carries_the_token() {
    let w = world();
    assert!(w.api.echoes_auth_token(), "the echo is on by default");
    let api = w.api.clone().with_auth_token_echo(false);
    assert!(!api.echoes_auth_token());
    // A success, an authentication failure, an error of a known caller and a 413.
    let (s, ok) = call(&api, Method::Get, BASE, CUSTOMER, None).await;
    assert_eq!(s, 200, "{ok}");
    let (s, unknown) = call(&api, Method::Get, BASE, "nope", None).await;
    assert_eq!(s, 401, "{unknown}");
    let (s, missing) = call(
        &api,
        Method::Get,
        &format!("{BASE}/%2B14155550100"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 404, "{missing}");
    let big = ApiRequest::new(Method::Post, &format!("{BASE}/%2B14155550100"))
        .token(CUSTOMER)
        .body(vec![b' '; 5000]);
    let (s, too_large) = send(&api, big).await;
    assert_eq!(s, 413, "{too_large}");
    let head = ApiRequest::new(Method::Post, BASE).token(CUSTOMER);
    let cut_off = api.payload_too_large(&head).json().unwrap();
    for v in [&ok, &unknown, &missing, &too_large, &cut_off] {
        assert!(v.get("auth_token").is_none(), "{v}");
        assert!(!v.to_string().contains(CUSTOMER), "{v}");
        assert_eq!(v["request_id"].as_str().map(str::len), Some(32), "{v}");
    }
    // The API it was made from still echoes.
    let (_, v) = call(&w.api, Method::Get, BASE, CUSTOMER, None).await;
    assert_eq!(v["auth_token"], CUSTOMER);
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let w = world();
    let (s, v) = call(
        &w.api,
        Method::Get,
        "/v2/phone_numbers?prefix=415&quantity=2",
        "",
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["auth_token"], "");
    assert!(v["data"].is_array());
    let (s, _) = call(
        &w.api,
        Method::Get,
        "/v2/phone_numbers/classifiers/4158867900",
        "",
        None,
    )
    .await;
    assert_eq!(s, 200);
}

// ---------- 403 ----------

#[tokio::test]
async fn addressing_an_account_that_is_not_yours_is_403() {
    let w = world();
    // `other` is not customer's ancestor; customer is not reseller's ancestor.
    for (token, base) in [
        (OTHER, BASE),
        (CUSTOMER, "/v2/accounts/reseller/phone_numbers"),
    ] {
        let (s, v) = call(&w.api, Method::Get, base, token, None).await;
        assert_eq!(s, 403, "{v}");
        error(&v, 403, "forbidden");
    }
    // An ancestor and master may.
    for token in [RESELLER, MASTER, CUSTOMER] {
        let (s, v) = call(&w.api, Method::Get, BASE, token, None).await;
        assert_eq!(s, 200, "{token}: {v}");
    }
}

#[tokio::test]
async fn an_unusable_account_id_is_404() {
    let w = world();
    let (s, v) = call(
        &w.api,
        Method::Get,
        "/v2/accounts/a%20b/phone_numbers",
        MASTER,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let data = error(&v, 404, "bad_identifier");
    assert_eq!(data["not_found"], "The account could not be found");
}

// ---------- 404 / 405 ----------

#[tokio::test]
async fn unknown_routes_are_404() {
    let w = world();
    for target in [
        "/",
        "/v1/phone_numbers",
        "/v2/phone_number",
        "/v2/accounts/customer",
        "/v2/accounts/customer/phone_numbers/%2B14155550100/activate/now",
        "/v2//phone_numbers",
    ] {
        let (s, v) = call(&w.api, Method::Get, target, CUSTOMER, None).await;
        assert_eq!(s, 404, "{target}: {v}");
        let data = error(&v, 404, "not_found");
        assert!(data["message"]
            .as_str()
            .unwrap()
            .starts_with("no route for GET"));
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let w = world();
    let cases = [
        (
            Method::Get,
            format!("{BASE}/collection"),
            "PUT, POST, PATCH, DELETE",
        ),
        (
            Method::Post,
            format!("{BASE}/%2B14155550100/activate"),
            "PUT",
        ),
        (Method::Get, format!("{BASE}/check"), "POST"),
        (Method::Delete, format!("{BASE}/classifiers"), "GET"),
        (Method::Get, format!("{BASE}/fix"), "POST"),
        (Method::Post, "/v2/phone_numbers".to_string(), "GET"),
        (Method::Head, BASE.to_string(), "GET"),
        (
            Method::Other,
            format!("{BASE}/%2B14155550100"),
            "GET, PUT, POST, PATCH, DELETE",
        ),
    ];
    for (method, target, allow) in cases {
        let res = w
            .api
            .handle(ApiRequest::new(method, &target).token(CUSTOMER))
            .await;
        assert_eq!(res.status, 405, "{method} {target}");
        assert_eq!(res.header("Allow"), Some(allow));
        let v = res.json().unwrap();
        let data = error(&v, 405, "method_not_allowed");
        assert_eq!(
            data["allowed"].as_array().unwrap().len(),
            allow.split(", ").count()
        );
    }
}

#[tokio::test]
async fn route_and_method_are_checked_before_the_token() {
    let w = world();
    let (s, _) = call(&w.api, Method::Get, "/v2/nothing", "", None).await;
    assert_eq!(s, 404);
    let (s, _) = call(&w.api, Method::Get, &format!("{BASE}/collection"), "", None).await;
    assert_eq!(s, 405);
}

// ---------- 413 ----------

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let w = world();
    let big = format!(r#"{{"data": {{"pad": "{}"}}}}"#, "x".repeat(5000));
    let req = ApiRequest::new(Method::Post, &format!("{BASE}/%2B14155550100"))
        .token(CUSTOMER)
        .body(big);
    let (s, v) = send(&w.api, req.clone()).await;
    assert_eq!(s, 413);
    let data = error(&v, 413, "payload_too_large");
    assert!(data["message"].as_str().unwrap().contains("4096"));
    // The early answer for servers that stop reading at the limit.
    let res = w.api.payload_too_large(&req);
    assert_eq!(res.status, 413);
    assert_eq!(res.json().unwrap()["auth_token"], CUSTOMER);
    assert_eq!(w.api.body_limit(), 4096);
}

// ---------- 400: the body ----------

#[tokio::test]
async fn malformed_json_is_400() {
    let w = world();
    for body in [
        "{",
        "{\"data\": }",
        "nul",
        "\u{0}",
        "{\"data\": {\"a\": 1,}}",
    ] {
        let req = ApiRequest::new(Method::Put, &format!("{BASE}/%2B14155550100"))
            .token(CUSTOMER)
            .body(body);
        let (s, v) = send(&w.api, req).await;
        assert_eq!(s, 400, "{body:?}");
        let data = error(&v, 400, "invalid request body");
        assert!(
            data["message"].as_str().unwrap().contains("not valid JSON"),
            "{data}"
        );
    }
    // Bytes that are not UTF-8 at all.
    let req = ApiRequest::new(Method::Put, &format!("{BASE}/%2B14155550100"))
        .token(CUSTOMER)
        .body(vec![0xff, 0xfe]);
    let (s, _) = send(&w.api, req).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400() {
    let w = world();
    for body in ["[1, 2]", "\"data\"", "42", "true", "null"] {
        let req = ApiRequest::new(Method::Post, &format!("{BASE}/collection"))
            .token(CUSTOMER)
            .body(body);
        let (s, v) = send(&w.api, req).await;
        assert_eq!(s, 400, "{body}");
        let data = error(&v, 400, "invalid request body");
        assert!(
            data["message"]
                .as_str()
                .unwrap()
                .contains("must be a JSON object"),
            "{data}"
        );
    }
}

#[tokio::test]
async fn fields_outside_data_are_400_not_ignored() {
    let w = world();
    let (s, v) = call(
        &w.api,
        Method::Put,
        &format!("{BASE}/%2B14155550100"),
        CUSTOMER,
        Some(json!({"my_own_field": {}})),
    )
    .await;
    assert_eq!(s, 400);
    let data = error(&v, 400, "invalid request body");
    assert!(data["message"].as_str().unwrap().contains("my_own_field"));
    // Envelope keys alone are fine.
    let (s, v) = call(
        &w.api,
        Method::Put,
        &format!("{BASE}/%2B14155550100"),
        CUSTOMER,
        Some(json!({"accept_charges": true})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

#[tokio::test]
async fn wrong_types_are_validation_errors() {
    let w = world();
    let cases: Vec<(Method, String, Option<Value>, &str, &str)> = vec![
        (
            Method::Put,
            format!("{BASE}/%2B14155550100"),
            Some(json!({"data": 5})),
            "data",
            "type",
        ),
        (
            Method::Put,
            format!("{BASE}/%2B14155550100"),
            Some(json!({"data": []})),
            "data",
            "type",
        ),
        (
            Method::Get,
            "/v2/phone_numbers?prefix=415&quantity=two".into(),
            None,
            "quantity",
            "type",
        ),
        (
            Method::Get,
            "/v2/phone_numbers?prefix=415&quantity=0".into(),
            None,
            "quantity",
            "minimum",
        ),
        (
            Method::Get,
            "/v2/phone_numbers?prefix=415&offset=-1".into(),
            None,
            "offset",
            "type",
        ),
        (
            Method::Get,
            "/v2/phone_numbers?quantity=2".into(),
            None,
            "prefix",
            "required",
        ),
        (
            Method::Get,
            format!("{BASE}?page_size=x"),
            None,
            "page_size",
            "type",
        ),
        (
            Method::Get,
            format!("{BASE}?filter_state=sold"),
            None,
            "filter_state",
            "enum",
        ),
        (
            Method::Get,
            format!("{BASE}?created_from=yesterday"),
            None,
            "created_from",
            "type",
        ),
        (
            Method::Get,
            format!("{BASE}?start_key=abc"),
            None,
            "start_key",
            "pattern",
        ),
        (
            Method::Put,
            format!("{BASE}/%2B14155550100?dry_run=maybe"),
            None,
            "dry_run",
            "type",
        ),
        (
            Method::Put,
            format!("{BASE}/%2B14155550100"),
            Some(json!({"data": {"dry_run": 3}})),
            "dry_run",
            "type",
        ),
        (
            Method::Put,
            format!("{BASE}/%2B14155550100"),
            Some(json!({"accept_charges": "sure"})),
            "accept_charges",
            "type",
        ),
        (
            Method::Delete,
            format!("{BASE}/%2B14155550100?hard=please"),
            None,
            "hard",
            "type",
        ),
        (
            Method::Post,
            format!("{BASE}/check"),
            Some(json!({"data": {"numbers": "+14155550100"}})),
            "numbers",
            "type",
        ),
        (
            Method::Post,
            format!("{BASE}/locality"),
            Some(json!({"data": {"numbers": [true]}})),
            "numbers.0",
            "type",
        ),
    ];
    for (method, target, body, field, code) in cases {
        let (s, v) = call(&w.api, method, &target, CUSTOMER, body).await;
        assert_eq!(s, 400, "{method} {target}: {v}");
        let data = error(&v, 400, "validation error");
        assert!(
            data[field][code]["message"].is_string(),
            "{method} {target}: {data}"
        );
    }
}

#[tokio::test]
async fn an_overlong_idempotency_key_is_a_validation_error() {
    let w = world();
    let req = ApiRequest::new(Method::Put, &format!("{BASE}/%2B14155550100"))
        .token(CUSTOMER)
        .header("Idempotency-Key", &"k".repeat(300));
    let (s, v) = send(&w.api, req).await;
    assert_eq!(s, 400);
    error(&v, 400, "validation error");
}

// ---------- 400: the seeds' schema ----------

#[tokio::test]
async fn single_bodies_are_validated_against_the_schema() {
    let w = world();
    let n = format!("{BASE}/%2B14155550100");
    let (s, v) = call(
        &w.api,
        Method::Put,
        &n,
        CUSTOMER,
        Some(json!({"data": {"cnam": {"display_name": "far too long for cnam", "inbound_lookup": "yes"}, "carrier_name": ""}})),
    )
    .await;
    assert_eq!(s, 400);
    let data = error(&v, 400, "validation error");
    assert!(
        data["cnam.display_name"]["maxLength"]["message"].is_string(),
        "{data}"
    );
    assert!(
        data["cnam.inbound_lookup"]["type"]["message"].is_string(),
        "{data}"
    );
    assert!(
        data["carrier_name"]["minLength"]["message"].is_string(),
        "{data}"
    );
    // Nothing was created.
    let (s, _) = call(&w.api, Method::Get, &n, CUSTOMER, None).await;
    assert_eq!(s, 404);

    // E911 with missing required fields and a 3-letter region (POST needs the number).
    call(&w.api, Method::Put, &n, CUSTOMER, None).await;
    let (s, v) = call(
        &w.api,
        Method::Post,
        &n,
        CUSTOMER,
        Some(json!({"data": {"dash_e911": {"street_address": "116 NATOMA ST", "region": "CAL"}}})),
    )
    .await;
    assert_eq!(s, 400);
    let data = error(&v, 400, "validation error");
    assert!(data["dash_e911.locality"]["required"].is_object(), "{data}");
    assert!(
        data["dash_e911.postal_code"]["required"].is_object(),
        "{data}"
    );
    assert!(data["dash_e911.region"]["maxLength"].is_object(), "{data}");

    // create_with_state must be a state.
    let (s, v) = call(
        &w.api,
        Method::Put,
        &format!("{BASE}/%2B14155550101"),
        CUSTOMER,
        Some(json!({"data": {"create_with_state": "sold"}})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(error(&v, 400, "validation error")["create_with_state"]["enum"].is_object());
}

#[tokio::test]
async fn patch_bodies_may_be_partial_but_not_mistyped() {
    let w = world();
    let n = format!("{BASE}/%2B14155550100");
    call(&w.api, Method::Put, &n, CUSTOMER, None).await;
    let (s, v) = call(
        &w.api,
        Method::Patch,
        &n,
        CUSTOMER,
        Some(json!({"data": {"cnam": {"display_name": 7}}})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(error(&v, 400, "validation error")["cnam.display_name"]["type"].is_object());
    let (s, v) = call(
        &w.api,
        Method::Patch,
        &n,
        CUSTOMER,
        Some(json!({"data": {"porting": 5}})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(error(&v, 400, "validation error")["porting"]["type"].is_object());
    let (s, v) = call(
        &w.api,
        Method::Patch,
        &n,
        CUSTOMER,
        Some(json!({"data": {"porting": {"port_id": "p1"}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        &w.api,
        Method::Patch,
        &n,
        CUSTOMER,
        Some(json!({"data": {"porting": {"service_provider": "X"}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["data"]["porting"],
        json!({"port_id": "p1", "service_provider": "X"})
    );
    let (s, v) = call(
        &w.api,
        Method::Patch,
        &n,
        CUSTOMER,
        Some(json!({"data": {"porting": null, "x": 1}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["data"].get("porting").is_none(), "{v}");
    assert_eq!(v["data"]["x"], 1);
}

#[tokio::test]
async fn collection_numbers_are_validated_per_reference_9() {
    let w = world();
    let cases = [
        (
            json!({"data": {}}),
            "numbers",
            "required",
            "list of numbers missing",
        ),
        (
            json!({"data": {"numbers": []}}),
            "numbers",
            "minimum",
            "minimum 1 number required",
        ),
        (
            json!({"data": {"numbers": {"a": 1}}}),
            "numbers",
            "type",
            "numbers must be a list",
        ),
        (
            json!({"data": {"numbers": ["+14155550100", "4155550100"]}}),
            "numbers",
            "uniqueItems",
            "some numbers appear twice",
        ),
    ];
    for method in [Method::Put, Method::Post, Method::Patch, Method::Delete] {
        for (body, field, code, message) in &cases {
            let (s, v) = call(
                &w.api,
                method,
                &format!("{BASE}/collection"),
                CUSTOMER,
                Some(body.clone()),
            )
            .await;
            assert_eq!(s, 400, "{method} {body}: {v}");
            let data = error(&v, 400, "validation error");
            assert_eq!(data[field][code]["message"], *message, "{method} {body}");
        }
    }
    let (s, _) = call(
        &w.api,
        Method::Put,
        &format!("{BASE}/collection/activate"),
        CUSTOMER,
        Some(json!({"data": {}})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &w.api,
        Method::Post,
        &format!("{BASE}/check"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn collection_public_fields_are_validated_once() {
    let w = world();
    let (s, v) = call(
        &w.api,
        Method::Post,
        &format!("{BASE}/collection"),
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550100", "+14155550101"], "cnam": {"display_name": ""}}})),
    )
    .await;
    assert_eq!(s, 400);
    assert!(error(&v, 400, "validation error")["cnam.display_name"]["minLength"].is_object());
}

// ---------- single-number library errors, as the seeds show them ----------

#[tokio::test]
async fn single_number_errors_keep_their_codes() {
    let w = world();
    let n = format!("{BASE}/%2B14155550100");
    let (s, v) = call(
        &w.api,
        Method::Put,
        &n,
        CUSTOMER,
        Some(json!({"data": {"my_own_field": {}}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "success");

    let (s, v) = call(&w.api, Method::Put, &n, CUSTOMER, None).await;
    assert_eq!(s, 409);
    assert_eq!(
        error(&v, 409, "number_exists"),
        json!({"cause": "+14155550100", "code": 409, "error": "number_exists", "message": "number +14155550100 already exists"})
    );

    let (s, v) = call(
        &w.api,
        Method::Put,
        &format!("{BASE}/%2B141510010%2B15"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        error(&v, 404, "not_reconcilable")["error"],
        "not_reconcilable"
    );

    let (s, v) = call(
        &w.api,
        Method::Get,
        &format!("{BASE}/%2B14155550199"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        error(&v, 404, "bad_identifier"),
        json!({"message": "bad identifier", "not_found": "The number could not be found"})
    );

    let (s, v) = call(&w.api, Method::Put, &format!("{n}/reserve"), CUSTOMER, None).await;
    assert_eq!(s, 400);
    assert_eq!(
        error(&v, 400, "no_change_required"),
        json!({"code": 400, "error": "no_change_required", "message": "no change required"})
    );

    // Another account cannot see it (404, DECISIONS 12) through its own URL.
    let (s, v) = call(
        &w.api,
        Method::Get,
        "/v2/accounts/other/phone_numbers/%2B14155550100",
        OTHER,
        None,
    )
    .await;
    assert_eq!(s, 404, "{v}");
    let (s, _) = call(
        &w.api,
        Method::Get,
        "/v2/accounts/other/phone_numbers/%2B14155550100/identify",
        OTHER,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let _ = &w.other;
}

#[tokio::test]
async fn hard_delete_is_for_master_only() {
    let w = world();
    let n = format!("{BASE}/%2B14155550100");
    call(&w.api, Method::Put, &n, CUSTOMER, None).await;
    let (s, v) = call(
        &w.api,
        Method::Delete,
        &format!("{n}?hard=true"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 403, "{v}");
    error(&v, 403, "forbidden");
    let (s, v) = call(
        &w.api,
        Method::Delete,
        &format!("{n}?hard=true"),
        MASTER,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["state"], "deleted");
}

#[tokio::test]
async fn a_missing_locality_backend_is_the_seeds_init_failed() {
    let w = world();
    let body = json!({"data": {"numbers": ["+14155550100"]}});
    let (s, v) = call(
        &w.api,
        Method::Post,
        &format!("{BASE}/locality"),
        CUSTOMER,
        Some(body),
    )
    .await;
    assert_eq!(s, 500);
    assert_eq!(
        error(&v, 500, "init failed"),
        json!("Unable to acquire numbers missing carrier url")
    );
    let (s, v) = call(
        &w.api,
        Method::Get,
        &format!("{BASE}/prefix?city=Paris"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 500);
    error(&v, 500, "init failed");
}

// ---------- collections ----------

#[tokio::test]
async fn an_all_failed_collection_is_400_client_error_with_the_error_map() {
    let w = world();
    let c = format!("{BASE}/collection");
    let (s, v) = call(
        &w.api,
        Method::Put,
        &c,
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550101", "+14155550102"]}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["success"].as_object().unwrap().len(), 2);
    assert!(v["data"].get("error").is_none());

    let (s, v) = call(
        &w.api,
        Method::Put,
        &c,
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550101", "+14155550102"]}})),
    )
    .await;
    assert_eq!(s, 400);
    let data = error(&v, 400, "client error");
    assert_eq!(
        data,
        json!({
            "+14155550101": {"cause": "+14155550101", "code": 409, "error": "number_exists", "message": "number +14155550101 already exists"},
            "+14155550102": {"cause": "+14155550102", "code": 409, "error": "number_exists", "message": "number +14155550102 already exists"}
        })
    );
}

#[tokio::test]
async fn a_partly_failed_collection_is_200_with_success_and_error() {
    let w = world();
    let c = format!("{BASE}/collection");
    call(
        &w.api,
        Method::Put,
        &c,
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550101"]}})),
    )
    .await;
    let (s, v) = call(
        &w.api,
        Method::Put,
        &c,
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550101", "+14155550103", "12345"]}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["success"]["+14155550103"]["state"], "reserved");
    assert_eq!(v["data"]["error"]["+14155550101"]["error"], "number_exists");
    assert_eq!(v["data"]["error"]["12345"]["error"], "not_reconcilable");
}

#[tokio::test]
async fn numbers_is_never_stored_as_a_public_field() {
    let w = world();
    let c = format!("{BASE}/collection");
    let (s, v) = call(
        &w.api,
        Method::Put,
        &c,
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550101"], "myfield": 1337}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = call(
        &w.api,
        Method::Post,
        &c,
        CUSTOMER,
        Some(json!({"data": {"numbers": ["+14155550101"], "myfield": 1338}})),
    )
    .await;
    let rec = &v["data"]["success"]["+14155550101"];
    assert_eq!(rec["myfield"], 1338);
    assert!(rec.get("numbers").is_none(), "{rec}");
    let stored = w
        .manager
        .get(
            "+14155550101",
            &number_manager::Options::as_account(&w.customer),
        )
        .await
        .unwrap();
    assert!(!stored.public.contains_key("numbers"));
}

// ---------- dry run, idempotency ----------

#[tokio::test]
async fn dry_run_answers_what_would_happen_and_writes_nothing() {
    let w = world();
    let n = format!("{BASE}/%2B14155550100");
    for target in [format!("{n}?dry_run=true"), n.clone()] {
        let body = if target == n {
            json!({"dry_run": true})
        } else {
            json!({})
        };
        let (s, v) = call(&w.api, Method::Put, &target, CUSTOMER, Some(body)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["data"]["state"], "reserved");
        let (s, _) = call(&w.api, Method::Get, &n, CUSTOMER, None).await;
        assert_eq!(s, 404, "a dry run created the number");
    }
    let (s, v) = call(
        &w.api,
        Method::Post,
        &format!("{BASE}/fix?dry_run=true"),
        CUSTOMER,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let w = world();
    let req = |body: Value| {
        ApiRequest::new(Method::Put, &format!("{BASE}/collection"))
            .token(CUSTOMER)
            .header("Idempotency-Key", "order-1")
            .json(&body)
    };
    let body = json!({"data": {"numbers": ["+14155550101"]}});
    let (s1, v1) = send(&w.api, req(body.clone())).await;
    let (s2, v2) = send(&w.api, req(body)).await;
    assert_eq!((s1, s2), (200, 200), "{v2}");
    assert_eq!(v1["data"], v2["data"]);
    let (s3, v3) = send(&w.api, req(json!({"data": {"numbers": ["+14155550102"]}}))).await;
    assert_eq!(s3, 409, "{v3}");
    error(&v3, 409, "conflict");
}

// ---------- envelope ----------

#[tokio::test]
async fn every_answer_has_a_fresh_request_id_and_json_headers() {
    let w = world();
    let a = w
        .api
        .handle(ApiRequest::new(Method::Get, BASE).token(CUSTOMER))
        .await;
    let b = w
        .api
        .handle(ApiRequest::new(Method::Get, BASE).token(CUSTOMER))
        .await;
    assert_eq!(a.header("content-type"), Some("application/json"));
    let (ia, ib) = (
        a.json().unwrap()["request_id"].clone(),
        b.json().unwrap()["request_id"].clone(),
    );
    assert_ne!(ia, ib);
    assert_eq!(a.header("x-request-id"), ia.as_str());
    let v = a.json().unwrap();
    assert_eq!(v["revision"], "undefined");
    assert_eq!(v["page_size"], 50);
}

// ---------- the route table and the OpenAPI document ----------

#[test]
fn openapi_lists_exactly_the_routes_served() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: std::collections::BTreeSet<(String, String)> = Api::routes()
        .iter()
        .map(|r| (r.method.to_string(), r.pattern.to_string()))
        .collect();
    assert_eq!(served.len(), Api::routes().len(), "duplicate routes");
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "served but not in openapi.json: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in openapi.json but not served: {extra:?}"
    );
    // Public routes say so in the document.
    for r in Api::routes() {
        let op = &doc["paths"][r.pattern][r.method.to_string().to_lowercase()];
        let public = op
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| s.is_empty());
        assert_eq!(public, !r.requires_auth, "{} {}", r.method, r.pattern);
    }
}

/// The statuses openapi.json documents for one route.
fn documented_statuses(doc: &Value, route: &number_manager::api::Route) -> Vec<u16> {
    let op = &doc["paths"][route.pattern][route.method.to_string().to_lowercase()];
    op["responses"]
        .as_object()
        .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default()
}

/// Requests that make each route answer a request-level error, with the
/// status each must get: no token, an account id that is not one, another
/// tree's account, a flag that is not a boolean, an over-long
/// `Idempotency-Key`, a body over the limit, and on the collection routes a
/// key reused with another body. (The test adds a dry run of every mutating
/// route, whose status must be documented too.)
fn request_level_probes(
    route: &number_manager::api::Route,
) -> Vec<(u16, &'static str, ApiRequest)> {
    let at = |account: &str| {
        route
            .pattern
            .replace("{ACCOUNT_ID}", account)
            .replace("{PHONE_NUMBER}", "%2B14155550100")
    };
    let path = at("customer");
    let new = |target: &str| ApiRequest::new(route.method, target).token(CUSTOMER);
    let mut probes = vec![
        (400, "bad flag", new(&format!("{path}?dry_run=maybe"))),
        (
            400,
            "long key",
            new(&path).header("Idempotency-Key", &"k".repeat(256)),
        ),
        (413, "big body", new(&path).body(vec![b' '; 5000])),
    ];
    if route.requires_auth {
        probes.push((401, "no token", ApiRequest::new(route.method, &path)));
    }
    if route.pattern.contains("{ACCOUNT_ID}") {
        probes.push((404, "bad account id", new(&at("not%20an%20id"))));
        probes.push((403, "other tree", new(&at("other"))));
    }
    probes
}

#[tokio::test]
async fn openapi_documents_every_request_level_status() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let w = world();
    let mut undocumented = Vec::new();
    for route in Api::routes() {
        let documented = documented_statuses(&doc, route);
        let mut probes = request_level_probes(route);
        if route.pattern.contains("/collection") {
            let path = route.pattern.replace("{ACCOUNT_ID}", "customer");
            let keyed = |n: &str| {
                ApiRequest::new(route.method, &path)
                    .token(CUSTOMER)
                    .header("Idempotency-Key", "reused")
                    .json(&json!({"data": {"numbers": [n]}}))
            };
            let first = w.api.handle(keyed("+14155550170")).await;
            assert!(first.status < 500, "{} {}", route.method, route.pattern);
            probes.push((409, "reused key", keyed("+14155550171")));
        }
        if route.method != Method::Get {
            // A dry run answers 200 wherever the real call would answer 201.
            let path = route
                .pattern
                .replace("{ACCOUNT_ID}", "customer")
                .replace("{PHONE_NUMBER}", "%2B14155550172");
            let req = ApiRequest::new(route.method, &format!("{path}?dry_run=true"))
                .token(CUSTOMER)
                .json(&json!({"data": {"numbers": ["+14155550173"]}}));
            let got = w.api.handle(req).await.status;
            if !documented.contains(&got) {
                undocumented.push(format!(
                    "{} {} {got} (dry run)",
                    route.method, route.pattern
                ));
            }
        }
        for (want, what, req) in probes {
            let got = w.api.handle(req).await.status;
            assert_eq!(got, want, "{what}: {} {}", route.method, route.pattern);
            if !documented.contains(&got) {
                undocumented.push(format!("{} {} {got} ({what})", route.method, route.pattern));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "answered but not in openapi.json:\n{}",
        undocumented.join("\n")
    );
}

// ---------- no input panics or answers 500 ----------

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn method() -> impl Strategy<Value = Method> {
        prop_oneof![
            Just(Method::Get),
            Just(Method::Put),
            Just(Method::Post),
            Just(Method::Patch),
            Just(Method::Delete),
            Just(Method::Other),
        ]
    }

    fn target() -> impl Strategy<Value = String> {
        let seg = prop_oneof![
            Just("customer".to_string()),
            Just("collection".to_string()),
            Just("activate".to_string()),
            Just("classifiers".to_string()),
            Just("fix".to_string()),
            Just("%2B14155550100".to_string()),
            Just("%zz".to_string()),
            "[ -~]{0,12}",
        ];
        (prop::collection::vec(seg, 0..5), "[ -~]{0,20}").prop_map(|(segs, q)| {
            let q: String = q.chars().filter(|c| *c != '#').collect();
            format!(
                "/v2/accounts/customer/phone_numbers/{}?{}",
                segs.join("/"),
                q
            )
        })
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            Just(br#"{"data": {"numbers": ["+14155550100", 5, null]}}"#.to_vec()),
            Just(br#"{"data": {"e911": {"region": 5}, "cnam": []}}"#.to_vec()),
            "[ -~]{0,40}".prop_map(|s| format!(r#"{{"data": {s}}}"#).into_bytes()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn any_request_gets_an_envelope_and_never_a_500(m in method(), t in target(), b in body()) {
            let w = world();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let res = rt.block_on(w.api.handle(ApiRequest::new(m, &t).token(CUSTOMER).body(b)));
            prop_assert!(res.status < 500, "{} {} -> {}: {}", m, t, res.status, String::from_utf8_lossy(&res.body));
            let v = res.json().expect("JSON");
            prop_assert!(v["status"] == "success" || v["status"] == "error");
        }
    }
}
