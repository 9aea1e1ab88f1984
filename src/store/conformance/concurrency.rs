//! Concurrency: racing writers never lose an update, and exactly one of many
//! callers wins a number or a key.

use super::support::{account, at, entry, expect_eq, get_one, num, ok, record, t0};
use crate::error::Error;
use crate::record::Revision;
use crate::state::NumberState;
use crate::store::{IdempotencyEntry, Store, StoreExt};
use crate::testing::poll::{join_all, yield_now, Task};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Sixteen tasks increment a counter in the public fields of one record with
/// read / compare-and-swap / retry: the final value equals the number of
/// successful writes, so no update is lost.
pub(super) async fn concurrent_counter(store: &dyn Store) {
    const C: &str = "concurrent_counter";
    const TASKS: usize = 16;
    const PER_TASK: usize = 5;
    let n = num(18, 1);
    let mut r = record(n, NumberState::InService, Some(&account(18, "a")), t0());
    r.public.insert("counter".into(), json!(0));
    ok(C, "insert", store.insert(r).await);
    let successes = AtomicUsize::new(0);
    let conflicts = AtomicUsize::new(0);
    let tasks: Vec<Task<'_, ()>> = (0..TASKS)
        .map(|_| {
            let successes = &successes;
            let conflicts = &conflicts;
            Box::pin(async move {
                let mut mine = 0;
                for _ in 0..100_000 {
                    if mine == PER_TASK {
                        return;
                    }
                    let Some(mut current) = get_one(C, store, &n).await else {
                        panic!("conformance::{C}: the counter record vanished");
                    };
                    let value = current
                        .public
                        .get("counter")
                        .and_then(Value::as_u64)
                        .unwrap_or(u64::MAX);
                    current.public.insert("counter".into(), json!(value + 1));
                    let expected = current.revision;
                    // Let every other task read the same revision first.
                    yield_now().await;
                    match store.update(current, expected).await {
                        Ok(rev) => {
                            expect_eq(
                                C,
                                "revision after a won compare-and-swap",
                                rev,
                                expected.next(),
                            );
                            successes.fetch_add(1, Ordering::SeqCst);
                            mine += 1;
                        }
                        Err(Error::Conflict { .. }) => {
                            conflicts.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("conformance::{C}: update failed: {e:?}"),
                    }
                }
                panic!("conformance::{C}: a task never got its writes through");
            }) as Task<'_, ()>
        })
        .collect();
    join_all(tasks).await;
    let won = successes.load(Ordering::SeqCst);
    expect_eq(C, "successful writes", won, TASKS * PER_TASK);
    let Some(last) = get_one(C, store, &n).await else {
        panic!("conformance::{C}: the counter record vanished");
    };
    expect_eq(
        C,
        "counter after the race (== successful writes)",
        last.public.get("counter").and_then(Value::as_u64),
        Some(won as u64),
    );
    expect_eq(
        C,
        "revision after the race",
        last.revision,
        Revision(won as u64 + 1),
    );
}

/// Sixteen tasks insert the same numbers at once: exactly one wins each.
pub(super) async fn concurrent_inserts(store: &dyn Store) {
    const C: &str = "concurrent_inserts";
    const TASKS: usize = 16;
    const NUMBERS: u32 = 8;
    let tasks: Vec<Task<'_, Vec<bool>>> = (0..TASKS)
        .map(|t| {
            Box::pin(async move {
                let mut won = Vec::new();
                for i in 0..NUMBERS {
                    let mut r = record(
                        num(19, i),
                        NumberState::Reserved,
                        Some(&account(19, "a")),
                        t0(),
                    );
                    r.public.insert("writer".into(), json!(t));
                    match store.insert(r).await {
                        Ok(rev) => {
                            expect_eq(C, "revision of the winning insert", rev, Revision(1));
                            won.push(true);
                        }
                        Err(Error::NumberExists { .. }) => won.push(false),
                        Err(e) => panic!("conformance::{C}: insert failed: {e:?}"),
                    }
                    yield_now().await;
                }
                won
            }) as Task<'_, Vec<bool>>
        })
        .collect();
    let results = join_all(tasks).await;
    for i in 0..NUMBERS as usize {
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, won)| won.get(i).copied().unwrap_or(false))
            .map(|(t, _)| t)
            .collect();
        expect_eq(
            C,
            &format!("winners of {}", num(19, i as u32)),
            winners.len(),
            1,
        );
        let stored = get_one(C, store, &num(19, i as u32)).await;
        expect_eq(
            C,
            "the stored record is the winner's",
            stored.and_then(|r| r.public.get("writer").and_then(Value::as_u64)),
            winners.first().map(|w| *w as u64),
        );
    }
}

/// Sixteen tasks begin the same idempotency key at once: exactly one gets `true`.
pub(super) async fn concurrent_idempotency_begin(store: &dyn Store) {
    const C: &str = "concurrent_idempotency_begin";
    const TASKS: usize = 16;
    let key = "conformance-020/key";
    let tasks: Vec<Task<'_, bool>> = (0..TASKS)
        .map(|t| {
            Box::pin(async move {
                let e = entry(key, &format!("fp-{t}"), t0(), 60);
                ok(C, "begin", store.begin_idempotency(e).await)
            }) as Task<'_, bool>
        })
        .collect();
    let results = join_all(tasks).await;
    let winners: Vec<usize> = (0..TASKS).filter(|t| results[*t]).collect();
    expect_eq(C, "winners of one key", winners.len(), 1);
    let stored = ok(C, "get", store.get_idempotency(key).await);
    expect_eq(
        C,
        "the stored entry is the winner's",
        stored.map(|e| e.fingerprint),
        winners.first().map(|w| format!("fp-{w}")),
    );
}

/// Many callers take over one lapsed key at once: exactly one succeeds, and
/// the entry names it as owner.
pub(super) async fn concurrent_idempotency_takeover(store: &dyn Store) {
    const C: &str = "concurrent_idempotency_takeover";
    const TASKS: usize = 16;
    let key = "conformance-026/key";
    ok(
        C,
        "begin",
        store.begin_idempotency(entry(key, "fp", t0(), 3600)).await,
    );
    let tasks: Vec<Task<'_, bool>> = (0..TASKS)
        .map(|t| {
            Box::pin(async move {
                let e = IdempotencyEntry {
                    owner: format!("owner-{t}"),
                    ..entry(key, "fp", at(60), 3600)
                };
                ok(C, "begin", store.begin_idempotency(e).await)
            }) as Task<'_, bool>
        })
        .collect();
    let results = join_all(tasks).await;
    let winners: Vec<usize> = (0..TASKS).filter(|t| results[*t]).collect();
    expect_eq(C, "winners of one lapsed key", winners.len(), 1);
    expect_eq(
        C,
        "the owner is the winner",
        ok(C, "get", store.get_idempotency(key).await).map(|e| e.owner),
        winners.first().map(|w| format!("owner-{w}")),
    );
}
