//! `check_numbers`: follows the offer, one answer per number.

use std::collections::BTreeMap;

use super::support::{acquire, disconnect, expect_eq, offer, ok, order, unoffered};
use super::Fixture;
use crate::carrier::{Availability, Carrier};
use crate::number::PhoneNumber;

async fn availability(
    check: &str,
    carrier: &dyn Carrier,
    numbers: &[PhoneNumber],
) -> BTreeMap<PhoneNumber, Availability> {
    ok(
        check,
        &format!("check_numbers {numbers:?}"),
        carrier.check_numbers(numbers).await,
    )
}

/// Numbers on offer are `success`, a number not on offer is `error`, each
/// distinct number asked is answered once, an empty question gets an empty
/// answer; a number bought from a carrier that is not local is `error` while
/// held.
pub(super) async fn check_numbers_follows_offer(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "check_numbers_follows_offer";
    let found = offer(C, carrier, fixture, 2).await;
    let (a, b) = (found[0].number, found[1].number);
    let absent = unoffered(C, carrier, fixture, &a).await;
    expect_eq(
        C,
        "check_numbers of two numbers on offer and one not",
        availability(C, carrier, &[a, b, absent, a]).await,
        BTreeMap::from([
            (a, Availability::Success),
            (b, Availability::Success),
            (absent, Availability::Error),
        ]),
    );
    expect_eq(
        C,
        "check_numbers of no number",
        availability(C, carrier, &[]).await,
        BTreeMap::new(),
    );
    if !carrier.capabilities().is_local {
        let o = order(fixture, &found[0]);
        acquire(C, carrier, &o).await;
        expect_eq(
            C,
            "check_numbers of a held number and one on offer",
            availability(C, carrier, &[a, b]).await,
            BTreeMap::from([(a, Availability::Error), (b, Availability::Success)]),
        );
        disconnect(C, carrier, &o).await;
    }
}
