//! Batches: per-item and atomic batches, writes that see earlier writes of the
//! same batch, and batches of thousands.

use super::support::{
    account, at, expect_aborted, expect_conflict, expect_eq, expect_number_exists, expect_record,
    get_one, list_all, num, ok, record, t0, write,
};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;
use crate::store::{BatchMode, ListQuery, Store, StoreExt, Write};
use serde_json::json;

/// A `PerItem` batch: each write succeeds or fails on its own, results in order.
pub(super) async fn batch_per_item(store: &dyn Store) {
    const C: &str = "batch_per_item";
    let a = account(7, "a");
    let existing = record(num(7, 1), NumberState::Reserved, Some(&a), t0());
    let to_update = record(num(7, 2), NumberState::Reserved, Some(&a), t0());
    let to_delete = record(num(7, 3), NumberState::Reserved, Some(&a), t0());
    for r in [&existing, &to_update, &to_delete] {
        ok(C, "setup insert", store.insert(r.clone()).await);
    }
    let fresh = record(num(7, 4), NumberState::Available, None, at(1));
    let mut updated = to_update.clone();
    updated.state = NumberState::InService;
    let mut stale = existing.clone();
    stale.public.insert("stale".into(), json!(true));
    let ghost = record(num(7, 5), NumberState::Reserved, Some(&a), t0());

    let results = write(
        C,
        store,
        vec![
            Write::Insert(fresh.clone()),
            Write::Insert(existing.clone()),
            Write::Update {
                record: updated.clone(),
                expected: Revision(1),
            },
            Write::Update {
                record: stale,
                expected: Revision(7),
            },
            Write::Delete {
                number: to_delete.number,
                expected: Revision(1),
            },
            Write::Update {
                record: ghost.clone(),
                expected: Revision(1),
            },
            Write::Delete {
                number: num(7, 6),
                expected: Revision(1),
            },
        ],
        BatchMode::PerItem,
    )
    .await;
    expect_eq(C, "insert of a new number", &results[0], &Ok(Revision(1)));
    expect_number_exists(
        C,
        "insert of a stored number",
        &results[1],
        &existing.number,
    );
    expect_eq(
        C,
        "update at the right revision",
        &results[2],
        &Ok(Revision(2)),
    );
    expect_conflict(
        C,
        "update at a wrong revision",
        &results[3],
        existing.number.as_str(),
    );
    expect_eq(
        C,
        "delete at the right revision",
        &results[4],
        &Ok(Revision::NEW),
    );
    expect_conflict(
        C,
        "update of a missing number",
        &results[5],
        ghost.number.as_str(),
    );
    expect_conflict(
        C,
        "delete of a missing number",
        &results[6],
        num(7, 6).as_str(),
    );

    let found = ok(
        C,
        "get_many",
        store
            .get_many(&[
                fresh.number,
                existing.number,
                updated.number,
                to_delete.number,
                ghost.number,
            ])
            .await,
    );
    expect_record(C, "inserted", found[0].as_ref(), &fresh, Revision(1));
    expect_record(C, "untouched", found[1].as_ref(), &existing, Revision(1));
    expect_record(C, "updated", found[2].as_ref(), &updated, Revision(2));
    expect_eq(C, "deleted", &found[3], &None);
    expect_eq(C, "never stored", &found[4], &None);

    let empty = ok(
        C,
        "empty batch",
        store.write_batch(Vec::new(), BatchMode::PerItem).await,
    );
    expect_eq(C, "results of an empty batch", empty.len(), 0);
}

