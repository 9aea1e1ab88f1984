//! Races: many tasks on a multi-threaded runtime hammer a few numbers with
//! every operation at once. Afterwards the committed changes, taken per number
//! in commit (revision) order, must replay through the reference model in
//! `model_support` as a serial history, each giving the answer the crate gave,
//! and ending in the store's state; no update may be lost, no number may have
//! two owners, and the carrier must have sold us exactly what the store holds.

mod model_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use model_support::{
    catalogue, check_invariants, pool, same_answer, Expect, Got, MConfig, MOp, Model, Tree, World,
};
use number_manager::manager::ListOptions;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{
    BatchMode, IdempotencyEntry, Journal, ListQuery, MemoryStore, Page, Store, Write, WriteResult,
};
use number_manager::{Options, PhoneNumber, Result};
use serde_json::{json, Map, Value};

/// master 0 -> reseller 1 -> customer 2 (may add numbers) -> sub 3; master -> other 4
/// (may add numbers); 5 is a root of its own.
fn tree() -> Tree {
    Tree {
        parent: vec![None, Some(0), Some(1), Some(2), Some(0), None],
        additions: vec![false, false, true, false, true, true],
    }
}

fn config() -> MConfig {
    MConfig {
        released_state: NumberState::Available,
        should_age: false,
        permanently_delete: false,
    }
}

/// A small deterministic generator (splitmix64), one per task.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One successful operation, as the task saw it.
#[derive(Debug, Clone)]
struct Done {
    actor: usize,
    op: MOp,
    num: usize,
    got: Got,
}

fn random_public(rng: &mut Rng) -> Map<String, Value> {
    let mut m = Map::new();
    if rng.below(2) == 0 {
        m.insert("k0".into(), json!(rng.below(3)));
    }
    if rng.below(3) == 0 {
        m.insert("force_outbound".into(), json!(rng.below(2) == 0));
    }
    m
}

fn random_op(rng: &mut Rng, task: usize, k: usize) -> MOp {
    use NumberState::*;
    let target = rng.below(k);
    match rng.below(11) {
        0 | 1 => {
            let state = [
                None,
                Some(InService),
                Some(Reserved),
                Some(Available),
                Some(Aging),
            ][rng.below(5)];
            MOp::Create {
                target,
                state,
                public: random_public(rng),
            }
        }
        2 => MOp::Port {
            target,
            public: random_public(rng),
        },
        3 | 4 => MOp::Activate {
            target,
            public: if rng.below(2) == 0 {
                Map::new()
            } else {
                random_public(rng)
            },
        },
        5 => MOp::Reserve {
            target,
            lease: None,
            public: Map::new(),
        },
        6 => MOp::Update {
            public: random_public(rng),
        },
        // Each task patches its own key: no patch may be lost.
        7 | 8 => MOp::Patch {
            key: format!("t{task}"),
            value: json!(rng.below(100)),
        },
        9 => MOp::Release,
        _ => MOp::Delete,
    }
}

fn succeeded(g: &Got) -> bool {
    matches!(g, Got::Ok(_) | Got::Owner(_))
}

