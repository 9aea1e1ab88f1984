//! The `api` target's harness: a request script run against a fresh
//! memory-backed manager (the server example's backends), and the checks every
//! answer must pass.
//!
//! A script is blocks separated by blank lines. A request block is
//! `METHOD WHO TARGET [Header:value ...]` then optional body lines; `WHO` is
//! `master`, `reseller`, `customer`, `none` (no token) or any other word (an
//! unknown token), and `{M}`, `{R}`, `{C}` in the target stand for the demo
//! accounts' ids. A block starting with `!` scripts the next backend call to
//! fail: `!carrier acquire|disconnect|find|check error|timeout|na` or
//! `!e911 validate|provision|remove error|timeout|na`. Lines starting with
//! `#` are comments.

use std::sync::{Arc, OnceLock};

use number_manager::account::{AccountSpec, MemoryAccounts};
use number_manager::api::{Api, ApiRequest, ApiResponse, Method};
use number_manager::carrier::{CarrierRegistry, Fault, LocalCarrier, SimulatedCarrier};
use number_manager::e911::SimulatedE911;
use number_manager::locality::OfflineLocality;
use number_manager::store::{MemoryStore, Store};
use number_manager::NumberManager;
use serde_json::Value;

/// The demo master account's id (as in the server example).
pub const MASTER_ID: &str = "4f5c0ba4b9b24b8a9b1c4a2f7d6e0a01";
/// The demo reseller, a child of master.
pub const RESELLER_ID: &str = "7e2d1c9a8b3f4e5d6c7b8a9f0e1d2c3b";
/// The demo customer, a child of the reseller, with `allow_additions`.
pub const CUSTOMER_ID: &str = "009afc511c97b2ae693c6cc4920988e8";

/// Most requests one script runs (longer inputs are cut, keeping runs fast).
pub const MAX_REQUESTS: usize = 16;

/// A fresh API over memory backends, and its simulated backends for faults.
pub struct World {
    /// The API under test.
    pub api: Api,
    carrier: Arc<SimulatedCarrier>,
    e911: Arc<SimulatedE911>,
    /// Whether a fault was scripted (then carrier/E911 500s are allowed).
    pub faulted: bool,
}

impl World {
    /// The server example's demo tree and backends, on a `MemoryStore`.
    pub fn new() -> World {
        let specs: Vec<AccountSpec> = serde_json::from_value(serde_json::json!([
            {"id": MASTER_ID, "name": "Master", "is_master": true, "token": "tm"},
            {"id": RESELLER_ID, "name": "Reseller", "parent": MASTER_ID, "token": "tr"},
            {"id": CUSTOMER_ID, "name": "Customer", "parent": RESELLER_ID,
             "allow_additions": true, "token": "tc"},
        ]))
        .expect("demo specs");
        let accounts = Arc::new(MemoryAccounts::from_specs(&specs).expect("demo accounts"));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let carrier = Arc::new(SimulatedCarrier::new(2600));
        let e911 = Arc::new(SimulatedE911::seed_demo());
        let carriers = CarrierRegistry::new()
            .with(Arc::new(LocalCarrier::new(store.clone())))
            .with(carrier.clone());
        let manager = NumberManager::builder()
            .store(store)
            .accounts(accounts.clone())
            .carriers(carriers)
            .e911(e911.clone())
            .locality(Arc::new(OfflineLocality::default()))
            .build();
        World {
            api: Api::new(manager, accounts),
            carrier,
            e911,
            faulted: false,
        }
    }

