//! Fault injection: every operation, with the k-th call of the store, the
//! carrier or the E911 provider failing (an error, a timeout, an ambiguous
//! answer, a hang past the carrier deadline), for every k up to the number of
//! calls the operation makes. After each run, and once the crate's own
//! reconciliation (claim lapse, `purge_expired`, `fix`) has run:
//!
//! - nothing panicked;
//! - the money invariant holds: the carrier holds exactly the non-local
//!   numbers the store says we hold (no purchase without a record, no record
//!   without a purchase);
//! - every E911 address a record shows is provisioned upstream;
//! - no entry is half applied: right after the operation, each number it
//!   touched is either unchanged or exactly as a fault-free run leaves it,
//!   and a number reported as a success is the latter.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{
    Carrier, CarrierRegistry, LocalCarrier, NumberOrder, SimulatedCarrier,
};
use number_manager::clock::ManualClock;
use number_manager::e911::SimulatedE911;
use number_manager::manager::SearchQuery;
use number_manager::record::Pending;
use number_manager::state::NumberState;
use number_manager::store::{ListQuery, MemoryStore, Pages, Store, StoreExt};
use number_manager::testing::{FaultKind, FaultPlan, FaultyCarrier, FaultyE911, FaultyStore};
use number_manager::{BatchResult, Config, NumberManager, Options, PhoneNumber, PublicChange};
use serde_json::{json, Map, Value};

const T0: i64 = 63_628_550_806;
/// The carrier deadline; a hang outlasts it.
const DEADLINE: Duration = Duration::from_millis(300);
const KINDS: [FaultKind; 4] = [
    FaultKind::Error,
    FaultKind::Timeout,
    FaultKind::Ambiguous,
    FaultKind::Hang(Duration::from_millis(450)),
];

/// A manager over faulty wrappers of the memory store, the simulated
/// carrier and the simulated E911 provider, seeded with:
/// `bought` (in service, from the carrier), `e911` (the same, with an
/// address provisioned), `reserved` (a local number reserved), `spare`
/// (search results) and `interrupted` (a search result another instance
/// bought and died before recording).
struct Rig {
    manager: NumberManager,
    store: Arc<FaultyStore<MemoryStore>>,
    carrier: Arc<FaultyCarrier<SimulatedCarrier>>,
    e911: Arc<FaultyE911<SimulatedE911>>,
    clock: Arc<ManualClock>,
    master: AccountId,
    customer: AccountId,
    other: AccountId,
    bought: PhoneNumber,
    e911_number: PhoneNumber,
    reserved: PhoneNumber,
    spare: Vec<PhoneNumber>,
    interrupted: PhoneNumber,
}

fn natoma() -> Value {
    json!({"street_address": "116 natoma st", "extended_address": "apt 116",
           "locality": "San Francisco", "region": "CA", "postal_code": "94105"})
}

