//! `acquire`: a carrier that is not local sells a number once and refuses
//! what it does not offer, with a typed error; a local carrier changes nothing.

use serde_json::json;

use super::support::{
    acquire, disconnect, expect_eq, expect_not_available, numbers, offer, order, order_of,
    unoffered,
};
use super::{Fixture, MIN_OFFER};
use crate::carrier::Carrier;

/// A number on offer is sold once: the first `acquire` succeeds, a second
/// one (this system holds it) fails with `number_not_available` naming the
/// number.
pub(super) async fn acquire_sells_once(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "acquire_sells_once";
    let o = order(fixture, &offer(C, carrier, fixture, 1).await[0]);
    acquire(C, carrier, &o).await;
    let again = carrier.acquire(&o).await;
    expect_not_available(C, "a second acquire of a held number", &again, &o.number);
    disconnect(C, carrier, &o).await;
}

/// A number the carrier does not offer cannot be bought: `acquire` fails
/// with `number_not_available` naming the number, on every try.
pub(super) async fn acquire_refuses_unoffered(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "acquire_refuses_unoffered";
    let near = offer(C, carrier, fixture, 1).await[0].number;
    let absent = unoffered(C, carrier, fixture, &near).await;
    for attempt in ["first", "second"] {
        let r = carrier.acquire(&order_of(fixture, absent)).await;
        expect_not_available(
            C,
            &format!("{attempt} acquire of {absent}, not on offer"),
            &r,
            &absent,
        );
    }
}

/// A local carrier holds nothing upstream: `acquire` answers the order's
/// carrier data unchanged, as often as asked, `disconnect` succeeds, and the
/// offer stays what it was.
pub(super) async fn local_acquire_changes_nothing(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "local_acquire_changes_nothing";
    let before = offer(C, carrier, fixture, MIN_OFFER).await;
    let mut o = order(fixture, &before[0]);
    o.carrier_data
        .insert("conformance_marker".into(), json!({"kept": [1, "two"]}));
    for attempt in ["first", "second"] {
        let data = acquire(C, carrier, &o).await;
        expect_eq(
            C,
            &format!("carrier data of the {attempt} acquire"),
            &data,
            &o.carrier_data,
        );
    }
    let after = offer(C, carrier, fixture, MIN_OFFER).await;
    expect_eq(
        C,
        "the offer after acquires",
        numbers(&after),
        numbers(&before),
    );
    disconnect(C, carrier, &o).await;
    disconnect(C, carrier, &o).await;
    let last = offer(C, carrier, fixture, MIN_OFFER).await;
    expect_eq(
        C,
        "the offer after disconnects",
        numbers(&last),
        numbers(&before),
    );
}
