//! Search across carriers, check, locality, classifiers, collections of
//! releases and hard deletes, maintenance, and the features of reference §12.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{body, World};
use number_manager::account::MemoryAccounts;
use number_manager::carrier::{Availability, CarrierRegistry, Fault, SimulatedCarrier};
use number_manager::clock::ManualClock;
use number_manager::locality::OfflineLocality;
use number_manager::manager::SearchQuery;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{MemoryStore, Store, StoreExt};
use number_manager::{Config, Error, NumberManager, Options, PhoneNumber};
use serde_json::{json, Map};

fn two_carrier_manager(
    a: Arc<SimulatedCarrier>,
    b: Arc<SimulatedCarrier>,
    timeout: Duration,
) -> NumberManager {
    let config = Config::default().with_search_timeout(timeout);
    NumberManager::builder()
        .carriers(CarrierRegistry::new().with(a).with(b))
        .config(config)
        .build()
}

#[tokio::test]
async fn a_failing_or_slow_carrier_only_loses_its_own_results() {
    let a = Arc::new(SimulatedCarrier::new(1).with_name("alpha"));
    let b = Arc::new(SimulatedCarrier::new(2).with_name("beta"));
    let m = two_carrier_manager(a.clone(), b.clone(), Duration::from_millis(300));
    let both = m
        .search(&SearchQuery::new("415", 20), &Options::system())
        .await
        .unwrap();
    assert!(both.iter().any(|h| h.carrier == "alpha"));
    assert!(both.iter().any(|h| h.carrier == "beta"));
    let mut sorted = both.clone();
    sorted.sort_by_key(|h| h.number);
    assert_eq!(sorted, both, "merged results are sorted by number");

    a.outage(Fault::Error);
    let only_b = m
        .search(&SearchQuery::new("415", 20), &Options::system())
        .await
        .unwrap();
    assert!(!only_b.is_empty());
    assert!(only_b.iter().all(|h| h.carrier == "beta"));
    a.restore();

    // A carrier slower than the search timeout is dropped, the other answers.
    b.fail_next_find(Fault::Delay(Duration::from_secs(3)), 1);
    let started = std::time::Instant::now();
    let only_a = m
        .search(&SearchQuery::new("415", 20), &Options::system())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the search waited for the slow carrier"
    );
    assert!(!only_a.is_empty());
    assert!(only_a.iter().all(|h| h.carrier == "alpha"));
}

#[tokio::test]
async fn check_marks_only_what_a_failing_carrier_was_asked() {
    let w = World::new();
    let q = SearchQuery::new("415", 2);
    let hits = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap();
    let (free, sold) = (hits[0].number, hits[1].number);
    w.manager
        .activate(&w.customer, sold.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap();
    let answer = w
        .manager
        .check(&[free.as_str(), sold.as_str()])
        .await
        .unwrap();
    let shape: serde_json::Value = answer
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.as_str())))
        .collect();
    assert_eq!(
        shape,
        json!({free.as_str(): "success", sold.as_str(): "error"})
    );
    w.carrier.fail_next_check(Fault::Error, 1);
    let answer = w.manager.check(&[free.as_str()]).await.unwrap();
    assert_eq!(answer[free.as_str()], Availability::Error);
}

#[tokio::test]
async fn locality_needs_a_provider_and_then_answers_the_seeds_shape() {
    let w = World::new();
    let e = w.manager.locality(&["+14158867900"]).await.unwrap_err();
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (500, "init failed"));
    assert_eq!(data, json!("Unable to acquire numbers missing carrier url"));
    assert!(matches!(
        w.manager.city_prefixes("US", "San Francisco").await,
        Err(Error::InitFailed { .. })
    ));

    let m = NumberManager::builder()
        .accounts(Arc::new(MemoryAccounts::new()))
        .locality(Arc::new(OfflineLocality::new()))
        .build();
    let answer = m
        .locality(&["+14158867900", "+442071234567"])
        .await
        .unwrap();
    let us = &answer["+14158867900"];
    assert_eq!(us["country"], "US");
    assert_eq!(us["number"], "+14158867900");
    assert_eq!(us["e164_number"], "+14158867900");
    assert_eq!(us["status"], "success");
    assert_eq!(us["locality"]["province"], "CA");
    assert_eq!(answer["+442071234567"]["country"], "GB");
    let sf = m.city_prefixes("US", "San Francisco").await.unwrap();
    assert!(sf.to_string().contains("415"));
    let e = m.city_prefixes("US", "Nowhereville").await.unwrap_err();
    assert_eq!(
        e.envelope().2,
        json!({"data": {}, "error": 404, "message": "Not Found", "status": "error"})
    );
}

