//! What the carrier checks share: searches that check every answer, orders
//! made from results, a number the carrier does not offer, and assertions that
//! name the check.

use std::collections::BTreeSet;
use std::fmt::Debug;

use serde_json::{Map, Value};

use super::{Fixture, MIN_OFFER};
use crate::carrier::{Capabilities, Carrier, NumberOrder, SearchRequest, SearchResult};
use crate::error::{Error, Result, UnspecifiedKind};
use crate::number::PhoneNumber;
use crate::state::NumberState;

#[track_caller]
pub(super) fn ok<T, E: Debug>(check: &str, what: &str, r: std::result::Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("carrier conformance::{check}: {what} failed: {e:?}"),
    }
}

#[track_caller]
pub(super) fn expect_eq<T: PartialEq + Debug>(check: &str, what: &str, found: T, expected: T) {
    if found != expected {
        panic!(
            "carrier conformance::{check}: {what}:\n  expected {expected:?}\n     found {found:?}"
        );
    }
}

#[track_caller]
pub(super) fn expect(check: &str, what: &str, cond: bool) {
    if !cond {
        panic!("carrier conformance::{check}: expected {what}");
    }
}

/// The refusal of a number the carrier cannot sell: `Unspecified` with
/// message `number_not_available` and the number as cause.
#[track_caller]
pub(super) fn expect_not_available<T: Debug>(
    check: &str,
    what: &str,
    r: &Result<T>,
    number: &PhoneNumber,
) {
    match r {
        Err(Error::Unspecified {
            kind: UnspecifiedKind::NumberNotAvailable,
            cause,
        }) if cause.as_deref() == Some(number.as_str()) => {}
        other => panic!(
            "carrier conformance::{check}: {what}: expected Err(Unspecified {{ kind: NumberNotAvailable, cause: Some({number:?}) }}), found {other:?}"
        ),
    }
}

/// A search request of the fixture's country and account.
pub(super) fn request(
    fixture: &Fixture,
    prefix: &str,
    quantity: usize,
    offset: usize,
) -> SearchRequest {
    SearchRequest {
        prefix: prefix.to_string(),
        quantity,
        offset,
        country: fixture.country.clone(),
        account: fixture.account.clone(),
    }
}

/// Searches, and checks what holds for any answer: at most `quantity`
/// results, each under the prefix, no number twice, the state of the
/// carrier's kind, and `e164` / `number` data fields naming the number.
pub(super) async fn search(
    check: &str,
    carrier: &dyn Carrier,
    req: &SearchRequest,
) -> Vec<SearchResult> {
    let results = ok(
        check,
        &format!(
            "search {:?} (quantity {}, offset {})",
            req.prefix, req.quantity, req.offset
        ),
        carrier.find_numbers(req).await,
    );
    check_answer(check, &carrier.capabilities(), req, &results);
    results
}

fn check_answer(check: &str, caps: &Capabilities, req: &SearchRequest, results: &[SearchResult]) {
    let what = format!("search {:?}", req.prefix);
    expect(
        check,
        &format!(
            "{what}: at most {} results, found {}",
            req.quantity,
            results.len()
        ),
        results.len() <= req.quantity,
    );
    let mut seen = BTreeSet::new();
    for r in results {
        let n = r.number.as_str();
        expect(
            check,
            &format!("{what}: result {n} under the prefix"),
            n.starts_with(req.prefix.as_str()),
        );
        expect(
            check,
            &format!("{what}: {n} only once"),
            seen.insert(r.number),
        );
        if caps.is_local {
            expect(
                check,
                &format!("{what}: a local carrier's result {n} in the system (available or reserved), found {}", r.state),
                matches!(r.state, NumberState::Available | NumberState::Reserved),
            );
        } else {
            expect_eq(
                check,
                &format!("{what}: state of result {n} of a carrier that is not local"),
                r.state,
                NumberState::Discovery,
            );
        }
        for field in ["e164", "number"] {
            if let Some(v) = r.data.get(field) {
                expect_eq(
                    check,
                    &format!("{what}: data field {field:?} of result {n}"),
                    v,
                    &Value::String(n.to_string()),
                );
            }
        }
    }
}