fn body(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn fresh(i: u32) -> String {
    format!("+1415555{i:04}")
}

impl Rig {
    async fn new() -> Rig {
        let clock = Arc::new(ManualClock::at_gregorian(T0));
        let store = Arc::new(FaultyStore::new(MemoryStore::new(), FaultPlan::none()));
        let carrier = Arc::new(FaultyCarrier::new(
            SimulatedCarrier::new(2600),
            FaultPlan::none(),
        ));
        let e911 = Arc::new(FaultyE911::new(
            SimulatedE911::seed_demo().with_clock(clock.clone()),
            FaultPlan::none(),
        ));
        let accounts = Arc::new(MemoryAccounts::new());
        let master = accounts
            .add("master0000000000000000000000000a", "Master", None)
            .unwrap();
        accounts.set_master(&master, true);
        let reseller = accounts
            .add(
                "reseller00000000000000000000000b",
                "Reseller",
                Some(&master),
            )
            .unwrap();
        let customer = accounts
            .add(
                "009afc511c97b2ae693c6cc4920988e8",
                "Customer",
                Some(&reseller),
            )
            .unwrap();
        accounts.set_allow_additions(&customer, true);
        let other = accounts
            .add("other000000000000000000000000000", "Other", Some(&reseller))
            .unwrap();
        let manager = NumberManager::builder()
            .store(store.clone())
            .accounts(accounts)
            .carriers(
                CarrierRegistry::new()
                    .with(Arc::new(LocalCarrier::new(store.clone())))
                    .with(carrier.clone()),
            )
            .e911(e911.clone())
            .clock(clock.clone())
            .config(Config::default().with_carrier_timeout(DEADLINE))
            .build();
        let mut rig = Rig {
            manager,
            store,
            carrier,
            e911,
            clock,
            master,
            customer,
            other,
            bought: PhoneNumber::parse(&fresh(9999)).unwrap(),
            e911_number: PhoneNumber::parse(&fresh(9999)).unwrap(),
            reserved: PhoneNumber::parse(&fresh(9000)).unwrap(),
            spare: Vec::new(),
            interrupted: PhoneNumber::parse(&fresh(9999)).unwrap(),
        };
        rig.seed().await;
        rig
    }

    async fn seed(&mut self) {
        let hits = self.search().await.unwrap();
        let numbers: Vec<PhoneNumber> = hits.iter().map(|h| h.number).collect();
        assert!(numbers.len() >= 8, "{numbers:?}");
        let c = self.as_customer();
        self.bought = numbers[0];
        self.e911_number = numbers[1];
        self.spare = numbers[2..7].to_vec();
        self.interrupted = numbers[7];
        for n in [self.bought, self.e911_number] {
            self.manager
                .activate(&self.customer, n.as_str(), Map::new(), &c)
                .await
                .unwrap();
        }
        self.manager
            .patch(
                self.e911_number.as_str(),
                body(json!({ "e911": natoma() })),
                &c,
            )
            .await
            .unwrap();
        self.manager
            .create(
                &self.customer,
                self.reserved.as_str(),
                PublicChange::default(),
                &c,
            )
            .await
            .unwrap();
        // Another instance claimed `interrupted`, bought it and died.
        let n = self.interrupted;
        let mut r = self.store.get(&n).await.unwrap().unwrap();
        let rev = r.revision;
        r.pending = Some(Pending {
            operation: number_manager::state::Operation::Activate,
            by: number_manager::account::Actor::Account(self.other.clone()),
            until: chrono::Utc::now() - chrono::Duration::days(365 * 100),
        });
        self.store.update(r, rev).await.unwrap();
        let order = NumberOrder::new(n).with_account(self.other.clone());
        self.carrier.inner().acquire(&order).await.unwrap();
    }

    async fn search(&self) -> number_manager::Result<Vec<number_manager::manager::SearchHit>> {
        let q = SearchQuery::new("415", 8);
        self.manager
            .search(&q, &Options::as_account(&self.customer))
            .await
    }

    fn as_customer(&self) -> Options {
        Options::as_account(&self.customer)
    }

    fn as_master(&self) -> Options {
        Options::as_account(&self.master)
    }

    fn arm(&self, source: Source, plan: FaultPlan) {
        match source {
            Source::Store => self.store.set_plan(plan),
            Source::Carrier => self.carrier.set_plan(plan),
            Source::E911 => self.e911.set_plan(plan),
        }
    }

    fn calls(&self, source: Source) -> (usize, usize) {
        match source {
            Source::Store => (self.store.calls(), self.store.injected()),
            Source::Carrier => (self.carrier.calls(), self.carrier.injected()),
            Source::E911 => (self.e911.calls(), self.e911.injected()),
        }
    }

    fn disarm(&self) {
        for s in SOURCES {
            self.arm(s, FaultPlan::none());
        }
    }

    /// What the crate does to settle what an interrupted operation left:
    /// claims lapse, then maintenance and `fix` run.
    async fn reconcile(&self) {
        self.clock.advance(chrono::Duration::hours(25));
        self.manager.purge_expired().await.unwrap();
        self.manager
            .fix(&self.customer, &Options::system())
            .await
            .unwrap();
    }

    async fn all_records(&self) -> Vec<number_manager::record::NumberRecord> {
        let mut out = Vec::new();
        let states = vec![]; // every state but discovery
        let mut pages = Pages::new(
            &*self.store,
            ListQuery::default().with_states(states).with_limit(100),
        );
        while let Some(page) = pages.next().await.unwrap() {
            out.extend(page);
        }
        out
    }

    async fn settled_violations_after_reconcile(&self) -> Vec<String> {
        self.reconcile().await;
        self.settled_violations().await
    }

    /// The invariants that must hold once reconciliation has run.
    async fn settled_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let records = self.all_records().await;
        let held: BTreeSet<PhoneNumber> = records
            .iter()
            .filter(|r| r.carrier == self.carrier.name())
            .map(|r| r.number)
            .collect();
        let sold: BTreeSet<PhoneNumber> = self.carrier.inner().sold().into_iter().collect();
        for n in sold.difference(&held) {
            out.push(format!("{n}: bought upstream without a record"));
        }
        for n in held.difference(&sold) {
            out.push(format!("{n}: recorded as held but not held upstream"));
        }
        let provisioned = self.e911.inner().provisioned();
        for r in &records {
            if r.features.contains_key("e911") && !provisioned.contains_key(&r.number) {
                out.push(format!(
                    "{}: shows an E911 address not provisioned",
                    r.number
                ));
            }
        }
        out
    }

    async fn snapshot(&self, numbers: &[PhoneNumber]) -> Vec<Snap> {
        let records = self.store.inner().get_many(numbers).await.unwrap();
        records.into_iter().map(Snap::of).collect()
    }
}

