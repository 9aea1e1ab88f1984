//! Purchase claims: what happens when a carrier call hangs, when a claim's
//! holder died mid-purchase, and when the record of a purchase cannot be
//! written. Nothing may end up bought twice or paid for without a record.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::World;
use number_manager::carrier::{Carrier, Fault, NumberOrder, SimulatedCarrier};
use number_manager::manager::SearchQuery;
use number_manager::record::{Pending, Revision};
use number_manager::state::NumberState;
use number_manager::store::{MemoryStore, StoreExt};
use number_manager::testing::{FaultKind, FaultPlan, FaultyStore};
use number_manager::{Config, Error, Options, Outcome, PhoneNumber};
use serde_json::Map;

async fn one_search_result(w: &World) -> PhoneNumber {
    let q = SearchQuery::new("415", 1);
    w.manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap()[0]
        .number
}

fn quick_config() -> Config {
    Config::default()
        .with_carrier_timeout(Duration::from_millis(200))
        .with_claim_ttl(Duration::from_secs(60))
}

#[tokio::test]
async fn a_hung_purchase_times_out_and_keeps_its_claim_until_reconciled() {
    let w = World::with(Arc::new(MemoryStore::new()), quick_config());
    let n = one_search_result(&w).await;
    w.carrier
        .fail_next_acquire(Fault::Delay(Duration::from_secs(5)), 1);
    let started = std::time::Instant::now();
    let e = buy(&w, n).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(e.to_json()["message"], "timeout");
    // The purchase may still complete upstream: the claim stays as its trace.
    let r = w.store.get(&n).await.unwrap().unwrap();
    assert!(r.pending.is_some());
    let e = buy(&w, n).await.unwrap_err();
    assert_eq!(e.code(), 409, "a live claim blocks other buyers");
    // A search does not paper over the trace.
    one_search_result(&w).await;
    assert!(w.store.get(&n).await.unwrap().unwrap().pending.is_some());
    // After the claim lapses, the carrier says the number is still on offer
    // (the hung call never completed), so buying goes ahead, once.
    w.clock.advance(chrono::Duration::seconds(61));
    let bought = buy(&w, n).await.unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(w.carrier.purchase_count(), 1);
}

/// The customer activates (buys) `n`.
async fn buy(w: &World, n: PhoneNumber) -> number_manager::Result<Outcome> {
    w.manager
        .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
        .await
}

/// The order the dead claimant (`w.other`) placed for `n`.
fn claimants_order(w: &World, n: PhoneNumber) -> NumberOrder {
    NumberOrder::new(n).with_account(w.other.clone())
}

/// Another instance claimed `n` for `w.other`, bought it, and died before
/// recording it: the store holds a lapsed claim, the carrier a sale.
async fn interrupted_purchase(w: &World, n: PhoneNumber) {
    let mut r = w.store.get(&n).await.unwrap().unwrap();
    let rev = r.revision;
    r.pending = Some(Pending {
        operation: number_manager::state::Operation::Activate,
        by: number_manager::account::Actor::Account(w.other.clone()),
        until: chrono::Utc::now() - chrono::Duration::days(365 * 100),
    });
    w.store.update(r, rev).await.unwrap();
    w.carrier.acquire(&claimants_order(w, n)).await.unwrap();
}

#[tokio::test]
async fn a_dead_holders_purchase_is_never_bought_again() {
    // A carrier that cannot say what we hold: only that it no longer offers it.
    let w = World::with_carrier(
        Arc::new(MemoryStore::new()),
        quick_config(),
        SimulatedCarrier::new(2600).without_owned_numbers(),
    );
    let n = one_search_result(&w).await;
    interrupted_purchase(&w, n).await;
    let e = buy(&w, n).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert_eq!(w.carrier.purchase_count(), 1, "no second purchase");
    assert_eq!(
        w.carrier.owned_calls(),
        0,
        "not asked what it cannot answer"
    );
    // purge_expired keeps the out-of-date entry and reports it instead of
    // erasing the only trace of the purchase.
    w.clock.advance(chrono::Duration::days(2));
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.unresolved_claims, vec![n.to_string()]);
    assert!(w.store.get(&n).await.unwrap().unwrap().pending.is_some());
    // Once the carrier has it back, the next purge clears the entry.
    w.carrier.disconnect(&claimants_order(&w, n)).await.unwrap();
    let report = w.manager.purge_expired().await.unwrap();
    assert!(report.unresolved_claims.is_empty());
    assert!(w.store.get(&n).await.unwrap().is_none());
}

