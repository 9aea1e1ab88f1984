//! Model-based property test: random sequences of every number operation, by
//! random actors in a random account tree, checked step by step against the
//! independent reference model in `model_support` (the transition table, who
//! may read or change a number, release unwinding, what we hold upstream).
//!
//! After every step: the crate's answer (success, or the error name) and the
//! record it reports match the model; every number in the store matches the
//! model (state, owner, reserve history, public fields, carrier, lease,
//! features); reserved / in_service / port_in / aging numbers have an owner; a
//! reserved number's history starts with its owner; no claim is left behind;
//! the carrier has sold us exactly the numbers the store holds from it; the
//! audit log replays to the store's state; and nobody outside the owner's tree
//! and master succeeded at reading or changing an owned number.
//!
//! `PROPTEST_CASES` raises the number of cases (default 10,000); a failure
//! shrinks to a minimal sequence and is printed step by step.

mod model_support;

use std::collections::BTreeSet;

use model_support::{
    allowed_to_touch, catalogue, check_invariants, same_answer, Expect, MConfig, MOp, Model, Tree,
    World, AGING_PERIOD, HOUR,
};
use number_manager::state::NumberState;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError};
use serde_json::{json, Map, Value};

/// One step of a case.
#[derive(Debug, Clone)]
enum Step {
    /// A single-number operation (optionally a dry run).
    One {
        actor: usize,
        op: MOp,
        num: usize,
        dry: bool,
    },
    /// The collection form over distinct numbers.
    Many {
        actor: usize,
        op: MOp,
        nums: Vec<usize>,
    },
    /// A carrier search for one catalogue number.
    Search { num: usize },
    /// Time passes.
    Advance { secs: i64 },
    /// Maintenance.
    Purge,
}

#[derive(Debug, Clone)]
struct Case {
    tree: Tree,
    cfg: MConfig,
    steps: Vec<Step>,
}

/// The account tree from raw choices: account `i` hangs under `p % (i + 1)`,
/// where `i` itself means "a root of its own" (an unrelated tree).
fn tree() -> impl Strategy<Value = Tree> {
    proptest::collection::vec((any::<u8>(), any::<bool>()), 1..6).prop_map(|raw| {
        let mut parent = vec![None];
        let mut additions = vec![false];
        for (i, (p, add)) in raw.into_iter().enumerate() {
            let p = usize::from(p) % (i + 2);
            parent.push((p <= i).then_some(p));
            additions.push(add);
        }
        Tree { parent, additions }
    })
}

fn config() -> impl Strategy<Value = MConfig> {
    prop_oneof![
        3 => Just((NumberState::Available, false, false)),
        1 => Just((NumberState::Available, true, false)),
        1 => Just((NumberState::Released, false, false)),
        1 => Just((NumberState::Available, false, true)),
    ]
    .prop_map(|(released_state, should_age, permanently_delete)| MConfig {
        released_state,
        should_age,
        permanently_delete,
    })
}

/// Public fields from raw bits: `k0` (0..3), `force_outbound` (a bool, which
/// turns into a feature in service), rarely `k1`. Zero is "no fields".
fn public(bits: u32) -> Map<String, Value> {
    let mut m = Map::new();
    if bits & 3 != 0 {
        m.insert("k0".into(), json!(bits & 3));
    }
    match (bits >> 2) & 3 {
        1 => drop(m.insert("force_outbound".into(), json!(false))),
        2 => drop(m.insert("force_outbound".into(), json!(true))),
        _ => {}
    }
    if (bits >> 4) & 7 == 7 {
        m.insert("k1".into(), json!(1));
    }
    m
}

