//! Listings: filters, paging, the scan limit, and paging while others write.

use super::support::{
    account, at, check_page, expect, expect_eq, expect_record, get_one, list_all, num, numbers, ok,
    prefix, record, t0, write,
};
use crate::account::AccountId;
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;
use crate::store::{matches_query, BatchMode, ListQuery, Store, StoreExt, Write};
use crate::testing::poll::{join_all, yield_now, Task};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

/// Listing by one account, several accounts, or any owner (including none).
pub(super) async fn list_by_accounts(store: &dyn Store) {
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
pub(super) async fn list_filters(store: &dyn Store) {
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
pub(super) async fn list_paging(store: &dyn Store) {
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
pub(super) async fn list_scan_limit(store: &dyn Store) {
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
pub(super) async fn list_paging_while_writing(store: &dyn Store) {
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
