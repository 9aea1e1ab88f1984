//! Revisions across deletion and re-insertion (tombstones), and purging
//! tombstones.

use super::support::{
    account, at, expect, expect_aborted, expect_conflict, expect_eq, expect_number_exists,
    expect_record, get_one, num, ok, record, t0, write,
};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;
use crate::store::{BatchMode, Store, StoreExt, Write};
use chrono::{Duration, Utc};
use serde_json::json;

/// The largest of `revisions` (`Revision::NEW` for none).
pub(super) fn highest(revisions: &[Revision]) -> Revision {
    revisions.iter().copied().max().unwrap_or(Revision::NEW)
}

/// Revisions never repeat across a number's deletion and re-insertion (the
/// ABA case): an incarnation reaches revision 4, is deleted, the number is
/// inserted again and updated as many times, so that it would be at revision
/// 4 again had it started over at 1; then an update or a delete carrying any
/// revision of an earlier incarnation (4 included) is a `Conflict` and changes
/// nothing. Three incarnations, so the second re-insertion must clear every
/// revision of the first two.
pub(super) async fn reinsert_never_repeats_revisions(store: &dyn Store) {
    const C: &str = "reinsert_never_repeats_revisions";
    const UPDATES: u32 = 3;
    let a = account(21, "a");
    let n = num(21, 1);
    // A number stored next to it, never deleted, to show nothing leaks over.
    let bystander = record(num(21, 2), NumberState::InService, Some(&a), t0());
    expect_eq(
        C,
        "revision of the insert of a number never stored",
        ok(C, "insert", store.insert(bystander.clone()).await),
        Revision(1),
    );

    let mut current = record(n, NumberState::Reserved, Some(&a), t0());
    let mut rev = ok(C, "first insert", store.insert(current.clone()).await);
    expect_eq(C, "revision of the first insert", rev, Revision(1));
    // Every revision of every incarnation before the current one.
    let mut earlier: Vec<Revision> = Vec::new();
    for incarnation in 1..=3u32 {
        let mut mine = vec![rev];
        for step in 1..=UPDATES {
            current
                .public
                .insert("step".into(), json!(format!("{incarnation}.{step}")));
            let next = ok(C, "update", store.update(current.clone(), rev).await);
            expect_eq(C, "revision after an update", next, rev.next());
            rev = next;
            mine.push(rev);
        }
        for &old in &earlier {
            let mut stale = current.clone();
            stale.public.insert("stale".into(), json!(old.0));
            let res = store.update(stale, old).await;
            expect_conflict(
                C,
                &format!(
                    "update of incarnation {incarnation} (at {rev:?}) carrying {old:?}, a revision of an earlier incarnation"
                ),
                &res,
                n.as_str(),
            );
            let res = store.delete(&n, old).await.map(|()| Revision::NEW);
            expect_conflict(
                C,
                &format!(
                    "delete of incarnation {incarnation} (at {rev:?}) carrying {old:?}, a revision of an earlier incarnation"
                ),
                &res,
                n.as_str(),
            );
        }
        let found = get_one(C, store, &n).await;
        expect_record(
            C,
            &format!("incarnation {incarnation} after stale writes"),
            found.as_ref(),
            &current,
            rev,
        );
        if incarnation == 3 {
            break;
        }
        earlier.extend(mine);
        ok(C, "delete", store.delete(&n, rev).await);
        expect_eq(C, "get after delete", get_one(C, store, &n).await, None);
        current = record(n, NumberState::Available, None, at(i64::from(incarnation)));
        current
            .public
            .insert("incarnation".into(), json!(incarnation + 1));
        rev = ok(C, "re-insert", store.insert(current.clone()).await);
        expect(
            C,
            &format!(
                "re-insert number {} to get a revision above {:?}, every earlier one (got {rev:?})",
                incarnation + 1,
                highest(&earlier)
            ),
            rev > highest(&earlier),
        );
    }
    let found = get_one(C, store, &bystander.number).await;
    expect_record(
        C,
        "the number never deleted",
        found.as_ref(),
        &bystander,
        Revision(1),
    );
}

