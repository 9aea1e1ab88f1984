//! Single records: insert-if-absent, reading back, and compare-and-swap updates
//! and deletes.

use super::support::{
    account, at, expect, expect_conflict, expect_eq, expect_number_exists, expect_record, get_one,
    list_all, num, ok, prefix, record, t0, write,
};
use crate::record::{NumberRecord, Pending, Revision};
use crate::state::NumberState;
use crate::store::{BatchMode, ListQuery, Store, StoreExt, Write};
use chrono::Duration;
use serde_json::{json, Map};

/// Insert-if-absent and read back: the insert returns revision 1, `get` finds
/// the record with that revision, a number never written reads as `None`.
pub(super) async fn insert_and_get(store: &dyn Store) {
    const C: &str = "insert_and_get";
    let acct = account(1, "a");
    let mut r = record(num(1, 1), NumberState::Reserved, Some(&acct), t0());
    r.revision = Revision(41); // ignored by insert
    let rev = ok(C, "insert", store.insert(r.clone()).await);
    expect_eq(C, "revision returned by insert", rev, Revision(1));
    let found = get_one(C, store, &r.number).await;
    expect_record(C, "get after insert", found.as_ref(), &r, Revision(1));
    expect_eq(
        C,
        "get of a number never written",
        get_one(C, store, &num(1, 2)).await,
        None,
    );
}

/// Every field of a record survives the store, including the order of public
/// fields, nested and unusual JSON values, and nanosecond timestamps.
pub(super) async fn record_round_trip(store: &dyn Store) {
    const C: &str = "record_round_trip";
    let acct = account(2, "owner");
    let prev = account(2, "previous");
    let mut r = record(num(2, 1), NumberState::InService, Some(&acct), t0());
    r.prev_assigned_to = Some(prev.clone());
    r.reserve_history = vec![acct.clone(), prev.clone()];
    r.used_by = Some("callflow".into());
    r.carrier = "simulated".into();
    r.carrier_data.insert("order_id".into(), json!("ord-1"));
    r.carrier_data.insert(
        "rate_center".into(),
        json!({"name": "SAN FRANCISCO", "lata": 722}),
    );
    r.features
        .insert("cnam".into(), json!({"inbound_lookup": true}));
    r.features.insert(
        "e911".into(),
        json!({"street_address": "140 New Montgomery"}),
    );
    r.features_allowed = vec!["cnam".into(), "e911".into()];
    r.features_denied = vec!["failover".into()];
    r.ported_in = true;
    r.modified = t0() + Duration::nanoseconds(987_654_321);
    r.expires_at = Some(t0() + Duration::days(3) + Duration::nanoseconds(1));
    r.pending = Some(Pending {
        operation: crate::state::Operation::Activate,
        by: crate::account::Actor::Account(
            crate::account::AccountId::new("instance-7").expect("a valid id"),
        ),
        until: t0() + Duration::seconds(30),
    });
    // Keys deliberately out of alphabetical order, values of every JSON kind.
    let mut public = Map::new();
    public.insert("zeta".into(), json!(1));
    public.insert(
        "alpha".into(),
        json!("text with \"quotes\", a \\ backslash, é, 日本, and \u{1F4DE}"),
    );
    public.insert(
        "middle".into(),
        json!({"b": [1, 2.5, -3, null, true], "a": {}}),
    );
    public.insert("big".into(), json!(u64::MAX));
    public.insert("negative".into(), json!(i64::MIN));
    public.insert("float".into(), json!(0.1));
    public.insert("nul".into(), json!("before\u{0}after"));
    public.insert("empty".into(), json!(""));
    r.public = public;
    ok(C, "insert", store.insert(r.clone()).await);
    let found = get_one(C, store, &r.number).await;
    expect_record(C, "get after insert", found.as_ref(), &r, Revision(1));

    // The same through update, with a minimal record (every optional empty).
    let mut minimal = record(r.number, NumberState::Available, None, at(-1_000_000_000));
    minimal.carrier = String::new();
    minimal.features.clear();
    let rev = ok(
        C,
        "update",
        store.update(minimal.clone(), Revision(1)).await,
    );
    expect_eq(C, "revision after update", rev, Revision(2));
    let found = get_one(C, store, &r.number).await;
    expect_record(C, "get after update", found.as_ref(), &minimal, Revision(2));
    let listed = list_all(
        C,
        store,
        &ListQuery {
            prefix: Some(prefix(2)),
            limit: 10,
            ..Default::default()
        },
    )
    .await;
    expect_record(
        C,
        "list after update",
        listed.first(),
        &minimal,
        Revision(2),
    );
}

/// `get_many` answers one slot per requested number, in the order asked,
/// `None` for numbers not stored, both slots for a number asked twice.
pub(super) async fn get_many_order_and_missing(store: &dyn Store) {
    const C: &str = "get_many_order_and_missing";
    let acct = account(3, "a");
    let stored: Vec<NumberRecord> = (0..5)
        .map(|i| {
            record(
                num(3, i * 2),
                NumberState::Reserved,
                Some(&acct),
                at(i64::from(i)),
            )
        })
        .collect();
    let results = write(
        C,
        store,
        stored.iter().cloned().map(Write::Insert).collect(),
        BatchMode::PerItem,
    )
    .await;
    for r in &results {
        ok(C, "insert", r.as_ref());
    }
    let ask = vec![
        num(3, 8),
        num(3, 1),
        num(3, 0),
        num(3, 8),
        num(3, 3),
        num(3, 4),
    ];
    let found = ok(C, "get_many", store.get_many(&ask).await);
    expect_eq(C, "number of slots", found.len(), ask.len());
    for (slot, n) in found.iter().zip(&ask) {
        match stored.iter().find(|r| r.number == *n) {
            Some(r) => expect_record(C, &format!("slot for {n}"), slot.as_ref(), r, Revision(1)),
            None => expect_eq(C, &format!("slot for {n} (not stored)"), slot, &None),
        }
    }
    expect_eq(
        C,
        "get_many of nothing",
        ok(C, "get_many", store.get_many(&[]).await),
        Vec::new(),
    );
}

