//! An independent reference model of the number lifecycle, written from the
//! project's decisions (who may create which state, the transition table with
//! its fixes, release unwinding, who may read or change a number, what we hold
//! at the carrier) and NOT from the crate's planner: the model-based property
//! test and the race test check the crate against it.
//!
//! Accounts are indices into a [`Tree`] (0 is master); numbers are indices
//! into the pool of test numbers. Time is seconds since the test's start.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use number_manager::state::NumberState;
use serde_json::{Map, Value};

use NumberState::*;

/// Whether a number aging after a release stays owned by the account that
/// released it. It does (README, "Differences from Kazoo"): an aging number
/// always has an owner, only that owner's tree (or master) may buy it back
/// during the quarantine, and the aging sweep later makes it available with no
/// owner. `false` models the older rule, where the owner was cleared.
pub const AGING_KEEPS_OWNER: bool = true;

/// Seconds in an hour.
pub const HOUR: i64 = 3600;
/// How long a search result may be bought.
pub const DISCOVERY_TTL: i64 = 24 * HOUR;
/// How long a number stays aging before maintenance makes it available.
pub const AGING_PERIOD: i64 = 90 * 24 * HOUR;

/// The account tree: `parent[i]` (`None`: a root), and who may add numbers.
/// Account 0 is master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub parent: Vec<Option<usize>>,
    pub additions: Vec<bool>,
}

impl Tree {
    /// `a` is `b` or an ancestor of `b`.
    pub fn anc(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        let mut hops = 0;
        while let Some(c) = cur {
            if c == a {
                return true;
            }
            hops += 1;
            if hops > self.parent.len() {
                return false;
            }
            cur = self.parent[c];
        }
        false
    }

    pub fn is_master(&self, a: usize) -> bool {
        a == 0
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }
}

/// Release settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MConfig {
    pub released_state: NumberState,
    pub should_age: bool,
    pub permanently_delete: bool,
}

/// One number as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct MRec {
    pub state: NumberState,
    pub owner: Option<usize>,
    pub history: Vec<usize>,
    /// Provided by the local carrier (created here) rather than bought.
    pub local: bool,
    pub public: Map<String, Value>,
    /// Lease end (reserved) or search result expiry (discovery).
    pub expires: Option<i64>,
    /// Last write.
    pub modified: i64,
}

impl MRec {
    fn same_content(&self, other: &MRec) -> bool {
        let mut o = other.clone();
        o.modified = self.modified;
        *self == o
    }

    /// The feature names the public fields and state call for.
    pub fn expected_features(&self) -> BTreeSet<String> {
        let mut f = BTreeSet::new();
        if self.local {
            f.insert("local".to_string());
        }
        if self.state == InService
            && self
                .public
                .get("force_outbound")
                .is_some_and(Value::is_boolean)
        {
            f.insert("force_outbound".to_string());
        }
        f
    }
}

/// A per-number operation.
#[derive(Debug, Clone, PartialEq)]
pub enum MOp {
    /// PUT, `state: None` is the default (reserved).
    Create {
        target: usize,
        state: Option<NumberState>,
        public: Map<String, Value>,
    },
    /// PUT .../port.
    Port {
        target: usize,
        public: Map<String, Value>,
    },
    Activate {
        target: usize,
        public: Map<String, Value>,
    },
    /// `lease`: seconds.
    Reserve {
        target: usize,
        lease: Option<i64>,
        public: Map<String, Value>,
    },
    /// POST: replace public fields.
    Update {
        public: Map<String, Value>,
    },
    /// PATCH one key (`null` deletes it).
    Patch {
        key: String,
        value: Value,
    },
    Release,
    Delete,
    Fix,
    Get,
    Identify,
}

impl MOp {
    pub fn target(&self) -> Option<usize> {
        match self {
            MOp::Create { target, .. }
            | MOp::Port { target, .. }
            | MOp::Activate { target, .. }
            | MOp::Reserve { target, .. } => Some(*target),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            MOp::Create { .. } => "create",
            MOp::Port { .. } => "port",
            MOp::Activate { .. } => "activate",
            MOp::Reserve { .. } => "reserve",
            MOp::Update { .. } => "update",
            MOp::Patch { .. } => "patch",
            MOp::Release => "release",
            MOp::Delete => "delete",
            MOp::Fix => "fix",
            MOp::Get => "get",
            MOp::Identify => "identify",
        }
    }
}

/// What the model expects of one operation on one number.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Success; the number afterwards (`None`: removed).
    Ok(Option<MRec>),
    /// Identify succeeds with this owner.
    Owner(usize),
    /// Failure with one of these error names (a list, so that a rule the
    /// decisions leave open can admit several); the state never changes on
    /// failure.
    Err(&'static [&'static str]),
}