/// The same inside one batch, in both modes: `[Delete, Insert]` of one number
/// stores it at a revision above the deleted one; a stale update in the same
/// batch, or in a later one, is a `Conflict` (and refuses a whole `Atomic`
/// batch). And for many numbers at once, each re-inserted above its own last
/// revision, next to a number never stored, which gets revision 1.
pub(super) async fn reinsert_in_one_batch(store: &dyn Store) {
    const C: &str = "reinsert_in_one_batch";
    let a = account(22, "a");
    for (base, mode) in [(0u32, BatchMode::PerItem), (100, BatchMode::Atomic)] {
        let m = format!("{mode:?}");
        // One number: delete then insert in one batch.
        let n = num(22, base + 1);
        let mut old = record(n, NumberState::Reserved, Some(&a), t0());
        let mut rev = ok(C, "insert", store.insert(old.clone()).await);
        for step in 0..2 {
            old.public.insert("step".into(), json!(step));
            rev = ok(C, "update", store.update(old.clone(), rev).await);
        }
        let old_rev = rev;
        let mut fresh = record(n, NumberState::Available, None, at(5));
        fresh.public.insert("incarnation".into(), json!(2));
        let results = write(
            C,
            store,
            vec![
                Write::Delete {
                    number: n,
                    expected: old_rev,
                },
                Write::Insert(fresh.clone()),
            ],
            mode,
        )
        .await;
        expect_eq(
            C,
            &format!("delete in [Delete, Insert] ({m})"),
            &results[0],
            &Ok(Revision::NEW),
        );
        let new_rev = match &results[1] {
            Ok(r) if *r > old_rev => *r,
            other => panic!(
                "conformance::{C}: insert in [Delete, Insert] ({m}): expected a revision above {old_rev:?}, found {other:?}"
            ),
        };
        let found = get_one(C, store, &n).await;
        expect_record(
            C,
            &format!("after [Delete, Insert] ({m})"),
            found.as_ref(),
            &fresh,
            new_rev,
        );

        // Stale writes of the old incarnation, in a later batch.
        let results = write(
            C,
            store,
            vec![
                Write::Update {
                    record: old.clone(),
                    expected: old_rev,
                },
                Write::Delete {
                    number: n,
                    expected: old_rev,
                },
            ],
            mode,
        )
        .await;
        expect_conflict(
            C,
            &format!("stale update after [Delete, Insert] ({m})"),
            &results[0],
            n.as_str(),
        );
        expect_conflict(
            C,
            &format!("stale delete after [Delete, Insert] ({m})"),
            &results[1],
            n.as_str(),
        );
        let found = get_one(C, store, &n).await;
        expect_record(
            C,
            &format!("after refused stale writes ({m})"),
            found.as_ref(),
            &fresh,
            new_rev,
        );

        // A stale write in the very batch that deletes and re-inserts.
        let mut third = record(n, NumberState::Reserved, Some(&a), at(9));
        third.public.insert("incarnation".into(), json!(3));
        let mut stale = fresh.clone();
        stale.public.insert("stale".into(), json!(true));
        let results = write(
            C,
            store,
            vec![
                Write::Delete {
                    number: n,
                    expected: new_rev,
                },
                Write::Insert(third.clone()),
                Write::Update {
                    record: stale,
                    expected: new_rev,
                },
            ],
            mode,
        )
        .await;
        expect_conflict(
            C,
            &format!("update carrying the revision deleted earlier in its batch ({m})"),
            &results[2],
            n.as_str(),
        );
        let found = get_one(C, store, &n).await;
        match mode {
            BatchMode::PerItem => {
                expect_eq(
                    C,
                    "delete in [Delete, Insert, stale Update] (per item)",
                    &results[0],
                    &Ok(Revision::NEW),
                );
                let third_rev = match &results[1] {
                    Ok(r) if *r > new_rev => *r,
                    other => panic!(
                        "conformance::{C}: insert in [Delete, Insert, stale Update] (per item): expected a revision above {new_rev:?}, found {other:?}"
                    ),
                };
                expect_record(
                    C,
                    "after [Delete, Insert, stale Update] (per item)",
                    found.as_ref(),
                    &third,
                    third_rev,
                );
            }
            BatchMode::Atomic => {
                expect_aborted(C, "delete of a refused batch", &results[0], &n);
                expect_aborted(C, "insert of a refused batch", &results[1], &n);
                expect_record(
                    C,
                    "after a refused [Delete, Insert, stale Update] (atomic)",
                    found.as_ref(),
                    &fresh,
                    new_rev,
                );
            }
        }

        // Many numbers at once, each with its own last revision.
        let many: Vec<PhoneNumber> = (0..6).map(|i| num(22, base + 10 + i)).collect();
        let results = write(
            C,
            store,
            many.iter()
                .map(|n| Write::Insert(record(*n, NumberState::Reserved, Some(&a), t0())))
                .collect(),
            mode,
        )
        .await;
        let mut last: Vec<Revision> = results
            .iter()
            .map(|r| ok(C, "insert of many", r.clone()))
            .collect();
        for (i, n) in many.iter().enumerate() {
            for step in 0..i {
                let mut r = record(*n, NumberState::Reserved, Some(&a), t0());
                r.public.insert("step".into(), json!(step));
                last[i] = ok(C, "update", store.update(r, last[i]).await);
            }
        }
        let results = write(
            C,
            store,
            many.iter()
                .zip(&last)
                .map(|(n, r)| Write::Delete {
                    number: *n,
                    expected: *r,
                })
                .collect(),
            mode,
        )
        .await;
        for r in &results {
            expect_eq(C, &format!("delete of many ({m})"), r, &Ok(Revision::NEW));
        }
        let never = num(22, base + 50);
        let again: Vec<NumberRecord> = many
            .iter()
            .chain([&never])
            .map(|n| {
                let mut r = record(*n, NumberState::Available, None, at(20));
                r.public.insert("again".into(), json!(true));
                r
            })
            .collect();
        let results = write(
            C,
            store,
            again.iter().cloned().map(Write::Insert).collect(),
            mode,
        )
        .await;
        let mut revs = Vec::new();
        for (i, n) in many.iter().enumerate() {
            match &results[i] {
                Ok(r) if *r > last[i] => revs.push(*r),
                other => panic!(
                    "conformance::{C}: re-insert of {n} among many ({m}): expected a revision above {:?}, found {other:?}",
                    last[i]
                ),
            }
        }
        expect_eq(
            C,
            &format!("insert of a number never stored, among re-inserts ({m})"),
            &results[many.len()],
            &Ok(Revision(1)),
        );
        revs.push(Revision(1));
        let results = write(
            C,
            store,
            many.iter()
                .zip(&last)
                .map(|(n, r)| Write::Update {
                    record: record(*n, NumberState::InService, Some(&a), t0()),
                    expected: *r,
                })
                .collect(),
            mode,
        )
        .await;
        for (n, r) in many.iter().zip(&results) {
            expect_conflict(
                C,
                &format!("stale update of a re-inserted number among many ({m})"),
                r,
                n.as_str(),
            );
        }
        let numbers: Vec<PhoneNumber> = again.iter().map(|r| r.number).collect();
        let found = ok(C, "get_many", store.get_many(&numbers).await);
        for ((slot, written), rev) in found.iter().zip(&again).zip(&revs) {
            expect_record(
                C,
                &format!("re-inserted among many ({m})"),
                slot.as_ref(),
                written,
                *rev,
            );
        }
    }
}