/// The first `n` numbers on offer under the fixture's prefix, `n` at most
/// [`MIN_OFFER`] (the fixture promises that many, and a search answers fewer
/// only when no more match).
pub(super) async fn offer(
    check: &str,
    carrier: &dyn Carrier,
    fixture: &Fixture,
    n: usize,
) -> Vec<SearchResult> {
    let n = n.min(MIN_OFFER);
    let found = search(check, carrier, &request(fixture, &fixture.prefix, n, 0)).await;
    expect_eq(
        check,
        &format!(
            "results of a search for {n} under {:?} (the fixture promises at least {MIN_OFFER} on offer, and a search answers fewer only when no more match)",
            fixture.prefix
        ),
        found.len(),
        n,
    );
    found
}

pub(super) fn numbers(results: &[SearchResult]) -> Vec<PhoneNumber> {
    results.iter().map(|r| r.number).collect()
}

/// The order of a search result, for the fixture's account.
pub(super) fn order(fixture: &Fixture, result: &SearchResult) -> NumberOrder {
    NumberOrder {
        number: result.number,
        account: fixture.account.clone(),
        carrier_data: result.data.clone(),
    }
}

/// The order of any number, with no carrier data.
pub(super) fn order_of(fixture: &Fixture, number: PhoneNumber) -> NumberOrder {
    NumberOrder {
        number,
        account: fixture.account.clone(),
        carrier_data: Map::new(),
    }
}

pub(super) async fn acquire(
    check: &str,
    carrier: &dyn Carrier,
    order: &NumberOrder,
) -> Map<String, Value> {
    ok(
        check,
        &format!("acquire {}", order.number),
        carrier.acquire(order).await,
    )
}

pub(super) async fn disconnect(check: &str, carrier: &dyn Carrier, order: &NumberOrder) {
    ok(
        check,
        &format!("disconnect {}", order.number),
        carrier.disconnect(order).await,
    );
}

/// The number's digits after its country calling code.
fn national_digits(number: &PhoneNumber) -> usize {
    let digits = number.strip_plus().len();
    let code = number
        .calling_code()
        .map(|c| c.to_string().len())
        .unwrap_or(0);
    digits.saturating_sub(code)
}

/// Fails the check, saying why, when a search by `number` is longer than the
/// carrier honours.
#[track_caller]
pub(super) fn expect_whole_number_search(check: &str, carrier: &dyn Carrier, number: &PhoneNumber) {
    let max = carrier.capabilities().maximal_prefix_length;
    expect(
        check,
        &format!(
            "a search by the whole number {number} ({} national digits) within the carrier's maximal_prefix_length {max} (use a fixture whose numbers fit)",
            national_digits(number)
        ),
        national_digits(number) <= max,
    );
}

/// A number near `near` (its last one or two digits changed) that the
/// carrier does not offer: the first missing from the answer of a search of
/// its block that answered fewer than the block holds (so every number on
/// offer in the block). Fails the check when every number of both blocks is
/// on offer.
pub(super) async fn unoffered(
    check: &str,
    carrier: &dyn Carrier,
    fixture: &Fixture,
    near: &PhoneNumber,
) -> PhoneNumber {
    expect_whole_number_search(check, carrier, near);
    let e164 = near.as_str();
    for free in [1usize, 2] {
        let Some(block) = e164.get(..e164.len().saturating_sub(free)) else {
            continue;
        };
        let size = 10usize.pow(free as u32);
        let found = search(check, carrier, &request(fixture, block, size, 0)).await;
        if found.len() == size {
            continue;
        }
        let offered: BTreeSet<PhoneNumber> = numbers(&found).into_iter().collect();
        for i in 0..size {
            let candidate = format!("{block}{i:0free$}");
            if let Ok(n) = PhoneNumber::from_e164(&candidate) {
                if !offered.contains(&n) && n != *near {
                    return n;
                }
            }
        }
    }
    panic!("carrier conformance::{check}: every number near {near} is on offer; found none the carrier does not offer")
}