/// How many answers were lost races (409 `conflict`): the test means something
/// only if writers really collide.
static CONFLICTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn note(g: &Got) {
    if matches!(g, Got::Err(e) if e == "conflict") {
        CONFLICTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn hammer(w: Arc<World>, task: usize, ops: usize, log: Arc<Mutex<Vec<Done>>>) {
    let mut rng = Rng(0x5EED ^ (task as u64) << 32);
    let k = tree().len();
    let n = pool().len();
    for _ in 0..ops {
        // Actors lean towards master and the customer's tree, where most
        // operations can succeed.
        let actor = [0, 0, 1, 2, 2, 3, 4, 5][rng.below(8)];
        if rng.below(12) == 0 {
            let _ = w.search(rng.below(2)).await;
            continue;
        }
        let op = random_op(&mut rng, task, k);
        if rng.below(5) == 0 {
            let nums: Vec<usize> = (0..n).filter(|_| rng.below(2) == 0).collect();
            if nums.is_empty() {
                continue;
            }
            if let Some(gots) = w.many(actor, &op, &nums).await {
                let mut log = log.lock().unwrap();
                for (num, got) in nums.into_iter().zip(gots) {
                    note(&got);
                    if succeeded(&got) {
                        log.push(Done {
                            actor,
                            op: op.clone(),
                            num,
                            got,
                        });
                    }
                }
            }
            continue;
        }
        let num = rng.below(n);
        let got = w.single(actor, &op, num, false).await;
        note(&got);
        if succeeded(&got) {
            log.lock().unwrap().push(Done {
                actor,
                op,
                num,
                got,
            });
        }
    }
}

/// Where a committed change sits in its number's history: a write at the
/// revision it produced, a removal just after the revision it removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum At {
    Write(u64),
    Remove(u64),
}

impl At {
    fn key(self) -> (u64, u8) {
        match self {
            At::Write(r) => (r, 0),
            At::Remove(r) => (r, 1),
        }
    }
}

fn position(d: &Done) -> Option<At> {
    match &d.got {
        Got::Ok(Some(r)) => Some(At::Write(r.revision.0)),
        // A removal reports the record it removed, at the revision it read;
        // `single` / `many` report it as `Ok(None)`, so look at the event.
        _ => None,
    }
}

/// Replays the committed changes per number in revision order through the
/// model; returns the model and how many changes were replayed.
fn replay(w: &World, done: &[Done]) -> Result<(Model, usize), String> {
    let log = w.manager.audit_log().ok_or("no audit log")?;
    let mut model = Model::new(tree(), config(), catalogue());
    let mut replayed = 0;
    for num in 0..pool().len() {
        let n = pool()[num];
        let mine: Vec<&Done> = done.iter().filter(|d| d.num == num).collect();
        // A no-op answers with the record as it was, so several answers may
        // share a revision: the event says which one committed.
        let mut writes: BTreeMap<u64, Vec<&Done>> = BTreeMap::new();
        let mut removals: Vec<&Done> = Vec::new();
        for d in &mine {
            match position(d) {
                Some(At::Write(r)) => writes.entry(r).or_default().push(d),
                _ => removals.push(d),
            }
        }
        let mut events: Vec<(At, number_manager::events::Event)> = log
            .history(&n)
            .into_iter()
            .filter(|e| e.operation != "undo_purchase_failed")
            .map(|e| {
                let at = if e.to == NumberState::Deleted {
                    At::Remove(e.before.0)
                } else {
                    At::Write(e.after.0)
                };
                (at, e)
            })
            .collect();
        events.sort_by_key(|(at, _)| at.key());
        let mut committed: BTreeMap<u64, &Done> = BTreeMap::new();
        for (at, ev) in events {
            let matches = |d: &&Done| {
                Some(d.actor) == w.account_index_of(&ev.actor)
                    && (d.op.name() == ev.operation || op_alias(&d.op) == ev.operation)
            };
            if ev.from == Some(NumberState::Discovery) {
                // The search that offered it left no event: replay it here.
                model.search(num);
            }
            let d = match at {
                // Several answers may fit (a no-op answers with the record it
                // read): the committed one is the one the model agrees with.
                At::Write(r) => writes.get_mut(&r).and_then(|ds| {
                    let fits = |d: &&Done| {
                        let want = model.clone().single(d.actor, &d.op, num, false);
                        matches(d) && same_answer(w, &want, &d.got).is_ok()
                    };
                    let i = ds.iter().position(fits).or(ds.iter().position(matches))?;
                    let d = ds.remove(i);
                    committed.insert(r, d);
                    Some(d)
                }),
                At::Remove(_) => {
                    let i = removals.iter().position(matches);
                    i.map(|i| removals.remove(i))
                }
            };
            let Some(d) = d else {
                return Err(format!(
                    "{n}: committed {ev:?} matches no successful operation"
                ));
            };
            let want = model.single(d.actor, &d.op, num, false);
            if !matches!(want, Expect::Ok(_)) {
                return Err(format!(
                    "{n}: in commit order, {} by {} should fail ({want:?}) but committed: {ev:?}",
                    d.op.name(),
                    d.actor
                ));
            }
            same_answer(w, &want, &d.got)
                .map_err(|e| format!("{n}: {} by {} in commit order: {e}", d.op.name(), d.actor))?;
            replayed += 1;
        }
        if let Some(d) = removals.first() {
            return Err(format!("{n}: {d:?} succeeded but removed nothing"));
        }
        // What is left succeeded without a change: it must have answered
        // with the number as a committed change left it.
        for (r, ds) in writes {
            for d in ds {
                let (
                    Got::Ok(Some(got)),
                    Some(Done {
                        got: Got::Ok(Some(was)),
                        ..
                    }),
                ) = (&d.got, committed.get(&r))
                else {
                    return Err(format!(
                        "{n}: {d:?} succeeded, but nothing committed revision {r}"
                    ));
                };
                if (got.state, &got.assigned_to, &got.public)
                    != (was.state, &was.assigned_to, &was.public)
                {
                    return Err(format!(
                        "{n}: {d:?} changed nothing yet differs from revision {r}: {was:?}"
                    ));
                }
            }
        }
    }
    Ok((model, replayed))
}

fn op_alias(op: &MOp) -> &'static str {
    match op {
        MOp::Patch { .. } => "update",
        other => other.name(),
    }
}

trait ActorIndex {
    fn account_index_of(&self, actor: &number_manager::account::Actor) -> Option<usize>;
}

impl ActorIndex for World {
    fn account_index_of(&self, actor: &number_manager::account::Actor) -> Option<usize> {
        actor.account().and_then(|a| self.account_index(a))
    }
}

/// Every number we hold shows in exactly one account's listing: its owner's.
async fn one_owner_each(w: &World) -> Result<(), String> {
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, id) in w.ids.iter().enumerate() {
        let page = w
            .manager
            .list_numbers(id, &ListOptions::default(), &Options::as_account(&w.ids[0]))
            .await
            .map_err(|e| e.to_string())?;
        for r in page.numbers {
            seen.entry(r.number.to_string()).or_default().push(i);
        }
    }
    for (n, owners) in seen {
        if owners.len() > 1 {
            return Err(format!("{n} is listed for accounts {owners:?}"));
        }
    }
    Ok(())
}

