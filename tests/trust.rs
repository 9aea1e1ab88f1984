//! Who may take, read and change a number, and what we hold upstream: each
//! test here is a hole that was open once (an account taking another tree's
//! number, a release that gave the number back upstream and sold it again
//! without buying, a fix without ownership, a sub-account reading its
//! parent's reservation, a deleting release that kept its owner).

mod common;

use common::{body, World};
use number_manager::account::AccountId;
use number_manager::carrier::{Carrier, Fault, NumberOrder};
use number_manager::manager::SearchQuery;
use number_manager::state::NumberState;
use number_manager::{Config, Error, Options, PhoneNumber};
use serde_json::{json, Map};

/// The seeds' tree plus a second reseller with its own customer: a tree
/// unrelated to the customer's.
struct Trees {
    w: World,
    reseller2: AccountId,
    customer2: AccountId,
}

fn trees(config: Config) -> Trees {
    let w = World::with(
        std::sync::Arc::new(number_manager::store::MemoryStore::new()),
        config,
    );
    let reseller2 = w
        .accounts
        .add(
            "reseller20000000000000000000000c",
            "Reseller 2",
            Some(&w.master),
        )
        .unwrap();
    let customer2 = w
        .accounts
        .add(
            "customer2000000000000000000000d0",
            "Customer 2",
            Some(&reseller2),
        )
        .unwrap();
    w.accounts.set_allow_additions(&reseller2, true);
    w.accounts.set_allow_additions(&customer2, true);
    Trees {
        w,
        reseller2,
        customer2,
    }
}

const N: &str = "+14158867900";

/// A create body: `public` fields, created in `state`.
fn in_state(
    state: NumberState,
    public: Map<String, serde_json::Value>,
) -> number_manager::manager::PublicChange {
    number_manager::manager::PublicChange::default()
        .with_public(public)
        .with_state(state)
}

fn porting() -> Map<String, serde_json::Value> {
    body(json!({"porting": {"port_id": "p-1", "service_provider": "Losing Co"}}))
}

#[tokio::test]
async fn nobody_outside_the_owners_tree_takes_over_a_port_in_number() {
    let t = trees(Config::default());
    let w = &t.w;
    w.manager
        .port_in(&w.customer, N, porting(), &w.as_customer())
        .await
        .unwrap();
    // An unrelated account, an unrelated reseller and the owner's own sub-account.
    for (who, for_whom) in [
        (&t.customer2, &t.customer2),
        (&t.reseller2, &t.reseller2),
        (&w.sub, &w.sub),
    ] {
        let e = w
            .manager
            .port_in(
                for_whom,
                N,
                body(json!({"x": 1})),
                &Options::as_account(who),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::NumberExists { .. }),
            "{who} took the port over: {e:?}"
        );
    }
    let kept = w.manager.get(N, &w.as_customer()).await.unwrap();
    assert_eq!(kept.state, NumberState::PortIn);
    assert_eq!(kept.assigned_to.as_ref(), Some(&w.customer));
    assert_eq!(kept.public.get("porting"), porting().get("porting"));
    // The owner's tree may still port it again.
    let again = w
        .manager
        .port_in(&w.customer, N, porting(), &Options::as_account(&w.reseller))
        .await
        .unwrap();
    assert_eq!(again.record.assigned_to.as_ref(), Some(&w.customer));
}

#[tokio::test]
async fn another_tree_cannot_create_over_an_owned_aging_number() {
    let t = trees(Config::default());
    let w = &t.w;
    let change = in_state(NumberState::Aging, body(json!({"custom": "mine"})));
    w.manager
        .create(&w.customer, N, change, &w.as_master())
        .await
        .unwrap();
    let outsider = Options::as_account(&t.reseller2);
    assert!(matches!(
        w.manager.get(N, &outsider).await,
        Err(Error::NotFound { .. })
    ));
    let grab = in_state(NumberState::InService, body(json!({"custom": "theirs"})));
    let e = w
        .manager
        .create(&t.reseller2, N, grab, &outsider)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NumberExists { .. }), "{e:?}");
    // Buying it is a change too.
    let e = w
        .manager
        .activate(&t.reseller2, N, Map::new(), &outsider)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    let kept = w.manager.get(N, &w.as_master()).await.unwrap();
    assert_eq!(kept.state, NumberState::Aging);
    assert_eq!(kept.assigned_to.as_ref(), Some(&w.customer));
    assert_eq!(kept.public.get("custom"), Some(&json!("mine")));
    // Its owner may bring it back into service.
    let back = w
        .manager
        .activate(&w.customer, N, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(back.record.state, NumberState::InService);
}