#[tokio::test]
async fn the_next_buyer_takes_over_a_dead_holders_purchase() {
    let w = World::with(Arc::new(MemoryStore::new()), quick_config());
    let n = one_search_result(&w).await;
    interrupted_purchase(&w, n).await;
    let order_id = w.carrier.purchases()[0].order_id.clone();
    let bought = buy(&w, n).await.unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(bought.record.assigned_to.as_ref(), Some(&w.customer));
    assert!(bought.record.pending.is_none());
    assert_eq!(bought.record.carrier_data["order_id"], order_id);
    assert_eq!(w.carrier.owned_calls(), 1);
    assert_eq!(w.carrier.purchase_count(), 1, "no second purchase");
    assert!(w.carrier.disconnects().is_empty(), "and nothing given back");
    assert!(w.carrier.is_sold(&n));
    let stored = w.store.get(&n).await.unwrap().unwrap();
    assert_eq!(stored.state, NumberState::InService);
    assert_eq!(stored.carrier_data["order_id"], order_id);
}

#[tokio::test]
async fn a_purchase_that_never_happened_is_bought_normally() {
    let w = World::with(Arc::new(MemoryStore::new()), quick_config());
    let n = one_search_result(&w).await;
    interrupted_purchase(&w, n).await;
    // The dead holder's call never reached the carrier after all.
    w.carrier.disconnect(&claimants_order(&w, n)).await.unwrap();
    let bought = buy(&w, n).await.unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(w.carrier.purchase_count(), 2, "bought afresh");
    let fresh = &w.carrier.purchases()[1];
    assert_eq!(fresh.account.as_ref(), Some(&w.customer));
    assert_eq!(bought.record.carrier_data["order_id"], fresh.order_id);
}

#[tokio::test]
async fn when_the_carrier_cannot_tell_the_claim_stays() {
    let w = World::with(Arc::new(MemoryStore::new()), quick_config());
    let n = one_search_result(&w).await;
    interrupted_purchase(&w, n).await;
    w.carrier.fail_next_owned(Fault::Error, 1);
    let e = buy(&w, n).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert_eq!(w.carrier.purchase_count(), 1, "no second purchase");
    assert!(w.carrier.disconnects().is_empty());
    let r = w.store.get(&n).await.unwrap().unwrap();
    assert_eq!(r.state, NumberState::Discovery);
    assert!(r.pending.is_some(), "the trace stays");
    // A hung answer is no answer either.
    w.carrier
        .fail_next_owned(Fault::Delay(Duration::from_secs(5)), 1);
    let e = buy(&w, n).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert_eq!(w.carrier.purchase_count(), 1);
}

#[tokio::test]
async fn maintenance_gives_back_a_dead_holders_purchase() {
    let w = World::with(Arc::new(MemoryStore::new()), quick_config());
    let n = one_search_result(&w).await;
    interrupted_purchase(&w, n).await;
    w.clock.advance(chrono::Duration::days(2));
    // Giving it back fails once: the entry stays, reported.
    w.carrier.fail_next_disconnect(Fault::Error, 1);
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.unresolved_claims, vec![n.to_string()]);
    assert!(w.carrier.is_sold(&n));
    // The give-back claimed the record first, and that claim stays until it
    // lapses.
    let r = w.store.get(&n).await.unwrap().unwrap();
    assert_eq!(r.pending.as_ref().unwrap().operation, "give_back");
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.discovery_removed, 0, "a live claim is left alone");
    // Once it lapses, the next run gives the number back and drops the entry.
    w.clock.advance(chrono::Duration::seconds(61));
    let report = w.manager.purge_expired().await.unwrap();
    assert!(report.unresolved_claims.is_empty(), "{report:?}");
    assert_eq!(report.discovery_removed, 1);
    assert!(w.store.get(&n).await.unwrap().is_none());
    assert!(!w.carrier.is_sold(&n));
    let back = w.carrier.disconnects();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].number, n);
    assert_eq!(
        back[0].account.as_ref(),
        Some(&w.other),
        "from the claimant's order"
    );
    assert_eq!(w.carrier.purchase_count(), 1);
}

