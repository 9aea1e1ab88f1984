//! What the checks share: their numbers, accounts and instants, assertions
//! that name the check, and reads that check what any page must satisfy.

use crate::account::AccountId;
use crate::error::{ConflictKind, Error, Result};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;
use crate::store::{
    matches_query, BatchMode, Committed, IdempotencyEntry, ListQuery, Page, Store, StoreExt, Write,
    WriteResult,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use std::fmt::Debug;

/// The `i`-th number of check `check`: `+1555` + 3 digits + 4 digits.
pub(super) fn num(check: u16, i: u32) -> PhoneNumber {
    PhoneNumber::from_e164(&format!("+1555{:03}{:04}", check % 1000, i % 10_000))
        .unwrap_or_else(|e| panic!("conformance: bad test number for check {check}, {i}: {e}"))
}

/// The prefix every number of check `check` starts with.
pub(super) fn prefix(check: u16) -> String {
    format!("+1555{:03}", check % 1000)
}

pub(super) fn account(check: u16, name: &str) -> AccountId {
    AccountId::new(format!("conformance-{check:03}-{name}"))
        .unwrap_or_else(|e| panic!("conformance: bad test account id: {e}"))
}

/// A fixed instant with a sub-microsecond part, so stores that round times fail.
pub(super) fn t0() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 123_456_789)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub(super) fn record(
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
pub(super) fn ok<T, E: Debug>(check: &str, what: &str, r: std::result::Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("conformance::{check}: {what} failed: {e:?}"),
    }
}

#[track_caller]
pub(super) fn expect_eq<T: PartialEq + Debug>(check: &str, what: &str, found: T, expected: T) {
    if found != expected {
        panic!("conformance::{check}: {what}:\n  expected {expected:?}\n     found {found:?}");
    }
}

#[track_caller]
pub(super) fn expect(check: &str, what: &str, cond: bool) {
    if !cond {
        panic!("conformance::{check}: expected {what}");
    }
}

#[track_caller]
pub(super) fn expect_number_exists(check: &str, what: &str, r: &WriteResult, number: &PhoneNumber) {
    match r {
        Err(Error::NumberExists { number: n }) if n == number.as_str() => {}
        other => panic!("conformance::{check}: {what}: expected Err(NumberExists {{ number: {number} }}), found {other:?}"),
    }
}

#[track_caller]
pub(super) fn expect_conflict(check: &str, what: &str, r: &WriteResult, number: &str) {
    match r {
        Err(Error::Conflict { number: n, kind, .. })
            if n == number && *kind != ConflictKind::BatchAborted => {}
        other => panic!(
            "conformance::{check}: {what}: expected Err(Conflict {{ number: {number}, .. }}) (its own, not BatchAborted), found {other:?}"
        ),
    }
}

#[track_caller]
pub(super) fn expect_aborted(check: &str, what: &str, r: &WriteResult, number: &PhoneNumber) {
    match r {
        Err(Error::Conflict { number: n, kind: ConflictKind::BatchAborted, .. }) if n == number.as_str() => {}
        other => panic!(
            "conformance::{check}: {what}: expected Err(Conflict {{ number: {number}, kind: BatchAborted }}), found {other:?}"
        ),
    }
}

/// Compares a record read back with the one written, ignoring `revision`, and
/// checks the revision separately.
#[track_caller]
pub(super) fn expect_record(
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

pub(super) async fn get_one<S: Store + ?Sized>(
    check: &str,
    store: &S,
    number: &PhoneNumber,
) -> Option<NumberRecord> {
    ok(check, &format!("get {number}"), store.get(number).await)
}

pub(super) async fn write<S: Store + ?Sized>(
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

pub(super) async fn list_all<S: Store + ?Sized>(
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
pub(super) fn check_page(check: &str, q: &ListQuery, page: &Page) {
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

pub(super) fn numbers(records: &[NumberRecord]) -> Vec<PhoneNumber> {
    records.iter().map(|r| r.number).collect()
}

pub(super) fn entry(
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
pub(super) fn expect_key_conflict(check: &str, what: &str, r: Result<()>, key: &str) {
    match r {
        Err(Error::Conflict { number, .. }) if number == key => {}
        other => panic!("conformance::{check}: {what}: expected Err(Conflict {{ number: {key:?}, .. }}), found {other:?}"),
    }
}

pub(super) async fn progress_of<S: Store + ?Sized>(
    check: &str,
    store: &S,
    key: &str,
) -> Option<std::collections::BTreeMap<String, Committed>> {
    ok(check, "get", store.get_idempotency(key).await).map(|e| e.progress)
}

pub(super) fn committed(revision: Revision, outcome: Value) -> Committed {
    Committed { revision, outcome }
}