/// A memory store that lets other tasks run before every read and write, so
/// that read-modify-write windows really overlap.
/// It counts the compare-and-swap writes that found the record changed under them.
#[derive(Debug, Default)]
struct YieldingStore(MemoryStore, std::sync::atomic::AtomicUsize);

impl YieldingStore {
    fn count_lost(&self, results: &Result<Vec<WriteResult>>) {
        if let Ok(rs) = results {
            let lost = rs
                .iter()
                .filter(|r| matches!(r, Err(number_manager::Error::Conflict { .. })))
                .count();
            self.1.fetch_add(lost, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[async_trait::async_trait]
impl Store for YieldingStore {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        tokio::task::yield_now().await;
        self.0.get_many(numbers).await
    }
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        tokio::task::yield_now().await;
        let results = self.0.write_batch(writes, mode).await;
        self.count_lost(&results);
        results
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        tokio::task::yield_now().await;
        let results = self.0.write_batch_journaled(writes, mode, journal).await;
        self.count_lost(&results);
        results
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        self.0.list(query).await
    }
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        self.0.get_idempotency(key).await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        self.0.begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        self.0.renew_idempotency(key, owner, lease_until).await
    }
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        self.0.finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        self.0.abandon_idempotency(key, owner).await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        self.0.purge_idempotency(now).await
    }
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        self.0.purge_tombstones(deleted_before).await
    }
    async fn count(&self, query: &ListQuery) -> Result<usize> {
        self.0.count(query).await
    }
}

fn world() -> (World, Arc<YieldingStore>) {
    let store = Arc::new(YieldingStore::default());
    (World::with_store(&tree(), config(), store.clone()), store)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn concurrent_operations_are_serializable() {
    let rt = runtime();
    let (tasks, ops, rounds) = (8, 40, 20);
    let (mut total, mut committed, mut cas) = (0, 0, 0);
    for round in 0..rounds {
        let (w, store) = world();
        let w = Arc::new(w);
        let log = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            // Something to fight over: the carrier's numbers on offer, and one
            // of ours available.
            for n in 0..2 {
                assert_eq!(w.search(n).await, Ok(true));
            }
            let handles: Vec<_> = (0..tasks)
                .map(|t| tokio::spawn(hammer(w.clone(), round * tasks + t, ops, log.clone())))
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        let done = log.lock().unwrap().clone();
        total += tasks * ops;
        cas += store.1.load(std::sync::atomic::Ordering::Relaxed);
        let (model, replayed) = replay(&w, &done).unwrap_or_else(|e| panic!("round {round}: {e}"));
        committed += replayed;
        let mut model = model;
        rt.block_on(async {
            // Searches leave no event: where one left a search result behind,
            // it came after every change of that number.
            for n in catalogue() {
                let rec = w.record(n, 0).await.unwrap();
                if model.live(n).is_none() && rec.is_some_and(|r| r.state == NumberState::Discovery)
                {
                    model.search(n);
                }
            }
            check_invariants(&w, &model)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            one_owner_each(&w)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        });
    }
    let conflicts = CONFLICTS.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "races: {total} operations, {committed} committed changes replayed, \
         {cas} writes lost a compare-and-swap, {conflicts} operations gave up (409)"
    );
    assert!(cas > 0, "the writers never collided");
    assert!(
        committed > total / 20,
        "too few changes committed to mean anything"
    );
}

/// Concurrent patches of distinct keys on one number all land.
#[test]
fn concurrent_patches_lose_nothing() {
    let rt = runtime();
    let w = Arc::new(world().0);
    let tasks = 16;
    rt.block_on(async {
        let created = w
            .single(
                2,
                &MOp::Create {
                    target: 2,
                    state: Some(NumberState::InService),
                    public: Map::new(),
                },
                2,
                false,
            )
            .await;
        assert!(succeeded(&created), "{created:?}");
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let w = w.clone();
                tokio::spawn(async move {
                    let actor = [0, 1, 2][t % 3];
                    let op = MOp::Patch {
                        key: format!("t{t}"),
                        value: json!(t),
                    };
                    let got = w.single(actor, &op, 2, false).await;
                    match got {
                        // Bounded retries: a patch may lose every round, and say so.
                        Got::Err(e) if e == "conflict" => None,
                        got => {
                            assert!(succeeded(&got), "task {t}: {got:?}");
                            Some(format!("t{t}"))
                        }
                    }
                })
            })
            .collect();
        let mut want = BTreeSet::new();
        for h in handles {
            want.extend(h.await.unwrap());
        }
        // Some writer wins every round of compare-and-swap.
        assert!(!want.is_empty(), "no patch got through");
        let rec = w.record(2, 0).await.unwrap().unwrap();
        let keys: BTreeSet<String> = rec.public.keys().cloned().collect();
        assert_eq!(keys, want, "every successful patch is kept, no other");
        let events = w.manager.audit_log().unwrap().history(&pool()[2]);
        assert_eq!(
            events.len(),
            want.len() + 1,
            "one committed change per patch"
        );
    });
}