#[tokio::test]
async fn a_purchase_whose_record_cannot_be_written_is_given_back() {
    // Write 1 is the search's discovery entries, 2 the claim, 3 the commit.
    let store = Arc::new(FaultyStore::new(
        MemoryStore::new(),
        FaultPlan::nth(3, FaultKind::Error).only(&["write_batch", "write_batch_journaled"]),
    ));
    let w = World::with(store.clone(), quick_config());
    let n = one_search_result(&w).await;
    let e = buy(&w, n).await.unwrap_err();
    assert_eq!(e.to_json()["message"], "database_error");
    assert_eq!(w.carrier.purchase_count(), 1);
    assert_eq!(
        w.carrier.disconnects().len(),
        1,
        "the purchase was given back"
    );
    assert!(!w.carrier.is_sold(&n));
    // The claim is left for reconciliation; once it lapses the number sells normally.
    w.clock.advance(chrono::Duration::seconds(61));
    let ok = buy(&w, n).await.unwrap();
    assert_eq!(ok.record.state, NumberState::InService);
    assert!(ok.record.revision > Revision(1));
}

#[tokio::test]
async fn a_purchase_recorded_before_the_store_failed_stays_bought() {
    // Write 1 is the search's discovery entries, 2 the claim, 3 the commit:
    // the commit goes through, and then the store reports a failure.
    let store = Arc::new(FaultyStore::new(
        MemoryStore::new(),
        FaultPlan::nth(3, FaultKind::Ambiguous).only(&["write_batch", "write_batch_journaled"]),
    ));
    let w = World::with(store.clone(), quick_config());
    let n = one_search_result(&w).await;
    let e = buy(&w, n).await.unwrap_err();
    assert_eq!(e.to_json()["message"], "database_error");
    assert_eq!(store.injected(), 1);
    let r = w.store.get(&n).await.unwrap().unwrap();
    assert_eq!(r.state, NumberState::InService, "the record was written");
    assert_eq!(r.assigned_to.as_ref(), Some(&w.customer));
    assert!(w.carrier.is_sold(&n), "so the number stays bought");
    assert!(w.carrier.disconnects().is_empty(), "nothing given back");
}

#[tokio::test]
async fn fix_gives_back_a_dead_holders_purchase_but_not_in_a_dry_run() {
    let w = World::with(Arc::new(MemoryStore::new()), quick_config());
    let n = one_search_result(&w).await;
    interrupted_purchase(&w, n).await;
    let said = "interrupted purchase given back to the carrier; stale claim cleared";
    // Giving it back fails once: the record keeps the give-back's own claim,
    // and while it lives no buyer can take over a number that may be going back.
    w.carrier.fail_next_disconnect(Fault::Error, 1);
    let e = w
        .manager
        .fix_number(n.as_str(), &w.as_master())
        .await
        .unwrap_err();
    let cause = e.to_json()["cause"].to_string();
    assert!(cause.contains("giving it back failed"), "{cause}");
    let r = w.store.get(&n).await.unwrap().unwrap();
    assert_eq!(r.pending.as_ref().unwrap().operation, "give_back");
    let e = buy(&w, n).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert!(w.carrier.is_sold(&n));
    w.clock.advance(chrono::Duration::seconds(61));

    let dry = w
        .manager
        .fix_number(n.as_str(), &w.as_master().dry_run())
        .await
        .unwrap();
    assert_eq!(dry.fixed[n.as_str()], vec![said.to_string()]);
    assert!(w.carrier.is_sold(&n), "a dry run gives nothing back");
    assert!(w.carrier.disconnects().is_empty());
    assert!(w.store.get(&n).await.unwrap().unwrap().pending.is_some());

    let done = w
        .manager
        .fix_number(n.as_str(), &w.as_master())
        .await
        .unwrap();
    assert_eq!(done, dry);
    assert!(!w.carrier.is_sold(&n));
    assert_eq!(w.carrier.disconnects().len(), 1);
    let r = w.store.get(&n).await.unwrap().unwrap();
    assert!(r.pending.is_none());
    assert_eq!(r.state, NumberState::Discovery);
}