/// Inserting a stored number fails with `NumberExists` and changes nothing.
pub(super) async fn insert_existing_is_rejected(store: &dyn Store) {
    const C: &str = "insert_existing_is_rejected";
    let a = account(4, "a");
    let b = account(4, "b");
    let first = record(num(4, 1), NumberState::Reserved, Some(&a), t0());
    ok(C, "first insert", store.insert(first.clone()).await);
    let mut second = record(num(4, 1), NumberState::InService, Some(&b), at(5));
    second.public.insert("intruder".into(), json!(true));
    let r = store.insert(second).await;
    expect_number_exists(C, "second insert of the same number", &r, &first.number);
    let found = get_one(C, store, &first.number).await;
    expect_record(
        C,
        "record after the refused insert",
        found.as_ref(),
        &first,
        Revision(1),
    );
}

/// Update is a compare-and-swap on the revision: the right revision wins and
/// increments it, a stale one or a missing number is a `Conflict` and
/// overwrites nothing.
pub(super) async fn update_compare_and_swap(store: &dyn Store) {
    const C: &str = "update_compare_and_swap";
    let a = account(5, "a");
    let mut r = record(num(5, 1), NumberState::Reserved, Some(&a), t0());
    ok(C, "insert", store.insert(r.clone()).await);

    r.public.insert("n".into(), json!(1));
    r.modified = at(1);
    r.revision = Revision(999); // ignored
    let rev = ok(
        C,
        "update at revision 1",
        store.update(r.clone(), Revision(1)).await,
    );
    expect_eq(C, "revision after the first update", rev, Revision(2));

    let mut stale = r.clone();
    stale.public.insert("n".into(), json!("stale"));
    let res = store.update(stale.clone(), Revision(1)).await;
    expect_conflict(C, "update at a stale revision", &res, r.number.as_str());
    let res = store.update(stale, Revision(3)).await;
    expect_conflict(C, "update at a future revision", &res, r.number.as_str());
    let found = get_one(C, store, &r.number).await;
    expect_record(
        C,
        "record after refused updates",
        found.as_ref(),
        &r,
        Revision(2),
    );

    r.state = NumberState::InService;
    let rev = ok(
        C,
        "update at revision 2",
        store.update(r.clone(), Revision(2)).await,
    );
    expect_eq(C, "revision after the second update", rev, Revision(3));
    let found = get_one(C, store, &r.number).await;
    expect_record(
        C,
        "record after the second update",
        found.as_ref(),
        &r,
        Revision(3),
    );

    let missing = record(num(5, 2), NumberState::Reserved, Some(&a), t0());
    let res = store.update(missing.clone(), Revision(1)).await;
    expect_conflict(
        C,
        "update of a number not stored",
        &res,
        missing.number.as_str(),
    );
    let res = store.update(missing.clone(), Revision::NEW).await;
    expect_conflict(
        C,
        "update of a number not stored, at revision 0",
        &res,
        missing.number.as_str(),
    );
    expect_eq(
        C,
        "a refused update of a missing number stores nothing",
        get_one(C, store, &missing.number).await,
        None,
    );
}

/// Delete is a compare-and-swap too: a stale revision or a missing number is a
/// `Conflict`; the right revision removes the record, which may then be
/// inserted again, at a revision greater than any it had before.
pub(super) async fn delete_compare_and_swap(store: &dyn Store) {
    const C: &str = "delete_compare_and_swap";
    let a = account(6, "a");
    let r = record(num(6, 1), NumberState::Reserved, Some(&a), t0());
    ok(C, "insert", store.insert(r.clone()).await);
    ok(C, "update", store.update(r.clone(), Revision(1)).await);

    let res = store
        .delete(&r.number, Revision(1))
        .await
        .map(|()| Revision::NEW);
    expect_conflict(C, "delete at a stale revision", &res, r.number.as_str());
    let found = get_one(C, store, &r.number).await;
    expect_record(
        C,
        "record after the refused delete",
        found.as_ref(),
        &r,
        Revision(2),
    );

    let results = write(
        C,
        store,
        vec![Write::Delete {
            number: r.number,
            expected: Revision(2),
        }],
        BatchMode::PerItem,
    )
    .await;
    expect_eq(C, "result of a delete", &results[0], &Ok(Revision::NEW));
    expect_eq(
        C,
        "get after delete",
        get_one(C, store, &r.number).await,
        None,
    );

    let res = store
        .delete(&r.number, Revision(2))
        .await
        .map(|()| Revision::NEW);
    expect_conflict(C, "delete of a number not stored", &res, r.number.as_str());

    let again = record(r.number, NumberState::Available, None, at(10));
    let rev = ok(C, "insert after delete", store.insert(again.clone()).await);
    expect(
        C,
        &format!("a re-inserted number to get a revision above 2, its last one before the delete (got {rev:?})"),
        rev > Revision(2),
    );
    let found = get_one(C, store, &r.number).await;
    expect_record(C, "get after re-insert", found.as_ref(), &again, rev);
}
