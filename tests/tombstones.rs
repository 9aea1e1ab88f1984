//! Tombstones do not leak: `purge_expired` removes expired search results with
//! ordinary deletes (each leaving a tombstone), and drops the tombstones older
//! than `Config::tombstone_horizon`, reporting how many.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::World;
use number_manager::manager::SearchQuery;
use number_manager::record::Revision;
use number_manager::state::NumberState;
use number_manager::store::{ListQuery, MemoryStore, Store, StoreExt};
use number_manager::{Config, Options, PhoneNumber};

/// A world on a fresh MemoryStore whose manual clock reads the wall clock's
/// time: the stores stamp deletions with `Utc::now()`, and the horizon is
/// measured from the manager's clock.
fn world(config: Config) -> (World, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let w = World::with(store.clone(), config);
    w.clock.set(Utc::now());
    (w, store)
}

async fn search(w: &World, quantity: usize) -> Vec<PhoneNumber> {
    let q = SearchQuery::new("415", quantity);
    let hits = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .expect("search");
    hits.iter().map(|h| h.number).collect()
}

async fn discovery_entries(store: &MemoryStore) -> usize {
    store
        .count(&ListQuery::default().with_states(vec![NumberState::Discovery]))
        .await
        .expect("count")
}

#[tokio::test]
async fn purge_expired_drops_tombstones_older_than_the_horizon() {
    let config = Config::default().with_discovery_ttl(std::time::Duration::from_secs(60));
    assert_eq!(
        config.tombstone_horizon,
        std::time::Duration::from_secs(24 * 3600)
    );
    let (w, store) = world(config);
    let numbers = search(&w, 5).await;
    assert_eq!(numbers.len(), 5);
    assert_eq!(discovery_entries(&store).await, 5);

    // The results expire and are deleted; their tombstones are younger than
    // the horizon, so they stay.
    w.clock.advance(Duration::minutes(2));
    let report = w.manager.purge_expired().await.expect("purge");
    assert_eq!(report.discovery_removed, 5);
    assert_eq!(report.tombstones_removed, 0);
    assert_eq!(discovery_entries(&store).await, 0);
    assert!(store.is_empty());

    // A day later they are past the horizon, and go.
    w.clock.advance(Duration::hours(24));
    let report = w.manager.purge_expired().await.expect("purge");
    assert_eq!(report.discovery_removed, 0);
    assert_eq!(report.tombstones_removed, 5);
    let report = w.manager.purge_expired().await.expect("purge");
    assert_eq!(report.tombstones_removed, 0, "nothing left to drop");

    // The store still works: searching the same numbers stores them afresh.
    let again = search(&w, 5).await;
    assert_eq!(again.len(), 5);
    assert_eq!(discovery_entries(&store).await, 5);
}

#[tokio::test]
async fn a_horizon_in_the_future_drops_tombstones_at_once() {
    // A zero horizon with the manager's clock two minutes ahead of the wall
    // clock puts the cutoff after the stores' deletion stamps: the tombstones
    // left by this very purge are dropped by it (never do this outside a
    // test). Durations are never negative, so the cutoff is moved by the clock.
    let config = Config::default()
        .with_discovery_ttl(std::time::Duration::from_secs(60))
        .with_tombstone_horizon(std::time::Duration::ZERO);
    let (w, store) = world(config);
    let numbers = search(&w, 5).await;
    let revisions: Vec<Revision> = store
        .get_many(&numbers)
        .await
        .expect("get_many")
        .into_iter()
        .map(|r| r.expect("a search result").revision)
        .collect();
    w.clock.advance(Duration::minutes(2));
    let report = w.manager.purge_expired().await.expect("purge");
    assert_eq!(report.discovery_removed, 5);
    assert_eq!(report.tombstones_removed, 5);
    assert!(store.is_empty());
    // With its tombstone gone, a number starts again at revision 1.
    let mut r = number_manager::record::NumberRecord::new(
        numbers[0],
        NumberState::Available,
        "local",
        Utc::now(),
    );
    r.public.insert("again".into(), serde_json::json!(true));
    assert_eq!(revisions[0], Revision(1));
    assert_eq!(store.insert(r).await, Ok(Revision(1)));
}

#[tokio::test]
async fn the_horizon_keeps_tombstones_deleted_after_the_cutoff() {
    let (w, store) = world(Config::default());
    let numbers = search(&w, 5).await;
    // Delete one directly, as a writer would: its tombstone holds revision 1.
    store
        .delete(&numbers[0], Revision(1))
        .await
        .expect("delete");
    // A cutoff an hour before the delete keeps it.
    let hour_ago = Utc::now() - Duration::hours(1);
    assert_eq!(store.purge_tombstones(hour_ago).await, Ok(0));
    let r = number_manager::record::NumberRecord::new(
        numbers[0],
        NumberState::Available,
        "local",
        Utc::now(),
    );
    assert_eq!(store.insert(r).await, Ok(Revision(2)));
    // The manager's purge, at the wall clock's time with the default horizon,
    // keeps it too.
    let report = w.manager.purge_expired().await.expect("purge");
    assert_eq!(report.tombstones_removed, 0);
    // A cutoff after the delete drops it (the number stays stored).
    let soon = Utc::now() + Duration::seconds(1);
    assert_eq!(store.purge_tombstones(soon).await, Ok(1));
    assert_eq!(store.len(), 5);
}

#[tokio::test]
async fn a_manual_clock_far_from_real_time_shifts_the_cutoff() {
    // The usual test world's clock reads 2016: `now - 24 h` is years before
    // any wall-clock deletion stamp, so nothing is dropped. This is expected.
    let w = World::with(
        Arc::new(MemoryStore::new()),
        Config::default().with_discovery_ttl(std::time::Duration::from_secs(60)),
    );
    search(&w, 5).await;
    w.clock.advance(Duration::days(3));
    let report = w.manager.purge_expired().await.expect("purge");
    assert_eq!(report.discovery_removed, 5);
    assert_eq!(report.tombstones_removed, 0);
}