const NOT_FOUND: &[&str] = &["not_found"];
const FORBIDDEN: &[&str] = &["forbidden"];
/// A descendant of the reserver may activate the number but not read it, so
/// any other change is as if the number did not exist.
const HIDDEN_OR_FORBIDDEN: &[&str] = &["not_found"];
/// Creating over another tree's aging or port_in number: it exists, like any
/// number in another state (and nothing else is revealed).
const CREATE_DENIED: &[&str] = &["number_exists"];
const EXISTS: &[&str] = &["number_exists"];
const INVALID: &[&str] = &["invalid_state_transition"];
const NO_CHANGE: &[&str] = &["no_change_required"];
const UNASSIGNED: &[&str] = &["unassigned"];
const NOT_IN_SERVICE: &[&str] = &["not_in_service"];

/// The reference model: accounts, settings, clock, numbers, and what the
/// carrier has sold us.
#[derive(Debug, Clone)]
pub struct Model {
    pub tree: Tree,
    pub cfg: MConfig,
    pub now: i64,
    pub recs: BTreeMap<usize, MRec>,
    /// Numbers bought from the (one) external carrier and not given back.
    pub sold: BTreeSet<usize>,
    /// Numbers the external carrier offers.
    pub catalogue: BTreeSet<usize>,
    /// The record the last operation acted on (after a lapsed lease went back).
    pub last_pre: Option<MRec>,
}

impl Model {
    pub fn new(tree: Tree, cfg: MConfig, catalogue: BTreeSet<usize>) -> Self {
        Model {
            tree,
            cfg,
            now: 0,
            recs: BTreeMap::new(),
            sold: BTreeSet::new(),
            catalogue,
            last_pre: None,
        }
    }

    /// The record, with an expired search result counting as absent.
    pub fn live(&self, n: usize) -> Option<&MRec> {
        self.recs
            .get(&n)
            .filter(|r| !(r.state == Discovery && r.expires.is_some_and(|e| e <= self.now)))
    }

    fn lapsed(&self, n: usize) -> bool {
        self.recs
            .get(&n)
            .is_some_and(|r| r.state == Reserved && r.expires.is_some_and(|e| e <= self.now))
    }

    fn drop_stale_discovery(&mut self, n: usize) {
        if self.recs.contains_key(&n) && self.live(n).is_none() {
            self.recs.remove(&n);
        }
    }

    /// Whether `x` may read the number (owner, an ancestor of it, master;
    /// anyone for an available number).
    pub fn may_read(&self, x: usize, r: &MRec) -> bool {
        match r.state {
            Available => true,
            Discovery => self.tree.is_master(x),
            _ => self.owns(x, r),
        }
    }

    /// Ownership (the edit rule): master, or the owner or an ancestor of it;
    /// an unassigned number only master.
    pub fn owns(&self, x: usize, r: &MRec) -> bool {
        self.tree.is_master(x) || r.owner.is_some_and(|o| self.tree.anc(x, o))
    }

    /// `x` descends from the account that reserved `r` (it may activate it).
    pub fn below_reserver(&self, x: usize, r: &MRec) -> bool {
        r.state == Reserved && r.owner.is_some_and(|o| self.tree.anc(o, x))
    }

    /// The release rule: clear public fields, unwind the reserve history, else
    /// go to the released state (or aging, or leave the system).
    fn release_effect(&mut self, n: usize) -> Option<MRec> {
        let mut r = self.recs.get(&n)?.clone();
        r.public.clear();
        r.expires = None;
        r.modified = self.now;
        if r.history.len() >= 2 {
            r.history.remove(0);
            r.owner = Some(r.history[0]);
            r.state = Reserved;
        } else {
            let releaser = r.owner.take();
            r.history.clear();
            r.state = self.cfg.released_state;
            if self.cfg.permanently_delete || r.local {
                self.recs.remove(&n);
                // Leaving the system: given back upstream.
                self.sold.remove(&n);
                return None;
            }
            if self.cfg.should_age && r.state == Available {
                // Quarantined for the account that released it: aging numbers
                // have an owner, and only its tree may take it back meanwhile.
                r.state = Aging;
                if AGING_KEEPS_OWNER {
                    r.owner = releaser;
                }
            }
            // Staying in inventory: still held, not disconnected.
        }
        self.recs.insert(n, r.clone());
        Some(r)
    }

    /// Writes `new` unless nothing changed (then the old record stays, as is).
    fn write(&mut self, n: usize, new: MRec) -> Expect {
        if let Some(old) = self.recs.get(&n) {
            if old.same_content(&new) {
                return Expect::Ok(Some(old.clone()));
            }
        }
        let mut new = new;
        new.modified = self.now;
        self.recs.insert(n, new.clone());
        Expect::Ok(Some(new))
    }

    /// Runs `op` by `x` on `n`. A dry run answers the same but changes nothing
    /// (and settles no lapsed lease first).
    pub fn single(&mut self, x: usize, op: &MOp, n: usize, dry: bool) -> Expect {
        if dry {
            let mut scratch = self.clone();
            let out = scratch.run(x, op, n, false);
            self.last_pre = scratch.last_pre;
            return out;
        }
        self.run(x, op, n, true)
    }

