//! The authorization matrix: every API route x every actor relation to the
//! number's owner (owner, ancestor, descendant, sibling, unrelated, master, no
//! token, bad token; each addressing its own account and the owner's) x every
//! state of the number (absent, discovery, available, reserved, in_service,
//! port_in, aging, released), through `Api::handle` on a fresh world per cell.
//!
//! The expected answer of every cell comes from [`expect_number`] and [`gate`]
//! below: a small statement of the rules written from the decisions on
//! authorization, creation and release, independent of the crate's planner.
//! Besides the exact status and error name, every cell checks that nothing
//! leaks: a body shown to an actor outside the owner's line never carries the
//! owner's custom field, a "hidden" answer is byte-for-byte the answer for a
//! number that does not exist, and a refused request leaves the record as it was.

use std::collections::HashMap;
use std::sync::Arc;

use number_manager::account::MemoryAccounts;
use number_manager::api::{Api, ApiRequest, Method};
use number_manager::carrier::{CarrierRegistry, LocalCarrier, SimulatedCarrier};
use number_manager::locality::OfflineLocality;
use number_manager::state::{NumberState, StateConfig};
use number_manager::store::{MemoryStore, Store, StoreExt};
use number_manager::{Config, NumberManager, PhoneNumber};
use serde_json::{json, Value};

// ---------- the account tree ----------

const MASTER: &str = "master";
const RESELLER: &str = "reseller";
const OWNER: &str = "owner";
const SUB: &str = "sub";
const SIBLING: &str = "sibling";
const ELSEWHERE: &str = "elsewhere";
const UNRELATED: &str = "unrelated";

/// master -> reseller -> {owner -> sub, sibling}; master -> elsewhere -> unrelated.
const TREE: &[(&str, Option<&str>)] = &[
    (MASTER, None),
    (RESELLER, Some(MASTER)),
    (OWNER, Some(RESELLER)),
    (SUB, Some(OWNER)),
    (SIBLING, Some(RESELLER)),
    (ELSEWHERE, Some(MASTER)),
    (UNRELATED, Some(ELSEWHERE)),
];

fn parent(id: &str) -> Option<&'static str> {
    TREE.iter().find(|(a, _)| *a == id).and_then(|(_, p)| *p)
}

/// `a` is `b` or one of `b`'s ancestors.
fn self_or_ancestor(a: &str, b: &str) -> bool {
    let mut cur = Some(b);
    while let Some(c) = cur {
        if c == a {
            return true;
        }
        cur = parent(c);
    }
    false
}

fn token_of(id: &str) -> String {
    format!("{id}-token")
}

/// The custom field the owner keeps on its numbers; no one outside the
/// owner's line may ever see it.
const SECRET: &str = "SECRET-of-the-owner";

// ---------- the dimensions ----------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Actor {
    Owner,
    Ancestor,
    Descendant,
    Sibling,
    Unrelated,
    Master,
    NoToken,
    BadToken,
}

impl Actor {
    const ALL: [Actor; 8] = [
        Actor::Owner,
        Actor::Ancestor,
        Actor::Descendant,
        Actor::Sibling,
        Actor::Unrelated,
        Actor::Master,
        Actor::NoToken,
        Actor::BadToken,
    ];

    fn account(self) -> Option<&'static str> {
        match self {
            Actor::Owner => Some(OWNER),
            Actor::Ancestor => Some(RESELLER),
            Actor::Descendant => Some(SUB),
            Actor::Sibling => Some(SIBLING),
            Actor::Unrelated => Some(UNRELATED),
            Actor::Master => Some(MASTER),
            Actor::NoToken | Actor::BadToken => None,
        }
    }

    fn token(self) -> String {
        match self {
            Actor::NoToken => String::new(),
            Actor::BadToken => "not-a-token".into(),
            a => token_of(a.account().unwrap_or_default()),
        }
    }

    /// The owner, an ancestor of it, or master.
    fn manages(self) -> bool {
        self.account()
            .is_some_and(|x| x == MASTER || self_or_ancestor(x, OWNER))
    }
}