/// What a number looks like to its owner: absent (or a search result), or
/// its state, owner and public fields.
#[derive(Debug, Clone, PartialEq)]
struct Snap(Option<(NumberState, Option<AccountId>, Map<String, Value>)>);

impl Snap {
    fn of(r: Option<number_manager::record::NumberRecord>) -> Snap {
        Snap(
            r.filter(|r| r.state != NumberState::Discovery)
                .map(|r| (r.state, r.assigned_to, r.public)),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Store,
    Carrier,
    E911,
}
const SOURCES: [Source; 3] = [Source::Store, Source::Carrier, Source::E911];

/// Every operation under test, single and collection forms.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Create,
    CreateMany,
    CreateManyKeyed,
    Port,
    Reserve,
    ReserveMany,
    Activate,
    ActivateMany,
    SearchActivate,
    ActivateInterrupted,
    ActivateReserved,
    Update,
    UpdateMany,
    Patch,
    PatchMany,
    Release,
    ReleaseMany,
    Delete,
    DeleteMany,
    FixNumber,
    Fix,
    PurgeExpired,
    E911Set,
    E911Remove,
    E911Many,
}

const OPERATIONS: [Operation; 25] = [
    Operation::Create,
    Operation::CreateMany,
    Operation::CreateManyKeyed,
    Operation::Port,
    Operation::Reserve,
    Operation::ReserveMany,
    Operation::Activate,
    Operation::ActivateMany,
    Operation::SearchActivate,
    Operation::ActivateInterrupted,
    Operation::ActivateReserved,
    Operation::Update,
    Operation::UpdateMany,
    Operation::Patch,
    Operation::PatchMany,
    Operation::Release,
    Operation::ReleaseMany,
    Operation::Delete,
    Operation::DeleteMany,
    Operation::FixNumber,
    Operation::Fix,
    Operation::PurgeExpired,
    Operation::E911Set,
    Operation::E911Remove,
    Operation::E911Many,
];

/// What an operation answered, per number it touched (`None`: the whole
/// call failed, or it reports no per-number outcome).
type Answer = BTreeMap<PhoneNumber, Option<bool>>;

fn per_number(numbers: &[PhoneNumber], r: number_manager::Result<BatchResult>) -> Answer {
    numbers
        .iter()
        .map(|n| {
            let key = n.to_string();
            let ok = r.as_ref().ok().map(|b| {
                assert!(
                    b.success.contains_key(&key) != b.errors.contains_key(&key),
                    "{key} reported exactly once: {b:?}"
                );
                b.success.contains_key(&key)
            });
            (*n, ok)
        })
        .collect()
}

fn single(n: PhoneNumber, r: number_manager::Result<number_manager::Outcome>) -> Answer {
    BTreeMap::from([(n, Some(r.is_ok()))])
}

impl Operation {
    /// The numbers the operation may change.
    fn touches(self, rig: &Rig) -> Vec<PhoneNumber> {
        let p = |i| PhoneNumber::parse(&fresh(i)).unwrap();
        use Operation::*;
        match self {
            Create | Port => vec![p(1)],
            CreateMany | CreateManyKeyed => vec![p(1), p(2), p(3)],
            Reserve | Activate | SearchActivate => vec![rig.spare[0]],
            ReserveMany | ActivateMany => vec![rig.spare[0], rig.spare[1], rig.reserved],
            ActivateInterrupted => vec![rig.interrupted],
            ActivateReserved => vec![rig.reserved],
            Update | Patch | Release | Delete | FixNumber | E911Set => vec![rig.bought],
            E911Remove => vec![rig.e911_number],
            UpdateMany | PatchMany | ReleaseMany | DeleteMany => {
                vec![rig.bought, rig.e911_number, rig.reserved]
            }
            E911Many => vec![rig.bought, rig.e911_number],
            Fix | PurgeExpired => vec![rig.bought, rig.e911_number, rig.reserved],
        }
    }

