//! Calls at once: of many buyers of one number exactly one wins, and
//! searches running together agree.

use super::support::{
    disconnect, expect_eq, expect_not_available, numbers, offer, order, request, search,
};
use super::{Fixture, MIN_OFFER};
use serde_json::{Map, Value};

use crate::carrier::Carrier;
use crate::error::Result;
use crate::testing::poll::{join_all, Task};

/// Eight acquires of one number on offer at once: exactly one succeeds, every
/// other fails with `number_not_available`.
pub(super) async fn concurrent_acquires_one_wins(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "concurrent_acquires_one_wins";
    const BUYERS: usize = 8;
    let o = order(fixture, &offer(C, carrier, fixture, 1).await[0]);
    let tasks: Vec<Task<'_, Result<Map<String, Value>>>> = (0..BUYERS)
        .map(|_| {
            let o = &o;
            Box::pin(async move { carrier.acquire(o).await }) as Task<'_, _>
        })
        .collect();
    let results = join_all(tasks).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    expect_eq(C, "buyers that got the number", winners, 1);
    for r in results.iter().filter(|r| r.is_err()) {
        expect_not_available(C, "a buyer that lost", r, &o.number);
    }
    disconnect(C, carrier, &o).await;
}

/// Four identical searches at once answer the same numbers, each a valid
/// answer, and the same as a search alone.
pub(super) async fn concurrent_searches_agree(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "concurrent_searches_agree";
    let alone = numbers(&offer(C, carrier, fixture, MIN_OFFER).await);
    let req = request(fixture, &fixture.prefix, MIN_OFFER, 0);
    let tasks: Vec<Task<'_, _>> = (0..4)
        .map(|_| {
            let req = &req;
            Box::pin(async move { numbers(&search(C, carrier, req).await) }) as Task<'_, _>
        })
        .collect();
    for (i, found) in join_all(tasks).await.into_iter().enumerate() {
        expect_eq(C, &format!("search {i} of four at once"), &found, &alone);
    }
}
