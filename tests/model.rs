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

fn public() -> impl Strategy<Value = Map<String, Value>> {
    (
        proptest::option::of(0..3i64),
        proptest::option::of(any::<bool>()),
        proptest::option::weighted(0.2, 0..2i64),
    )
        .prop_map(|(a, fo, b)| {
            let mut m = Map::new();
            if let Some(a) = a {
                m.insert("k0".into(), json!(a));
            }
            if let Some(fo) = fo {
                m.insert("force_outbound".into(), json!(fo));
            }
            if let Some(b) = b {
                m.insert("k1".into(), json!(b));
            }
            m
        })
}

fn create_state() -> impl Strategy<Value = Option<NumberState>> {
    use NumberState::*;
    prop_oneof![
        3 => Just(None),
        3 => Just(Some(InService)),
        2 => Just(Some(Reserved)),
        2 => Just(Some(Available)),
        2 => Just(Some(Aging)),
        1 => Just(Some(PortIn)),
        1 => prop_oneof![Just(Some(Released)), Just(Some(PortOut)), Just(Some(Discovery))],
    ]
}

fn op() -> impl Strategy<Value = MOp> {
    let acct = 0..ACCOUNTS;
    prop_oneof![
        4 => (acct.clone(), create_state(), public())
            .prop_map(|(target, state, public)| MOp::Create { target, state, public }),
        2 => (acct.clone(), public()).prop_map(|(target, public)| MOp::Port { target, public }),
        4 => (acct.clone(), prop_oneof![2 => Just(Map::new()), 1 => public()])
            .prop_map(|(target, public)| MOp::Activate { target, public }),
        2 => (acct.clone(), prop_oneof![Just(Map::new()), public()])
            .prop_map(|(target, public)| MOp::Reserve { target, lease: None, public }),
        2 => (acct, prop_oneof![Just(HOUR), Just(2 * HOUR)]).prop_map(|(target, secs)| {
            MOp::Reserve { target, lease: Some(secs), public: Map::new() }
        }),
        2 => public().prop_map(|public| MOp::Update { public }),
        2 => (
            prop_oneof![Just("k0"), Just("k1"), Just("force_outbound")],
            prop_oneof![Just(Value::Null), Just(json!(1)), Just(json!(true))],
        )
            .prop_map(|(key, value)| MOp::Patch { key: key.into(), value }),
        3 => Just(MOp::Release),
        1 => Just(MOp::Delete),
        1 => Just(MOp::Fix),
        2 => Just(MOp::Get),
        1 => Just(MOp::Identify),
    ]
}

/// Raw account indices are taken modulo the tree's size.
const ACCOUNTS: usize = 64;

fn step() -> impl Strategy<Value = Step> {
    let k = ACCOUNTS;
    let n = model_support::pool().len();
    prop_oneof![
        14 => (0..k, op(), 0..n, proptest::bool::weighted(0.1))
            .prop_map(|(actor, op, num, dry)| {
                let dry = dry && !matches!(op, MOp::Get | MOp::Fix | MOp::Identify);
                Step::One { actor, op, num, dry }
            }),
        3 => (0..k, op(), 1u8..(1 << n)).prop_filter_map("a collection form", move |(actor, op, mask)| {
            let nums: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
            (!matches!(op, MOp::Get | MOp::Fix | MOp::Identify))
                .then_some(Step::Many { actor, op, nums })
        }),
        3 => (0usize..2).prop_map(|num| Step::Search { num }),
        2 => prop_oneof![Just(HOUR), Just(3 * HOUR), Just(25 * HOUR), Just(AGING_PERIOD + 24 * HOUR)]
            .prop_map(|secs| Step::Advance { secs }),
        1 => Just(Step::Purge),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (tree(), config(), proptest::collection::vec(step(), 1..20)).prop_map(|(tree, cfg, steps)| {
        let k = tree.len();
        let steps = steps.into_iter().map(|s| fit(s, k)).collect();
        Case { tree, cfg, steps }
    })
}

/// Maps raw account indices onto a tree of `k` accounts.
fn fit(step: Step, k: usize) -> Step {
    let op = |op: MOp| match op {
        MOp::Create {
            target,
            state,
            public,
        } => MOp::Create {
            target: target % k,
            state,
            public,
        },
        MOp::Port { target, public } => MOp::Port {
            target: target % k,
            public,
        },
        MOp::Activate { target, public } => MOp::Activate {
            target: target % k,
            public,
        },
        MOp::Reserve {
            target,
            lease,
            public,
        } => MOp::Reserve {
            target: target % k,
            lease,
            public,
        },
        other => other,
    };
    match step {
        Step::One {
            actor,
            op: o,
            num,
            dry,
        } => Step::One {
            actor: actor % k,
            op: op(o),
            num,
            dry,
        },
        Step::Many { actor, op: o, nums } => Step::Many {
            actor: actor % k,
            op: op(o),
            nums,
        },
        other => other,
    }
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
