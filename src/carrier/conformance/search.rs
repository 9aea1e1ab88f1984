//! `find_numbers`: only numbers under the prefix, as many as asked when there
//! are, in a stable order that `offset` pages through, never a held number,
//! and an empty answer for nothing.

use super::support::{
    acquire, disconnect, expect, expect_eq, expect_whole_number_search, numbers, offer, order,
    request, search, unoffered,
};
use super::{Fixture, MIN_OFFER};
use crate::carrier::Carrier;

/// A search for `MIN_OFFER` numbers under the fixture's prefix answers that
/// many, each under the prefix, once, in the state of the carrier's kind
/// (`discovery` to buy, `available` / `reserved` for a local carrier); a
/// longer prefix (one more digit of a number found) answers something, and
/// only numbers under it.
pub(super) async fn search_answers_the_prefix(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "search_answers_the_prefix";
    let found = offer(C, carrier, fixture, MIN_OFFER).await;
    let first = found[0].number;
    let longer = first
        .as_str()
        .get(..fixture.prefix.len() + 1)
        .unwrap_or(first.as_str())
        .to_string();
    let narrower = search(C, carrier, &request(fixture, &longer, MIN_OFFER, 0)).await;
    expect(
        C,
        &format!("a search under {longer:?} to find something ({first} is on offer under it)"),
        !narrower.is_empty(),
    );
}

/// A search answers exactly `quantity` results when at least that many are on
/// offer: 0 answers none, 1 one, 3 three, `MIN_OFFER` that many.
pub(super) async fn search_honours_quantity(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "search_honours_quantity";
    for quantity in [0, 1, 3, MIN_OFFER] {
        let found = search(C, carrier, &request(fixture, &fixture.prefix, quantity, 0)).await;
        expect_eq(
            C,
            &format!("results of a search for {quantity}"),
            found.len(),
            quantity,
        );
    }
}

/// While the offer does not change, the same search answers the same
/// numbers in the same order, and the search at offset `k` answers the rows
/// of the search at offset 0 from the `k`-th on.
pub(super) async fn search_offset_skips_rows(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "search_offset_skips_rows";
    let all = numbers(&offer(C, carrier, fixture, MIN_OFFER).await);
    let again = numbers(&offer(C, carrier, fixture, MIN_OFFER).await);
    expect_eq(C, "the same search twice", &again, &all);
    for offset in [1, 2, MIN_OFFER - 1] {
        let rest = search(
            C,
            carrier,
            &request(fixture, &fixture.prefix, MIN_OFFER - offset, offset),
        )
        .await;
        expect_eq(
            C,
            &format!("search at offset {offset}"),
            numbers(&rest),
            all[offset..].to_vec(),
        );
    }
}

/// A search by a whole number on offer answers exactly that number.
pub(super) async fn search_by_whole_number(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "search_by_whole_number";
    for r in offer(C, carrier, fixture, 3).await {
        expect_whole_number_search(C, carrier, &r.number);
        let found = search(
            C,
            carrier,
            &request(fixture, r.number.as_str(), MIN_OFFER, 0),
        )
        .await;
        expect_eq(
            C,
            &format!("search by the whole number {}", r.number),
            numbers(&found),
            vec![r.number],
        );
        expect_eq(
            C,
            &format!("state of {} found by its whole number", r.number),
            found[0].state,
            r.state,
        );
    }
}

/// A search for a number the carrier does not offer (one missing from the
/// answer of its block) answers nothing, and is not an error.
pub(super) async fn search_for_nothing_is_empty(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "search_for_nothing_is_empty";
    let near = offer(C, carrier, fixture, 1).await[0].number;
    let absent = unoffered(C, carrier, fixture, &near).await;
    let found = search(C, carrier, &request(fixture, absent.as_str(), MIN_OFFER, 0)).await;
    expect_eq(
        C,
        &format!("search by {absent}, missing from its block's answer"),
        numbers(&found),
        vec![],
    );
}

/// A number this system bought is not on offer: neither by its whole number
/// nor under the fixture's prefix, until it is disconnected.
pub(super) async fn search_never_offers_held_numbers(carrier: &dyn Carrier, fixture: &Fixture) {
    const C: &str = "search_never_offers_held_numbers";
    let found = offer(C, carrier, fixture, MIN_OFFER).await;
    let held = order(fixture, &found[0]);
    expect_whole_number_search(C, carrier, &held.number);
    acquire(C, carrier, &held).await;
    let by_number = search(
        C,
        carrier,
        &request(fixture, held.number.as_str(), MIN_OFFER, 0),
    )
    .await;
    expect_eq(
        C,
        &format!("search by the number {} this system holds", held.number),
        numbers(&by_number),
        vec![],
    );
    let under_prefix = offer(C, carrier, fixture, MIN_OFFER).await;
    expect(
        C,
        &format!(
            "{} (held) left out of a search under the prefix",
            held.number
        ),
        !numbers(&under_prefix).contains(&held.number),
    );
    disconnect(C, carrier, &held).await;
}