/// A weighted choice: the index of the bucket `raw` falls in.
fn pick(raw: u32, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = raw % total;
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

fn create_state(raw: u32) -> Option<NumberState> {
    use NumberState::*;
    const STATES: [Option<NumberState>; 9] = [
        None,
        Some(InService),
        Some(Reserved),
        Some(Available),
        Some(Aging),
        Some(PortIn),
        Some(Released),
        Some(PortOut),
        Some(Discovery),
    ];
    STATES[pick(raw, &[3, 3, 2, 2, 2, 1, 1, 1, 1])]
}

/// An operation from raw choices (simplest first, so shrinking heads there);
/// `k` accounts.
fn op(c: u32, d: u32, k: usize, actor: usize) -> MOp {
    // Often for the actor itself, where most operations can succeed.
    let target = match (c / 32) % 3 {
        0 => actor,
        _ => (c / 96) as usize % k,
    };
    let body = public(d);
    let sometimes_body = if (d >> 7) & 1 == 0 {
        Map::new()
    } else {
        body.clone()
    };
    match pick(c, &[2, 1, 1, 3, 1, 2, 2, 4, 2, 2, 2, 4]) {
        0 => MOp::Get,
        1 => MOp::Identify,
        2 => MOp::Fix,
        3 => MOp::Release,
        4 => MOp::Delete,
        5 => MOp::Update { public: body },
        6 => MOp::Patch {
            key: ["k0", "k1", "force_outbound"][(d % 3) as usize].into(),
            value: [Value::Null, json!(1), json!(true)][((d / 3) % 3) as usize].clone(),
        },
        7 => MOp::Activate {
            target,
            public: sometimes_body,
        },
        8 => MOp::Reserve {
            target,
            lease: None,
            public: sometimes_body,
        },
        9 => MOp::Reserve {
            target,
            lease: Some(if d & 1 == 0 { HOUR } else { 2 * HOUR }),
            public: Map::new(),
        },
        10 => MOp::Port {
            target,
            public: body,
        },
        _ => MOp::Create {
            target,
            state: create_state(d >> 8),
            public: body,
        },
    }
}

/// A step from four raw numbers (cheap to generate, and shrinking them
/// towards zero simplifies the step).
fn step((a, b, c, d): (u32, u32, u32, u32), k: usize) -> Step {
    let n = model_support::pool().len();
    // Master a quarter of the time.
    let actor = match b % 64 {
        0..=15 => 0,
        v => v as usize % k,
    };
    match pick(a, &[14, 3, 3, 2, 1]) {
        0 => {
            let op = op(c, d, k, actor);
            // Reads have no dry run.
            let dry = (b / 64) % 10 == 9 && !matches!(op, MOp::Get | MOp::Fix | MOp::Identify);
            Step::One {
                actor,
                op,
                num: ((b / 1024) % n as u32) as usize,
                dry,
            }
        }
        1 => {
            let mask = (b / 64) % ((1 << n) - 1) + 1;
            let nums = (0..n).filter(|i| mask & (1 << i) != 0).collect();
            let op = match op(c, d, k, actor) {
                // No collection form: release them instead.
                MOp::Get | MOp::Fix | MOp::Identify => MOp::Release,
                op => op,
            };
            Step::Many { actor, op, nums }
        }
        2 => Step::Search {
            num: (b % 2) as usize,
        },
        3 => Step::Advance {
            secs: [HOUR, 3 * HOUR, 25 * HOUR, AGING_PERIOD + 24 * HOUR][(b % 4) as usize],
        },
        _ => Step::Purge,
    }
}

fn case() -> impl Strategy<Value = Case> {
    let raw = (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>());
    (tree(), config(), proptest::collection::vec(raw, 1..20)).prop_map(|(tree, cfg, raws)| {
        let k = tree.len();
        let steps = raws.into_iter().map(|r| step(r, k)).collect();
        Case { tree, cfg, steps }
    })
}

thread_local! {
    /// Per operation: how many answers succeeded and failed (the coverage report).
    static TALLY: std::cell::RefCell<std::collections::BTreeMap<&'static str, (usize, usize)>> =
        Default::default();
}

fn tally(op: &'static str, ok: bool) {
    TALLY.with(|t| {
        let mut t = t.borrow_mut();
        let e = t.entry(op).or_default();
        if ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    });
}

/// Checks one answer against the model and the authorization invariant.
fn check_one(
    w: &World,
    model: &Model,
    actor: usize,
    op: &MOp,
    want: &Expect,
    got: &model_support::Got,
) -> Result<(), String> {
    same_answer(w, want, got)?;
    let ok = matches!(
        got,
        model_support::Got::Ok(_) | model_support::Got::Owner(_)
    );
    tally(op.name(), ok);
    if ok && !allowed_to_touch(model, actor, op, model.last_pre.as_ref()) {
        return Err(format!(
            "account {actor} succeeded at {} on a number of another tree: {:?}",
            op.name(),
            model.last_pre
        ));
    }
    Ok(())
}

async fn run_step(w: &World, model: &mut Model, step: &Step) -> Result<(), String> {
    match step {
        Step::One {
            actor,
            op,
            num,
            dry,
        } => {
            let got = w.single(*actor, op, *num, *dry).await;
            let want = model.single(*actor, op, *num, *dry);
            check_one(w, model, *actor, op, &want, &got)
        }
        Step::Many { actor, op, nums } => {
            let Some(gots) = w.many(*actor, op, nums).await else {
                return Ok(());
            };
            for (num, got) in nums.iter().zip(gots) {
                let want = model.single(*actor, op, *num, false);
                check_one(w, model, *actor, op, &want, &got)
                    .map_err(|e| format!("{}: {e}", model_support::pool()[*num]))?;
            }
            Ok(())
        }
        Step::Search { num } => {
            let got = w.search(*num).await?;
            let want = model.search(*num);
            if got != want {
                return Err(format!("search offered it: {got}, model: {want}"));
            }
            Ok(())
        }
        Step::Advance { secs } => {
            w.clock.advance(chrono::Duration::seconds(*secs));
            model.now += secs;
            Ok(())
        }
        Step::Purge => {
            w.manager.purge_expired().await.map_err(|e| e.to_string())?;
            model.purge();
            Ok(())
        }
    }
}

async fn run_case(case: &Case) -> Result<usize, String> {
    let w = World::new(&case.tree, case.cfg);
    let mut model = Model::new(case.tree.clone(), case.cfg, catalogue());
    for (i, step) in case.steps.iter().enumerate() {
        run_step(&w, &mut model, step)
            .await
            .map_err(|e| format!("step {i} {step:?}: {e}"))?;
        check_invariants(&w, &model)
            .await
            .map_err(|e| format!("after step {i} {step:?}: {e}"))?;
    }
    Ok(case.steps.len())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

#[test]
fn the_crate_follows_the_model() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let steps = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(PtConfig {
        cases: cases(),
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..PtConfig::default()
    });
    let result = runner.run(&case(), |case| {
        let n = rt.block_on(run_case(&case)).map_err(TestCaseError::fail)?;
        steps.set(steps.get() + n);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("model: {} cases, {} steps", cases(), steps.get());
    TALLY.with(|t| {
        for (op, (ok, err)) in t.borrow().iter() {
            eprintln!("model: {op:9} {ok:7} succeeded {err:7} failed");
        }
    });
}

/// The pool is what the model assumes: two numbers the carrier offers (a
/// search for each finds it), one it does not.
#[test]
fn the_pool_matches_the_catalogue() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tree = Tree {
        parent: vec![None],
        additions: vec![false],
    };
    let cfg = MConfig {
        released_state: NumberState::Available,
        should_age: false,
        permanently_delete: false,
    };
    let w = World::new(&tree, cfg);
    let pool = model_support::pool();
    let offered: BTreeSet<usize> = (0..pool.len())
        .filter(|n| w.carrier.offers(&pool[*n]))
        .collect();
    assert_eq!(offered, catalogue());
    for n in catalogue() {
        assert_eq!(rt.block_on(w.search(n)), Ok(true), "{}", pool[n]);
    }
}