#[tokio::test]
async fn classifiers_listing_is_the_configured_list_in_order() {
    let w = World::new();
    let list = w.manager.classifiers_json();
    let names: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        vec![
            "tollfree_us",
            "toll_us",
            "emergency",
            "caribbean",
            "did_us",
            "international",
            "unknown"
        ]
    );
    assert_eq!(list["did_us"]["friendly_name"], "US DID");
    assert_eq!(list["did_us"]["pretty_print"], "SS(###) ### - ####");
    let c = w
        .manager
        .classifiers()
        .classify("4158867900")
        .unwrap()
        .to_json();
    assert_eq!(c["name"], "did_us");
    assert_eq!(c["e164"], "+14158867900");
    assert_eq!(c["number"], "4158867900");
}

#[tokio::test]
async fn collection_release_and_hard_delete_as_the_seeds_show() {
    let w = World::new();
    let q = SearchQuery::new("415", 3);
    let hits = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap();
    let numbers: Vec<String> = hits.iter().map(|h| h.number.to_string()).collect();
    w.manager
        .activate_many(&w.customer, &numbers, Map::new(), &w.as_customer())
        .await
        .unwrap();
    let released = w
        .manager
        .release_many(&numbers, &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.success.len(), 3);
    for n in &numbers {
        let v = common::shape(released.success[n].to_public_json());
        assert_eq!(
            v,
            json!({"_read_only": {"state": "available"}, "id": n, "state": "available"})
        );
    }
    // Available numbers stay in our inventory: still held, nothing given back.
    assert_eq!(w.carrier.disconnects().len(), 0);
    let deleted = w
        .manager
        .delete_many(&numbers, &w.as_master())
        .await
        .unwrap();
    for n in &numbers {
        let v = common::shape(deleted.success[n].to_public_json());
        assert_eq!(
            v,
            json!({"_read_only": {"state": "deleted"}, "id": n, "state": "deleted"})
        );
    }
    // A hard delete takes them out of the system: now they go back upstream.
    assert_eq!(w.carrier.disconnects().len(), 3);
    // All failed: every number reports its own error.
    let again = w
        .manager
        .delete_many(&numbers, &w.as_master())
        .await
        .unwrap();
    assert!(again.success.is_empty());
    assert_eq!(again.errors.len(), 3);
    assert_eq!(again.errors_json()[&numbers[0]]["error"], "not_found");
}