    fn run(&mut self, x: usize, op: &MOp, n: usize, settle: bool) -> Expect {
        // Fix checks the number as it is, then releases a lapsed lease itself.
        let settles = settle && !matches!(op, MOp::Release | MOp::Fix);
        if settles && self.lapsed(n) {
            self.release_effect(n);
        }
        if !matches!(op, MOp::Identify) {
            self.drop_stale_discovery(n);
        }
        self.last_pre = self.recs.get(&n).cloned();
        let admin = self.tree.is_master(x);
        if let Some(t) = op.target() {
            if !(admin || self.tree.anc(x, t)) {
                return Expect::Err(FORBIDDEN);
            }
        }
        match op {
            MOp::Create {
                target,
                state,
                public,
            } => self.create(x, n, *target, state.unwrap_or(Reserved), public),
            MOp::Port { target, public } => self.create(x, n, *target, PortIn, public),
            MOp::Activate { target, public } => self.activate(x, n, *target, public),
            MOp::Reserve {
                target,
                lease,
                public,
            } => self.reserve(x, n, *target, *lease, public),
            MOp::Update { public } => self.edit(x, n, |p| *p = public.clone()),
            MOp::Patch { key, value } => self.edit(x, n, |p| {
                if value.is_null() {
                    p.remove(key);
                } else {
                    p.insert(key.clone(), value.clone());
                }
            }),
            MOp::Release => self.release(x, n),
            MOp::Delete => {
                if !admin {
                    return Expect::Err(FORBIDDEN);
                }
                if self.live(n).is_none() {
                    return Expect::Err(NOT_FOUND);
                }
                self.recs.remove(&n);
                self.sold.remove(&n);
                Expect::Ok(None)
            }
            MOp::Get | MOp::Fix => {
                let Some(r) = self.live(n).cloned() else {
                    return Expect::Err(NOT_FOUND);
                };
                if !self.may_read(x, &r) {
                    return Expect::Err(NOT_FOUND);
                }
                // Fix needs ownership (the edit rule), not just read access.
                if matches!(op, MOp::Fix) && !self.owns(x, &r) {
                    return Expect::Err(FORBIDDEN);
                }
                if matches!(op, MOp::Fix) && self.lapsed(n) {
                    return Expect::Ok(self.release_effect(n));
                }
                Expect::Ok(Some(r))
            }
            MOp::Identify => {
                let Some(r) = self.recs.get(&n).filter(|r| r.state != Discovery) else {
                    return Expect::Err(NOT_FOUND);
                };
                if !(admin || r.owner.is_some_and(|o| self.tree.anc(x, o))) {
                    return Expect::Err(NOT_FOUND);
                }
                let Some(o) = r.owner else {
                    return Expect::Err(UNASSIGNED);
                };
                if !matches!(r.state, PortIn | InService | PortOut | Reserved) {
                    return Expect::Err(NOT_IN_SERVICE);
                }
                Expect::Owner(o)
            }
        }
    }

    fn create(
        &mut self,
        x: usize,
        n: usize,
        t: usize,
        s: NumberState,
        public: &Map<String, Value>,
    ) -> Expect {
        let admin = self.tree.is_master(x);
        if s != PortIn {
            let allowed: &[NumberState] = if admin {
                &[Aging, Available, InService, PortIn, Reserved]
            } else if self.tree.additions[x] {
                &[InService, Reserved]
            } else {
                &[]
            };
            if !allowed.contains(&s) {
                return Expect::Err(FORBIDDEN);
            }
        }
        // A remembered search result is replaced by a fresh number.
        let existing = self.live(n).filter(|r| r.state != Discovery).cloned();
        let Some(r) = existing else {
            let rec = MRec {
                state: s,
                owner: (s != Available).then_some(t),
                history: if s == Reserved { vec![t] } else { vec![] },
                local: true,
                public: public.clone(),
                expires: None,
                modified: self.now,
            };
            self.recs.insert(n, rec.clone());
            return Expect::Ok(Some(rec));
        };
        if !matches!(r.state, Aging | Available | PortIn) {
            return Expect::Err(EXISTS);
        }
        // Aging and port_in numbers belong to their owner: only its tree and master.
        if r.owner.is_some_and(|o| !(admin || self.tree.anc(x, o))) {
            return Expect::Err(CREATE_DENIED);
        }
        let mut new = r.clone();
        match (s, r.state) {
            (InService, Available | Aging | PortIn)
            | (Aging, Aging | Available)
            | (PortIn, PortIn) => new.owner = Some(t),
            (Reserved, Available) => {
                push_history(&mut new.history, t);
                new.owner = Some(t);
            }
            (Available, Available) => {}
            _ => return Expect::Err(INVALID),
        }
        if new.state != s {
            new.expires = None;
        }
        new.state = s;
        new.public = public.clone();
        self.write(n, new)
    }

