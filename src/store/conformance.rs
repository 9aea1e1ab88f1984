//! The [`Store`] conformance suite: one contract, one suite, every backend.
//!
//! Every built-in store ([`MemoryStore`](super::MemoryStore), and the SQL
//! stores behind their features) runs these checks in its tests, and a host that
//! writes its own [`Store`] runs them against it. Each check is a plain async
//! function taking a store; [`run_all`] runs every check, each on a fresh store
//! made by the factory it is given.
//!
//! A host checks its own store in five lines (here with `MemoryStore`; in a
//! test file, `#[tokio::test] async fn my_store_conforms()` in place of `main`):
//!
//! ```
//! use number_manager::store::{conformance, MemoryStore};
//!
//! #[tokio::main]
//! async fn main() {
//!     conformance::run_all(|| async { MemoryStore::new() }).await;
//! }
//! ```
//!
//! Or one check at a time, on any store:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use number_manager::store::{conformance, MemoryStore};
//! let store = MemoryStore::new();
//! conformance::batch_atomic(&store).await;
//! conformance::concurrent_counter(&store).await;
//! # }
//! ```
//!
//! The checks are runtime-agnostic: they spawn nothing, and run their
//! concurrent tasks by polling them together on the caller's task (the store's
//! own I/O may of course run elsewhere). A backend that needs a runtime (the SQL
//! stores need tokio) is driven from inside one by the caller.
//!
//! What the checks assume about the store they get: nothing is stored under the
//! numbers they use. Each check uses its own block of numbers (`+1555CCC....`,
//! `CCC` the check's index) and its own account ids (`conformance-CCC-...`), and
//! it asserts only about those, so the checks can also share one store, run one
//! after another or at the same time, as long as each runs once. The one
//! exception is [`tombstone_purge`]: it purges every tombstone the store holds
//! (those of other checks too), so on a shared store run it after the others,
//! not at the same time ([`run_all`] runs it last).
//!
//! This is test-support code: a check that finds the store breaking the
//! contract panics, with a message naming the check and what was expected and
//! found. It is the only module of the library allowed to panic, and it is only
//! built with the `testing` feature.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::{
    matches_query, BatchMode, Committed, IdempotencyEntry, Journal, ListQuery, Page, Store,
    StoreExt, Write, WriteResult, BATCH_ABORTED,
};
use crate::account::AccountId;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Pending, Revision};
use crate::state::NumberState;

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// Runs every check of the suite, each on a fresh store from `factory`, one
/// after another. Panics on the first check the store fails.
pub async fn run_all<S, F, Fut>(mut factory: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    insert_and_get(&factory().await).await;
    record_round_trip(&factory().await).await;
    get_many_order_and_missing(&factory().await).await;
    insert_existing_is_rejected(&factory().await).await;
    update_compare_and_swap(&factory().await).await;
    delete_compare_and_swap(&factory().await).await;
    batch_per_item(&factory().await).await;
    batch_atomic(&factory().await).await;
    batch_sees_earlier_writes(&factory().await).await;
    large_batches(&factory().await).await;
    list_by_accounts(&factory().await).await;
    list_filters(&factory().await).await;
    list_paging(&factory().await).await;
    list_paging_while_writing(&factory().await).await;
    list_scan_limit(&factory().await).await;
    discovery_expiry(&factory().await).await;
    idempotency(&factory().await).await;
    idempotency_purge(&factory().await).await;
    concurrent_counter(&factory().await).await;
    concurrent_inserts(&factory().await).await;
    concurrent_idempotency_begin(&factory().await).await;
    idempotency_lease(&factory().await).await;
    idempotency_journal(&factory().await).await;
    concurrent_idempotency_takeover(&factory().await).await;
    reinsert_never_repeats_revisions(&factory().await).await;
    reinsert_in_one_batch(&factory().await).await;
    tombstone_purge(&factory().await).await;
}

/// The names of the checks [`run_all`] runs, in order (for hosts that want to
/// report them or run them one by one).
pub const CHECKS: &[&str] = &[
    "insert_and_get",
    "record_round_trip",
    "get_many_order_and_missing",
    "insert_existing_is_rejected",
    "update_compare_and_swap",
    "delete_compare_and_swap",
    "batch_per_item",
    "batch_atomic",
    "batch_sees_earlier_writes",
    "large_batches",
    "list_by_accounts",
    "list_filters",
    "list_paging",
    "list_paging_while_writing",
    "list_scan_limit",
    "discovery_expiry",
    "idempotency",
    "idempotency_purge",
    "concurrent_counter",
    "concurrent_inserts",
    "concurrent_idempotency_begin",
    "idempotency_lease",
    "idempotency_journal",
    "concurrent_idempotency_takeover",
    "reinsert_never_repeats_revisions",
    "reinsert_in_one_batch",
    "tombstone_purge",
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The `i`-th number of check `check`: `+1555` + 3 digits + 4 digits.
fn num(check: u16, i: u32) -> PhoneNumber {
    PhoneNumber::from_e164(&format!("+1555{:03}{:04}", check % 1000, i % 10_000))
        .unwrap_or_else(|e| panic!("conformance: bad test number for check {check}, {i}: {e}"))
}

/// The prefix every number of check `check` starts with.
fn prefix(check: u16) -> String {
    format!("+1555{:03}", check % 1000)
}

fn account(check: u16, name: &str) -> AccountId {
    AccountId::new(format!("conformance-{check:03}-{name}"))
        .unwrap_or_else(|e| panic!("conformance: bad test account id: {e}"))
}

/// A fixed instant with a sub-microsecond part, so stores that round times fail.
fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 123_456_789)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

