//! Kazoo's number rules around porting and local carriers, through the
//! public API: a carrier module the registry does not know, `ported_in`
//! creations, MDN numbers, and whom a purchase may be for.

mod common;

use common::{World, T0};
use number_manager::clock::from_gregorian;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::PhoneNumber;

/// Stores an in-service number of `customer` whose carrier module is `module`.
async fn stored_in_service(w: &World, number: &str, module: &str) -> PhoneNumber {
    let n = PhoneNumber::parse(number).unwrap();
    let now = from_gregorian(T0).unwrap();
    let mut r = NumberRecord::new(n, NumberState::InService, module, now);
    r.set_assigned_to(Some(w.customer.clone()));
    w.store.insert(r).await.unwrap();
    n
}

// ------------------------------------------------ modules the registry lacks

#[tokio::test]
async fn a_number_of_an_unknown_module_is_not_local_and_a_release_keeps_it() {
    let w = World::new();
    let n = stored_in_service(&w, "+14155550101", "gone_carrier").await;
    let released = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.record.state, NumberState::Available);
    assert!(released.record.assigned_to.is_none());
    assert!(!released.record.features.contains_key("local"));
    let kept = w.store.get(&n).await.unwrap().expect("still stored");
    assert_eq!(kept.state, NumberState::Available);
    assert_eq!(kept.carrier, "gone_carrier");
}

#[tokio::test]
async fn a_local_number_is_still_deleted_on_release() {
    let w = World::new();
    let n = stored_in_service(&w, "+14155550102", "local").await;
    let released = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.record.state, NumberState::Deleted);
    assert!(w.store.get(&n).await.unwrap().is_none());
}

#[tokio::test]
async fn an_available_number_of_an_unknown_module_cannot_be_released() {
    // Only local numbers may be released from any state.
    let w = World::new();
    let n = PhoneNumber::parse("+14155550103").unwrap();
    let now = from_gregorian(T0).unwrap();
    w.store
        .insert(NumberRecord::new(
            n,
            NumberState::Available,
            "gone_carrier",
            now,
        ))
        .await
        .unwrap();
    let e = w
        .manager
        .release(n.as_str(), &w.as_master())
        .await
        .unwrap_err();
    assert_eq!(e.name(), "invalid_state_transition");
    assert_eq!(e.to_json()["cause"], "from available to available");
}
