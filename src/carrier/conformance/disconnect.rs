//! `disconnect`: gives a number back, and may be repeated.

use super::support::{acquire, disconnect, offer, order};
use super::Fixture;
use crate::carrier::Carrier;

/// Disconnecting succeeds for a number bought (a carrier that is not local
/// sells it first), again for the same number (a retry after a lost answer),
/// and for a number on offer this system never bought.
pub(super) async fn disconnect_is_repeatable(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "disconnect_is_repeatable";
    let found = offer(C, carrier, fixture, 2).await;
    let bought = order(fixture, &found[0]);
    acquire(C, carrier, &bought).await;
    disconnect(C, carrier, &bought).await;
    disconnect(C, carrier, &bought).await;
    disconnect(C, carrier, &order(fixture, &found[1])).await;
}