fn record(
    number: PhoneNumber,
    state: NumberState,
    owner: Option<&AccountId>,
    created: DateTime<Utc>,
) -> NumberRecord {
    let mut r = NumberRecord::new(number, state, "local", created);
    r.assigned_to = owner.cloned();
    r
}

#[track_caller]
fn ok<T, E: Debug>(check: &str, what: &str, r: std::result::Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("conformance::{check}: {what} failed: {e:?}"),
    }
}

#[track_caller]
fn expect_eq<T: PartialEq + Debug>(check: &str, what: &str, found: T, expected: T) {
    if found != expected {
        panic!("conformance::{check}: {what}:\n  expected {expected:?}\n     found {found:?}");
    }
}

#[track_caller]
fn expect(check: &str, what: &str, cond: bool) {
    if !cond {
        panic!("conformance::{check}: expected {what}");
    }
}

#[track_caller]
fn expect_number_exists(check: &str, what: &str, r: &WriteResult, number: &PhoneNumber) {
    match r {
        Err(Error::NumberExists { number: n }) if n == number.as_str() => {}
        other => panic!("conformance::{check}: {what}: expected Err(NumberExists {{ number: {number} }}), found {other:?}"),
    }
}

#[track_caller]
fn expect_conflict(check: &str, what: &str, r: &WriteResult, number: &str) {
    match r {
        Err(Error::Conflict { number: n, reason }) if n == number && reason != BATCH_ABORTED => {}
        other => panic!(
            "conformance::{check}: {what}: expected Err(Conflict {{ number: {number}, .. }}) (its own, not {BATCH_ABORTED:?}), found {other:?}"
        ),
    }
}

#[track_caller]
fn expect_aborted(check: &str, what: &str, r: &WriteResult, number: &PhoneNumber) {
    match r {
        Err(Error::Conflict { number: n, reason }) if n == number.as_str() && reason == BATCH_ABORTED => {}
        other => panic!(
            "conformance::{check}: {what}: expected Err(Conflict {{ number: {number}, reason: {BATCH_ABORTED:?} }}), found {other:?}"
        ),
    }
}

/// Compares a record read back with the one written, ignoring `revision`, and
/// checks the revision separately.
#[track_caller]
fn expect_record(
    check: &str,
    what: &str,
    found: Option<&NumberRecord>,
    written: &NumberRecord,
    revision: Revision,
) {
    let Some(found) = found else {
        panic!(
            "conformance::{check}: {what}: expected {} to be stored, found nothing",
            written.number
        );
    };
    expect_eq(
        check,
        &format!("{what}: revision of {}", written.number),
        found.revision,
        revision,
    );
    let mut written = written.clone();
    written.revision = revision;
    expect_eq(
        check,
        &format!("{what}: record {}", written.number),
        found,
        &written,
    );
    // `Map` equality ignores order; public fields must keep theirs.
    let found_keys: Vec<&String> = found.public.keys().collect();
    let written_keys: Vec<&String> = written.public.keys().collect();
    expect_eq(
        check,
        &format!("{what}: order of public fields of {}", written.number),
        found_keys,
        written_keys,
    );
}

async fn get_one<S: Store + ?Sized>(
    check: &str,
    store: &S,
    number: &PhoneNumber,
) -> Option<NumberRecord> {
    ok(check, &format!("get {number}"), store.get(number).await)
}

async fn write<S: Store + ?Sized>(
    check: &str,
    store: &S,
    writes: Vec<Write>,
    mode: BatchMode,
) -> Vec<WriteResult> {
    let n = writes.len();
    let results = ok(check, "write_batch", store.write_batch(writes, mode).await);
    expect_eq(check, "number of results of write_batch", results.len(), n);
    results
}

async fn list_all<S: Store + ?Sized>(
    check: &str,
    store: &S,
    query: &ListQuery,
) -> Vec<NumberRecord> {
    let mut q = query.clone();
    let mut out: Vec<NumberRecord> = Vec::new();
    for _ in 0..100_000 {
        let page = ok(check, &format!("list {q:?}"), store.list(&q).await);
        check_page(check, &q, &page);
        if let (Some(last), Some(first)) = (out.last(), page.records.first()) {
            expect(
                check,
                &format!(
                    "pages to follow each other in number order ({} then {})",
                    last.number, first.number
                ),
                last.number < first.number,
            );
        }
        out.extend(page.records);
        match page.next_start_key {
            Some(k) => q.start_key = Some(k),
            None => return out,
        }
    }
    panic!("conformance::{check}: listing {query:?} never ended");
}

/// What holds for any page, whatever else is stored.
fn check_page(check: &str, q: &ListQuery, page: &Page) {
    let limit = q.limit.max(1);
    expect(
        check,
        &format!(
            "at most {limit} records in a page, found {}",
            page.records.len()
        ),
        page.records.len() <= limit,
    );
    for w in page.records.windows(2) {
        expect(
            check,
            &format!(
                "records in strictly increasing number order ({} then {})",
                w[0].number, w[1].number
            ),
            w[0].number < w[1].number,
        );
    }
    for r in &page.records {
        expect(
            check,
            &format!("listed record {} to match the query {q:?}", r.number),
            matches_query(r, q),
        );
        if let Some(s) = &q.start_key {
            expect(
                check,
                &format!("listed record {} at or after start_key {s}", r.number),
                &r.number >= s,
            );
        }
        expect(
            check,
            &format!(
                "listed record {} to carry its stored revision (not 0)",
                r.number
            ),
            r.revision != Revision::NEW,
        );
    }
    if let (Some(next), Some(last)) = (&page.next_start_key, page.records.last()) {
        expect(
            check,
            &format!(
                "next_start_key {next} after the last record {}",
                last.number
            ),
            next > &last.number,
        );
    }
    if let Some(bound) = q.scan_limit {
        // A page cut by its scan bound may be short, even empty; it still moves on.
        expect(
            check,
            &format!(
                "at most the scan limit {bound} of records examined, found {}",
                page.scanned
            ),
            page.scanned <= bound.max(1),
        );
        if let (Some(next), Some(start)) = (&page.next_start_key, &q.start_key) {
            expect(
                check,
                &format!("next_start_key {next} after start_key {start}"),
                next > start,
            );
        }
    } else if page.next_start_key.is_some() {
        expect(
            check,
            &format!("a full page ({limit} records) when there is a next page"),
            page.records.len() == limit,
        );
    }
}