    /// Who may act on a number through activate / reserve: search results and
    /// available numbers are offered to all; a descendant of the reserver may
    /// take a reserved number; otherwise the owner's tree and master (an
    /// unassigned number: whoever acts for the target).
    fn may_take(&self, x: usize, r: &MRec) -> bool {
        match r.state {
            Available | Discovery => true,
            _ if self.below_reserver(x, r) => true,
            _ => r.owner.is_none() || self.owns(x, r),
        }
    }

    fn activate(&mut self, x: usize, n: usize, t: usize, public: &Map<String, Value>) -> Expect {
        let Some(r) = self.live(n).cloned() else {
            return Expect::Err(NOT_FOUND);
        };
        if !self.may_take(x, &r) {
            return Expect::Err(NOT_FOUND);
        }
        let mut new = r.clone();
        match r.state {
            InService if r.owner == Some(t) => return Expect::Ok(Some(r)),
            Discovery => {
                self.sold.insert(n);
                new.local = false;
            }
            InService | PortIn | Available | Aging | Reserved => {}
            _ => return Expect::Err(INVALID),
        }
        new.owner = Some(t);
        if new.state != InService {
            new.expires = None;
        }
        new.state = InService;
        // Fields the actor may not read (its ancestor's reservation) do not pass on.
        if !public.is_empty() || !self.may_read(x, &r) {
            new.public = public.clone();
        }
        self.write(n, new)
    }

    fn reserve(
        &mut self,
        x: usize,
        n: usize,
        t: usize,
        lease: Option<i64>,
        public: &Map<String, Value>,
    ) -> Expect {
        let Some(r) = self.live(n).cloned() else {
            return Expect::Err(NOT_FOUND);
        };
        if !self.may_take(x, &r) {
            return Expect::Err(NOT_FOUND);
        }
        if r.state == Reserved && r.owner == Some(t) {
            // Only the reserver's own tree learns that it is reserved for t.
            if self.owns(x, &r) {
                return Expect::Err(NO_CHANGE);
            }
            return Expect::Err(HIDDEN_OR_FORBIDDEN);
        }
        let mut new = r.clone();
        match r.state {
            Reserved if !self.owns(x, &r) => return Expect::Err(HIDDEN_OR_FORBIDDEN),
            Discovery => {
                self.sold.insert(n);
                new.local = false;
            }
            Reserved | Available | InService => {}
            _ => return Expect::Err(INVALID),
        }
        push_history(&mut new.history, t);
        new.owner = Some(t);
        match lease {
            Some(secs) => new.expires = Some(self.now + secs),
            // A lease belongs to one reservation: a new holder starts without it.
            None if r.state != Reserved || r.owner != Some(t) => new.expires = None,
            None => {}
        }
        new.state = Reserved;
        if !public.is_empty() {
            new.public = public.clone();
        }
        self.write(n, new)
    }

    fn edit(&mut self, x: usize, n: usize, change: impl FnOnce(&mut Map<String, Value>)) -> Expect {
        let Some(r) = self.live(n).filter(|r| r.state != Discovery).cloned() else {
            return Expect::Err(NOT_FOUND);
        };
        if self.below_reserver(x, &r) && !self.owns(x, &r) {
            return Expect::Err(HIDDEN_OR_FORBIDDEN);
        }
        if !self.may_read(x, &r) {
            return Expect::Err(NOT_FOUND);
        }
        // Only master edits an available number.
        if !self.owns(x, &r) {
            return Expect::Err(FORBIDDEN);
        }
        let mut new = r.clone();
        change(&mut new.public);
        self.write(n, new)
    }

    fn release(&mut self, x: usize, n: usize) -> Expect {
        let Some(r) = self.live(n).cloned() else {
            return Expect::Err(NOT_FOUND);
        };
        if self.below_reserver(x, &r) && !self.owns(x, &r) {
            return Expect::Err(HIDDEN_OR_FORBIDDEN);
        }
        if !self.may_read(x, &r) {
            return Expect::Err(NOT_FOUND);
        }
        let releasable = matches!(r.state, Released | Reserved | PortIn | InService)
            || (r.local && matches!(r.state, Available | Aging | PortOut));
        if !releasable {
            return Expect::Err(INVALID);
        }
        if !self.owns(x, &r) {
            return Expect::Err(FORBIDDEN);
        }
        // Releasing an unassigned number that stays as it was changes nothing.
        let before = self.recs.get(&n).cloned();
        let after = self.release_effect(n);
        match (before, after) {
            (Some(b), Some(a)) if b.same_content(&a) => {
                self.recs.insert(n, b.clone());
                Expect::Ok(Some(b))
            }
            (_, a) => Expect::Ok(a),
        }
    }

