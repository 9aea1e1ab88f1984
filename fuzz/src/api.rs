//! The `api` target's harness: a request script run against a fresh
//! memory-backed manager (the server example's backends, with searches capped
//! at [`SEARCH_QUANTITY`] numbers), and the checks every answer must pass.
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

use async_trait::async_trait;
use number_manager::account::{AccountSpec, MemoryAccounts};
use number_manager::api::{Api, ApiRequest, ApiResponse, Method};
use number_manager::carrier::{CarrierRegistry, Fault, LocalCarrier, SimulatedCarrier};
use number_manager::e911::{E911Address, E911Provider, SimulatedE911, Validation};
use number_manager::locality::OfflineLocality;
use number_manager::store::{MemoryStore, Store};
use number_manager::{Config, NumberManager, PhoneNumber};
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
    e911: Arc<LazyE911>,
    /// Whether a fault was scripted (then carrier/E911 500s are allowed).
    pub faulted: bool,
}

/// The demo account tree, built once: the API only reads accounts, so every
/// script can share it.
fn demo_accounts() -> Arc<MemoryAccounts> {
    static ACCOUNTS: OnceLock<Arc<MemoryAccounts>> = OnceLock::new();
    ACCOUNTS
        .get_or_init(|| {
            let specs: Vec<AccountSpec> = serde_json::from_value(serde_json::json!([
                {"id": MASTER_ID, "name": "Master", "is_master": true, "token": "tm"},
                {"id": RESELLER_ID, "name": "Reseller", "parent": MASTER_ID, "token": "tr"},
                {"id": CUSTOMER_ID, "name": "Customer", "parent": RESELLER_ID,
                 "allow_additions": true, "token": "tc"},
            ]))
            .expect("demo specs");
            Arc::new(MemoryAccounts::from_specs(&specs).expect("demo accounts"))
        })
        .clone()
}

/// The offline locality provider, built once. Its only state is a memo of
/// answers that depend on the number alone, so sharing it keeps runs
/// deterministic.
fn shared_locality() -> Arc<OfflineLocality> {
    static LOCALITY: OnceLock<Arc<OfflineLocality>> = OnceLock::new();
    LOCALITY.get_or_init(Default::default).clone()
}

/// Most numbers one search answers in the fuzzed world (the default is 500).
/// A search costs in proportion to what it finds (the carrier's answer, the
/// discovery records, the body), and a script may hold 16 of them; fewer
/// results take the same code paths, the clamp included.
pub const SEARCH_QUANTITY: usize = 25;

/// The default configuration but for [`SEARCH_QUANTITY`].
fn fuzz_config() -> Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG
        .get_or_init(|| Config::default().with_max_search_quantity(SEARCH_QUANTITY))
        .clone()
}

/// The demo E911 provider (`SimulatedE911::seed_demo`), fresh per world but
/// built on its first call: most scripts never reach it, and filling its
/// address book was a large share of a world's cost.
#[derive(Debug, Default)]
pub struct LazyE911(OnceLock<SimulatedE911>);

impl LazyE911 {
    fn get(&self) -> &SimulatedE911 {
        self.0.get_or_init(SimulatedE911::seed_demo)
    }
}

#[async_trait]
impl E911Provider for LazyE911 {
    fn name(&self) -> &str {
        self.get().name()
    }

    async fn validate(&self, address: &E911Address) -> number_manager::Result<Validation> {
        self.get().validate(address).await
    }

    async fn provision(
        &self,
        number: &PhoneNumber,
        address: &E911Address,
        caller_name: &str,
    ) -> number_manager::Result<E911Address> {
        self.get().provision(number, address, caller_name).await
    }

    async fn remove(&self, number: &PhoneNumber) -> number_manager::Result<()> {
        self.get().remove(number).await
    }
}

impl World {
    /// The server example's demo tree and backends. The store, the carriers and
    /// the E911 provider are fresh (nothing carries over from another script);
    /// the read-only accounts and the locality memo are shared.
    pub fn new() -> World {
        let accounts = demo_accounts();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let carrier = Arc::new(SimulatedCarrier::new(2600));
        let e911 = Arc::new(LazyE911::default());
        let carriers = CarrierRegistry::new()
            .with(Arc::new(LocalCarrier::new(store.clone())))
            .with(carrier.clone());
        let manager = NumberManager::builder()
            .config(fuzz_config())
            .store(store)
            .accounts(accounts.clone())
            .carriers(carriers)
            .e911(e911.clone())
            .locality(shared_locality())
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
            (Some("!e911"), Some("validate")) => self.e911.get().fail_next_validate(fault),
            (Some("!e911"), Some("provision")) => self.e911.get().fail_next_provision(fault),
            (Some("!e911"), Some("remove")) => self.e911.get().fail_next_remove(fault),
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
    // The caller's X-Request-Id is kept when it is 1 to 128 visible ASCII
    // characters; otherwise the API makes a 32-hex one.
    let kept = req
        .header_value("x-request-id")
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()));
    let fine = match kept {
        Some(theirs) => id == theirs,
        None => id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
    };
    if !fine {
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
    let documented = documented(req);
    match (status, code) {
        ("success", 200 | 201) if documented.contains(&code) => Ok(()),
        ("error", 400..=599) => {
            if obj.get("error").and_then(Value::as_str) != Some(code.to_string().as_str()) {
                return Err(format!("error field does not say {code}"));
            }
            let message = obj
                .get("message")
                .and_then(Value::as_str)
                .ok_or("no message")?;
            if !documented.contains(&code) {
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
pub fn documented(req: &ApiRequest) -> &'static [u16] {
    const NOT_FOUND: &[u16] = &[404];
    const NOT_ALLOWED: &[u16] = &[405];
    let Some(rest) = req.path.strip_prefix('/') else {
        return NOT_FOUND;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.split('/').any(str::is_empty) {
        return NOT_FOUND;
    }
    let segs: Vec<String> = rest.split('/').map(percent_decode).collect();
    // Which segments a pattern matches literally, first segment highest: among
    // patterns of one length, the larger key is the more literal (the order
    // the API's router prefers). Patterns are a handful of segments long.
    let key = |pattern: &[String]| -> Option<u64> {
        (pattern.len() == segs.len() && pattern.len() < 64).then_some(())?;
        pattern.iter().zip(&segs).try_fold(0u64, |k, (p, s)| {
            let literal = match p.as_str() {
                // Any `{NAME}` segment is a parameter (ACCOUNT_ID,
                // PHONE_NUMBER, PORT_REQUEST_ID, ATTACHMENT_ID, ...).
                p if p.starts_with('{') && p.ends_with('}') => false,
                lit if lit == s => true,
                _ => return None,
            };
            Some(k << 1 | u64::from(literal))
        })
    };
    let routes = openapi_routes();
    let best = routes
        .iter()
        .filter_map(|r| Some((key(&r.1)?, &r.1)))
        .max_by_key(|(k, _)| *k);
    let Some((_, pattern)) = best else {
        return NOT_FOUND;
    };
    let method = req.method.to_string();
    routes
        .iter()
        .find(|r| &r.1 == pattern && r.0 == method)
        .map_or(NOT_ALLOWED, |r| r.2.as_slice())
}