/// Searches the simulated carrier and buys the first hit for the customer.
async fn buy(w: &World) -> PhoneNumber {
    let q = SearchQuery::new("415", 1);
    let hit = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap()[0]
        .number;
    w.manager
        .activate(&w.customer, hit.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert!(w.carrier.is_sold(&hit));
    hit
}

#[tokio::test]
async fn a_released_number_stays_held_and_is_sold_again_without_a_second_purchase() {
    let t = trees(Config::default());
    let w = &t.w;
    let n = buy(w).await;
    let released = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.record.state, NumberState::Available);
    assert!(
        w.carrier.is_sold(&n),
        "an available number stays held upstream"
    );
    assert_eq!(w.carrier.disconnect_calls(), 0);
    let resold = w
        .manager
        .activate(
            &t.customer2,
            n.as_str(),
            Map::new(),
            &Options::as_account(&t.customer2),
        )
        .await
        .unwrap();
    assert_eq!(resold.record.state, NumberState::InService);
    assert_eq!(w.carrier.purchase_count(), 1, "we held it: no second sale");
}

#[tokio::test]
async fn a_hold_the_carrier_lost_is_bought_again_or_not_put_in_service() {
    let w = World::new();
    let n = buy(&w).await;
    w.manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    // The carrier drops the number behind our back.
    let order = NumberOrder::new(n);
    w.carrier.disconnect(&order).await.unwrap();
    assert!(!w.carrier.is_sold(&n));
    // It cannot tell us now: nothing goes in service.
    w.carrier.fail_next_owned(Fault::Error, 1);
    let e = w
        .manager
        .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.code(), 500, "{e:?}");
    let still = w.manager.get(n.as_str(), &w.as_master()).await.unwrap();
    assert_eq!(still.state, NumberState::Available);
    // It says the number is gone: activation buys it again.
    let bought = w
        .manager
        .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert!(w.carrier.is_sold(&n));
    assert_eq!(w.carrier.purchase_count(), 2);
}

#[tokio::test]
async fn numbers_that_leave_the_system_are_disconnected_and_aging_ones_are_kept() {
    // Aging keeps the hold.
    let mut aging = Config::default();
    aging.state.should_age = true;
    let w = World::with(
        std::sync::Arc::new(number_manager::store::MemoryStore::new()),
        aging,
    );
    let n = buy(&w).await;
    let r = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(r.record.state, NumberState::Aging);
    assert!(w.carrier.is_sold(&n));
    // A hard delete takes the available (or aging) number out: it is given back.
    w.manager.delete(n.as_str(), &w.as_master()).await.unwrap();
    assert!(!w.carrier.is_sold(&n));

    // A permanent delete on release gives it back too.
    let mut permanent = Config::default();
    permanent.state.should_permanently_delete = true;
    let w = World::with(
        std::sync::Arc::new(number_manager::store::MemoryStore::new()),
        permanent,
    );
    let n = buy(&w).await;
    let r = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(r.record.state, NumberState::Deleted);
    assert!(!w.carrier.is_sold(&n));
}

#[tokio::test]
async fn fixing_a_number_needs_ownership_not_just_sight() {
    let w = World::new();
    let change = in_state(NumberState::Available, Map::new());
    w.manager
        .create(&w.master, N, change, &w.as_master())
        .await
        .unwrap();
    // Everyone may see an available number...
    w.manager.get(N, &w.as_customer()).await.unwrap();
    // ...but only master may change (and so fix) it.
    let e = w.manager.fix_number(N, &w.as_customer()).await.unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    w.manager.fix_number(N, &w.as_master()).await.unwrap();
}