    /// A carrier search for exactly this number: a number the carrier still
    /// offers is remembered for 24 h, unless we already hold a record of it.
    pub fn search(&mut self, n: usize) -> bool {
        if !self.catalogue.contains(&n) || self.sold.contains(&n) {
            return false;
        }
        self.drop_stale_discovery(n);
        match self.recs.get(&n) {
            None
            | Some(MRec {
                state: Discovery, ..
            }) => {
                self.recs.insert(
                    n,
                    MRec {
                        state: Discovery,
                        owner: None,
                        history: vec![],
                        local: false,
                        public: Map::new(),
                        expires: Some(self.now + DISCOVERY_TTL),
                        modified: self.now,
                    },
                );
                true
            }
            // A locally provided available number answers as available, not as a search result.
            Some(r) => !(r.local && r.state == Available),
        }
    }

    /// Maintenance: expired search results go, long-aging numbers become
    /// available, lapsed leases go back.
    pub fn purge(&mut self) {
        let numbers: Vec<usize> = self.recs.keys().copied().collect();
        for n in numbers {
            self.drop_stale_discovery(n);
            if self.lapsed(n) {
                self.release_effect(n);
            }
            if let Some(r) = self.recs.get_mut(&n) {
                if r.state == Aging && r.modified < self.now - AGING_PERIOD {
                    r.state = Available;
                    r.owner = None;
                    r.modified = self.now;
                }
            }
        }
    }
}

fn push_history(history: &mut Vec<usize>, t: usize) {
    if history.first() != Some(&t) {
        history.insert(0, t);
    }
}

// ---------------------------------------------------------------------------
// The crate side: a world to run the same operations in, and the checks.
// ---------------------------------------------------------------------------

use std::sync::{Arc, OnceLock};

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, LocalCarrier, SimulatedCarrier};
use number_manager::clock::ManualClock;
use number_manager::record::NumberRecord;
use number_manager::state::StateConfig;
use number_manager::store::{MemoryStore, Store};
use number_manager::{BatchResult, Config, NumberManager, Options, Outcome, PhoneNumber};

/// A seeds-era Gregorian second, the model's time 0.
pub const T0: i64 = 63_628_550_806;
/// The simulated carrier's seed.
pub const SEED: u64 = 2600;

/// The pool of numbers: two the simulated carrier offers, one it does not.
pub fn pool() -> &'static [PhoneNumber] {
    static POOL: OnceLock<Vec<PhoneNumber>> = OnceLock::new();
    POOL.get_or_init(|| {
        let carrier = SimulatedCarrier::new(SEED);
        let (mut offered, mut other) = (Vec::new(), None);
        for i in 0..1_000_000u64 {
            let n = PhoneNumber::parse(&format!("+1415{}", 2_010_000 + i)).unwrap();
            if carrier.offers(&n) {
                if offered.len() < 2 && !offered.contains(&n) {
                    offered.push(n);
                }
            } else if other.is_none() {
                other = Some(n);
            }
            if offered.len() == 2 && other.is_some() {
                break;
            }
        }
        assert_eq!(offered.len(), 2, "two catalogue numbers");
        offered.push(other.expect("a number outside the catalogue"));
        offered
    })
}

/// Indices of the pool numbers the carrier offers.
pub fn catalogue() -> BTreeSet<usize> {
    [0, 1].into_iter().collect()
}

/// The crate, set up like the model.
pub struct World {
    pub manager: NumberManager,
    pub store: Arc<dyn Store>,
    pub carrier: Arc<SimulatedCarrier>,
    pub clock: Arc<ManualClock>,
    pub ids: Vec<AccountId>,
}

impl World {
    pub fn new(tree: &Tree, cfg: MConfig) -> Self {
        Self::with_store(tree, cfg, Arc::new(MemoryStore::new()))
    }

    pub fn with_store(tree: &Tree, cfg: MConfig, store: Arc<dyn Store>) -> Self {
        let accounts = Arc::new(MemoryAccounts::new());
        let mut ids: Vec<AccountId> = Vec::new();
        for i in 0..tree.len() {
            let parent = tree.parent[i].map(|p| ids[p].clone());
            let id = accounts
                .add(&format!("acct{i:028}"), &format!("A{i}"), parent.as_ref())
                .unwrap();
            accounts.set_allow_additions(&id, tree.additions[i]);
            ids.push(id);
        }
        accounts.set_master(&ids[0], true);
        let carrier = Arc::new(SimulatedCarrier::new(SEED));
        let clock = Arc::new(ManualClock::at_gregorian(T0));
        let carriers = CarrierRegistry::new()
            .with(Arc::new(LocalCarrier::new(store.clone())))
            .with(carrier.clone());
        let config = Config::default().with_state(
            StateConfig::default()
                .with_released_state(cfg.released_state)
                .with_should_age(cfg.should_age)
                .with_should_permanently_delete(cfg.permanently_delete),
        );
        let manager = NumberManager::builder()
            .store(store.clone())
            .accounts(accounts)
            .carriers(carriers)
            .clock(clock.clone())
            .config(config)
            .build();
        World {
            manager,
            store,
            carrier,
            clock,
            ids,
        }
    }

