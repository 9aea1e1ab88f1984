//! Collections against the simulated carrier: isolation of failures, batching,
//! idempotent retries, and racing buyers.

mod common;

use std::sync::Arc;

use common::World;
use number_manager::account::AccountId;
use number_manager::carrier::Fault;
use number_manager::manager::SearchQuery;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{ListQuery, MemoryStore, Store, StoreExt};
use number_manager::testing::Counting;
use number_manager::{Config, Error, Options, PhoneNumber};
use serde_json::Map;

async fn discover(w: &World, prefix: &str, count: usize) -> Vec<PhoneNumber> {
    let mut out = Vec::new();
    let mut page = 0;
    while out.len() < count {
        let mut q = SearchQuery::new(prefix, 500.min(count - out.len()).max(1));
        q.offset = page;
        // Page size must stay constant across pages for offsets to line up.
        q.quantity = 500;
        let hits = w.manager.search(&q, &Options::system()).await.unwrap();
        assert!(!hits.is_empty(), "carrier ran out of numbers");
        out.extend(hits.iter().map(|h| h.number));
        page += 1;
    }
    out.truncate(count);
    out
}

#[tokio::test]
async fn thousand_numbers_ten_scripted_failures() {
    let counting = Arc::new(Counting::new(MemoryStore::new()));
    let config = Config::default().with_max_search_quantity(1000);
    let w = World::with(counting.clone(), config);
    let mut numbers = discover(&w, "415", 997).await;
    assert_eq!(numbers.len(), 997);
    let mut seen = numbers.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 997);

    // Scripted failures, one kind each.
    let carrier_errors = numbers[10..13].to_vec();
    for n in &carrier_errors {
        w.carrier.fail_number(*n, Fault::Error);
    }
    let gone = numbers[100..102].to_vec();
    for n in &gone {
        w.carrier.fail_number(*n, Fault::NotAvailable);
    }
    let slow = numbers[200];
    w.carrier.fail_number(slow, Fault::Timeout);
    // A number owned by someone else, one in a state that cannot be bought, one never searched.
    let owned_elsewhere = PhoneNumber::parse("+12125550101").unwrap();
    let mut r = NumberRecord::new(
        owned_elsewhere,
        NumberState::InService,
        "simulated",
        w.clock_now(),
    );
    r.assigned_to = Some(w.other.clone());
    w.store.insert(r).await.unwrap();
    let porting_out = PhoneNumber::parse("+12125550102").unwrap();
    let mut r = NumberRecord::new(
        porting_out,
        NumberState::PortOut,
        "simulated",
        w.clock_now(),
    );
    r.assigned_to = Some(w.customer.clone());
    w.store.insert(r).await.unwrap();
    let never_searched = PhoneNumber::parse("+12125550103").unwrap();
    numbers.push(owned_elsewhere);
    numbers.push(porting_out);
    numbers.push(never_searched);
    let mut raws: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    raws.push("+141510010+15".into());
    assert_eq!(raws.len(), 1001);
    // The batch limit is 1000: one input too many is refused whole.
    let e = w
        .manager
        .activate_many(&w.customer, &raws, Map::new(), &w.as_customer())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Validation { .. }));
    raws.remove(0);
    let first = numbers.remove(0);
    assert_eq!(raws.len(), 1000);

    let reads_before = counting.calls("get_many");
    let writes_before = counting.calls("write_batch");
    let acquire_before = w.carrier.acquire_calls();
    let result = w
        .manager
        .activate_many(&w.customer, &raws, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(result.success.len(), 990, "errors: {:?}", result.errors);
    assert_eq!(result.errors.len(), 10);
    let name = |n: &PhoneNumber| result.errors[n.as_str()].to_json();
    for n in &carrier_errors {
        assert_eq!(name(n)["message"], "fault by carrier");
    }
    for n in &gone {
        assert_eq!(name(n)["message"], "number_not_available");
    }
    assert_eq!(name(&slow)["message"], "timeout");
    assert_eq!(name(&owned_elsewhere)["error"], "not_found");
    assert_eq!(name(&porting_out)["error"], "invalid_state_transition");
    assert_eq!(name(&never_searched)["error"], "not_found");
    assert_eq!(result.errors["+141510010+15"].name(), "not_reconcilable");

    // One read and a bounded number of batch writes for the whole collection
    // (claims, restores of failed claims, commits), not one per number.
    assert_eq!(counting.calls("get_many") - reads_before, 1);
    assert!(
        counting.calls("write_batch") - writes_before <= 3,
        "{} batch writes",
        counting.calls("write_batch") - writes_before
    );
    // The carrier is called once per number that needs it.
    assert_eq!(w.carrier.acquire_calls() - acquire_before, 996);
    assert_eq!(w.carrier.purchase_count(), 990);

    // The store shows exactly the 990 changes.
    let owned = w
        .store
        .count(
            &ListQuery::default()
                .with_accounts(vec![w.customer.clone()])
                .with_states(vec![NumberState::InService]),
        )
        .await
        .unwrap();
    assert_eq!(owned, 990);
    for n in carrier_errors.iter().chain(&gone).chain([&slow]) {
        let r = w.store.get(n).await.unwrap().unwrap();
        assert_eq!(r.state, NumberState::Discovery);
        assert!(r.pending.is_none());
        assert!(r.assigned_to.is_none());
    }
    assert_eq!(
        w.store
            .get(&owned_elsewhere)
            .await
            .unwrap()
            .unwrap()
            .assigned_to
            .as_ref(),
        Some(&w.other)
    );
    assert_eq!(
        w.store.get(&porting_out).await.unwrap().unwrap().state,
        NumberState::PortOut
    );
    assert!(w.store.get(&never_searched).await.unwrap().is_none());
    assert_eq!(
        w.store.get(&first).await.unwrap().unwrap().state,
        NumberState::Discovery
    );
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}
impl ClockNow for World {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use number_manager::clock::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn a_retried_activation_with_the_same_key_buys_nothing_twice() {
    let w = World::new();
    let numbers = discover(&w, "212", 3).await;
    let raws: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    let o = w.as_customer().idempotency_key("buy-3");
    let first = w
        .manager
        .activate_many(&w.customer, &raws, Map::new(), &o)
        .await
        .unwrap();
    assert_eq!(first.success.len(), 3);
    assert_eq!(w.carrier.purchase_count(), 3);
    // The response was lost: the client retries with the same key.
    let retry = w
        .manager
        .activate_many(&w.customer, &raws, Map::new(), &o)
        .await
        .unwrap();
    assert_eq!(retry, first);
    assert_eq!(w.carrier.purchase_count(), 3);
    assert_eq!(w.carrier.acquire_calls(), 3);
    // Same key, another request: 409.
    let e = w
        .manager
        .activate_many(&w.customer, &raws[..1], Map::new(), &o)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 409);
    // Another account's identical key is its own key.
    let other = w
        .manager
        .activate_many(
            &w.customer,
            &raws,
            Map::new(),
            &Options::as_account(&w.reseller).idempotency_key("buy-3"),
        )
        .await
        .unwrap();
    assert!(
        other.success.values().all(|o| o.plan.noop),
        "already in service for the account: no charge"
    );
    assert_eq!(w.carrier.purchase_count(), 3);
}

