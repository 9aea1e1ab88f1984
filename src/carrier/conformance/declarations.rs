//! `name` and `capabilities`: the same on every call, whatever the carrier did.

use super::support::{acquire, disconnect, expect, expect_eq, offer, order};
use super::Fixture;
use crate::carrier::Carrier;

/// The name is not empty and the same on every call; the capabilities are the
/// same on every call, before and after a search (and, for a carrier that is
/// not local, a purchase and a disconnect), and declare a prefix length of at
/// least one digit.
pub(super) async fn declarations_are_stable(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "declarations_are_stable";
    let name = carrier.name().to_string();
    expect(C, "a name that is not empty", !name.is_empty());
    let caps = carrier.capabilities();
    expect_eq(
        C,
        "capabilities asked twice",
        carrier.capabilities(),
        caps.clone(),
    );
    expect(
        C,
        "a maximal_prefix_length of at least 1",
        caps.maximal_prefix_length >= 1,
    );
    let found = offer(C, carrier, fixture, 1).await;
    expect_eq(C, "name after a search", carrier.name(), name.as_str());
    expect_eq(
        C,
        "capabilities after a search",
        carrier.capabilities(),
        caps.clone(),
    );
    if !caps.is_local {
        let o = order(fixture, &found[0]);
        acquire(C, carrier, &o).await;
        expect_eq(C, "name after a purchase", carrier.name(), name.as_str());
        expect_eq(
            C,
            "capabilities after a purchase",
            carrier.capabilities(),
            caps.clone(),
        );
        disconnect(C, carrier, &o).await;
        expect_eq(
            C,
            "capabilities after a disconnect",
            carrier.capabilities(),
            caps,
        );
    }
}
