//! Idempotency keys: begin / finish / abandon, leases and takeovers, the
//! journal of a keyed batch, and purging.

use super::support::{
    account, at, committed, entry, expect, expect_eq, expect_key_conflict, num, ok, progress_of,
    record, t0,
};
use crate::record::Revision;
use crate::state::NumberState;
use crate::store::{BatchMode, IdempotencyEntry, Journal, Store, StoreExt, Write};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// Idempotency keys: begin is insert-if-absent (or replaces an expired entry),
/// finish needs the owner of a pending entry, abandon removes.
pub(super) async fn idempotency(store: &dyn Store) {
    const C: &str = "idempotency";
    let key = "conformance-016/account/key-1";
    let first = entry(key, "fp-A", t0(), 3600);
    expect_eq(
        C,
        "get before begin",
        ok(C, "get", store.get_idempotency(key).await),
        None,
    );
    expect_eq(
        C,
        "first begin",
        ok(C, "begin", store.begin_idempotency(first.clone()).await),
        true,
    );
    expect_eq(
        C,
        "entry after begin",
        ok(C, "get", store.get_idempotency(key).await),
        Some(first.clone()),
    );
    // Same key while the first is live: refused, whatever the fingerprint.
    for fp in ["fp-A", "fp-B"] {
        let again = entry(key, fp, at(10), 3600);
        expect_eq(
            C,
            &format!("begin of a live key with fingerprint {fp}"),
            ok(C, "begin", store.begin_idempotency(again).await),
            false,
        );
    }
    // Finish by another owner: conflict, nothing stored.
    let res = store
        .finish_idempotency(key, "owner-of-fp-B", json!({"stolen": true}))
        .await;
    expect_key_conflict(C, "finish by another owner", res, key);
    expect_eq(
        C,
        "entry after a refused finish",
        ok(C, "get", store.get_idempotency(key).await),
        Some(first.clone()),
    );
    // Finish by the owner.
    let response = json!({"status": "success", "data": {"+15550160001": {"state": "reserved"}}, "z": [1, 2], "a": null});
    ok(
        C,
        "finish",
        store
            .finish_idempotency(key, "owner-of-fp-A", response.clone())
            .await,
    );
    let mut finished = first.clone();
    finished.response = Some(response.clone());
    let found = ok(C, "get", store.get_idempotency(key).await);
    expect_eq(
        C,
        "entry after finish",
        found.clone(),
        Some(finished.clone()),
    );
    let found_keys: Vec<String> = found
        .and_then(|e| e.response)
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    expect_eq(
        C,
        "order of the keys of a stored response",
        found_keys,
        vec!["status".to_string(), "data".into(), "z".into(), "a".into()],
    );
    // A finished entry is final: finishing again is refused.
    let res = store
        .finish_idempotency(key, "owner-of-fp-A", json!(2))
        .await;
    expect_key_conflict(C, "second finish", res, key);
    expect_eq(
        C,
        "entry after a refused second finish",
        ok(C, "get", store.get_idempotency(key).await),
        Some(finished.clone()),
    );
    // A finished entry still blocks begin until it expires.
    expect_eq(
        C,
        "begin of a finished, live key",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(entry(key, "fp-A", at(3599), 60))
                .await,
        ),
        false,
    );
    // Expired at the new entry's creation: replaced (boundary inclusive).
    let replacement = entry(key, "fp-C", first.expires_at, 60);
    expect_eq(
        C,
        "begin of a key expired at the new entry's creation",
        ok(
            C,
            "begin",
            store.begin_idempotency(replacement.clone()).await,
        ),
        true,
    );
    expect_eq(
        C,
        "entry after replacing an expired one",
        ok(C, "get", store.get_idempotency(key).await),
        Some(replacement.clone()),
    );
    // Finish of a key never begun: conflict, nothing created.
    let ghost = "conformance-016/account/never-begun";
    let res = store
        .finish_idempotency(ghost, "owner-of-fp", json!(1))
        .await;
    expect_key_conflict(C, "finish of a key never begun", res, ghost);
    expect_eq(
        C,
        "nothing stored by a refused finish",
        ok(C, "get", store.get_idempotency(ghost).await),
        None,
    );
    // Abandon by the owner removes; abandoning again or a key never begun is fine.
    ok(
        C,
        "abandon",
        store.abandon_idempotency(key, "owner-of-fp-C").await,
    );
    expect_eq(
        C,
        "get after abandon",
        ok(C, "get", store.get_idempotency(key).await),
        None,
    );
    ok(
        C,
        "second abandon",
        store.abandon_idempotency(key, "owner-of-fp-C").await,
    );
    ok(
        C,
        "abandon of a key never begun",
        store.abandon_idempotency(ghost, "owner-of-fp").await,
    );
    let res = store
        .finish_idempotency(key, "owner-of-fp-C", json!(1))
        .await;
    expect_key_conflict(C, "finish of an abandoned key", res, key);
    // The key can be begun again after abandon.
    let fresh = entry(key, "fp-D", at(10), 60);
    expect_eq(
        C,
        "begin after abandon",
        ok(C, "begin", store.begin_idempotency(fresh.clone()).await),
        true,
    );
    // Odd keys are just strings.
    for odd in ["", " ", "ключ/🔑", "a'b\"c;--", "%_\\"] {
        let e = entry(odd, "fp", t0(), 60);
        expect_eq(
            C,
            &format!("begin of key {odd:?}"),
            ok(C, "begin", store.begin_idempotency(e.clone()).await),
            true,
        );
        expect_eq(
            C,
            &format!("get of key {odd:?}"),
            ok(C, "get", store.get_idempotency(odd).await),
            Some(e),
        );
        ok(
            C,
            "abandon",
            store.abandon_idempotency(odd, "owner-of-fp").await,
        );
    }
}