    pub fn opts(&self, x: usize, dry: bool) -> Options {
        let o = Options::as_account(&self.ids[x]);
        if dry {
            o.dry_run()
        } else {
            o
        }
    }

    pub fn account_index(&self, id: &AccountId) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Gregorian model time `t` as the crate's instant.
    pub fn instant(t: i64) -> chrono::DateTime<chrono::Utc> {
        number_manager::clock::from_gregorian(T0 + t).unwrap()
    }
}

/// What the crate answered for one number.
#[derive(Debug, Clone)]
pub enum Got {
    /// Success; the record it reports (`None`: removed).
    Ok(Option<Box<NumberRecord>>),
    Owner(AccountId),
    Err(String),
}

fn from_outcome(o: Outcome) -> Got {
    if o.record.state == NumberState::Deleted {
        // Report a deleted record's leftovers as if it were a record, so the
        // comparison notices an owner or history that should have gone.
        if o.record.assigned_to.is_some() || !o.record.reserve_history.is_empty() {
            return Got::Ok(Some(Box::new(o.record)));
        }
        return Got::Ok(None);
    }
    Got::Ok(Some(Box::new(o.record)))
}

fn from_result(r: number_manager::Result<Outcome>) -> Got {
    match r {
        Ok(o) => from_outcome(o),
        Err(e) => Got::Err(e.name().to_string()),
    }
}

fn from_batch(b: &mut BatchResult, key: &str) -> Got {
    if let Some(e) = b.errors.remove(key) {
        return Got::Err(e.name().to_string());
    }
    match b.success.remove(key) {
        Some(o) => from_outcome(o),
        None => Got::Err("missing from the batch result".into()),
    }
}

impl World {
    /// Runs `op` by `x` on one number through the single-number API.
    pub async fn single(&self, x: usize, op: &MOp, n: usize, dry: bool) -> Got {
        let m = &self.manager;
        let num = pool()[n].as_str();
        let o = self.opts(x, dry);
        let id = |t: &usize| self.ids[*t].clone();
        match op {
            MOp::Create {
                target,
                state,
                public,
            } => {
                let mut change = number_manager::PublicChange::fields(public.clone());
                change.state = *state;
                from_result(m.create(&id(target), num, change, &o).await)
            }
            MOp::Port { target, public } => {
                from_result(m.port_in(&id(target), num, public.clone(), &o).await)
            }
            MOp::Activate { target, public } => {
                from_result(m.activate(&id(target), num, public.clone(), &o).await)
            }
            MOp::Reserve {
                target,
                lease: Some(secs),
                ..
            } => {
                let lease = chrono::Duration::seconds(*secs);
                match m.reserve_with_lease(&id(target), &[num], lease, &o).await {
                    Ok(mut b) => from_batch(&mut b, num),
                    Err(e) => Got::Err(e.name().to_string()),
                }
            }
            MOp::Reserve { target, public, .. } => {
                from_result(m.reserve(&id(target), num, public.clone(), &o).await)
            }
            MOp::Update { public } => from_result(m.update(num, public.clone(), &o).await),
            MOp::Patch { key, value } => {
                let mut p = Map::new();
                p.insert(key.clone(), value.clone());
                from_result(m.patch(num, p, &o).await)
            }
            MOp::Release => from_result(m.release(num, &o).await),
            MOp::Delete => from_result(m.delete(num, &o).await),
            MOp::Get => match m.get(num, &o).await {
                Ok(r) => Got::Ok(Some(Box::new(r))),
                Err(e) => Got::Err(e.name().to_string()),
            },
            MOp::Fix => match m.fix_number(num, &o).await {
                // Records the model keeps are consistent: the only repair is
                // releasing a lapsed lease.
                Ok(report)
                    if report.errors.is_empty()
                        && report
                            .fixed
                            .values()
                            .all(|what| what == &["lapsed reservation released"]) =>
                {
                    match self.store.get_many(&[pool()[n]]).await {
                        Ok(mut v) => Got::Ok(v.pop().flatten().map(Box::new)),
                        Err(e) => Got::Err(e.name().to_string()),
                    }
                }
                Ok(report) => Got::Err(format!("fix changed a consistent record: {report:?}")),
                Err(e) => Got::Err(e.name().to_string()),
            },
            MOp::Identify => match m.identify(num, &o).await {
                Ok(i) => Got::Owner(i.account_id),
                Err(e) => Got::Err(e.name().to_string()),
            },
        }
    }