/// An `Atomic` batch: all or nothing. When one write fails, nothing is
/// applied, every failing write reports its own error and every other write
/// reports `Conflict` of kind [`ConflictKind::BatchAborted`](crate::ConflictKind::BatchAborted). When all succeed, all
/// are applied.
pub(super) async fn batch_atomic(store: &dyn Store) {
    const C: &str = "batch_atomic";
    let a = account(8, "a");
    let existing = record(num(8, 1), NumberState::Reserved, Some(&a), t0());
    let to_update = record(num(8, 2), NumberState::Reserved, Some(&a), t0());
    let to_delete = record(num(8, 3), NumberState::Reserved, Some(&a), t0());
    for r in [&existing, &to_update, &to_delete] {
        ok(C, "setup insert", store.insert(r.clone()).await);
    }
    let fresh = record(num(8, 4), NumberState::Available, None, at(1));
    let mut updated = to_update.clone();
    updated.state = NumberState::InService;

    // Two failures among good writes.
    let results = write(
        C,
        store,
        vec![
            Write::Insert(fresh.clone()),
            Write::Update {
                record: updated.clone(),
                expected: Revision(1),
            },
            Write::Insert(existing.clone()),
            Write::Delete {
                number: to_delete.number,
                expected: Revision(1),
            },
            Write::Update {
                record: existing.clone(),
                expected: Revision(5),
            },
        ],
        BatchMode::Atomic,
    )
    .await;
    expect_aborted(
        C,
        "good insert in a refused batch",
        &results[0],
        &fresh.number,
    );
    expect_aborted(
        C,
        "good update in a refused batch",
        &results[1],
        &updated.number,
    );
    expect_number_exists(
        C,
        "failing insert in a refused batch",
        &results[2],
        &existing.number,
    );
    expect_aborted(
        C,
        "good delete in a refused batch",
        &results[3],
        &to_delete.number,
    );
    expect_conflict(
        C,
        "failing update in a refused batch",
        &results[4],
        existing.number.as_str(),
    );
    let found = ok(
        C,
        "get_many",
        store
            .get_many(&[
                fresh.number,
                existing.number,
                to_update.number,
                to_delete.number,
            ])
            .await,
    );
    expect_eq(C, "insert of a refused batch not applied", &found[0], &None);
    expect_record(
        C,
        "existing after a refused batch",
        found[1].as_ref(),
        &existing,
        Revision(1),
    );
    expect_record(
        C,
        "update of a refused batch not applied",
        found[2].as_ref(),
        &to_update,
        Revision(1),
    );
    expect_record(
        C,
        "delete of a refused batch not applied",
        found[3].as_ref(),
        &to_delete,
        Revision(1),
    );

    // The same batch without the failing writes goes through whole.
    let results = write(
        C,
        store,
        vec![
            Write::Insert(fresh.clone()),
            Write::Update {
                record: updated.clone(),
                expected: Revision(1),
            },
            Write::Delete {
                number: to_delete.number,
                expected: Revision(1),
            },
        ],
        BatchMode::Atomic,
    )
    .await;
    expect_eq(
        C,
        "results of an accepted batch",
        results,
        vec![Ok(Revision(1)), Ok(Revision(2)), Ok(Revision::NEW)],
    );
    let found = ok(
        C,
        "get_many",
        store
            .get_many(&[fresh.number, to_update.number, to_delete.number])
            .await,
    );
    expect_record(
        C,
        "inserted by an accepted batch",
        found[0].as_ref(),
        &fresh,
        Revision(1),
    );
    expect_record(
        C,
        "updated by an accepted batch",
        found[1].as_ref(),
        &updated,
        Revision(2),
    );
    expect_eq(C, "deleted by an accepted batch", &found[2], &None);

    let empty = ok(
        C,
        "empty batch",
        store.write_batch(Vec::new(), BatchMode::Atomic).await,
    );
    expect_eq(C, "results of an empty atomic batch", empty.len(), 0);
}