/// `purge_idempotency(now)` removes exactly the entries expired at or before
/// `now`, returns how many, and expired entries read back until purged.
pub(super) async fn idempotency_purge(store: &dyn Store) {
    const C: &str = "idempotency_purge";
    let keys: Vec<String> = (0..10)
        .map(|i| format!("conformance-017/key-{i}"))
        .collect();
    // Entry i expires at t0 + i*10 s (+ the nanoseconds of t0).
    for (i, k) in keys.iter().enumerate() {
        let e = entry(k, "fp", t0(), i as i64 * 10);
        expect_eq(
            C,
            "begin",
            ok(C, "begin", store.begin_idempotency(e).await),
            true,
        );
    }
    let now = at(40);
    let expired = ok(
        C,
        "get of an expired entry",
        store.get_idempotency(&keys[0]).await,
    );
    expect(
        C,
        "an expired entry to read back until purged",
        expired.is_some(),
    );
    let purged = ok(C, "purge", store.purge_idempotency(now).await);
    // Entries 0..=4 expired at or before `now` (4 exactly at it).
    expect(
        C,
        &format!("purge to count at least the 5 expired entries, found {purged}"),
        purged >= 5,
    );
    for (i, k) in keys.iter().enumerate() {
        let found = ok(C, "get", store.get_idempotency(k).await);
        expect_eq(
            C,
            &format!("entry {i} present after purge at {now}"),
            found.is_some(),
            i > 4,
        );
    }
    let again = ok(C, "second purge", store.purge_idempotency(now).await);
    expect_eq(C, "a second purge at the same instant", again, 0);
    let one_ns_early = at(50) - Duration::nanoseconds(1);
    expect_eq(
        C,
        "purge one nanosecond early",
        ok(C, "purge", store.purge_idempotency(one_ns_early).await),
        0,
    );
    expect_eq(
        C,
        "purge exactly at expiry",
        ok(C, "purge", store.purge_idempotency(at(50)).await),
        1,
    );
}

