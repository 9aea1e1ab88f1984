//! Discovery entries: hidden from listings, found by an expiry sweep.

use super::support::{at, expect_eq, list_all, num, numbers, ok, prefix, record, t0, write};
use crate::record::Revision;
use crate::state::NumberState;
use crate::store::{BatchMode, ListQuery, Store, Write};

/// Discovery entries: hidden from listings unless asked for by state, and
/// found by an expiry sweep (`states: [Discovery]` with `expires_before`).
pub(super) async fn discovery_expiry(store: &dyn Store) {
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
