//! Every (from state, operation) pair for each actor relation, through the
//! public API with `dry_run` (the pure plan), asserting the exact resulting
//! state or error name.
//!
//! Account tree: master M (root, master) -> reseller R -> owner O -> child D;
//! unrelated U under M. Numbers in assigned states belong to O (a reserved one
//! was reserved by O). For activate / reserve / create the target account is
//! the actor's own account (U for the system actor). R and O may add numbers.

use std::sync::Arc;

use chrono::Utc;
use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{MemoryStore, Store, StoreExt};
use number_manager::{NumberManager, Options, PhoneNumber, PublicChange};
use serde_json::Map;

const STATES: [&str; 8] = [
    "discovery",
    "available",
    "reserved",
    "in_service",
    "port_in",
    "port_out",
    "released",
    "aging",
];
const ACTORS: [&str; 6] = [
    "owner",
    "ancestor",
    "descendant",
    "unrelated",
    "master",
    "system",
];

// Abbreviations: nf = not_found, fb = forbidden, ist = invalid_state_transition,
// ncr = no_change_required, ne = number_exists; anything else is the resulting state.
// A descendant of the reserving account may activate a reserved number, but
// to every other operation the number stays hidden (nf).
// Columns follow ACTORS.
const EXPECTED: &[(&str, &str, [&str; 6])] = &[
    ("activate", "discovery", ["in_service"; 6]),
    ("activate", "available", ["in_service"; 6]),
    (
        "activate",
        "reserved",
        [
            "in_service",
            "in_service",
            "in_service",
            "nf",
            "in_service",
            "in_service",
        ],
    ),
    (
        "activate",
        "in_service",
        [
            "in_service",
            "in_service",
            "nf",
            "nf",
            "in_service",
            "in_service",
        ],
    ),
    (
        "activate",
        "port_in",
        [
            "in_service",
            "in_service",
            "nf",
            "nf",
            "in_service",
            "in_service",
        ],
    ),
    (
        "activate",
        "port_out",
        ["ist", "ist", "nf", "nf", "ist", "ist"],
    ),
    ("activate", "released", ["ist"; 6]),
    ("activate", "aging", ["in_service"; 6]),
    ("reserve", "discovery", ["reserved"; 6]),
    ("reserve", "available", ["reserved"; 6]),
    (
        "reserve",
        "reserved",
        ["ncr", "reserved", "nf", "nf", "reserved", "reserved"],
    ),
    (
        "reserve",
        "in_service",
        ["reserved", "reserved", "nf", "nf", "reserved", "reserved"],
    ),
    (
        "reserve",
        "port_in",
        ["ist", "ist", "nf", "nf", "ist", "ist"],
    ),
    (
        "reserve",
        "port_out",
        ["ist", "ist", "nf", "nf", "ist", "ist"],
    ),
    ("reserve", "released", ["ist"; 6]),
    ("reserve", "aging", ["ist"; 6]),
    (
        "release",
        "discovery",
        ["nf", "nf", "nf", "nf", "ist", "ist"],
    ),
    ("release", "available", ["ist"; 6]),
    (
        "release",
        "reserved",
        [
            "available",
            "available",
            "nf",
            "nf",
            "available",
            "available",
        ],
    ),
    (
        "release",
        "in_service",
        [
            "available",
            "available",
            "nf",
            "nf",
            "available",
            "available",
        ],
    ),
    (
        "release",
        "port_in",
        [
            "available",
            "available",
            "nf",
            "nf",
            "available",
            "available",
        ],
    ),
    (
        "release",
        "port_out",
        ["ist", "ist", "nf", "nf", "ist", "ist"],
    ),
    (
        "release",
        "released",
        ["nf", "nf", "nf", "nf", "available", "available"],
    ),
    ("release", "aging", ["nf", "nf", "nf", "nf", "ist", "ist"]),
    (
        "delete",
        "discovery",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "available",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "reserved",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "in_service",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "port_in",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "port_out",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "released",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    (
        "delete",
        "aging",
        ["fb", "fb", "fb", "fb", "deleted", "deleted"],
    ),
    ("edit", "discovery", ["nf"; 6]),
    (
        "edit",
        "available",
        ["fb", "fb", "fb", "fb", "available", "available"],
    ),
    (
        "edit",
        "reserved",
        ["reserved", "reserved", "nf", "nf", "reserved", "reserved"],
    ),
    (
        "edit",
        "in_service",
        [
            "in_service",
            "in_service",
            "nf",
            "nf",
            "in_service",
            "in_service",
        ],
    ),
    (
        "edit",
        "port_in",
        ["port_in", "port_in", "nf", "nf", "port_in", "port_in"],
    ),
    (
        "edit",
        "port_out",
        ["port_out", "port_out", "nf", "nf", "port_out", "port_out"],
    ),
    (
        "edit",
        "released",
        ["nf", "nf", "nf", "nf", "released", "released"],
    ),
    ("edit", "aging", ["nf", "nf", "nf", "nf", "aging", "aging"]),
    (
        "read",
        "discovery",
        ["nf", "nf", "nf", "nf", "discovery", "discovery"],
    ),
    ("read", "available", ["available"; 6]),
    (
        "read",
        "reserved",
        ["reserved", "reserved", "nf", "nf", "reserved", "reserved"],
    ),
    (
        "read",
        "in_service",
        [
            "in_service",
            "in_service",
            "nf",
            "nf",
            "in_service",
            "in_service",
        ],
    ),
    (
        "read",
        "port_in",
        ["port_in", "port_in", "nf", "nf", "port_in", "port_in"],
    ),
    (
        "read",
        "port_out",
        ["port_out", "port_out", "nf", "nf", "port_out", "port_out"],
    ),
    (
        "read",
        "released",
        ["nf", "nf", "nf", "nf", "released", "released"],
    ),
    ("read", "aging", ["nf", "nf", "nf", "nf", "aging", "aging"]),
    (
        "create",
        "discovery",
        ["reserved", "reserved", "fb", "fb", "reserved", "reserved"],
    ),
    (
        "create",
        "available",
        ["reserved", "reserved", "fb", "fb", "reserved", "reserved"],
    ),
    ("create", "reserved", ["ne", "ne", "fb", "fb", "ne", "ne"]),
    ("create", "in_service", ["ne", "ne", "fb", "fb", "ne", "ne"]),
    (
        "create",
        "port_in",
        ["ist", "ist", "fb", "fb", "ist", "ist"],
    ),
    ("create", "port_out", ["ne", "ne", "fb", "fb", "ne", "ne"]),
    ("create", "released", ["ne", "ne", "fb", "fb", "ne", "ne"]),
    ("create", "aging", ["ist", "ist", "fb", "fb", "ist", "ist"]),
];

struct World {
    manager: NumberManager,
    store: Arc<MemoryStore>,
    accounts: Arc<MemoryAccounts>,
}

fn id(s: &str) -> AccountId {
    AccountId::new(s).unwrap()
}

fn world() -> World {
    let accounts = Arc::new(MemoryAccounts::new());
    let m = accounts.add("M", "Master", None).unwrap();
    accounts.set_master(&m, true);
    let r = accounts.add("R", "Reseller", Some(&m)).unwrap();
    accounts.set_allow_additions(&r, true);
    let o = accounts.add("O", "Owner", Some(&r)).unwrap();
    accounts.set_allow_additions(&o, true);
    accounts.add("D", "Child", Some(&o)).unwrap();
    accounts.add("U", "Unrelated", Some(&m)).unwrap();
    let store = Arc::new(MemoryStore::new());
    let carriers = CarrierRegistry::new().with(Arc::new(SimulatedCarrier::new(1)));
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts.clone())
        .carriers(carriers)
        .build();
    World {
        manager,
        store,
        accounts,
    }
}