/// Which account the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Url {
    /// The actor's own account.
    Own,
    /// The number owner's account.
    Owners,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum State {
    Absent,
    Discovery,
    Available,
    Reserved,
    InService,
    PortIn,
    Aging,
    Released,
}

impl State {
    const ALL: [State; 8] = [
        State::Absent,
        State::Discovery,
        State::Available,
        State::Reserved,
        State::InService,
        State::PortIn,
        State::Aging,
        State::Released,
    ];

    /// Assigned to the owner (and carrying its custom field).
    fn owned(self) -> bool {
        matches!(
            self,
            State::Reserved | State::InService | State::PortIn | State::Aging
        )
    }
}

/// Per-number operations, as the routes ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Read,
    Edit,
    Fix,
    Release,
    HardDelete,
    /// Create in this state (`reserved` is the default, no `create_with_state`).
    Create(&'static str),
    Port,
    Activate,
    Reserve,
    Identify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Route {
    Search,
    ClassifyPublic,
    List,
    ListPrefix,
    Check,
    Locality,
    Prefix,
    Classifiers,
    Classify,
    CarriersInfo,
    FixAccount,
    /// A single-number route.
    One(Op, Method, &'static str),
    /// A collection route (one number in `numbers`).
    Many(Op, Method, &'static str),
    /// A single-number route as a dry run: the same answer, nothing changed.
    Dry(Op, Method, &'static str),
    /// A single-number route with no body (activate and reserve then keep the
    /// public fields, so they must not pass to someone who may not read them).
    Bare(Op, Method, &'static str),
}

fn routes() -> Vec<Route> {
    use Method::*;
    use Route::*;
    vec![
        Search,
        ClassifyPublic,
        List,
        ListPrefix,
        Check,
        Locality,
        Prefix,
        Classifiers,
        Classify,
        CarriersInfo,
        FixAccount,
        One(Op::Read, Get, ""),
        One(Op::Create("reserved"), Put, ""),
        One(Op::Create("in_service"), Put, ""),
        One(Op::Create("aging"), Put, ""),
        One(Op::Create("available"), Put, ""),
        One(Op::Edit, Post, ""),
        One(Op::Edit, Patch, ""),
        One(Op::Release, Delete, ""),
        One(Op::HardDelete, Delete, ""),
        One(Op::Activate, Put, "/activate"),
        One(Op::Reserve, Put, "/reserve"),
        One(Op::Port, Put, "/port"),
        One(Op::Identify, Get, "/identify"),
        One(Op::Fix, Post, "fix"),
        Many(Op::Create("reserved"), Put, "/collection"),
        Many(Op::Create("in_service"), Put, "/collection"),
        Many(Op::Edit, Post, "/collection"),
        Many(Op::Edit, Patch, "/collection"),
        Many(Op::Release, Delete, "/collection"),
        Many(Op::HardDelete, Delete, "/collection"),
        Many(Op::Activate, Put, "/collection/activate"),
        Dry(Op::Create("reserved"), Put, ""),
        Dry(Op::Edit, Post, ""),
        Dry(Op::Release, Delete, ""),
        Dry(Op::HardDelete, Delete, ""),
        Dry(Op::Activate, Put, "/activate"),
        Dry(Op::Reserve, Put, "/reserve"),
        Dry(Op::Port, Put, "/port"),
        Bare(Op::Activate, Put, "/activate"),
        Bare(Op::Reserve, Put, "/reserve"),
    ]
}

// ---------- the rules ----------

/// What the state and owner of the number must be after a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// The stored record is exactly as before.
    Unchanged,
    /// Same state and owner (public fields may change).
    Stays,
    /// This state and owner.
    Is(&'static str, Option<&'static str>),
    /// The record is gone (the answer says `deleted`).
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok(u16, After),
    /// Status and the envelope's `message` (the error name).
    Err(u16, &'static str),
}

const HIDDEN: Expect = Expect::Err(404, "bad_identifier");
const FORBIDDEN: Expect = Expect::Err(403, "forbidden");
const INVALID: Expect = Expect::Err(400, "invalid_state_transition");
const EXISTS: Expect = Expect::Err(409, "number_exists");

/// The request-level gate: a token is needed (401), and an account acts only
/// for itself and its descendants, master for anyone (403). `None`: passed.
fn gate(route: Route, actor: Actor, url: &str) -> Option<Expect> {
    if matches!(route, Route::Search | Route::ClassifyPublic) {
        return None;
    }
    let Some(x) = actor.account() else {
        return Some(Expect::Err(401, "invalid_credentials"));
    };
    if x == MASTER || self_or_ancestor(x, url) {
        None
    } else {
        Some(FORBIDDEN)
    }
}

/// One number route, past the gate: actor `actor` (an account), URL account
/// `a`, the number in state `s` (owned by OWNER when assigned).
///
/// - Reading or changing an assigned number needs its owner, an ancestor of
///   the owner, or master; anyone else is answered exactly as if the number
///   did not exist (404 `bad_identifier`).
/// - A descendant of the reserver may activate a reserved number, and do
///   nothing else with it: for every other route it stays hidden.
/// - An available number is seen and bought (activate, reserve, create over it)
///   by anyone, edited and released by master only (403 for others).
/// - Unassigned numbers that are not for sale (a search result, a released
///   number) are read, edited and released by master only; activating or
///   reserving a released one is `invalid_state_transition` for anyone.
/// - Creating or porting over an existing number: aging and port_in numbers
///   move only for their owner's line (the transition table then applies);
///   for anyone else, and for reserved / in_service / released numbers, it is
///   409 `number_exists`, the same answer whatever the state and owner. A
///   search result is not ours yet: creating it adds it.
/// - Creation states: master any, an account with additions in_service and
///   reserved, `port` anyone; another state is 403 before anything is looked up.
/// - Hard delete is master's (403 for anyone else, whatever the number).
/// - Release of a local number with no previous reserver deletes it.
fn expect_number(op: Op, actor: Actor, a: &'static str, s: State) -> Expect {
    use Expect::Ok;
    use State::*;
    let master = actor == Actor::Master;
    let manages = actor.manages();
    let descendant = actor
        .account()
        .is_some_and(|x| x != OWNER && self_or_ancestor(OWNER, x));
    // A hidden owned number, or an unassigned one that is not for sale (master only).
    let unseen = (s.owned() && !manages) || (matches!(s, Discovery | Released) && !master);
    match op {
        Op::Read => match s {
            Absent => HIDDEN,
            _ if unseen => HIDDEN,
            _ => Ok(200, After::Unchanged),
        },
        // A repair may settle a search result's stale purchase: master's.
        Op::Fix if master && s != Absent => Ok(200, After::Stays),
        Op::Edit | Op::Fix => match s {
            Absent | Discovery => HIDDEN,
            Available if !master => FORBIDDEN,
            _ if unseen => HIDDEN,
            _ => Ok(200, After::Stays),
        },
        Op::Release => match s {
            Absent => HIDDEN,
            _ if unseen => HIDDEN,
            Discovery => INVALID,
            Available if !master => FORBIDDEN,
            Released => Ok(200, After::Is("released", None)),
            _ => Ok(200, After::Deleted),
        },
        Op::HardDelete => match s {
            _ if !master => FORBIDDEN,
            Absent => HIDDEN,
            _ => Ok(200, After::Deleted),
        },
        Op::Create(c) => {
            let allowed = master || matches!(c, "reserved" | "in_service");
            let owner_after = (c != "available").then_some(a);
            match s {
                _ if !allowed => FORBIDDEN,
                // A search result is not a number we hold: creating it adds it.
                Absent | Discovery | Available => Ok(201, After::Is(c, owner_after)),
                Released => EXISTS,
                _ if !manages => EXISTS,
                Reserved | InService => EXISTS,
                Aging if matches!(c, "in_service" | "aging") => Ok(201, After::Is(c, Some(a))),
                PortIn if c == "in_service" => Ok(201, After::Is(c, Some(a))),
                _ => INVALID,
            }
        }
        Op::Port => match s {
            Absent | Discovery => Ok(201, After::Is("port_in", Some(a))),
            Released => EXISTS,
            Available => INVALID,
            _ if !manages => EXISTS,
            Reserved | InService => EXISTS,
            Aging => INVALID,
            PortIn => Ok(201, After::Is("port_in", Some(a))),
        },
        Op::Activate => match s {
            Absent => HIDDEN,
            Discovery | Available => Ok(201, After::Is("in_service", Some(a))),
            Reserved if descendant => Ok(201, After::Is("in_service", Some(a))),
            Released => INVALID,
            _ if unseen => HIDDEN,
            _ => Ok(201, After::Is("in_service", Some(a))),
        },
        Op::Reserve => match s {
            Absent => HIDDEN,
            Discovery | Available => Ok(201, After::Is("reserved", Some(a))),
            Released => INVALID,
            _ if unseen => HIDDEN,
            Reserved if a == OWNER => Expect::Err(400, "no_change_required"),
            Reserved | InService => Ok(201, After::Is("reserved", Some(a))),
            _ => INVALID,
        },
        Op::Identify => match s {
            Absent | Discovery => HIDDEN,
            _ if unseen => HIDDEN,
            Available | Released if !master => HIDDEN,
            Available | Released | Aging => Expect::Err(400, "client error"),
            _ => Ok(200, After::Unchanged),
        },
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Cell {
    route: Route,
    actor: Actor,
    /// The URL account.
    url: &'static str,
    state: State,
}

impl Cell {
    /// The per-number operation of the route, if it has one.
    fn op(self) -> Option<Op> {
        match self.route {
            Route::One(op, ..) | Route::Many(op, ..) | Route::Dry(op, ..) | Route::Bare(op, ..) => {
                Some(op)
            }
            _ => None,
        }
    }

    /// The per-number rule, once past the gate.
    fn number_rule(self) -> Option<Expect> {
        if gate(self.route, self.actor, self.url).is_some() {
            return None;
        }
        let op = self.op()?;
        Some(expect_number(op, self.actor, self.url, self.state))
    }

    /// The whole expectation.
    fn expect(self) -> Expect {
        if let Some(e) = gate(self.route, self.actor, self.url) {
            return e;
        }
        let Some(rule) = self.number_rule() else {
            return Expect::Ok(200, After::Unchanged);
        };
        match (self.route, rule) {
            (Route::Many(..), Expect::Ok(_, after)) => Expect::Ok(200, after),
            (Route::Many(..), Expect::Err(..)) => Expect::Err(400, "client error"),
            // A dry run answers what would happen (200, never 201) and changes nothing.
            (Route::Dry(..), Expect::Ok(..)) => Expect::Ok(200, After::Unchanged),
            (_, e) => e,
        }
    }

    /// In an all-failed collection, the number's entry: `code` and `error`.
    fn collection_entry(self) -> Option<(u16, &'static str)> {
        if !matches!(self.route, Route::Many(..)) {
            return None;
        }
        match self.number_rule()? {
            Expect::Err(404, "bad_identifier") => Some((404, "not_found")),
            Expect::Err(code, name) => Some((code, name)),
            Expect::Ok(..) => None,
        }
    }

    /// Which answers this one must be indistinguishable from.
    fn class(self) -> Option<Class> {
        match self.number_rule()? {
            HIDDEN => Some(Class::Hidden),
            EXISTS => Some(Class::Exists),
            _ => None,
        }
    }

    fn key(self) -> (Route, Actor, &'static str) {
        (self.route, self.actor, self.url)
    }
}

// ---------- the world ----------

struct World {
    api: Api,
    store: Arc<dyn Store>,
    carrier: Arc<SimulatedCarrier>,
}

impl World {
    /// The carrier calls that buy or give back a number.
    fn carrier_calls(&self) -> (usize, usize) {
        (
            self.carrier.acquire_calls(),
            self.carrier.disconnect_calls(),
        )
    }
}

fn build(config: Config) -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    for (id, parent) in TREE {
        let parent = parent.map(id_of);
        let acct = accounts.add(id, id, parent.as_ref()).unwrap();
        accounts.set_token(&acct, &token_of(id));
        if *id == MASTER {
            accounts.set_master(&acct, true);
        } else {
            // Every tenant may add numbers, so a refusal below is about authorization.
            accounts.set_allow_additions(&acct, true);
        }
    }
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let carrier = Arc::new(SimulatedCarrier::new(2600));
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts.clone())
        .carriers(
            CarrierRegistry::new()
                .with(Arc::new(LocalCarrier::new(store.clone())))
                .with(carrier.clone()),
        )
        .locality(Arc::new(OfflineLocality::new()))
        .config(config)
        .build();
    World {
        api: Api::new(manager, accounts),
        store,
        carrier,
    }
}

fn id_of(id: &str) -> number_manager::account::AccountId {
    number_manager::account::AccountId::new(id).unwrap()
}

fn enc(n: &str) -> String {
    n.replace('+', "%2B")
}

async fn send(
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
    let res = api.handle(req).await;
    let v = res.json().expect("every answer is JSON");
    (res.status, v)
}

/// Puts the number in state `s` through the API, as its users would.
async fn world(s: State, n: &str) -> World {
    let released = Config::default()
        .with_state(StateConfig::default().with_released_state(NumberState::Released));
    let w = build(if s == State::Released {
        released
    } else {
        Config::default()
    });
    let (m, o) = (token_of(MASTER), token_of(OWNER));
    let at =
        |acct: &str, suffix: &str| format!("/v2/accounts/{acct}/phone_numbers/{}{suffix}", enc(n));
    let secret = |state: Option<&str>| {
        let mut d = json!({ "secret_note": SECRET });
        if let Some(st) = state {
            d["create_with_state"] = json!(st);
        }
        Some(json!({ "data": d }))
    };
    let steps: Vec<(Method, String, String, Option<Value>)> = match s {
        State::Absent => vec![],
        State::Discovery => vec![(Method::Get, search_target(), String::new(), None)],
        State::Available => vec![(
            Method::Put,
            at(MASTER, ""),
            m,
            Some(json!({"data": {"create_with_state": "available", "master_note": "public"}})),
        )],
        State::Reserved => vec![(Method::Put, at(OWNER, ""), m, secret(None))],
        State::InService => vec![(Method::Put, at(OWNER, ""), m, secret(Some("in_service")))],
        State::Aging => vec![(Method::Put, at(OWNER, ""), m, secret(Some("aging")))],
        State::PortIn => vec![(Method::Put, at(OWNER, "/port"), o, secret(None))],
        State::Released => vec![
            (Method::Get, search_target(), String::new(), None),
            (Method::Put, at(OWNER, "/activate"), o.clone(), None),
            (Method::Delete, at(OWNER, ""), o, None),
        ],
    };
    for (method, target, token, body) in steps {
        let (status, v) = send(&w.api, method, &target, &token, body).await;
        assert!(
            status < 300,
            "setup of {s:?}: {method} {target}: {status} {v}"
        );
    }
    let rec = record(&w, n).await;
    let want = match s {
        State::Absent => None,
        State::Discovery => Some("discovery"),
        State::Available => Some("available"),
        State::Reserved => Some("reserved"),
        State::InService => Some("in_service"),
        State::PortIn => Some("port_in"),
        State::Aging => Some("aging"),
        State::Released => Some("released"),
    };
    assert_eq!(
        rec.as_ref()
            .map(|r| r["state"].as_str().unwrap_or("").to_string()),
        want.map(str::to_string),
        "setup of {s:?}"
    );
    w
}

fn search_target() -> String {
    "/v2/phone_numbers?prefix=415&quantity=1".into()
}

async fn record(w: &World, n: &str) -> Option<Value> {
    let n = PhoneNumber::parse(n).unwrap();
    w.store
        .get(&n)
        .await
        .unwrap()
        .map(|r| serde_json::to_value(r).unwrap())
}

/// The request of a cell.
fn request(route: Route, url: &str, n: &str) -> (Method, String, Option<Value>) {
    let base = format!("/v2/accounts/{url}/phone_numbers");
    let note = json!({"data": {"actor_note": "mine now"}});
    let numbers = |extra: Value| {
        let mut d = json!({ "numbers": [n] });
        if let (Some(d), Value::Object(extra)) = (d.as_object_mut(), extra) {
            d.extend(extra);
        }
        Some(json!({ "data": d }))
    };
    match route {
        Route::Search => (Method::Get, search_target(), None),
        Route::ClassifyPublic => (
            Method::Get,
            format!("/v2/phone_numbers/classifiers/{}", enc(n)),
            None,
        ),
        Route::List => (Method::Get, base, None),
        Route::ListPrefix => (Method::Get, format!("{base}?prefix=415&quantity=5"), None),
        Route::Check => (Method::Post, format!("{base}/check"), numbers(json!({}))),
        Route::Locality => (Method::Post, format!("{base}/locality"), numbers(json!({}))),
        Route::Prefix => (
            Method::Get,
            format!("{base}/prefix?city=San+Francisco"),
            None,
        ),
        Route::Classifiers => (Method::Get, format!("{base}/classifiers"), None),
        Route::Classify => (Method::Get, format!("{base}/classifiers/{}", enc(n)), None),
        Route::CarriersInfo => (Method::Get, format!("{base}/carriers_info"), None),
        Route::FixAccount => (Method::Post, format!("{base}/fix"), None),
        Route::Bare(op, method, suffix) => {
            let (_, target, _) = request(Route::One(op, method, suffix), url, n);
            (method, target, None)
        }
        Route::Dry(op, method, suffix) => {
            let (_, target, body) = request(Route::One(op, method, suffix), url, n);
            let sep = if target.contains('?') { '&' } else { '?' };
            (method, format!("{target}{sep}dry_run=true"), body)
        }
        Route::One(op, method, suffix) => {
            let target = match (op, suffix) {
                (Op::Fix, _) => format!("{base}/fix/{}", enc(n)),
                (Op::HardDelete, _) => format!("{base}/{}?hard=true", enc(n)),
                _ => format!("{base}/{}{suffix}", enc(n)),
            };
            let body = match op {
                Op::Create("reserved") => Some(note),
                Op::Create(c) => {
                    Some(json!({"data": {"create_with_state": c, "actor_note": "mine now"}}))
                }
                Op::Edit | Op::Activate | Op::Reserve | Op::Port => Some(note),
                _ => None,
            };
            (method, target, body)
        }
        Route::Many(op, method, suffix) => {
            let target = match op {
                Op::HardDelete => format!("{base}{suffix}?hard=true"),
                _ => format!("{base}{suffix}"),
            };
            let body = match op {
                Op::Create("reserved") | Op::Edit | Op::Activate => {
                    numbers(json!({"actor_note": "mine now"}))
                }
                Op::Create(c) => numbers(json!({"create_with_state": c, "actor_note": "mine now"})),
                _ => numbers(json!({})),
            };
            (method, target, body)
        }
    }
}

/// The body without what differs from one request to the next.
fn normalized(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("request_id");
    }
    v
}

/// Answers by (route, actor, URL account), normalized.
type Answers = HashMap<(Route, Actor, &'static str), (u16, Value)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Answered as if the number did not exist.
    Hidden,
    /// Answered `number_exists`, which must not tell one state or owner from another.
    Exists,
}

/// State and owner of a stored record, for messages.
fn brief(r: &Option<Value>) -> String {
    match r {
        None => "none".into(),
        Some(r) => format!("{}/{}", r["state"], r["assigned_to"]),
    }
}

/// What one request did.
struct Seen {
    status: u16,
    answer: Value,
    before: Option<Value>,
    after: Option<Value>,
    /// Carrier (acquire, disconnect) calls before and after.
    calls: ((usize, usize), (usize, usize)),
}

/// Runs one cell; returns what is wrong with it.
async fn check_cell(cell: Cell, n: &str, seen: &mut Answers, exists: &mut Answers) -> Vec<String> {
    let w = world(cell.state, n).await;
    let before = record(&w, n).await;
    let calls_before = w.carrier_calls();
    let (method, target, body) = request(cell.route, cell.url, n);
    let (status, answer) = send(&w.api, method, &target, &cell.actor.token(), body).await;
    let got = Seen {
        status,
        answer,
        before,
        after: record(&w, n).await,
        calls: (calls_before, w.carrier_calls()),
    };
    let mut wrong = check_answer(cell, &got, n);
    wrong.extend(check_leaks(cell, &got, n));
    wrong.extend(check_alike(cell, &got, seen, exists));
    wrong.extend(check_record(cell, &got, n));
    wrong
}

/// The exact status and error name (and a collection's entry for the number).
fn check_answer(cell: Cell, got: &Seen, n: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let name = got.answer["message"].as_str().unwrap_or("");
    let status = got.status;
    match cell.expect() {
        Expect::Ok(code, _) if status != code => {
            wrong.push(format!("expected {code}, got {status} {name}"))
        }
        Expect::Err(code, want) if status != code || name != want => {
            wrong.push(format!("expected {code} {want}, got {status} {name}"))
        }
        _ => {}
    }
    if let Some((code, error)) = cell.collection_entry() {
        let e = &got.answer["data"][n];
        if e["code"] != json!(code) || e["error"] != json!(error) {
            wrong.push(format!("expected entry {code} {error}, got {e}"));
        }
    }
    wrong
}

/// Nothing of the owner's leaks outside its line: not in the answer, not in
/// a record the actor may now read; a listing shows only the URL account's own.
fn check_leaks(cell: Cell, got: &Seen, n: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let text = got.answer.to_string();
    let outsider = !cell.actor.manages();
    if outsider && text.contains(SECRET) {
        wrong.push(format!("the owner's field leaked: {text}"));
    }
    let now_owner = got.after.as_ref().and_then(|r| r["assigned_to"].as_str());
    let kept = got
        .after
        .as_ref()
        .is_some_and(|r| r.to_string().contains(SECRET));
    if let Some(o) = now_owner.filter(|o| outsider && kept && *o != OWNER) {
        wrong.push(format!("the owner's field passed to {o}"));
    }
    let listing = matches!(
        cell.route,
        Route::List | Route::ListPrefix | Route::FixAccount
    );
    if listing && got.status == 200 {
        let listed = text.contains(&format!("\"{n}\""));
        if listed != (cell.url == OWNER && cell.state.owned()) {
            wrong.push(format!("listed: {listed}: {text}"));
        }
    }
    wrong
}

/// A hidden number answers exactly like an absent one; a number one may not
/// create over answers the same whatever its state and owner.
fn check_alike(cell: Cell, got: &Seen, seen: &mut Answers, exists: &mut Answers) -> Vec<String> {
    let mine = (got.status, normalized(&got.answer));
    if cell.state == State::Absent {
        seen.insert(cell.key(), mine.clone());
    }
    let (reference, what) = match cell.class() {
        Some(Class::Hidden) if cell.state != State::Absent => (seen.get(&cell.key()), "absent"),
        Some(Class::Exists) => match exists.get(&cell.key()) {
            None => {
                exists.insert(cell.key(), mine);
                return Vec::new();
            }
            r => (r, "another number_exists"),
        },
        _ => return Vec::new(),
    };
    match reference {
        Some(r) if *r == mine => Vec::new(),
        Some((st, body)) => vec![format!(
            "answer differs from {what}: {} {} vs {st} {body}",
            mine.0, mine.1
        )],
        None => vec![format!("no {what} answer to compare with")],
    }
}

/// What the record (and the carrier) became.
fn check_record(cell: Cell, got: &Seen, n: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let (before, after) = (&got.before, &got.after);
    let state_of = |r: &Option<Value>| r.as_ref().map(|r| r["state"].clone());
    let owner_of = |r: &Option<Value>| r.as_ref().map(|r| r["assigned_to"].clone());
    let answered = match cell.route {
        Route::Many(..) => &got.answer["data"]["success"][n]["state"],
        _ => &got.answer["data"]["state"],
    };
    let moved = || format!("{} -> {}", brief(before), brief(after));
    match cell.expect() {
        Expect::Err(..) | Expect::Ok(_, After::Unchanged) => {
            // A search refreshes its discovery entries; nothing else may move.
            if cell.route != Route::Search && before != after {
                wrong.push(format!("record changed: {}", moved()));
            }
            // Nothing bought or given back upstream either.
            if got.calls.0 != got.calls.1 {
                wrong.push(format!(
                    "carrier called (acquire, disconnect): {:?}",
                    got.calls
                ));
            }
        }
        Expect::Ok(_, After::Stays) => {
            if state_of(before) != state_of(after) || owner_of(before) != owner_of(after) {
                wrong.push(format!("state/owner moved: {}", moved()));
            }
        }
        Expect::Ok(_, After::Deleted) => {
            if after.as_ref().is_some_and(|r| r["state"] != "deleted") || answered != "deleted" {
                wrong.push(format!("not deleted: answered {answered}, {}", moved()));
            }
        }
        Expect::Ok(_, After::Is(state, owner)) => {
            let want_owner = owner.map_or(Value::Null, |o| json!(o));
            if state_of(after) != Some(json!(state))
                || owner_of(after) != Some(want_owner)
                || answered != state
            {
                wrong.push(format!(
                    "expected {state} for {owner:?}: answered {answered}, {}",
                    moved()
                ));
            }
        }
    }
    wrong
}

/// The number every cell is about: the first search result of the simulated carrier.
async fn the_number() -> String {
    let w = build(Config::default());
    let (status, v) = send(&w.api, Method::Get, &search_target(), "", None).await;
    assert_eq!(status, 200, "{v}");
    v["data"][0]["e164"]
        .as_str()
        .or_else(|| v["data"][0]["number"].as_str())
        .unwrap_or_else(|| panic!("no search result: {v}"))
        .to_string()
}

#[tokio::test]
async fn every_route_actor_and_state_answers_as_the_rules_say() {
    let n = the_number().await;
    let mut combos: Vec<(Actor, &'static str)> = Vec::new();
    for actor in Actor::ALL {
        match actor.account() {
            None => combos.push((actor, OWNER)),
            Some(OWNER) => combos.push((actor, OWNER)),
            Some(own) => {
                combos.push((actor, own));
                combos.push((actor, OWNER));
            }
        }
    }
    let (mut seen, mut exists) = (HashMap::new(), HashMap::new());
    let (mut cells, mut failing) = (0usize, 0usize);
    let mut report = Vec::new();
    for state in State::ALL {
        for route in routes() {
            for &(actor, url) in &combos {
                let cell = Cell {
                    route,
                    actor,
                    url,
                    state,
                };
                cells += 1;
                let wrong = check_cell(cell, &n, &mut seen, &mut exists).await;
                if wrong.is_empty() {
                    continue;
                }
                failing += 1;
                let url = if url == OWNER { Url::Owners } else { Url::Own };
                for w in wrong {
                    let w: String = w.chars().take(300).collect();
                    report.push(format!("{route:?} | {actor:?} | {url:?} | {state:?}: {w}"));
                }
            }
        }
    }
    println!(
        "authorization matrix: {cells} cells checked ({} routes x {} actor/URL pairs x {} states), {failing} failing",
        routes().len(),
        combos.len(),
        State::ALL.len(),
    );
    assert!(
        report.is_empty(),
        "{failing} cells differ from the rules:\n{}",
        report.join("\n")
    );
}