/// Writes of one batch apply in order and see each other, in both modes.
pub(super) async fn batch_sees_earlier_writes(store: &dyn Store) {
    const C: &str = "batch_sees_earlier_writes";
    let a = account(9, "a");
    for (i, mode) in [(1, BatchMode::PerItem), (2, BatchMode::Atomic)] {
        let mut r = record(num(9, i), NumberState::Reserved, Some(&a), t0());
        let first = r.clone();
        r.state = NumberState::InService;
        let results = write(
            C,
            store,
            vec![
                Write::Insert(first.clone()),
                Write::Update {
                    record: r.clone(),
                    expected: Revision(1),
                },
                Write::Insert(first.clone()),
            ],
            mode,
        )
        .await;
        match mode {
            BatchMode::PerItem => {
                expect_eq(
                    C,
                    "insert then update (per item)",
                    results[..2].to_vec(),
                    vec![Ok(Revision(1)), Ok(Revision(2))],
                );
                expect_number_exists(
                    C,
                    "second insert of the same number",
                    &results[2],
                    &r.number,
                );
                let found = get_one(C, store, &r.number).await;
                expect_record(
                    C,
                    "after insert then update",
                    found.as_ref(),
                    &r,
                    Revision(2),
                );
            }
            BatchMode::Atomic => {
                expect_aborted(C, "insert (atomic, refused)", &results[0], &r.number);
                expect_aborted(
                    C,
                    "update of the inserted number (atomic, refused)",
                    &results[1],
                    &r.number,
                );
                expect_number_exists(C, "second insert (atomic)", &results[2], &r.number);
                expect_eq(
                    C,
                    "nothing of a refused batch",
                    get_one(C, store, &r.number).await,
                    None,
                );
            }
        }
    }
    // Insert, delete, insert again in one atomic batch.
    let r = record(num(9, 3), NumberState::Reserved, Some(&a), t0());
    let results = write(
        C,
        store,
        vec![
            Write::Insert(r.clone()),
            Write::Delete {
                number: r.number,
                expected: Revision(1),
            },
            Write::Insert(r.clone()),
        ],
        BatchMode::Atomic,
    )
    .await;
    expect_eq(
        C,
        "insert, delete (atomic)",
        results[..2].to_vec(),
        vec![Ok(Revision(1)), Ok(Revision::NEW)],
    );
    let rev = match &results[2] {
        Ok(rev) if *rev > Revision(1) => *rev,
        other => panic!(
            "conformance::{C}: insert, delete, insert (atomic): expected the second insert to get a revision above 1, found {other:?}"
        ),
    };
    let found = get_one(C, store, &r.number).await;
    expect_record(C, "after insert, delete, insert", found.as_ref(), &r, rev);
}

/// Batches and reads of thousands of numbers (SQL parameter limits, one
/// transaction per batch).
pub(super) async fn large_batches(store: &dyn Store) {
    const C: &str = "large_batches";
    let a = account(10, "a");
    let count: u32 = 2_500;
    let records: Vec<NumberRecord> = (0..count)
        .map(|i| {
            record(
                num(10, i * 2),
                NumberState::Reserved,
                Some(&a),
                at(i64::from(i)),
            )
        })
        .collect();
    let results = write(
        C,
        store,
        records.iter().cloned().map(Write::Insert).collect(),
        BatchMode::Atomic,
    )
    .await;
    for r in &results {
        expect_eq(C, "insert in a large batch", r, &Ok(Revision(1)));
    }
    let ask: Vec<PhoneNumber> = (0..count * 2).map(|i| num(10, i)).collect();
    let found = ok(C, "get_many", store.get_many(&ask).await);
    expect_eq(C, "slots of a large get_many", found.len(), ask.len());
    for (i, slot) in found.iter().enumerate() {
        if i % 2 == 0 {
            expect_record(
                C,
                "large get_many",
                slot.as_ref(),
                &records[i / 2],
                Revision(1),
            );
        } else {
            expect_eq(C, "missing slot in a large get_many", slot, &None);
        }
    }
    let updates: Vec<Write> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.state = NumberState::InService;
            Write::Update {
                record: r,
                expected: Revision(1),
            }
        })
        .collect();
    let results = write(C, store, updates, BatchMode::PerItem).await;
    for r in &results {
        expect_eq(C, "update in a large batch", r, &Ok(Revision(2)));
    }
    let listed = list_all(
        C,
        store,
        &ListQuery {
            accounts: vec![a],
            limit: 1_000,
            ..Default::default()
        },
    )
    .await;
    expect_eq(
        C,
        "listed records of a large batch",
        listed.len(),
        count as usize,
    );
}