fn numbers(records: &[NumberRecord]) -> Vec<PhoneNumber> {
    records.iter().map(|r| r.number).collect()
}

type Task<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every future on the current task until all are done; results in order.
fn join_all<T>(tasks: Vec<Task<'_, T>>) -> JoinAll<'_, T> {
    let n = tasks.len();
    JoinAll {
        tasks: tasks.into_iter().map(Some).collect(),
        results: (0..n).map(|_| None).collect(),
    }
}

struct JoinAll<'a, T> {
    tasks: Vec<Option<Task<'a, T>>>,
    results: Vec<Option<T>>,
}

// Results are never pinned: they are moved out once their task is done.
impl<T> Unpin for JoinAll<'_, T> {}

impl<T> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = self.get_mut();
        let mut pending = false;
        for (slot, result) in this.tasks.iter_mut().zip(this.results.iter_mut()) {
            if let Some(task) = slot {
                match task.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(this.results.iter_mut().filter_map(Option::take).collect())
        }
    }
}

/// Gives the other tasks of a [`join_all`] a turn.
fn yield_now() -> YieldNow {
    YieldNow(false)
}

struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

// ---------------------------------------------------------------------------
// Single records
// ---------------------------------------------------------------------------

/// Insert-if-absent and read back: the insert returns revision 1, `get` finds
/// the record with that revision, a number never written reads as `None`.
pub async fn insert_and_get<S: Store + ?Sized>(store: &S) {
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
pub async fn record_round_trip<S: Store + ?Sized>(store: &S) {
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
        by: crate::account::Actor::Account(AccountId::new("instance-7").expect("a valid id")),
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
pub async fn get_many_order_and_missing<S: Store + ?Sized>(store: &S) {
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
pub async fn insert_existing_is_rejected<S: Store + ?Sized>(store: &S) {
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
pub async fn update_compare_and_swap<S: Store + ?Sized>(store: &S) {
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
pub async fn delete_compare_and_swap<S: Store + ?Sized>(store: &S) {
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

// ---------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------

/// A `PerItem` batch: each write succeeds or fails on its own, results in order.
pub async fn batch_per_item<S: Store + ?Sized>(store: &S) {
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
/// reports `Conflict` with reason [`BATCH_ABORTED`]. When all succeed, all
/// are applied.
pub async fn batch_atomic<S: Store + ?Sized>(store: &S) {
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
pub async fn batch_sees_earlier_writes<S: Store + ?Sized>(store: &S) {
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
pub async fn large_batches<S: Store + ?Sized>(store: &S) {
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

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

/// Listing by one account, several accounts, or any owner (including none).
pub async fn list_by_accounts<S: Store + ?Sized>(store: &S) {
    const C: &str = "list_by_accounts";
    let a = account(11, "a");
    let b = account(11, "b");
    let c = account(11, "c");
    let owners = [
        Some(&a),
        Some(&b),
        None,
        Some(&a),
        Some(&c),
        Some(&b),
        None,
        Some(&a),
    ];
    let records: Vec<NumberRecord> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let state = if o.is_some() {
                NumberState::Reserved
            } else {
                NumberState::Available
            };
            record(num(11, i as u32), state, *o, t0())
        })
        .collect();
    // Insert out of order: listings sort by number, not by insertion.
    for r in records.iter().rev() {
        ok(C, "insert", store.insert(r.clone()).await);
    }
    let of = |accts: &[&AccountId]| -> Vec<PhoneNumber> {
        records
            .iter()
            .filter(|r| {
                accts.is_empty() || r.assigned_to.as_ref().is_some_and(|o| accts.contains(&o))
            })
            .map(|r| r.number)
            .collect()
    };
    for accts in [
        vec![&a],
        vec![&b],
        vec![&c],
        vec![&a, &c],
        vec![&c, &b, &a],
        vec![],
    ] {
        let q = ListQuery {
            accounts: accts.iter().map(|x| (*x).clone()).collect(),
            prefix: Some(prefix(11)),
            limit: 100,
            ..Default::default()
        };
        let listed = list_all(C, store, &q).await;
        expect_eq(
            C,
            &format!("numbers of accounts {accts:?}"),
            numbers(&listed),
            of(&accts),
        );
        expect_eq(
            C,
            &format!("count of accounts {accts:?}"),
            ok(C, "count", store.count(&q).await),
            listed.len(),
        );
        for r in &listed {
            let original = records.iter().find(|x| x.number == r.number);
            expect_record(
                C,
                "listed record",
                Some(r),
                original.unwrap_or(r),
                Revision(1),
            );
        }
    }
    let nobody = ListQuery {
        accounts: vec![account(11, "nobody")],
        limit: 100,
        ..Default::default()
    };
    expect_eq(
        C,
        "numbers of an account with none",
        list_all(C, store, &nobody).await.len(),
        0,
    );
}

/// Every filter of [`ListQuery`], alone and together, with exact boundaries
/// (to the nanosecond, and for instants centuries away), and [`Store::count`]
/// agreeing with the listing.
pub async fn list_filters<S: Store + ?Sized>(store: &S) {
    const C: &str = "list_filters";
    let a = account(12, "a");
    let b = account(12, "b");
    let states = [
        NumberState::Reserved,
        NumberState::InService,
        NumberState::Available,
        NumberState::Discovery,
        NumberState::PortIn,
        NumberState::Aging,
        NumberState::Released,
        NumberState::PortOut,
    ];
    let mut records = Vec::new();
    for i in 0..48u32 {
        let state = states[(i as usize) % states.len()];
        let owner = match i % 3 {
            0 => Some(&a),
            1 => Some(&b),
            _ => None,
        };
        // Spread over two sub-prefixes: +1555012 0xxx and +1555012 1xxx.
        let n = num(12, if i % 2 == 0 { i } else { 1000 + i });
        let mut r = record(
            n,
            state,
            owner,
            at(i64::from(i) * 10) + Duration::nanoseconds(i64::from(i)),
        );
        r.modified = at(1000 - i64::from(i) * 7) + Duration::nanoseconds(3);
        if i % 4 == 0 {
            r.expires_at = Some(at(2000 + i64::from(i)) + Duration::nanoseconds(5));
        }
        records.push(r);
    }
    let results = write(
        C,
        store,
        records.iter().cloned().map(Write::Insert).collect(),
        BatchMode::PerItem,
    )
    .await;
    for r in &results {
        ok(C, "insert", r.as_ref());
    }
    let base = ListQuery {
        prefix: Some(prefix(12)),
        limit: 5,
        ..Default::default()
    };
    let created = |i: i64| at(i * 10) + Duration::nanoseconds(i);
    let modified = |i: i64| at(1000 - i * 7) + Duration::nanoseconds(3);
    let expires = |i: i64| at(2000 + i) + Duration::nanoseconds(5);
    let queries: Vec<(&str, ListQuery)> = vec![
        ("no filter (excludes discovery)", base.clone()),
        (
            "sub-prefix",
            ListQuery {
                prefix: Some(format!("{}1", prefix(12))),
                ..base.clone()
            },
        ),
        (
            "exact number as prefix",
            ListQuery {
                prefix: Some(num(12, 4).as_str().to_string()),
                ..base.clone()
            },
        ),
        (
            "prefix matching nothing",
            ListQuery {
                prefix: Some(format!("{}9", prefix(12))),
                ..base.clone()
            },
        ),
        (
            "one state",
            ListQuery {
                states: vec![NumberState::InService],
                ..base.clone()
            },
        ),
        (
            "several states, with discovery",
            ListQuery {
                states: vec![
                    NumberState::Discovery,
                    NumberState::Aging,
                    NumberState::Reserved,
                ],
                ..base.clone()
            },
        ),
        (
            "discovery only",
            ListQuery {
                states: vec![NumberState::Discovery],
                ..base.clone()
            },
        ),
        (
            "created_from (inclusive, to the nanosecond)",
            ListQuery {
                created_from: Some(created(17)),
                ..base.clone()
            },
        ),
        (
            "created_from one nanosecond after a record",
            ListQuery {
                created_from: Some(created(17) + Duration::nanoseconds(1)),
                ..base.clone()
            },
        ),
        (
            "created_to (inclusive, to the nanosecond)",
            ListQuery {
                created_to: Some(created(30)),
                ..base.clone()
            },
        ),
        (
            "created_to one nanosecond before a record",
            ListQuery {
                created_to: Some(created(30) - Duration::nanoseconds(1)),
                ..base.clone()
            },
        ),
        (
            "created window",
            ListQuery {
                created_from: Some(created(5)),
                created_to: Some(created(25)),
                ..base.clone()
            },
        ),
        (
            "modified_before (exclusive)",
            ListQuery {
                modified_before: Some(modified(20)),
                ..base.clone()
            },
        ),
        (
            "modified_before one nanosecond later",
            ListQuery {
                modified_before: Some(modified(20) + Duration::nanoseconds(1)),
                ..base.clone()
            },
        ),
        (
            "expires_before (inclusive)",
            ListQuery {
                expires_before: Some(expires(24)),
                ..base.clone()
            },
        ),
        (
            "expires_before one nanosecond early",
            ListQuery {
                expires_before: Some(expires(24) - Duration::nanoseconds(1)),
                ..base.clone()
            },
        ),
        (
            "expires_before with every state",
            ListQuery {
                expires_before: Some(expires(100)),
                states: states.to_vec(),
                ..base.clone()
            },
        ),
        (
            "account and states",
            ListQuery {
                accounts: vec![a.clone()],
                states: vec![
                    NumberState::Reserved,
                    NumberState::PortIn,
                    NumberState::Discovery,
                ],
                ..base.clone()
            },
        ),
        (
            "everything at once",
            ListQuery {
                accounts: vec![a.clone(), b.clone()],
                prefix: Some(format!("{}0", prefix(12))),
                states: vec![
                    NumberState::Reserved,
                    NumberState::Aging,
                    NumberState::Discovery,
                ],
                created_from: Some(created(4)),
                created_to: Some(created(44)),
                modified_before: Some(modified(2)),
                expires_before: Some(expires(40)),
                ..base.clone()
            },
        ),
        (
            "start_key inside the range",
            ListQuery {
                start_key: Some(num(12, 20)),
                ..base.clone()
            },
        ),
        (
            "start_key between numbers",
            ListQuery {
                start_key: Some(num(12, 21)),
                ..base.clone()
            },
        ),
        (
            "start_key before the range",
            ListQuery {
                start_key: Some(num(11, 9999)),
                ..base.clone()
            },
        ),
        (
            "start_key after the range",
            ListQuery {
                start_key: Some(num(13, 0)),
                ..base.clone()
            },
        ),
    ];
    for (what, q) in &queries {
        let mut expected: Vec<PhoneNumber> = records
            .iter()
            .filter(|r| matches_query(r, q) && !matches!(q.start_key, Some(s) if r.number < s))
            .map(|r| r.number)
            .collect();
        expected.sort();
        let listed = list_all(C, store, q).await;
        if q.start_key.is_none() {
            let counted = ok(C, "count", store.count(q).await);
            expect_eq(C, &format!("count for {what}"), counted, expected.len());
        }
        expect_eq(
            C,
            &format!("numbers listed for {what}"),
            numbers(&listed),
            expected,
        );
    }
    // Sanity: the filters above are not vacuous.
    let discovery = list_all(C, store, &queries[6].1).await;
    expect_eq(C, "discovery entries present", discovery.len(), 6);
    let unfiltered = list_all(C, store, &base).await;
    expect_eq(
        C,
        "entries listed without a state filter",
        unfiltered.len(),
        42,
    );

    // Instants far from now (outside what 64-bit nanoseconds hold) filter exactly too.
    let year = |y: i32, ns: u32| {
        Utc.with_ymd_and_hms(y, 6, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
            + Duration::nanoseconds(i64::from(ns))
    };
    let mut future = record(
        num(12, 5001),
        NumberState::Reserved,
        Some(&a),
        year(3000, 7),
    );
    future.modified = year(3000, 7);
    future.expires_at = Some(year(3001, 7));
    let mut past = record(
        num(12, 5002),
        NumberState::Reserved,
        Some(&a),
        year(1500, 7),
    );
    past.modified = year(1500, 7);
    past.expires_at = Some(year(1501, 7));
    let present = record(num(12, 5003), NumberState::Reserved, Some(&a), t0());
    let extremes = [future.clone(), past.clone(), present.clone()];
    for r in &extremes {
        ok(C, "insert", store.insert(r.clone()).await);
    }
    let scoped = ListQuery {
        prefix: Some(format!("{}5", prefix(12))),
        limit: 2,
        ..Default::default()
    };
    let far: Vec<(&str, ListQuery)> = vec![
        ("everything", scoped.clone()),
        (
            "created_from 2500",
            ListQuery {
                created_from: Some(year(2500, 0)),
                ..scoped.clone()
            },
        ),
        (
            "created_from exactly a year-3000 record",
            ListQuery {
                created_from: Some(year(3000, 7)),
                ..scoped.clone()
            },
        ),
        (
            "created_from just after it",
            ListQuery {
                created_from: Some(year(3000, 8)),
                ..scoped.clone()
            },
        ),
        (
            "created_to 1600",
            ListQuery {
                created_to: Some(year(1600, 0)),
                ..scoped.clone()
            },
        ),
        (
            "created_to just before a year-1500 record",
            ListQuery {
                created_to: Some(year(1500, 6)),
                ..scoped.clone()
            },
        ),
        (
            "created_from 1400 to 2900",
            ListQuery {
                created_from: Some(year(1400, 0)),
                created_to: Some(year(2900, 0)),
                ..scoped.clone()
            },
        ),
        (
            "modified_before exactly a year-3000 record",
            ListQuery {
                modified_before: Some(year(3000, 7)),
                ..scoped.clone()
            },
        ),
        (
            "modified_before just after it",
            ListQuery {
                modified_before: Some(year(3000, 8)),
                ..scoped.clone()
            },
        ),
        (
            "modified_before 1500 exactly",
            ListQuery {
                modified_before: Some(year(1500, 7)),
                ..scoped.clone()
            },
        ),
        (
            "expires_before 3001 exactly",
            ListQuery {
                expires_before: Some(year(3001, 7)),
                ..scoped.clone()
            },
        ),
        (
            "expires_before just before 3001",
            ListQuery {
                expires_before: Some(year(3001, 6)),
                ..scoped.clone()
            },
        ),
        (
            "expires_before 1501 exactly",
            ListQuery {
                expires_before: Some(year(1501, 7)),
                ..scoped.clone()
            },
        ),
    ];
    for (what, q) in &far {
        let expected: Vec<PhoneNumber> = extremes
            .iter()
            .filter(|r| matches_query(r, q))
            .map(|r| r.number)
            .collect();
        let listed = list_all(C, store, q).await;
        expect_eq(
            C,
            &format!("numbers listed for {what}"),
            numbers(&listed),
            expected.clone(),
        );
        let counted = ok(C, "count", store.count(q).await);
        expect_eq(C, &format!("count for {what}"), counted, expected.len());
    }
    let found = get_one(C, store, &future.number).await;
    expect_record(
        C,
        "a record from the year 3000",
        found.as_ref(),
        &future,
        Revision(1),
    );
    let found = get_one(C, store, &past.number).await;
    expect_record(
        C,
        "a record from the year 1500",
        found.as_ref(),
        &past,
        Revision(1),
    );
}

/// Paging: `limit` (0 counts as 1), `next_start_key` as the first number of
/// the next page, `start_key` inclusive, and a huge `limit`.
pub async fn list_paging<S: Store + ?Sized>(store: &S) {
    const C: &str = "list_paging";
    let a = account(13, "a");
    let records: Vec<NumberRecord> = (0..23u32)
        .map(|i| record(num(13, i * 3), NumberState::Reserved, Some(&a), t0()))
        .collect();
    let results = write(
        C,
        store,
        records.iter().cloned().map(Write::Insert).collect(),
        BatchMode::PerItem,
    )
    .await;
    for r in &results {
        ok(C, "insert", r.as_ref());
    }
    let all = numbers(&records);
    for limit in [0usize, 1, 2, 5, 22, 23, 24, 1000, usize::MAX] {
        let q = ListQuery {
            accounts: vec![a.clone()],
            limit,
            ..Default::default()
        };
        let first = ok(C, "list", store.list(&q).await);
        let want = limit.clamp(1, all.len());
        expect_eq(
            C,
            &format!("first page with limit {limit}"),
            numbers(&first.records),
            all[..want].to_vec(),
        );
        expect_eq(
            C,
            &format!("next_start_key with limit {limit}"),
            first.next_start_key,
            all.get(want).copied(),
        );
        let listed = list_all(C, store, &q).await;
        expect_eq(
            C,
            &format!("all pages with limit {limit}"),
            numbers(&listed),
            all.clone(),
        );
    }
    // start_key on a stored number includes it; between numbers starts at the next.
    let q = ListQuery {
        accounts: vec![a.clone()],
        start_key: Some(num(13, 30)),
        limit: 2,
        ..Default::default()
    };
    let page = ok(C, "list", store.list(&q).await);
    expect_eq(
        C,
        "page at a stored start_key",
        numbers(&page.records),
        vec![num(13, 30), num(13, 33)],
    );
    expect_eq(
        C,
        "its next_start_key",
        page.next_start_key,
        Some(num(13, 36)),
    );
    let q = ListQuery {
        start_key: Some(num(13, 31)),
        ..q
    };
    let page = ok(C, "list", store.list(&q).await);
    expect_eq(
        C,
        "page at a start_key between numbers",
        numbers(&page.records),
        vec![num(13, 33), num(13, 36)],
    );
    let q = ListQuery {
        start_key: Some(num(13, 66)),
        ..q
    };
    let page = ok(C, "list", store.list(&q).await);
    expect_eq(C, "last page", numbers(&page.records), vec![num(13, 66)]);
    expect_eq(
        C,
        "no next_start_key after the last page",
        page.next_start_key,
        None,
    );
    // next_start_key skips numbers that do not match.
    let mut other = record(
        num(13, 1),
        NumberState::Reserved,
        Some(&account(13, "b")),
        t0(),
    );
    other.public.insert("x".into(), json!(1));
    ok(C, "insert", store.insert(other).await);
    let q = ListQuery {
        accounts: vec![a.clone()],
        limit: 1,
        ..Default::default()
    };
    let page = ok(C, "list", store.list(&q).await);
    expect_eq(
        C,
        "next_start_key is the next matching number",
        page.next_start_key,
        Some(num(13, 3)),
    );
}

/// A scan limit bounds the records one call examines: a page that reaches it
/// ends early (possibly empty) at the first number it did not examine, and a
/// walk that follows `next_start_key` still returns every match once.
pub async fn list_scan_limit<S: Store + ?Sized>(store: &S) {
    const C: &str = "list_scan_limit";
    let (a, b) = (account(31, "a"), account(31, "b"));
    // a: 40 numbers (even), two of them in service; b: 10 numbers (odd) between.
    let mut writes = Vec::new();
    for i in 0..40u32 {
        let state = if i == 25 || i == 33 {
            NumberState::InService
        } else {
            NumberState::Reserved
        };
        writes.push(Write::Insert(record(num(31, 2 * i), state, Some(&a), t0())));
    }
    for i in 0..10u32 {
        let r = record(num(31, 2 * i + 1), NumberState::InService, Some(&b), t0());
        writes.push(Write::Insert(r));
    }
    for r in write(C, store, writes, BatchMode::PerItem).await {
        ok(C, "insert", r.as_ref());
    }
    let in_service = ListQuery {
        accounts: vec![a.clone()],
        states: vec![NumberState::InService],
        limit: 5,
        scan_limit: Some(10),
        ..Default::default()
    };
    let page = ok(C, "list", store.list(&in_service).await);
    check_page(C, &in_service, &page);
    expect_eq(
        C,
        "records of a page cut by its scan limit",
        numbers(&page.records),
        vec![],
    );
    expect_eq(
        C,
        "next_start_key of a cut page (the 11th number of the account)",
        page.next_start_key,
        Some(num(31, 20)),
    );
    expect_eq(C, "records examined by a cut page", page.scanned, 10);
    // The walk finds both matches, in pages that examine 10 numbers each.
    let mut q = in_service.clone();
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        let page = ok(C, "list", store.list(&q).await);
        check_page(C, &q, &page);
        pages += 1;
        expect(C, "the walk to end", pages <= 50);
        found.extend(numbers(&page.records));
        match page.next_start_key {
            Some(k) => q.start_key = Some(k),
            None => break,
        }
    }
    expect_eq(
        C,
        "matches of a bounded walk",
        found,
        vec![num(31, 50), num(31, 66)],
    );
    expect(C, "at least 4 pages for 40 numbers, 10 a page", pages >= 4);
    // Without other filters, and over every account, the walk is the listing.
    let all_a: Vec<PhoneNumber> = (0..40u32).map(|i| num(31, 2 * i)).collect();
    for scan_limit in [0usize, 1, 3, 7, 40, 1000] {
        let q = ListQuery {
            accounts: vec![a.clone()],
            limit: 3,
            scan_limit: Some(scan_limit),
            ..Default::default()
        };
        let listed = list_all(C, store, &q).await;
        expect_eq(
            C,
            &format!("walk with scan limit {scan_limit}"),
            numbers(&listed),
            all_a.clone(),
        );
        let q = ListQuery {
            accounts: vec![],
            prefix: Some(prefix(31)),
            states: vec![NumberState::InService],
            limit: 2,
            scan_limit: Some(scan_limit),
            ..Default::default()
        };
        let listed = list_all(C, store, &q).await;
        let mut want: Vec<PhoneNumber> = (0..10u32).map(|i| num(31, 2 * i + 1)).collect();
        want.extend([num(31, 50), num(31, 66)]);
        expect_eq(
            C,
            &format!("in service with scan limit {scan_limit}"),
            numbers(&listed),
            want,
        );
    }
    // A page that fills within its bound is a plain page.
    let q = ListQuery {
        accounts: vec![a.clone()],
        limit: 5,
        scan_limit: Some(100),
        ..Default::default()
    };
    let page = ok(C, "list", store.list(&q).await);
    check_page(C, &q, &page);
    expect_eq(
        C,
        "a full bounded page",
        numbers(&page.records),
        all_a[..5].to_vec(),
    );
    expect_eq(C, "its next_start_key", page.next_start_key, Some(all_a[5]));
    expect(
        C,
        &format!(
            "a full page of 5 to examine 5 or 6 records, found {}",
            page.scanned
        ),
        (5..=6).contains(&page.scanned),
    );
}

/// Paging through an account while other tasks insert, update and delete
/// numbers: every number stored for the whole walk shows exactly once, in
/// order, and nothing repeats.
pub async fn list_paging_while_writing<S: Store + ?Sized>(store: &S) {
    const C: &str = "list_paging_while_writing";
    let a = account(14, "a");
    let b = account(14, "b");
    let stable: Vec<NumberRecord> = (0..300u32)
        .map(|i| record(num(14, i * 4), NumberState::InService, Some(&a), t0()))
        .collect();
    let doomed: Vec<NumberRecord> = (0..100u32)
        .map(|i| record(num(14, i * 12 + 2), NumberState::Reserved, Some(&a), t0()))
        .collect();
    let results = write(
        C,
        store,
        stable
            .iter()
            .chain(&doomed)
            .cloned()
            .map(Write::Insert)
            .collect(),
        BatchMode::PerItem,
    )
    .await;
    for r in &results {
        ok(C, "insert", r.as_ref());
    }
    let walker = async {
        let q = ListQuery {
            accounts: vec![a.clone()],
            limit: 7,
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut q = q;
        for _ in 0..10_000 {
            let page = ok(C, "list", store.list(&q).await);
            check_page(C, &q, &page);
            seen.extend(page.records.iter().map(|r| r.number));
            yield_now().await;
            match page.next_start_key {
                Some(k) => q.start_key = Some(k),
                None => break,
            }
        }
        seen
    };
    // Numbers between the stable ones, for the same account and another.
    let newcomers: Vec<NumberRecord> = (0..300u32)
        .map(|i| {
            let owner = if i % 2 == 0 { &a } else { &b };
            record(num(14, i * 4 + 1), NumberState::Reserved, Some(owner), t0())
        })
        .collect();
    let inserter = async {
        for r in &newcomers {
            let r = r.clone();
            ok(C, "concurrent insert", store.insert(r).await);
            yield_now().await;
        }
        Vec::new()
    };
    let updater = async {
        for (i, r) in stable.iter().enumerate().step_by(3) {
            let mut r = r.clone();
            r.public.insert("touched".into(), json!(i));
            ok(C, "concurrent update", store.update(r, Revision(1)).await);
            yield_now().await;
        }
        Vec::new()
    };
    let deleter = async {
        for r in &doomed {
            ok(
                C,
                "concurrent delete",
                store.delete(&r.number, Revision(1)).await,
            );
            yield_now().await;
        }
        Vec::new()
    };
    let tasks: Vec<Task<'_, Vec<PhoneNumber>>> = vec![
        Box::pin(walker),
        Box::pin(inserter),
        Box::pin(updater),
        Box::pin(deleter),
    ];
    let mut done = join_all(tasks).await;
    let seen = done.swap_remove(0);
    for w in seen.windows(2) {
        expect(
            C,
            &format!("numbers to increase across pages ({} then {})", w[0], w[1]),
            w[0] < w[1],
        );
    }
    for r in &stable {
        expect(
            C,
            &format!("{} (stored for the whole walk) to be listed", r.number),
            seen.binary_search(&r.number).is_ok(),
        );
    }
    let all: Vec<PhoneNumber> = stable
        .iter()
        .chain(&doomed)
        .chain(
            newcomers
                .iter()
                .filter(|r| r.assigned_to.as_ref() == Some(&a)),
        )
        .map(|r| r.number)
        .collect();
    for n in &seen {
        expect(
            C,
            &format!("listed {n} to be one of the account's numbers"),
            all.contains(n),
        );
    }
}

/// Discovery entries: hidden from listings unless asked for by state, and
/// found by an expiry sweep (`states: [Discovery]` with `expires_before`).
pub async fn discovery_expiry<S: Store + ?Sized>(store: &S) {
    const C: &str = "discovery_expiry";
    let mut entries = Vec::new();
    for i in 0..10u32 {
        let mut r = record(num(15, i), NumberState::Discovery, None, t0());
        r.expires_at = Some(at(i64::from(i) * 60));
        r.carrier = "simulated".into();
        entries.push(r);
    }
    let mut available = record(num(15, 100), NumberState::Available, None, t0());
    available.expires_at = Some(at(0));
    entries.push(available.clone());
    let results = write(
        C,
        store,
        entries.iter().cloned().map(Write::Insert).collect(),
        BatchMode::PerItem,
    )
    .await;
    for r in &results {
        ok(C, "insert", r.as_ref());
    }
    let scoped = ListQuery {
        prefix: Some(prefix(15)),
        limit: 3,
        ..Default::default()
    };
    expect_eq(
        C,
        "a listing without states shows no discovery entry",
        numbers(&list_all(C, store, &scoped).await),
        vec![available.number],
    );
    let now = at(4 * 60);
    let sweep = ListQuery {
        states: vec![NumberState::Discovery],
        expires_before: Some(now),
        ..scoped.clone()
    };
    let expired = list_all(C, store, &sweep).await;
    expect_eq(
        C,
        "expired discovery entries",
        numbers(&expired),
        (0..=4).map(|i| num(15, i)).collect::<Vec<_>>(),
    );
    // Sweep them: delete each at the revision read.
    let deletes = expired
        .iter()
        .map(|r| Write::Delete {
            number: r.number,
            expected: r.revision,
        })
        .collect();
    for r in write(C, store, deletes, BatchMode::PerItem).await {
        expect_eq(C, "delete of an expired entry", r, Ok(Revision::NEW));
    }
    expect_eq(
        C,
        "nothing expired after the sweep",
        list_all(C, store, &sweep).await.len(),
        0,
    );
    let left = list_all(
        C,
        store,
        &ListQuery {
            states: vec![NumberState::Discovery],
            ..scoped
        },
    )
    .await;
    expect_eq(
        C,
        "discovery entries left",
        numbers(&left),
        (5..10).map(|i| num(15, i)).collect::<Vec<_>>(),
    );
}

// ---------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------

fn entry(
    key: &str,
    fingerprint: &str,
    created: DateTime<Utc>,
    ttl_seconds: i64,
) -> IdempotencyEntry {
    IdempotencyEntry {
        key: key.to_string(),
        fingerprint: fingerprint.to_string(),
        response: None,
        created,
        expires_at: created + Duration::seconds(ttl_seconds),
        owner: format!("owner-of-{fingerprint}"),
        lease_until: Some(created + Duration::seconds(ttl_seconds.min(60))),
        progress: Default::default(),
    }
}

#[track_caller]
fn expect_key_conflict(check: &str, what: &str, r: Result<()>, key: &str) {
    match r {
        Err(Error::Conflict { number, .. }) if number == key => {}
        other => panic!("conformance::{check}: {what}: expected Err(Conflict {{ number: {key:?}, .. }}), found {other:?}"),
    }
}

/// Idempotency keys: begin is insert-if-absent (or replaces an expired entry),
/// finish needs the owner of a pending entry, abandon removes.
pub async fn idempotency<S: Store + ?Sized>(store: &S) {
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
pub async fn idempotency_purge<S: Store + ?Sized>(store: &S) {
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

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// Sixteen tasks increment a counter in the public fields of one record with
/// read / compare-and-swap / retry: the final value equals the number of
/// successful writes, so no update is lost.
pub async fn concurrent_counter<S: Store + ?Sized>(store: &S) {
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
pub async fn concurrent_inserts<S: Store + ?Sized>(store: &S) {
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
pub async fn concurrent_idempotency_begin<S: Store + ?Sized>(store: &S) {
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

/// Pending keys have an owner and a lease: only the owner renews, finishes or
/// abandons; once the lease lapses (boundary inclusive, an entry without a
/// lease counts as lapsed), a begin with the same fingerprint takes the key
/// over, keeping `created` and `expires_at`, while another fingerprint, a
/// finished key or a live lease refuse it.
pub async fn idempotency_lease<S: Store + ?Sized>(store: &S) {
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

async fn progress_of<S: Store + ?Sized>(
    check: &str,
    store: &S,
    key: &str,
) -> Option<std::collections::BTreeMap<String, Committed>> {
    ok(check, "get", store.get_idempotency(key).await).map(|e| e.progress)
}

fn committed(revision: Revision, outcome: Value) -> Committed {
    Committed { revision, outcome }
}

/// A journaled batch records, in the entry's progress, the new revision and
/// the given outcome of exactly the writes that succeeded, atomically with
/// them: nothing for a refused atomic batch, nothing for a key that is not
/// pending (its writes still apply), first record wins. A takeover keeps the
/// progress; finish, abandon, purge and replacing an expired entry drop it.
pub async fn idempotency_journal<S: Store + ?Sized>(store: &S) {
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

/// Many callers take over one lapsed key at once: exactly one succeeds, and
/// the entry names it as owner.
pub async fn concurrent_idempotency_takeover<S: Store + ?Sized>(store: &S) {
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

// ---------------------------------------------------------------------------
// Revisions across deletion and re-insertion
// ---------------------------------------------------------------------------

/// The largest of `revisions` (`Revision::NEW` for none).
fn highest(revisions: &[Revision]) -> Revision {
    revisions.iter().copied().max().unwrap_or(Revision::NEW)
}

/// Revisions never repeat across a number's deletion and re-insertion (the
/// ABA case): an incarnation reaches revision 4, is deleted, the number is
/// inserted again and updated as many times, so that it would be at revision
/// 4 again had it started over at 1; then an update or a delete carrying any
/// revision of an earlier incarnation (4 included) is a `Conflict` and changes
/// nothing. Three incarnations, so the second re-insertion must clear every
/// revision of the first two.
pub async fn reinsert_never_repeats_revisions<S: Store + ?Sized>(store: &S) {
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
pub async fn reinsert_in_one_batch<S: Store + ?Sized>(store: &S) {
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
pub async fn tombstone_purge<S: Store + ?Sized>(store: &S) {
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