#[tokio::test]
async fn a_key_whose_first_call_never_finished_never_buys_again() {
    let w = World::new();
    let numbers = discover(&w, "646", 1).await;
    let n = numbers[0].to_string();
    // Simulate a first call that bought the number and died before recording
    // its result: the key was begun, the purchase made, the answer never stored.
    let key = format!("{}/{}", w.customer, "crashy");
    w.store
        .begin_idempotency(number_manager::store::IdempotencyEntry {
            key,
            fingerprint: "whatever-the-first-call-was".into(),
            response: None,
            created: w.clock_now(),
            expires_at: w.clock_now() + chrono::Duration::hours(1),
            owner: "the-first-call".into(),
            lease_until: Some(w.clock_now() + chrono::Duration::minutes(10)),
            progress: Default::default(),
        })
        .await
        .unwrap();
    w.manager
        .activate(&w.customer, &n, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(w.carrier.purchase_count(), 1);
    let e = w
        .manager
        .activate(
            &w.customer,
            &n,
            Map::new(),
            &w.as_customer().idempotency_key("crashy"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 409);
    assert_eq!(w.carrier.purchase_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_buyers_exactly_one_wins() {
    let w = Arc::new(World::new());
    let numbers = discover(&w, "415", 1).await;
    let n = numbers[0];
    let mut buyers = Vec::new();
    for i in 0..24 {
        let id = w
            .accounts
            .add(&format!("buyer{i:02}"), "Buyer", Some(&w.reseller))
            .unwrap();
        buyers.push(id);
    }
    let mut tasks = Vec::new();
    for b in buyers.clone() {
        let m = w.manager.clone();
        tasks.push(tokio::spawn(async move {
            let r = m
                .activate(&b, n.as_str(), Map::new(), &Options::as_account(&b))
                .await;
            (b, r)
        }));
    }
    let mut winners: Vec<AccountId> = Vec::new();
    for t in tasks {
        let (b, r) = t.await.unwrap();
        match r {
            Ok(o) => {
                assert_eq!(o.record.state, NumberState::InService);
                winners.push(b);
            }
            Err(e) => assert!(
                matches!(
                    e,
                    Error::Conflict { .. } | Error::NotFound { .. } | Error::Unspecified { .. }
                ),
                "unexpected error {e:?}"
            ),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one buyer wins");
    assert_eq!(w.carrier.purchase_count(), 1);
    let stored = w.store.get(&n).await.unwrap().unwrap();
    assert_eq!(stored.assigned_to.as_ref(), Some(&winners[0]));
    assert!(stored.pending.is_none());
    let events = w.manager.audit_log().unwrap().history(&n);
    assert_eq!(events.len(), 1);
    let _: &dyn Store = &*w.store;
}

/// 16 tasks patch one number at once, each adding its own key, with
/// `cas_retries` retries each; returns how many got through, after checking
/// that every one that did is in the record and every one that did not was
/// told `409 conflict`.
async fn sixteen_concurrent_patches(cas_retries: u32) -> usize {
    let config = Config::default().with_cas_retries(cas_retries);
    let w = Arc::new(World::with(Arc::new(MemoryStore::new()), config));
    w.manager
        .create(
            &w.customer,
            "4155556000",
            Default::default(),
            &w.as_customer(),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let m = w.manager.clone();
        let o = w.as_customer();
        tasks.push(tokio::spawn(async move {
            let mut patch = Map::new();
            patch.insert(format!("k{i}"), serde_json::json!(i));
            (i, m.patch("4155556000", patch, &o).await)
        }));
    }
    let mut through = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(_)) => through.push(format!("k{i}")),
            (_, Err(e)) => assert_eq!(e.code(), 409, "a lost race is a clean conflict: {e:?}"),
        }
    }
    let r = w.manager.get("4155556000", &w.as_customer()).await.unwrap();
    let mut stored: Vec<String> = r.public.keys().cloned().collect();
    stored.sort();
    through.sort();
    assert_eq!(
        stored, through,
        "exactly the successful patches are in the record"
    );
    through.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_edits_never_lose_an_update() {
    // A writer only loses a race to another writer's commit, and each of the
    // other 15 commits once: 15 retries let every writer through, whatever
    // the scheduling.
    assert_eq!(sixteen_concurrent_patches(15).await, 16);
    // With fewer retries some may give up under contention, but cleanly.
    assert!(sixteen_concurrent_patches(Config::default().cas_retries).await >= 1);
}