/// Purging tombstones ([`Store::purge_tombstones`]) never drops a tombstone
/// deleted at or after the cutoff, and never breaks a write:
/// - a number deleted, then a purge with a cutoff an hour ago, then the number
///   inserted again: the new revision is above the deleted one, and a stale
///   write carrying the deleted revision is a `Conflict`;
/// - a purge with a cutoff a second from now (a store that keeps tombstones
///   drops them all; one that keeps none, or keeps them, returns `0`, and passes
///   too): afterwards inserts, updates and deletes work as before (an insert of
///   a stored number is still refused), and a tombstone left by a delete after
///   the purge is honoured again, alone and inside a batch.
///
/// It purges every tombstone of the store, other checks' included: on a store
/// shared with other checks, run it after them, not at the same time.
pub(super) async fn tombstone_purge(store: &dyn Store) {
    const C: &str = "tombstone_purge";
    let a = account(23, "a");

    // A cutoff in the past keeps a younger tombstone.
    let n = num(23, 1);
    let mut first = record(n, NumberState::Reserved, Some(&a), t0());
    let mut rev = ok(C, "insert", store.insert(first.clone()).await);
    first.public.insert("step".into(), json!(1));
    rev = ok(C, "update", store.update(first.clone(), rev).await);
    let deleted = rev;
    ok(C, "delete", store.delete(&n, deleted).await);
    let hour_ago = Utc::now() - Duration::hours(1);
    ok(
        C,
        "purge_tombstones with a cutoff an hour ago",
        store.purge_tombstones(hour_ago).await,
    );
    let mut second = record(n, NumberState::Available, None, at(1));
    second.public.insert("incarnation".into(), json!(2));
    let rev2 = ok(C, "re-insert", store.insert(second.clone()).await);
    expect(
        C,
        &format!(
            "a re-insert after a purge with a cutoff before the delete to get a revision above {deleted:?} (got {rev2:?})"
        ),
        rev2 > deleted,
    );
    let res = store.update(first.clone(), deleted).await;
    expect_conflict(
        C,
        "stale update carrying the deleted revision, after a purge with a past cutoff",
        &res,
        n.as_str(),
    );
    let found = get_one(C, store, &n).await;
    expect_record(
        C,
        "after a purge with a past cutoff",
        found.as_ref(),
        &second,
        rev2,
    );

    // A cutoff in the future: whatever the store drops, it keeps working.
    let m = num(23, 2);
    let mut gone = record(m, NumberState::Reserved, Some(&a), t0());
    let mut mrev = ok(C, "insert", store.insert(gone.clone()).await);
    gone.public.insert("step".into(), json!(1));
    mrev = ok(C, "update", store.update(gone.clone(), mrev).await);
    ok(C, "delete", store.delete(&m, mrev).await);
    let soon = Utc::now() + Duration::seconds(1);
    ok(
        C,
        "purge_tombstones with a cutoff a second from now",
        store.purge_tombstones(soon).await,
    );

    // A number deleted before the purge can be inserted again, and written.
    let mut back = record(m, NumberState::Available, None, at(2));
    back.public.insert("back".into(), json!(true));
    let brev = ok(
        C,
        "re-insert of a number whose tombstone may have been purged",
        store.insert(back.clone()).await,
    );
    expect(
        C,
        &format!("a re-insert to get a revision of at least 1 (got {brev:?})"),
        brev > Revision::NEW,
    );
    let res = write(
        C,
        store,
        vec![Write::Insert(back.clone())],
        BatchMode::PerItem,
    )
    .await;
    expect_number_exists(C, "insert of a stored number after a purge", &res[0], &m);
    back.public.insert("step".into(), json!(1));
    let brev2 = ok(
        C,
        "update after a purge",
        store.update(back.clone(), brev).await,
    );
    expect_eq(
        C,
        "revision after an update after a purge",
        brev2,
        brev.next(),
    );
    let found = get_one(C, store, &m).await;
    expect_record(C, "updated after a purge", found.as_ref(), &back, brev2);

    // The number stored through the purge keeps its revision.
    second.public.insert("step".into(), json!(1));
    let rev3 = ok(
        C,
        "update of a number stored through the purge",
        store.update(second.clone(), rev2).await,
    );
    expect_eq(
        C,
        "revision after an update of a number stored through the purge",
        rev3,
        rev2.next(),
    );

    // Tombstones left after the purge are honoured: alone ...
    ok(C, "delete after a purge", store.delete(&m, brev2).await);
    let brev3 = ok(
        C,
        "re-insert after a purge",
        store.insert(back.clone()).await,
    );
    expect(
        C,
        &format!(
            "a re-insert after a delete that followed the purge to get a revision above {brev2:?} (got {brev3:?})"
        ),
        brev3 > brev2,
    );
    let res = store.update(back.clone(), brev2).await;
    expect_conflict(
        C,
        "stale update carrying a revision deleted after the purge",
        &res,
        m.as_str(),
    );
    // ... and inside a batch.
    let mut third = record(n, NumberState::Reserved, Some(&a), at(3));
    third.public.insert("incarnation".into(), json!(3));
    let results = write(
        C,
        store,
        vec![
            Write::Delete {
                number: n,
                expected: rev3,
            },
            Write::Insert(third.clone()),
        ],
        BatchMode::Atomic,
    )
    .await;
    expect_eq(
        C,
        "delete in [Delete, Insert] after a purge",
        &results[0],
        &Ok(Revision::NEW),
    );
    let rev4 = match &results[1] {
        Ok(r) if *r > rev3 => *r,
        other => panic!(
            "conformance::{C}: insert in [Delete, Insert] after a purge: expected a revision above {rev3:?}, found {other:?}"
        ),
    };
    let found = get_one(C, store, &n).await;
    expect_record(
        C,
        "after [Delete, Insert] after a purge",
        found.as_ref(),
        &third,
        rev4,
    );
}