    fn fault(&mut self, words: &[&str]) {
        let fault = match words.get(2).copied() {
            Some("timeout") => Fault::Timeout,
            Some("na") => Fault::NotAvailable,
            _ => Fault::Error,
        };
        self.faulted = true;
        match (words.first().copied(), words.get(1).copied()) {
            (Some("!carrier"), Some("acquire")) => self.carrier.fail_next_acquire(fault, 1),
            (Some("!carrier"), Some("disconnect")) => self.carrier.fail_next_disconnect(fault, 1),
            (Some("!carrier"), Some("find")) => self.carrier.fail_next_find(fault, 1),
            (Some("!carrier"), Some("check")) => self.carrier.fail_next_check(fault, 1),
            (Some("!e911"), Some("validate")) => self.e911.fail_next_validate(fault),
            (Some("!e911"), Some("provision")) => self.e911.fail_next_provision(fault),
            (Some("!e911"), Some("remove")) => self.e911.fail_next_remove(fault),
            _ => self.faulted = false,
        }
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

fn token(who: &str) -> Option<&str> {
    match who {
        "master" => Some("tm"),
        "reseller" => Some("tr"),
        "customer" => Some("tc"),
        "none" => None,
        other => Some(other),
    }
}

fn method(word: &str) -> Method {
    Method::from(word)
}

/// One request block as an `ApiRequest` (`None` for a malformed first line).
pub fn request(block: &str) -> Option<ApiRequest> {
    let (head, body) = block.split_once('\n').unwrap_or((block, ""));
    let mut words = head.split(' ');
    let m = method(words.next()?);
    let who = words.next()?;
    let target = words
        .next()?
        .replace("{M}", MASTER_ID)
        .replace("{R}", RESELLER_ID)
        .replace("{C}", CUSTOMER_ID);
    let mut req = ApiRequest::new(m, &target).body(body.as_bytes().to_vec());
    if let Some(t) = token(who) {
        req = req.token(t);
    }
    for header in words {
        if let Some((name, value)) = header.split_once(':') {
            req = req.header(name, value);
        }
    }
    Some(req)
}

/// Runs a script; for each request, its first line, the request and the answer.
pub fn run(script: &str, world: &mut World) -> Vec<(String, ApiRequest, ApiResponse)> {
    let mut out = Vec::new();
    let text: String = script
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for block in text.split("\n\n").map(|b| b.trim_start_matches('\n')) {
        if out.len() >= MAX_REQUESTS {
            break;
        }
        if block.starts_with('!') {
            let words: Vec<&str> = block.split_whitespace().collect();
            world.fault(&words);
            continue;
        }
        if let Some(req) = request(block) {
            let head = block.lines().next().unwrap_or("").to_string();
            let answer = crate::block_on(world.api.handle(req.clone()));
            out.push((head, req, answer));
        }
    }
    out
}

/// Checks one answer: the seeds' envelope, a status `openapi.json` documents
/// for the route, and no 5xx except a scripted carrier or E911 fault.
pub fn check(req: &ApiRequest, answer: &ApiResponse, faulted: bool) -> Result<(), String> {
    let body: Value =
        serde_json::from_slice(&answer.body).map_err(|e| format!("body is not JSON: {e}"))?;
    let obj = body.as_object().ok_or("body is not an object")?;
    let id = obj
        .get("request_id")
        .and_then(Value::as_str)
        .ok_or("no request_id")?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("bad request_id {id:?}"));
    }
    if !obj.get("auth_token").is_some_and(Value::is_string) || !obj.contains_key("data") {
        return Err("envelope lacks auth_token or data".into());
    }
    let status = obj
        .get("status")
        .and_then(Value::as_str)
        .ok_or("no status")?;
    let code = answer.status;
    match (status, code) {
        ("success", 200 | 201) if documented(req).contains(&code) => Ok(()),
        ("error", 400..=599) => {
            if obj.get("error").and_then(Value::as_str) != Some(code.to_string().as_str()) {
                return Err(format!("error field does not say {code}"));
            }
            let message = obj
                .get("message")
                .and_then(Value::as_str)
                .ok_or("no message")?;
            if !documented(req).contains(&code) {
                return Err(format!(
                    "status {code} is not in openapi.json for this route"
                ));
            }
            if code >= 500 {
                let cause = body["data"]["message"].as_str().unwrap_or("");
                let backend = message == "unspecified_fault" && cause != "database_error";
                if !(faulted && backend) {
                    return Err(format!("{code} {message} {cause} without a backend fault"));
                }
            }
            Ok(())
        }
        _ => Err(format!("status {code} with envelope status {status:?}")),
    }
}

/// openapi.json's routes: method, path segments, documented statuses.
type Routes = Vec<(String, Vec<String>, Vec<u16>)>;

fn openapi_routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let doc: Value =
            serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON");
        let mut routes = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let codes = op["responses"].as_object().into_iter().flatten();
                let codes = codes.filter_map(|(k, _)| k.parse().ok()).collect();
                let segs = path.trim_start_matches('/').split('/').map(String::from);
                routes.push((method.to_uppercase(), segs.collect(), codes));
            }
        }
        routes
    })
}

/// The API's own percent-decoding of a path segment (bytes, then lossy UTF-8).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The statuses documented for the route a request lands on, chosen as the
/// API chooses (the most literal matching pattern). A path no route matches
/// may answer 404; a path served with other methods, 405 too.
pub fn documented(req: &ApiRequest) -> Vec<u16> {
    let Some(rest) = req.path.strip_prefix('/') else {
        return vec![404];
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<String> = rest.split('/').map(percent_decode).collect();
    if rest.split('/').any(str::is_empty) {
        return vec![404];
    }
    let key = |pattern: &[String]| -> Option<Vec<bool>> {
        (pattern.len() == segs.len()).then_some(())?;
        let pairs = pattern.iter().zip(&segs);
        pairs
            .map(|(p, s)| match p.as_str() {
                "{ACCOUNT_ID}" | "{PHONE_NUMBER}" => Some(false),
                lit => (lit == s).then_some(true),
            })
            .collect()
    };
    let routes = openapi_routes();
    let best = routes
        .iter()
        .filter_map(|r| Some((key(&r.1)?, &r.1)))
        .max_by(|a, b| a.0.cmp(&b.0));
    let Some((_, pattern)) = best else {
        return vec![404];
    };
    let method = req.method.to_string();
    routes
        .iter()
        .find(|r| &r.1 == pattern && r.0 == method)
        .map(|r| r.2.clone())
        .unwrap_or_else(|| vec![405])
}