#[tokio::test]
async fn purge_removes_expired_discoveries_and_ages_numbers() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let config = Config::default()
        .with_state(number_manager::state::StateConfig::default().with_should_age(true));
    let w = World::with(store, config);
    let q = SearchQuery::new("415", 5);
    let hits = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap();
    let bought = hits[0].number;
    w.manager
        .activate(&w.customer, bought.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap();
    let aged = w
        .manager
        .release(bought.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(aged.record.state, NumberState::Aging);
    w.clock.advance(chrono::Duration::hours(25));
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.discovery_removed, 4);
    assert_eq!(report.aged, 0);
    for h in &hits[1..] {
        assert!(w.store.get(&h.number).await.unwrap().is_none());
    }
    w.clock.advance(chrono::Duration::days(90));
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.aged, 1);
    let r = w.store.get(&bought).await.unwrap().unwrap();
    assert_eq!(r.state, NumberState::Available);
    assert!(r.assigned_to.is_none());
    // An expired search result can no longer be bought.
    let e = w
        .manager
        .activate(
            &w.customer,
            hits[1].number.as_str(),
            Map::new(),
            &w.as_customer(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
}

async fn in_service(w: &World, n: &str) {
    let number = PhoneNumber::parse(n).unwrap();
    let mut r = NumberRecord::new(
        number,
        NumberState::InService,
        "simulated",
        chrono::Utc::now(),
    );
    r.assigned_to = Some(w.customer.clone());
    w.store.insert(r).await.unwrap();
}

#[tokio::test]
async fn features_follow_reference_12() {
    let w = World::new();
    let o = w.as_customer();
    in_service(&w, "+12125557001").await;
    let n = "+12125557001";
    let r = w
        .manager
        .update(
            n,
            body(json!({
                "prepend": {"enabled": true, "name": "VIP"},
                "force_outbound": true,
                "ringback": {"early": "media-1", "transfer": "media-2"},
                "sms": {"enabled": true},
                "mms": {"enabled": false}
            })),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        r.record.feature_names(),
        vec!["force_outbound", "prepend", "ringback", "sms"]
    );
    let id = w.manager.identify(n, &o).await.unwrap();
    assert_eq!(id.prepend.as_deref(), Some("VIP"));
    assert_eq!(id.ringback_media.as_deref(), Some("media-1"));
    assert_eq!(id.transfer_media.as_deref(), Some("media-2"));
    assert!(id.force_outbound);
    // failover is only for trunkstore numbers.
    let e = w
        .manager
        .update(n, body(json!({"failover": {"e164": "+14155550000"}})), &o)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    w.manager
        .assign_to_app(n, Some("trunkstore"), &o)
        .await
        .unwrap();
    let r = w
        .manager
        .update(n, body(json!({"failover": {"e164": "+14155550000"}})), &o)
        .await
        .unwrap();
    assert_eq!(r.record.feature_names(), vec!["failover"]);
    // carrier_name is master-only; an unknown carrier is 400 invalid.
    let e = w
        .manager
        .update(n, body(json!({"carrier_name": "local"})), &o)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    let m = w.as_master();
    let e = w
        .manager
        .update(n, body(json!({"carrier_name": "nosuch"})), &m)
        .await
        .unwrap_err();
    assert_eq!(e.to_json()["error"], "invalid");
    assert_eq!(e.to_json()["cause"], "'nosuch' is not known by the system");
    let r = w
        .manager
        .update(n, body(json!({"carrier_name": "knm_local"})), &m)
        .await
        .unwrap();
    assert_eq!(r.record.carrier, "local");
    assert!(r.record.public.get("carrier_name").is_none());
    assert_eq!(r.record.feature_names(), vec!["local"]);
    // Features other than CNAM and E911 exist only in service.
    let r = w
        .manager
        .reserve(&w.customer, n, body(json!({"force_outbound": true})), &m)
        .await
        .unwrap();
    assert_eq!(r.record.state, NumberState::Reserved);
    assert_eq!(r.record.public, body(json!({"force_outbound": true})));
    assert_eq!(r.record.feature_names(), vec!["local"]);
}

#[tokio::test]
async fn unknown_actor_and_manual_clock_sanity() {
    let clock = Arc::new(ManualClock::at_gregorian(common::T0));
    let m = NumberManager::builder().clock(clock).build();
    let ghost = number_manager::account::AccountId::new("ghost").unwrap();
    let e = m
        .get("4155550000", &Options::as_account(&ghost))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
}

/// Maintenance making an aging number available is a state change like any
/// other: the event sink hears of it, so the audit log replays to the store.
#[tokio::test]
async fn maintenance_ageing_is_reported_as_an_event() {
    let w = World::new();
    let n = "+14155550190";
    let opts = w.as_master();
    let change = number_manager::PublicChange::default().with_state(NumberState::Aging);
    w.manager
        .create(&w.customer, n, change, &opts)
        .await
        .unwrap();
    w.clock.advance(chrono::Duration::days(91));
    assert_eq!(w.manager.purge_expired().await.unwrap().aged, 1);
    let number = PhoneNumber::parse(n).unwrap();
    let stored = w.store.get(&number).await.unwrap().unwrap();
    let events = w.manager.audit_log().unwrap().history(&number);
    let last = events.last().unwrap();
    assert_eq!(last.from, Some(NumberState::Aging));
    assert_eq!(last.to, NumberState::Available);
    assert_eq!(last.after, stored.revision);
    assert_eq!(last.actor, number_manager::account::Actor::System);
}

/// An expired search result is as good as absent for `fix/{number}` too.
#[tokio::test]
async fn fixing_an_expired_search_result_is_not_found() {
    let w = World::new();
    let hits = w
        .manager
        .search(&SearchQuery::new("415", 1), &Options::system())
        .await
        .unwrap();
    let n = hits[0].number;
    w.clock.advance(chrono::Duration::hours(25));
    let e = w
        .manager
        .fix_number(n.as_str(), &w.as_master())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}