fn actor_account(actor: &str) -> Option<AccountId> {
    match actor {
        "owner" => Some(id("O")),
        "ancestor" => Some(id("R")),
        "descendant" => Some(id("D")),
        "unrelated" => Some(id("U")),
        "master" => Some(id("M")),
        _ => None,
    }
}

async fn seed(store: &MemoryStore, number: PhoneNumber, state: NumberState) {
    let now = Utc::now();
    let mut r = NumberRecord::new(number, state, "simulated", now);
    if state.is_assigned() {
        r.assigned_to = Some(id("O"));
    }
    if state == NumberState::Reserved {
        r.reserve_history = vec![id("O")];
    }
    if state == NumberState::Discovery {
        r.expires_at = Some(now + chrono::Duration::hours(1));
    }
    store.insert(r).await.unwrap();
}

fn short(e: &number_manager::Error) -> String {
    match e.name() {
        "not_found" => "nf".into(),
        "forbidden" => "fb".into(),
        "invalid_state_transition" => "ist".into(),
        "no_change_required" => "ncr".into(),
        "number_exists" => "ne".into(),
        other => other.into(),
    }
}

#[tokio::test]
async fn every_state_operation_and_actor() {
    let w = world();
    assert_eq!(
        w.accounts.info(&id("O")).unwrap().tree,
        vec![id("M"), id("R")]
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut counter = 0u64;
    for (op, from, expected) in EXPECTED {
        assert!(STATES.contains(from));
        for (i, actor) in ACTORS.iter().enumerate() {
            counter += 1;
            let number = PhoneNumber::parse(&format!("+1415200{counter:04}")).unwrap();
            let state: NumberState = from.parse().unwrap();
            seed(&w.store, number, state).await;
            let acct = actor_account(actor);
            let opts = match &acct {
                Some(a) => Options::as_account(a).dry_run(),
                None => Options::system().with_dry_run(true),
            };
            let target = acct.clone().unwrap_or_else(|| id("U"));
            let n = number.as_str();
            let got: Result<NumberState, number_manager::Error> = match *op {
                "activate" => w
                    .manager
                    .activate(&target, n, Map::new(), &opts)
                    .await
                    .map(|o| o.record.state),
                "reserve" => w
                    .manager
                    .reserve(&target, n, Map::new(), &opts)
                    .await
                    .map(|o| o.record.state),
                "release" => w.manager.release(n, &opts).await.map(|o| o.record.state),
                "delete" => w.manager.delete(n, &opts).await.map(|o| o.record.state),
                "edit" => {
                    let mut body = Map::new();
                    body.insert("my_field".into(), serde_json::json!(1));
                    w.manager
                        .update(n, body, &opts)
                        .await
                        .map(|o| o.record.state)
                }
                "read" => w.manager.get(n, &opts).await.map(|r| r.state),
                "create" => w
                    .manager
                    .create(&target, n, PublicChange::default(), &opts)
                    .await
                    .map(|o| o.record.state),
                other => panic!("unknown op {other}"),
            };
            let got = match got {
                Ok(s) => s.as_str().to_string(),
                Err(e) => short(&e),
            };
            checked += 1;
            if got != expected[i] {
                failures.push(format!(
                    "{op} from {from} by {actor}: expected {}, got {got}",
                    expected[i]
                ));
            }
            // Dry runs must leave the stored record exactly as seeded.
            let stored = w.store.get(&number).await.unwrap().unwrap();
            assert_eq!(stored.state, state, "dry run changed {n}");
            assert_eq!(stored.revision.0, 1, "dry run wrote {n}");
        }
    }
    assert_eq!(checked, EXPECTED.len() * ACTORS.len());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every (operation, state) pair is covered exactly once.
    for op in [
        "activate", "reserve", "release", "delete", "edit", "read", "create",
    ] {
        for st in STATES {
            let n = EXPECTED
                .iter()
                .filter(|(o, s, _)| *o == op && *s == st)
                .count();
            assert_eq!(n, 1, "{op} from {st} covered {n} times");
        }
    }
    let _: &dyn Store = &*w.store;
}