/// Pending keys have an owner and a lease: only the owner renews, finishes or
/// abandons; once the lease lapses (boundary inclusive, an entry without a
/// lease counts as lapsed), a begin with the same fingerprint takes the key
/// over, keeping `created` and `expires_at`, while another fingerprint, a
/// finished key or a live lease refuse it.
pub(super) async fn idempotency_lease(store: &dyn Store) {
    const C: &str = "idempotency_lease";
    let key = "conformance-024/account/key";
    let first = entry(key, "fp-A", t0(), 3600);
    let lease = at(60);
    expect_eq(C, "the lease", first.lease_until, Some(lease));
    ok(C, "begin", store.begin_idempotency(first.clone()).await);
    let retry = |owner: &str, fp: &str, when: DateTime<Utc>| IdempotencyEntry {
        owner: owner.to_string(),
        lease_until: Some(when + Duration::seconds(60)),
        ..entry(key, fp, when, 3600)
    };
    // While the lease holds, nobody takes over, even one nanosecond before it ends.
    let early = lease - Duration::nanoseconds(1);
    expect_eq(
        C,
        "takeover one nanosecond before the lease ends",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(retry("owner-B", "fp-A", early))
                .await,
        ),
        false,
    );
    // Only the owner renews.
    expect_eq(
        C,
        "renew by another owner",
        ok(
            C,
            "renew",
            store.renew_idempotency(key, "owner-B", at(500)).await,
        ),
        false,
    );
    expect_eq(
        C,
        "lease after a refused renew",
        ok(C, "get", store.get_idempotency(key).await).and_then(|e| e.lease_until),
        Some(lease),
    );
    expect_eq(
        C,
        "renew by the owner",
        ok(
            C,
            "renew",
            store.renew_idempotency(key, "owner-of-fp-A", at(120)).await,
        ),
        true,
    );
    expect_eq(
        C,
        "takeover under a renewed lease",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(retry("owner-B", "fp-A", at(100)))
                .await,
        ),
        false,
    );
    // Lapsed (exactly at its end): another fingerprint still may not take it.
    expect_eq(
        C,
        "takeover with another fingerprint",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(retry("owner-B", "fp-B", at(120)))
                .await,
        ),
        false,
    );
    expect_eq(
        C,
        "takeover of a lapsed lease",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(retry("owner-B", "fp-A", at(120)))
                .await,
        ),
        true,
    );
    let mut taken = first.clone();
    taken.owner = "owner-B".into();
    taken.lease_until = Some(at(180));
    expect_eq(
        C,
        "entry after a takeover (created and expiry kept)",
        ok(C, "get", store.get_idempotency(key).await),
        Some(taken.clone()),
    );
    // The old owner lost the key: it can neither renew, finish nor abandon it.
    expect_eq(
        C,
        "renew by the old owner",
        ok(
            C,
            "renew",
            store.renew_idempotency(key, "owner-of-fp-A", at(900)).await,
        ),
        false,
    );
    let res = store
        .finish_idempotency(key, "owner-of-fp-A", json!("old"))
        .await;
    expect_key_conflict(C, "finish by the old owner", res, key);
    ok(
        C,
        "abandon by the old owner",
        store.abandon_idempotency(key, "owner-of-fp-A").await,
    );
    expect_eq(
        C,
        "entry after the old owner's finish and abandon",
        ok(C, "get", store.get_idempotency(key).await),
        Some(taken.clone()),
    );
    // A renew to `now` lets the key go at once.
    expect_eq(
        C,
        "renew to now",
        ok(
            C,
            "renew",
            store.renew_idempotency(key, "owner-B", at(130)).await,
        ),
        true,
    );
    expect_eq(
        C,
        "takeover right after a release",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(retry("owner-C", "fp-A", at(130)))
                .await,
        ),
        true,
    );
    ok(
        C,
        "finish by the new owner",
        store
            .finish_idempotency(key, "owner-C", json!("done"))
            .await,
    );
    // Finished: no takeover, no renew, whatever the lease says.
    expect_eq(
        C,
        "takeover of a finished key",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(retry("owner-D", "fp-A", at(3000)))
                .await,
        ),
        false,
    );
    expect_eq(
        C,
        "renew of a finished key",
        ok(
            C,
            "renew",
            store.renew_idempotency(key, "owner-C", at(4000)).await,
        ),
        false,
    );
    expect_eq(
        C,
        "response after everything",
        ok(C, "get", store.get_idempotency(key).await).and_then(|e| e.response),
        Some(json!("done")),
    );
    // An expired pending entry is replaced by any request (a fresh begin).
    let other = "conformance-024/account/expired-pending";
    ok(
        C,
        "begin",
        store
            .begin_idempotency(entry(other, "fp-A", t0(), 30))
            .await,
    );
    let fresh = IdempotencyEntry {
        owner: "owner-E".into(),
        ..entry(other, "fp-E", at(30), 3600)
    };
    expect_eq(
        C,
        "begin over an expired pending entry",
        ok(C, "begin", store.begin_idempotency(fresh.clone()).await),
        true,
    );
    expect_eq(
        C,
        "entry after replacing an expired pending one",
        ok(C, "get", store.get_idempotency(other).await),
        Some(fresh),
    );
    // An entry without a lease (stored before leases) may be taken over at once.
    let legacy = "conformance-024/account/no-lease";
    let old = IdempotencyEntry {
        owner: String::new(),
        lease_until: None,
        ..entry(legacy, "fp-A", t0(), 3600)
    };
    ok(C, "begin", store.begin_idempotency(old.clone()).await);
    expect_eq(
        C,
        "entry without a lease reads back",
        ok(C, "get", store.get_idempotency(legacy).await),
        Some(old),
    );
    expect_eq(
        C,
        "takeover of an entry without a lease",
        ok(
            C,
            "begin",
            store
                .begin_idempotency(IdempotencyEntry {
                    key: legacy.into(),
                    ..retry("owner-F", "fp-A", at(1))
                })
                .await,
        ),
        true,
    );
}

