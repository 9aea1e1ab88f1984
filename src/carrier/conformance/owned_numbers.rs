//! `owned_numbers`: follows purchases and disconnects, one answer per number.

use std::collections::BTreeMap;

use super::support::{
    acquire, disconnect, expect, expect_eq, expect_not_available, offer, ok, order, order_of,
    unoffered,
};
use super::Fixture;
use crate::carrier::{Carrier, Ownership};
use crate::number::PhoneNumber;

async fn owned(
    check: &str,
    carrier: &dyn Carrier,
    numbers: &[PhoneNumber],
) -> BTreeMap<PhoneNumber, Ownership> {
    ok(
        check,
        &format!("owned_numbers {numbers:?}"),
        carrier.owned_numbers(numbers).await,
    )
}

/// Before a purchase a number is not ours; after it, it is ours with carrier
/// data agreeing with what `acquire` returned, and a number not bought stays
/// not ours; after the disconnect it is not ours again. Every distinct number
/// asked is answered once; an empty question gets an empty answer.
pub(super) async fn owned_numbers_follows_purchases(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "owned_numbers_follows_purchases";
    let found = offer(C, carrier, fixture, 2).await;
    let (a, b) = (found[0].number, found[1].number);
    expect_eq(
        C,
        "owned_numbers before any purchase",
        owned(C, carrier, &[a, b]).await,
        BTreeMap::from([(a, Ownership::NotOurs), (b, Ownership::NotOurs)]),
    );
    expect_eq(
        C,
        "owned_numbers of no number",
        owned(C, carrier, &[]).await,
        BTreeMap::new(),
    );
    let o = order(fixture, &found[0]);
    let data = acquire(C, carrier, &o).await;
    let answer = owned(C, carrier, &[a, b, a]).await;
    expect_eq(
        C,
        "numbers answered (a number asked twice answers once)",
        answer.keys().copied().collect::<Vec<_>>(),
        vec![a, b],
    );
    match answer.get(&a) {
        Some(Ownership::Ours { carrier_data }) => {
            for (k, v) in carrier_data {
                expect_eq(
                    C,
                    &format!("field {k:?} of the order data of {a}, against what acquire returned"),
                    data.get(k),
                    Some(v),
                );
            }
        }
        other => expect(
            C,
            &format!("{a} ours after its purchase, found {other:?}"),
            false,
        ),
    }
    expect_eq(
        C,
        &format!("{b}, not bought"),
        answer.get(&b),
        Some(&Ownership::NotOurs),
    );
    disconnect(C, carrier, &o).await;
    expect_eq(
        C,
        "owned_numbers after the disconnect",
        owned(C, carrier, &[a]).await,
        BTreeMap::from([(a, Ownership::NotOurs)]),
    );
}

/// A refused purchase holds nothing (a number not on offer stays not ours),
/// and a refused second purchase of a held number leaves it ours.
pub(super) async fn owned_numbers_after_refused_purchases(
    carrier: &dyn Carrier,
    fixture: &Fixture,
) {
    const C: &str = "owned_numbers_after_refused_purchases";
    let found = offer(C, carrier, fixture, 1).await;
    let absent = unoffered(C, carrier, fixture, &found[0].number).await;
    let refused = carrier.acquire(&order_of(fixture, absent)).await;
    expect_not_available(C, "acquire of a number not on offer", &refused, &absent);
    expect_eq(
        C,
        &format!("owned_numbers of {absent} after its refused purchase"),
        owned(C, carrier, &[absent]).await,
        BTreeMap::from([(absent, Ownership::NotOurs)]),
    );
    let o = order(fixture, &found[0]);
    acquire(C, carrier, &o).await;
    let again = carrier.acquire(&o).await;
    expect_not_available(C, "a second acquire of a held number", &again, &o.number);
    let answer = owned(C, carrier, &[o.number]).await;
    expect(
        C,
        &format!(
            "{} still ours after a refused second purchase, found {answer:?}",
            o.number
        ),
        matches!(answer.get(&o.number), Some(Ownership::Ours { .. })),
    );
    disconnect(C, carrier, &o).await;
}