    /// Runs `op` by `x` on several numbers through the collection API; the
    /// answers in the order of `ns`. `None` when `op` has no collection form.
    pub async fn many(&self, x: usize, op: &MOp, ns: &[usize]) -> Option<Vec<Got>> {
        let m = &self.manager;
        let nums: Vec<&str> = ns.iter().map(|n| pool()[*n].as_str()).collect();
        let o = self.opts(x, false);
        let id = |t: &usize| self.ids[*t].clone();
        let r = match op {
            MOp::Create {
                target,
                state,
                public,
            } => {
                let mut change = number_manager::PublicChange::fields(public.clone());
                change.state = *state;
                m.create_many(&id(target), &nums, change, &o).await
            }
            MOp::Port { target, public } => {
                m.port_in_many(&id(target), &nums, public.clone(), &o).await
            }
            MOp::Activate { target, public } => {
                m.activate_many(&id(target), &nums, public.clone(), &o)
                    .await
            }
            MOp::Reserve {
                target,
                lease: Some(secs),
                ..
            } => {
                let lease = chrono::Duration::seconds(*secs);
                m.reserve_with_lease(&id(target), &nums, lease, &o).await
            }
            MOp::Reserve { target, public, .. } => {
                m.reserve_many(&id(target), &nums, public.clone(), &o).await
            }
            MOp::Update { public } => m.update_many(&nums, public.clone(), &o).await,
            MOp::Patch { key, value } => {
                let mut p = Map::new();
                p.insert(key.clone(), value.clone());
                m.patch_many(&nums, p, &o).await
            }
            MOp::Release => m.release_many(&nums, &o).await,
            MOp::Delete => m.delete_many(&nums, &o).await,
            MOp::Fix | MOp::Get | MOp::Identify => return None,
        };
        Some(match r {
            Ok(mut b) => nums.iter().map(|k| from_batch(&mut b, k)).collect(),
            Err(e) => nums
                .iter()
                .map(|_| Got::Err(e.name().to_string()))
                .collect(),
        })
    }

    /// A carrier search for exactly pool number `n`: whether it came back as
    /// a number to buy.
    pub async fn search(&self, n: usize) -> Result<bool, String> {
        let q = number_manager::manager::SearchQuery::new(pool()[n].as_str(), 5);
        let hits = self
            .manager
            .search(&q, &Options::system())
            .await
            .map_err(|e| e.to_string())?;
        Ok(hits
            .iter()
            .any(|h| h.number == pool()[n] && h.state == NumberState::Discovery))
    }

    /// The live record of pool number `n` (an expired search result counts as absent).
    pub async fn record(&self, n: usize, now: i64) -> Result<Option<NumberRecord>, String> {
        let mut v = self
            .store
            .get_many(&[pool()[n]])
            .await
            .map_err(|e| e.to_string())?;
        let at = World::instant(now);
        Ok(v.pop()
            .flatten()
            .filter(|r| !(r.state == NumberState::Discovery && r.is_expired(at))))
    }
}

/// Whether the crate's answer is the one the model expects.
pub fn same_answer(w: &World, want: &Expect, got: &Got) -> Result<(), String> {
    match (want, got) {
        (Expect::Ok(None), Got::Ok(None)) => Ok(()),
        (Expect::Ok(Some(m)), Got::Ok(Some(r))) => same_record(w, m, r, false),
        (Expect::Owner(o), Got::Owner(id)) if w.account_index(id) == Some(*o) => Ok(()),
        (Expect::Err(names), Got::Err(name)) if names.contains(&name.as_str()) => Ok(()),
        _ => Err(format!("model expects {want:?}, crate answered {got:?}")),
    }
}