#[tokio::test]
async fn a_sub_account_may_buy_but_not_read_its_parents_reservation() {
    let w = World::new();
    let change = in_state(NumberState::Reserved, body(json!({"secret": "plan"})));
    w.manager
        .create(&w.customer, N, change, &w.as_customer())
        .await
        .unwrap();
    let sub = Options::as_account(&w.sub);
    assert!(matches!(
        w.manager.get(N, &sub).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        w.manager.identify(N, &sub).await,
        Err(Error::NotFound { .. })
    ));
    let e = w
        .manager
        .update(N, body(json!({"secret": "mine"})), &sub)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    let bought = w
        .manager
        .activate(&w.sub, N, Map::new(), &sub)
        .await
        .unwrap();
    assert_eq!(bought.record.assigned_to.as_ref(), Some(&w.sub));
    // The parent's fields do not pass on to it with the number.
    assert!(bought.record.public.get("secret").is_none());
    let now_mine = w.manager.get(N, &sub).await.unwrap();
    assert!(now_mine.public.get("secret").is_none());
}

#[tokio::test]
async fn a_deleting_release_reports_a_number_owned_by_nobody() {
    let w = World::new();
    // A local number: releasing it deletes it.
    w.manager
        .create(&w.customer, N, Default::default(), &w.as_customer())
        .await
        .unwrap();
    let out = w.manager.release(N, &w.as_customer()).await.unwrap();
    assert_eq!(out.record.state, NumberState::Deleted);
    assert_eq!(out.plan.assign, Some(None));
    assert_eq!(out.record.assigned_to, None);
    assert!(out.record.reserve_history.is_empty());
    assert!(out.record.public.is_empty());
}

#[tokio::test]
async fn the_library_refuses_to_act_for_accounts_outside_the_actors_tree() {
    let t = trees(Config::default());
    let w = &t.w;
    let as_customer = w.as_customer();
    for target in [&w.reseller, &w.other, &t.customer2] {
        let e = w
            .manager
            .reserve(target, N, Map::new(), &as_customer)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unauthorized { .. }), "{target}: {e:?}");
        let e = w.manager.may_address(target, &as_customer).await;
        assert!(matches!(e, Err(Error::Unauthorized { .. })), "{target}");
    }
    w.manager.may_address(&w.sub, &as_customer).await.unwrap();
}

/// Creates `N` reserved for the customer with a one-hour lease.
async fn leased(w: &World) {
    w.manager
        .create(&w.customer, N, Default::default(), &w.as_customer())
        .await
        .unwrap();
    let leased = w
        .manager
        .reserve_with_lease(
            &w.reseller,
            &[N],
            chrono::Duration::hours(1),
            &w.as_master(),
        )
        .await
        .unwrap();
    assert!(leased.errors.is_empty(), "{:?}", leased.errors);
}

#[tokio::test]
async fn a_lease_belongs_to_its_reservation_not_to_the_next_holder() {
    let w = World::new();
    leased(&w).await;
    // The reseller re-reserves it for another of its accounts, with no lease.
    let moved = w
        .manager
        .reserve(&w.other, N, Map::new(), &Options::as_account(&w.reseller))
        .await
        .unwrap();
    assert_eq!(moved.record.expires_at, None);
    w.clock.advance(chrono::Duration::hours(2));
    let still = w.manager.get(N, &w.as_master()).await.unwrap();
    assert_eq!(still.state, NumberState::Reserved);
    assert_eq!(still.assigned_to.as_ref(), Some(&w.other));
}

#[tokio::test]
async fn identify_never_routes_to_a_lapsed_lease() {
    let w = World::new();
    leased(&w).await;
    let before = w.manager.identify(N, &w.as_master()).await.unwrap();
    assert_eq!(before.account_id, w.reseller);
    w.clock.advance(chrono::Duration::hours(2));
    // The lease went back (to the customer, the previous reserver).
    let after = w.manager.identify(N, &w.as_master()).await.unwrap();
    assert_eq!(after.account_id, w.customer);
    let e = w
        .manager
        .identify(N, &Options::as_account(&w.reseller))
        .await
        .map(|i| i.account_id);
    assert_eq!(
        e.unwrap(),
        w.customer,
        "the reseller is the customer's ancestor"
    );
}