/// A journaled batch records, in the entry's progress, the new revision and
/// the given outcome of exactly the writes that succeeded, atomically with
/// them: nothing for a refused atomic batch, nothing for a key that is not
/// pending (its writes still apply), first record wins. A takeover keeps the
/// progress; finish, abandon, purge and replacing an expired entry drop it.
pub(super) async fn idempotency_journal(store: &dyn Store) {
    const C: &str = "idempotency_journal";
    let key = "conformance-025/account/key";
    let a = account(25, "a");
    let (n1, n2, n3, n4) = (num(25, 1), num(25, 2), num(25, 3), num(25, 4));
    ok(
        C,
        "insert",
        store
            .insert(record(n2, NumberState::Reserved, Some(&a), t0()))
            .await,
    );
    ok(
        C,
        "begin",
        store
            .begin_idempotency(entry(key, "fp-A", t0(), 3600))
            .await,
    );
    let journal = |outcomes: Vec<Option<Value>>| Journal {
        key: key.to_string(),
        outcomes,
    };
    // Per item: n1 inserted, n2 updated, n3 refused (not stored), n4 inserted without an outcome.
    let writes = vec![
        Write::Insert(record(n1, NumberState::Reserved, Some(&a), t0())),
        Write::Update {
            record: record(n2, NumberState::InService, Some(&a), t0()),
            expected: Revision(1),
        },
        Write::Update {
            record: record(n3, NumberState::InService, Some(&a), t0()),
            expected: Revision(1),
        },
        Write::Insert(record(n4, NumberState::Reserved, Some(&a), t0())),
    ];
    let outcomes = vec![
        Some(json!({"n": 1})),
        Some(json!({"n": 2, "z": [1], "a": null})),
        Some(json!(3)),
        None,
    ];
    let results = ok(
        C,
        "journaled batch",
        store
            .write_batch_journaled(writes, BatchMode::PerItem, &journal(outcomes))
            .await,
    );
    expect_eq(C, "first result", results[0].clone(), Ok(Revision(1)));
    expect_eq(C, "second result", results[1].clone(), Ok(Revision(2)));
    expect(C, "third write refused", results[2].is_err());
    expect_eq(C, "fourth result", results[3].clone(), Ok(Revision(1)));
    let mut want = std::collections::BTreeMap::new();
    want.insert(n1.to_string(), committed(Revision(1), json!({"n": 1})));
    want.insert(
        n2.to_string(),
        committed(Revision(2), json!({"n": 2, "z": [1], "a": null})),
    );
    expect_eq(
        C,
        "progress after a per-item batch",
        progress_of(C, store, key).await,
        Some(want.clone()),
    );
    let keys: Vec<String> = progress_of(C, store, key)
        .await
        .and_then(|p| p.get(n2.as_str()).cloned())
        .and_then(|c| c.outcome.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default();
    expect_eq(
        C,
        "key order of a recorded outcome",
        keys,
        vec!["n".to_string(), "z".into(), "a".into()],
    );
    // A refused atomic batch records nothing.
    let writes = vec![
        Write::Delete {
            number: n4,
            expected: Revision(1),
        },
        Write::Insert(record(n1, NumberState::Reserved, Some(&a), t0())),
    ];
    let results = ok(
        C,
        "refused atomic batch",
        store
            .write_batch_journaled(
                writes,
                BatchMode::Atomic,
                &journal(vec![Some(json!(4)), Some(json!(5))]),
            )
            .await,
    );
    expect(
        C,
        "the atomic batch to be refused",
        results.iter().all(|r| r.is_err()),
    );
    expect_eq(
        C,
        "progress after a refused atomic batch",
        progress_of(C, store, key).await,
        Some(want.clone()),
    );
    // A number already recorded keeps its first record; a delete records revision 0.
    let writes = vec![
        Write::Update {
            record: record(n1, NumberState::InService, Some(&a), t0()),
            expected: Revision(1),
        },
        Write::Delete {
            number: n4,
            expected: Revision(1),
        },
    ];
    ok(
        C,
        "second journaled batch",
        store
            .write_batch_journaled(
                writes,
                BatchMode::Atomic,
                &journal(vec![Some(json!("again")), Some(json!("gone"))]),
            )
            .await,
    );
    want.insert(n4.to_string(), committed(Revision::NEW, json!("gone")));
    expect_eq(
        C,
        "progress after a second batch",
        progress_of(C, store, key).await,
        Some(want.clone()),
    );
    expect_eq(
        C,
        "the second batch's writes",
        ok(C, "get", store.get_many(&[n1, n4]).await)
            .into_iter()
            .map(|r| r.map(|r| r.revision))
            .collect::<Vec<_>>(),
        vec![Some(Revision(2)), None],
    );
    // A takeover keeps the progress.
    let takeover = IdempotencyEntry {
        owner: "owner-B".into(),
        ..entry(key, "fp-A", at(60), 3600)
    };
    expect_eq(
        C,
        "takeover",
        ok(C, "begin", store.begin_idempotency(takeover).await),
        true,
    );
    expect_eq(
        C,
        "progress after a takeover",
        progress_of(C, store, key).await,
        Some(want.clone()),
    );
    // Finish drops it; a journal on a finished key records nothing, its writes apply.
    ok(
        C,
        "finish",
        store.finish_idempotency(key, "owner-B", json!("all")).await,
    );
    expect_eq(
        C,
        "progress after finish",
        progress_of(C, store, key).await,
        Some(Default::default()),
    );
    let results = ok(
        C,
        "journaled batch on a finished key",
        store
            .write_batch_journaled(
                vec![Write::Insert(record(
                    n3,
                    NumberState::Reserved,
                    Some(&a),
                    t0(),
                ))],
                BatchMode::PerItem,
                &journal(vec![Some(json!(3))]),
            )
            .await,
    );
    expect_eq(
        C,
        "a write journaled to a finished key",
        results,
        vec![Ok(Revision(1))],
    );
    expect_eq(
        C,
        "progress of a finished key",
        progress_of(C, store, key).await,
        Some(Default::default()),
    );
    // A journal naming no stored key: the writes apply, nothing is created.
    let ghost = Journal {
        key: "conformance-025/account/ghost".into(),
        outcomes: vec![Some(json!(1))],
    };
    let results = ok(
        C,
        "journaled batch on a ghost key",
        store
            .write_batch_journaled(
                vec![Write::Delete {
                    number: n3,
                    expected: Revision(1),
                }],
                BatchMode::PerItem,
                &ghost,
            )
            .await,
    );
    expect_eq(
        C,
        "a write journaled to no key",
        results,
        vec![Ok(Revision::NEW)],
    );
    expect_eq(
        C,
        "no entry for a ghost key",
        ok(C, "get", store.get_idempotency(&ghost.key).await),
        None,
    );
    // Abandon, purge and replacing an expired entry drop the progress with the entry.
    let k2 = "conformance-025/account/abandoned";
    let k3 = "conformance-025/account/expiring";
    for k in [k2, k3] {
        ok(
            C,
            "begin",
            store.begin_idempotency(entry(k, "fp-A", t0(), 30)).await,
        );
        let n = if k == k2 { n1 } else { n2 };
        let current = ok(C, "get", store.get(&n).await)
            .map(|r| r.revision)
            .unwrap_or(Revision::NEW);
        ok(
            C,
            "journaled batch",
            store
                .write_batch_journaled(
                    vec![Write::Update {
                        record: record(n, NumberState::Reserved, Some(&a), t0()),
                        expected: current,
                    }],
                    BatchMode::PerItem,
                    &Journal {
                        key: k.into(),
                        outcomes: vec![Some(json!(k))],
                    },
                )
                .await,
        );
        expect_eq(
            C,
            "progress recorded",
            ok(C, "get", store.get_idempotency(k).await).map(|e| e.progress.len()),
            Some(1),
        );
    }
    ok(
        C,
        "abandon",
        store.abandon_idempotency(k2, "owner-of-fp-A").await,
    );
    ok(
        C,
        "begin again",
        store.begin_idempotency(entry(k2, "fp-A", at(1), 30)).await,
    );
    expect_eq(
        C,
        "progress of a key begun again after abandon",
        ok(C, "get", store.get_idempotency(k2).await).map(|e| e.progress),
        Some(Default::default()),
    );
    expect_eq(
        C,
        "replace an expired entry",
        ok(
            C,
            "begin",
            store.begin_idempotency(entry(k3, "fp-B", at(30), 30)).await,
        ),
        true,
    );
    expect_eq(
        C,
        "progress after replacing an expired entry",
        ok(C, "get", store.get_idempotency(k3).await).map(|e| e.progress),
        Some(Default::default()),
    );
    ok(
        C,
        "journal again",
        store
            .write_batch_journaled(
                vec![Write::Insert(record(
                    num(25, 9),
                    NumberState::Reserved,
                    Some(&a),
                    t0(),
                ))],
                BatchMode::PerItem,
                &Journal {
                    key: k3.into(),
                    outcomes: vec![Some(json!(9))],
                },
            )
            .await,
    );
    ok(C, "purge", store.purge_idempotency(at(100)).await);
    ok(
        C,
        "begin after purge",
        store
            .begin_idempotency(entry(k3, "fp-B", at(100), 30))
            .await,
    );
    expect_eq(
        C,
        "progress of a key begun again after purge",
        ok(C, "get", store.get_idempotency(k3).await).map(|e| e.progress),
        Some(Default::default()),
    );
}