/// Whether a crate record matches the model's (state, owner, history, public
/// fields, carrier, lease; `full` adds the features).
pub fn same_record(w: &World, m: &MRec, r: &NumberRecord, full: bool) -> Result<(), String> {
    let owner = r.assigned_to.as_ref().and_then(|id| w.account_index(id));
    let history: Vec<Option<usize>> = r
        .reserve_history
        .iter()
        .map(|id| w.account_index(id))
        .collect();
    let want_history: Vec<Option<usize>> = m.history.iter().map(|a| Some(*a)).collect();
    let mut diffs = Vec::new();
    if r.state != m.state {
        diffs.push(format!("state {} (model {})", r.state, m.state));
    }
    if owner != m.owner || r.assigned_to.is_some() != m.owner.is_some() {
        diffs.push(format!("owner {owner:?} (model {:?})", m.owner));
    }
    if m.state != Discovery {
        if history != want_history {
            diffs.push(format!("history {history:?} (model {:?})", m.history));
        }
        if r.public != m.public {
            diffs.push(format!(
                "public {} (model {})",
                Value::Object(r.public.clone()),
                Value::Object(m.public.clone())
            ));
        }
        if (r.carrier == "local") != m.local {
            diffs.push(format!("carrier {} (model local: {})", r.carrier, m.local));
        }
        if m.state == Reserved && r.expires_at != m.expires.map(World::instant) {
            diffs.push(format!("lease {:?} (model {:?})", r.expires_at, m.expires));
        }
    }
    if full && m.state != Discovery {
        let features: BTreeSet<String> = r.features.keys().cloned().collect();
        if features != m.expected_features() {
            diffs.push(format!(
                "features {features:?} (model {:?})",
                m.expected_features()
            ));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", r.number, diffs.join("; ")))
    }
}

/// The invariants that must hold after every step, whatever the model says.
pub async fn check_invariants(w: &World, model: &Model) -> Result<(), String> {
    let mut held = BTreeSet::new();
    for n in 0..pool().len() {
        let rec = w.record(n, model.now).await?;
        let want = model.live(n);
        match (&rec, want) {
            (None, None) => {}
            (Some(r), Some(m)) => same_record(w, m, r, true)?,
            (r, m) => {
                return Err(format!(
                    "{}: store has {:?}, model has {:?}",
                    pool()[n],
                    r.as_ref().map(|r| (r.state, &r.assigned_to)),
                    m.map(|m| (m.state, m.owner))
                ))
            }
        }
        let Some(r) = rec else { continue };
        if r.pending.is_some() {
            return Err(format!("{}: a claim was left behind", r.number));
        }
        if matches!(r.state, Reserved | InService | PortIn | Aging)
            && r.assigned_to.is_none()
            && (AGING_KEEPS_OWNER || r.state != Aging)
        {
            return Err(format!("{}: {} without an owner", r.number, r.state));
        }
        if r.state == Reserved && r.reserve_history.first() != r.assigned_to.as_ref() {
            return Err(format!(
                "{}: reserve history {:?} does not start with the owner {:?}",
                r.number, r.reserve_history, r.assigned_to
            ));
        }
        if r.state != Discovery && r.carrier == w.carrier.name_str() {
            held.insert(r.number);
        }
        audit_replays(w, &r).await?;
    }
    let sold: BTreeSet<PhoneNumber> = w.carrier.sold().into_iter().collect();
    if sold != held {
        return Err(format!(
            "the carrier sold us {sold:?} but the store holds {held:?}"
        ));
    }
    let model_sold: BTreeSet<PhoneNumber> = model.sold.iter().map(|n| pool()[*n]).collect();
    if sold != model_sold {
        return Err(format!(
            "the carrier sold us {sold:?}, the model {model_sold:?}"
        ));
    }
    for n in 0..pool().len() {
        if w.record(n, model.now).await?.is_none() {
            audit_ends_removed(w, n)?;
        }
    }
    Ok(())
}

trait CarrierName {
    fn name_str(&self) -> &str;
}

impl CarrierName for SimulatedCarrier {
    fn name_str(&self) -> &str {
        use number_manager::carrier::Carrier;
        self.name()
    }
}

fn replay(w: &World, n: PhoneNumber) -> Result<(Option<NumberState>, Option<u64>), String> {
    let log = w.manager.audit_log().ok_or("no audit log")?;
    let mut cur: Option<NumberState> = None;
    let mut rev = None;
    // Commit order is revision order (a removal sits just after the revision
    // it removed); concurrent commits may reach the sink in another order.
    let mut events = log.history(&n);
    events.sort_by_key(|e| {
        if e.to == Deleted {
            (e.before.0, 1)
        } else {
            (e.after.0, 0)
        }
    });
    for ev in events {
        if matches!(
            ev.operation.as_str(),
            "undo_purchase_failed" | "interrupted_purchase_given_back"
        ) {
            continue;
        }
        let from = ev.from.filter(|s| *s != Discovery);
        if from != cur {
            return Err(format!(
                "{n}: audit log: {} from {:?} follows a change to {:?}",
                ev.operation, ev.from, cur
            ));
        }
        cur = Some(ev.to).filter(|s| !matches!(s, Deleted | Discovery));
        rev = Some(ev.after.0);
    }
    Ok((cur, rev))
}

async fn audit_replays(w: &World, r: &NumberRecord) -> Result<(), String> {
    let (state, rev) = replay(w, r.number)?;
    let want = Some(r.state).filter(|s| *s != Discovery);
    if state != want {
        return Err(format!(
            "{}: the audit log replays to {state:?}, the store has {}",
            r.number, r.state
        ));
    }
    if want.is_some() && rev != Some(r.revision.0) {
        return Err(format!(
            "{}: the audit log ends at revision {rev:?}, the store has {}",
            r.number, r.revision.0
        ));
    }
    Ok(())
}

fn audit_ends_removed(w: &World, n: usize) -> Result<(), String> {
    let (state, _) = replay(w, pool()[n])?;
    if state.is_some() {
        return Err(format!(
            "{}: the audit log replays to {state:?}, the store has no record",
            pool()[n]
        ));
    }
    Ok(())
}

/// Nobody outside the owner's tree and master may succeed at reading or
/// changing an owned number, except a descendant of the reserver activating.
pub fn allowed_to_touch(model: &Model, x: usize, op: &MOp, pre: Option<&MRec>) -> bool {
    let Some(r) = pre else { return true };
    if matches!(r.state, Available | Discovery) || r.owner.is_none() {
        return true;
    }
    if model.owns(x, r) {
        return true;
    }
    matches!(op, MOp::Activate { .. }) && model.below_reserver(x, r)
}