    async fn run(self, rig: &Rig) -> Answer {
        let nums = self.touches(rig);
        let strs: Vec<String> = nums.iter().map(|n| n.to_string()).collect();
        let (c, m) = (rig.as_customer(), rig.as_master());
        let me = &rig.customer;
        let mgr = &rig.manager;
        let n0 = nums[0];
        let s0 = strs[0].as_str();
        let fields = || body(json!({"label": "after"}));
        use Operation::*;
        match self {
            Create => {
                let change = PublicChange::default()
                    .with_public(fields())
                    .with_state(NumberState::InService);
                single(n0, mgr.create(me, s0, change, &c).await)
            }
            CreateMany => {
                let r = mgr
                    .create_many(me, &strs, PublicChange::default(), &c)
                    .await;
                per_number(&nums, r)
            }
            CreateManyKeyed => {
                let keyed = c.clone().idempotency_key("faults");
                let r = mgr
                    .create_many(me, &strs, PublicChange::default(), &keyed)
                    .await;
                per_number(&nums, r)
            }
            Port => single(n0, mgr.port_in(me, s0, fields(), &c).await),
            Reserve => single(n0, mgr.reserve(me, s0, fields(), &c).await),
            ReserveMany => per_number(&nums, mgr.reserve_many(me, &strs, fields(), &c).await),
            Activate | ActivateInterrupted | ActivateReserved => {
                single(n0, mgr.activate(me, s0, fields(), &c).await)
            }
            ActivateMany => per_number(&nums, mgr.activate_many(me, &strs, fields(), &c).await),
            SearchActivate => {
                let found = rig
                    .search()
                    .await
                    .is_ok_and(|h| h.iter().any(|h| h.number == n0));
                if !found {
                    return BTreeMap::from([(n0, Some(false))]);
                }
                single(n0, mgr.activate(me, s0, fields(), &c).await)
            }
            Update => single(n0, mgr.update(s0, fields(), &c).await),
            UpdateMany => per_number(&nums, mgr.update_many(&strs, fields(), &c).await),
            Patch => single(n0, mgr.patch(s0, fields(), &c).await),
            PatchMany => per_number(&nums, mgr.patch_many(&strs, fields(), &c).await),
            Release => single(n0, mgr.release(s0, &c).await),
            ReleaseMany => per_number(&nums, mgr.release_many(&strs, &c).await),
            Delete => single(n0, mgr.delete(s0, &m).await),
            DeleteMany => per_number(&nums, mgr.delete_many(&strs, &m).await),
            FixNumber => {
                let _ = mgr.fix_number(s0, &m).await;
                nums.iter().map(|n| (*n, None)).collect()
            }
            Fix => {
                let _ = mgr.fix(me, &m).await;
                nums.iter().map(|n| (*n, None)).collect()
            }
            PurgeExpired => {
                // Past every claim and search result, before maintenance runs.
                rig.clock.advance(chrono::Duration::hours(25));
                let _ = mgr.purge_expired().await;
                nums.iter().map(|n| (*n, None)).collect()
            }
            E911Set => single(n0, mgr.patch(s0, body(json!({"e911": natoma()})), &c).await),
            E911Remove => single(n0, mgr.update(s0, fields(), &c).await),
            E911Many => {
                let r = mgr
                    .patch_many(&strs, body(json!({"e911": natoma()})), &c)
                    .await;
                per_number(&nums, r)
            }
        }
    }
}

/// One fault-free run: the calls made per source, the numbers afterwards,
/// and what is wrong even without a fault.
struct Baseline {
    calls: [usize; 3],
    after: Vec<Snap>,
    problems: Vec<String>,
}

async fn baseline(op: Operation) -> Baseline {
    let rig = Rig::new().await;
    rig.disarm();
    op.run(&rig).await;
    let calls = SOURCES.map(|s| rig.calls(s).0);
    let after = rig.snapshot(&op.touches(&rig)).await;
    let problems = rig.settled_violations_after_reconcile().await;
    let problems = problems
        .into_iter()
        .map(|p| format!("{op:?} without faults: {p}"))
        .collect();
    Baseline {
        calls,
        after,
        problems,
    }
}

/// One operation with one fault; what went wrong, and whether the fault fired.
async fn case(
    op: Operation,
    source: Source,
    k: usize,
    kind: FaultKind,
    after: Vec<Snap>,
) -> (Vec<String>, bool) {
    let rig = Rig::new().await;
    let nums = op.touches(&rig);
    let before = rig.snapshot(&nums).await;
    rig.arm(source, FaultPlan::nth(k, kind));
    let answer = op.run(&rig).await;
    let fired = rig.calls(source).1 > 0;
    rig.disarm();
    let label = format!("{op:?} / {source:?} call {k} / {kind:?}");
    let mut out = Vec::new();
    let now = rig.snapshot(&nums).await;
    for (i, n) in nums.iter().enumerate() {
        let whole = now[i] == after[i];
        if now[i] != before[i] && !whole {
            out.push(format!("{label}: {n} half applied: {:?}", now[i]));
        }
        if answer.get(n).copied().flatten() == Some(true) && !whole {
            out.push(format!("{label}: {n} reported done but is {:?}", now[i]));
        }
    }
    for v in rig.settled_violations_after_reconcile().await {
        out.push(format!("{label}: {v}"));
    }
    (out, fired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_survives_every_fault_point() {
    let mut tasks = tokio::task::JoinSet::new();
    let mut planned = Vec::new();
    let mut violations = Vec::new();
    for op in OPERATIONS {
        let base = baseline(op).await;
        violations.extend(base.problems.iter().cloned());
        for (si, source) in SOURCES.into_iter().enumerate() {
            for k in 1..=base.calls[si] {
                for kind in KINDS {
                    planned.push((op, source, k, kind, base.after.clone()));
                }
            }
        }
        eprintln!("{op:?}: calls (store, carrier, e911) = {:?}", base.calls);
    }
    let total = planned.len();
    let mut fired = 0;
    let mut by_source = [0usize; 3];
    let mut queue = planned.into_iter();
    // A bounded number of cases at once (FAULTS_WIDTH, default 48): hangs
    // wait on real time, so cases overlap.
    let mut next = || queue.next();
    let width: usize = std::env::var("FAULTS_WIDTH")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(48);
    for _ in 0..width {
        if let Some((op, s, k, kind, after)) = next() {
            tasks.spawn(async move { (s, case(op, s, k, kind, after).await) });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((s, (v, f))) => {
                violations.extend(v);
                if f {
                    fired += 1;
                    by_source[SOURCES.iter().position(|x| *x == s).unwrap_or(0)] += 1;
                }
            }
            Err(e) => violations.push(format!("a case panicked: {e}")),
        }
        if let Some((op, s, k, kind, after)) = next() {
            tasks.spawn(async move { (s, case(op, s, k, kind, after).await) });
        }
    }
    eprintln!(
        "fault points injected: {fired} of {total} planned (store {}, carrier {}, e911 {}) over {} operations",
        by_source[0],
        by_source[1],
        by_source[2],
        OPERATIONS.len()
    );
    violations.sort();
    for v in &violations {
        eprintln!("VIOLATION {v}");
    }
    assert!(violations.is_empty(), "{} violations", violations.len());
    assert!(
        fired * 10 >= total * 9,
        "most planned faults fire: {fired} of {total}"
    );
}
#[tokio::test]
async fn a_purchase_whose_answer_was_lost_keeps_its_claim_until_given_back() {
    let rig = Rig::new().await;
    let n = rig.spare[0];
    let plan = FaultPlan::nth(1, FaultKind::Ambiguous).only(&["acquire"]);
    rig.carrier.set_plan(plan);
    let e = rig
        .manager
        .activate(&rig.customer, n.as_str(), Map::new(), &rig.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.to_json()["message"], "fault by carrier");
    assert!(rig.carrier.inner().is_sold(&n), "it went through upstream");
    let r = rig.store.get(&n).await.unwrap().unwrap();
    assert!(
        r.pending.is_some(),
        "the claim stays as the purchase's trace"
    );
    rig.disarm();
    rig.clock.advance(chrono::Duration::hours(25));
    rig.manager.purge_expired().await.unwrap();
    assert!(!rig.carrier.inner().is_sold(&n), "maintenance gave it back");
    assert!(rig.store.get(&n).await.unwrap().is_none());
}

#[tokio::test]
async fn a_failed_purchase_the_carrier_says_never_happened_frees_the_number() {
    let rig = Rig::new().await;
    let n = rig.spare[0];
    rig.carrier
        .set_plan(FaultPlan::nth(1, FaultKind::Error).only(&["acquire"]));
    let c = rig.as_customer();
    let e = rig
        .manager
        .activate(&rig.customer, n.as_str(), Map::new(), &c)
        .await
        .unwrap_err();
    assert_eq!(e.to_json()["message"], "fault by carrier");
    assert!(rig.store.get(&n).await.unwrap().unwrap().pending.is_none());
    let ok = rig
        .manager
        .activate(&rig.customer, n.as_str(), Map::new(), &c)
        .await
        .unwrap();
    assert_eq!(ok.record.state, NumberState::InService);
}

#[tokio::test]
async fn an_e911_address_is_removed_only_once_the_record_no_longer_shows_it() {
    let rig = Rig::new().await;
    let n = rig.e911_number;
    let c = rig.as_customer();
    let without = || body(json!({"label": "no address"}));
    rig.store
        .set_plan(FaultPlan::nth(1, FaultKind::Error).only(&["write_batch"]));
    let e = rig
        .manager
        .update(n.as_str(), without(), &c)
        .await
        .unwrap_err();
    assert_eq!(e.to_json()["message"], "database_error");
    let r = rig.store.get(&n).await.unwrap().unwrap();
    assert!(r.features.contains_key("e911"), "the record still shows it");
    assert!(
        rig.e911.inner().provisioned().contains_key(&n),
        "so it stays provisioned"
    );
    rig.disarm();
    rig.manager.update(n.as_str(), without(), &c).await.unwrap();
    assert!(!rig.e911.inner().provisioned().contains_key(&n));
    assert_eq!(rig.e911.inner().remove_count(), 1);
}

#[tokio::test]
async fn a_disconnect_whose_answer_was_lost_still_deletes_the_number() {
    let rig = Rig::new().await;
    let n = rig.bought;
    let plan = FaultPlan::nth(1, FaultKind::Ambiguous).only(&["disconnect"]);
    rig.carrier.set_plan(plan);
    let done = rig
        .manager
        .delete(n.as_str(), &rig.as_master())
        .await
        .unwrap();
    assert_eq!(done.record.state, NumberState::Deleted);
    assert_eq!(rig.carrier.injected(), 1);
    assert!(!rig.carrier.inner().is_sold(&n), "gone upstream");
    assert!(rig.store.get(&n).await.unwrap().is_none(), "and here");
}

#[tokio::test]
async fn a_disconnect_that_failed_keeps_the_number() {
    let rig = Rig::new().await;
    let n = rig.bought;
    rig.carrier
        .set_plan(FaultPlan::nth(1, FaultKind::Error).only(&["disconnect"]));
    let e = rig
        .manager
        .delete(n.as_str(), &rig.as_master())
        .await
        .unwrap_err();
    assert_eq!(e.to_json()["message"], "fault by carrier");
    assert!(rig.carrier.inner().is_sold(&n));
    let r = rig.store.get(&n).await.unwrap().unwrap();
    assert_eq!(r.state, NumberState::InService);
}

#[tokio::test]
async fn a_delete_whose_record_cannot_be_written_is_finished_by_fix() {
    let rig = Rig::new().await;
    let n = rig.bought;
    // Write 1 claims the number, write 2 removes the record, after the
    // disconnect went through.
    rig.store
        .set_plan(FaultPlan::nth(2, FaultKind::Error).only(&["write_batch"]));
    let e = rig
        .manager
        .delete(n.as_str(), &rig.as_master())
        .await
        .unwrap_err();
    assert_eq!(e.to_json()["message"], "database_error");
    assert!(!rig.carrier.inner().is_sold(&n), "gone upstream");
    let r = rig.store.get(&n).await.unwrap().unwrap();
    assert_eq!(r.pending.as_ref().unwrap().operation, "delete", "the trace");
    rig.disarm();
    rig.clock.advance(chrono::Duration::hours(1));
    let report = rig
        .manager
        .fix(&rig.customer, &Options::system())
        .await
        .unwrap();
    assert!(report.fixed.contains_key(n.as_str()), "{report:?}");
    assert!(rig.store.get(&n).await.unwrap().is_none(), "finished");
}

#[tokio::test]
async fn fix_clears_the_claim_of_a_removal_that_never_happened() {
    let rig = Rig::new().await;
    let n = rig.bought;
    // The disconnect hangs past the deadline without going through.
    rig.carrier
        .set_plan(FaultPlan::nth(1, FaultKind::Timeout).only(&["disconnect"]));
    rig.manager
        .delete(n.as_str(), &rig.as_master())
        .await
        .unwrap_err();
    rig.disarm();
    rig.clock.advance(chrono::Duration::hours(1));
    rig.manager
        .fix(&rig.customer, &Options::system())
        .await
        .unwrap();
    let r = rig.store.get(&n).await.unwrap().unwrap();
    assert!(r.pending.is_none());
    assert_eq!(r.state, NumberState::InService, "kept");
    assert!(rig.carrier.inner().is_sold(&n), "and still held");
}
