//! Carriers through the public API: the simulated carrier's catalogue,
//! purchases and fault scripts; the inventory pool; the local and reserved
//! carriers over a store.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use number_manager::account::AccountId;
use number_manager::carrier::{
    Availability, Carrier, CarrierRegistry, Fault, InventoryCarrier, NumberOrder, Ownership,
    SearchRequest, SearchResult, SimulatedCarrier,
};
use number_manager::state::NumberState;
use number_manager::{Error, PhoneNumber};
use serde_json::{json, Map};

fn n(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn search(prefix: &str, quantity: usize, offset: usize) -> SearchRequest {
    SearchRequest::new(prefix, quantity).with_offset(offset)
}

fn order(number: PhoneNumber) -> NumberOrder {
    NumberOrder::new(number)
}

fn order_for(number: PhoneNumber, account: &str) -> NumberOrder {
    NumberOrder::new(number).with_account(AccountId::new(account).unwrap())
}

fn numbers(results: &[SearchResult]) -> Vec<PhoneNumber> {
    results.iter().map(|r| r.number).collect()
}

async fn find(
    carrier: &dyn Carrier,
    prefix: &str,
    quantity: usize,
    offset: usize,
) -> Vec<PhoneNumber> {
    numbers(
        &carrier
            .find_numbers(&search(prefix, quantity, offset))
            .await
            .unwrap(),
    )
}

fn assert_not_available(e: &Error, number: PhoneNumber) {
    assert_eq!(e.code(), 500);
    assert_eq!(e.name(), "unspecified_fault");
    assert_eq!(e.message(), "number_not_available");
    assert_eq!(e.cause().as_deref(), Some(number.as_str()));
}

/// A minimal executor: the simulated carrier must not need tokio.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

// ---------------------------------------------------------------- simulated

#[tokio::test]
async fn same_seed_same_catalogue_other_seed_other_catalogue() {
    let a = find(&SimulatedCarrier::new(42), "+1415", 20, 0).await;
    let b = find(&SimulatedCarrier::new(42), "+1415", 20, 0).await;
    let c = find(&SimulatedCarrier::new(43), "+1415", 20, 0).await;
    assert_eq!(a.len(), 20);
    assert_eq!(a, b);
    assert_ne!(a, c);
    // The whole result, data included, is deterministic.
    let r1 = SimulatedCarrier::new(42)
        .find_numbers(&search("+1415", 5, 0))
        .await
        .unwrap();
    let r2 = SimulatedCarrier::new(42)
        .find_numbers(&search("+1415", 5, 0))
        .await
        .unwrap();
    assert_eq!(r1, r2);
}

#[tokio::test]
async fn results_have_the_seeds_shape() {
    let carrier = SimulatedCarrier::new(1);
    let results = carrier.find_numbers(&search("+1415", 3, 0)).await.unwrap();
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(r.state, NumberState::Discovery);
        let d = &r.data;
        let e164 = r.number.as_str();
        let ten = &e164[2..];
        assert_eq!(d["e164"], e164);
        assert_eq!(d["number"], e164);
        assert_eq!(d["ten_digit"], ten);
        assert_eq!(d["npa_nxx"], &ten[..6]);
        assert_eq!(
            d["formatted_number"],
            format!("1-{}-{}-{}", &ten[..3], &ten[3..6], &ten[6..])
        );
        assert_eq!(d["status"], "Available");
        let id = d["number_id"].as_str().unwrap();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase()));
        let rc = &d["rate_center"];
        assert_eq!(rc["lata"], "722");
        assert_eq!(rc["state"], "CA");
        assert!(
            rc["name"] == "SAN FRANCISCO" || rc["name"] == "SAN RAFAEL",
            "{rc}"
        );
        // NANP central office codes start 2-9 and are not N11.
        let nxx = &ten[3..6];
        assert!(nxx.as_bytes()[0] >= b'2' && &nxx[1..] != "11", "{e164}");
        // Keys in the seeds' (alphabetical) order.
        let keys: Vec<&String> = d.keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
    // Ids differ per number.
    let ids: BTreeSet<_> = results
        .iter()
        .map(|r| r.data["number_id"].to_string())
        .collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn prefix_filters_and_longer_prefixes_narrow() {
    let carrier = SimulatedCarrier::new(9);
    for prefix in [
        "+1",
        "+14",
        "+141",
        "+1415",
        "+14152",
        "+1415233",
        "+14152338",
    ] {
        let found = find(&carrier, prefix, 25, 0).await;
        assert!(!found.is_empty(), "{prefix}");
        for number in &found {
            assert!(number.as_str().starts_with(prefix), "{number} for {prefix}");
            assert!(carrier.offers(number));
        }
    }
    // A whole number as prefix finds that number exactly when it is offered.
    let some = find(&carrier, "+1415", 1, 0).await[0];
    assert_eq!(find(&carrier, some.as_str(), 10, 0).await, vec![some]);
    let mut other = None;
    for last in 0..10u64 {
        let candidate = n(&format!("{}{}", &some.as_str()[..11], last));
        if !carrier.offers(&candidate) {
            other = Some(candidate);
            break;
        }
    }
    let other = other.unwrap();
    assert!(find(&carrier, other.as_str(), 10, 0).await.is_empty());
    // Longer than a number, or not digits: nothing.
    assert!(find(&carrier, "+141523383970", 10, 0).await.is_empty());
    assert!(find(&carrier, "+1abc", 10, 0).await.is_empty());
    // Unassigned area code, and the N11 service code, offer nothing.
    assert!(find(&carrier, "+1374", 10, 0).await.is_empty());
    assert!(find(&carrier, "+1415411", 10, 0).await.is_empty());
}

#[tokio::test]
async fn national_prefix_uses_the_country_and_country_narrows_nanp() {
    let carrier = SimulatedCarrier::new(5);
    assert_eq!(
        find(&carrier, "415", 10, 0).await,
        find(&carrier, "+1415", 10, 0).await
    );
    // "+1" with a Canadian search: Canadian area codes only.
    let mut request = search("+1", 50, 0);
    request.country = "CA".into();
    let canadian = carrier.find_numbers(&request).await.unwrap();
    assert_eq!(canadian.len(), 50);
    assert!(canadian
        .iter()
        .all(|r| r.number.as_str().starts_with("+1204")));
    // Toll free is searched when asked for.
    let free = find(&carrier, "+1800", 5, 0).await;
    assert_eq!(free.len(), 5);
    assert!(free.iter().all(|n| n.as_str().starts_with("+1800")));
}

#[tokio::test]
async fn other_countries() {
    let carrier = SimulatedCarrier::new(3);
    let results = carrier.find_numbers(&search("+4420", 5, 0)).await.unwrap();
    assert_eq!(results.len(), 5);
    for r in &results {
        let e164 = r.number.as_str();
        assert!(e164.starts_with("+4420"));
        assert_eq!(e164.len(), 13, "{e164}");
        assert_eq!(r.data["formatted_number"], format!("+44 {}", &e164[3..]));
        assert_eq!(r.data["status"], "Available");
        assert!(r.data.get("rate_center").is_none());
    }
    // National numbers never start with 0.
    let uk = find(&carrier, "+44", 5, 0).await;
    assert!(uk.iter().all(|n| !n.as_str().starts_with("+440")));
    assert!(find(&carrier, "+440", 5, 0).await.is_empty());
    // A prefix shorter than its calling code finds nothing.
    assert!(find(&carrier, "+4", 5, 0).await.is_empty());
    let fr = find(&carrier, "+336", 3, 0).await;
    assert!(fr.iter().all(|n| n.as_str().len() == 12));
}

#[tokio::test]
async fn paging_is_a_row_offset_over_a_sorted_list() {
    let carrier = SimulatedCarrier::new(11);
    let all = find(&carrier, "+1212", 60, 0).await;
    assert_eq!(all.len(), 60);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted);
    assert_eq!(find(&carrier, "+1212", 20, 0).await, all[..20]);
    assert_eq!(find(&carrier, "+1212", 20, 20).await, all[20..40]);
    assert_eq!(find(&carrier, "+1212", 25, 35).await, all[35..60]);
    assert!(find(&carrier, "+1212", 0, 0).await.is_empty());
    // Running off the end of a small catalogue.
    let tail = find(&carrier, "+121223456", 5000, 0).await;
    assert!(!tail.is_empty() && tail.len() < 100, "{}", tail.len());
    assert_eq!(
        find(&carrier, "+121223456", 10, tail.len() - 1).await,
        tail[tail.len() - 1..]
    );
    assert!(find(&carrier, "+121223456", 10, tail.len())
        .await
        .is_empty());
}

#[tokio::test]
async fn sold_numbers_are_not_offered_until_disconnected() {
    let carrier = SimulatedCarrier::new(21);
    let before = find(&carrier, "+1415", 10, 0).await;
    let bought = before[0];
    let data = carrier.acquire(&order_for(bought, "acct1")).await.unwrap();
    assert!(data["order_id"].as_str().unwrap().starts_with("SIM-"));
    assert!(carrier.is_sold(&bought));

    let after = find(&carrier, "+1415", 10, 0).await;
    assert!(!after.contains(&bought));
    assert_eq!(after[..9], before[1..]);
    assert!(find(&carrier, bought.as_str(), 1, 0).await.is_empty());

    let e = carrier
        .acquire(&order_for(bought, "acct2"))
        .await
        .unwrap_err();
    assert_not_available(&e, bought);

    carrier
        .disconnect(&order_for(bought, "acct1"))
        .await
        .unwrap();
    assert!(!carrier.is_sold(&bought));
    assert_eq!(find(&carrier, "+1415", 10, 0).await, before);
    carrier.acquire(&order_for(bought, "acct2")).await.unwrap();

    let purchases = carrier.purchases();
    assert_eq!(purchases.len(), 2);
    assert_eq!(purchases[0].number, bought);
    assert_eq!(
        purchases[0].account.as_ref().map(AccountId::as_str),
        Some("acct1")
    );
    assert_eq!(
        purchases[1].account.as_ref().map(AccountId::as_str),
        Some("acct2")
    );
    let disconnects = carrier.disconnects();
    assert_eq!(disconnects.len(), 1);
    // Sequence numbers order purchases and disconnects in time.
    assert!(purchases[0].sequence < disconnects[0].sequence);
    assert!(disconnects[0].sequence < purchases[1].sequence);
    assert_eq!(carrier.purchase_count(), 2);
    assert_eq!(carrier.sold(), vec![bought]);
}

#[tokio::test]
async fn only_catalogue_numbers_can_be_bought_unless_told_otherwise() {
    let carrier = SimulatedCarrier::new(2);
    let mut outside = None;
    for line in 100..200 {
        let candidate = n(&format!("+1415555{line:04}"));
        if !carrier.offers(&candidate) {
            outside = Some(candidate);
            break;
        }
    }
    let outside = outside.unwrap();
    let e = carrier.acquire(&order(outside)).await.unwrap_err();
    assert_not_available(&e, outside);
    assert_eq!(carrier.purchase_count(), 0);

    let open = SimulatedCarrier::new(2).accept_any_number();
    open.acquire(&order(outside)).await.unwrap();
    assert_not_available(&open.acquire(&order(outside)).await.unwrap_err(), outside);
}

#[tokio::test]
async fn carrier_data_from_the_search_is_kept() {
    let carrier = SimulatedCarrier::new(8);
    let found = carrier.find_numbers(&search("+1212", 1, 0)).await.unwrap();
    let mut o = order(found[0].number);
    o.carrier_data = found[0].data.clone();
    let data = carrier.acquire(&o).await.unwrap();
    assert_eq!(data["number_id"], found[0].data["number_id"]);
    assert_eq!(data["rate_center"]["name"], "NEW YORK CITY");
    assert_eq!(data["order_id"], json!(carrier.purchases()[0].order_id));
}

#[tokio::test]
async fn per_call_fault_scripts() {
    let carrier = SimulatedCarrier::new(4);
    let number = find(&carrier, "+1415", 1, 0).await[0];

    carrier.fail_next_acquire(Fault::Error, 2);
    for _ in 0..2 {
        let e = carrier.acquire(&order(number)).await.unwrap_err();
        assert!(matches!(e, Error::ByCarrier { .. }));
        assert_eq!((e.code(), e.message().as_str()), (500, "fault by carrier"));
        assert_eq!(e.cause().as_deref(), Some(number.as_str()));
        assert!(!carrier.is_sold(&number), "a failed purchase sells nothing");
    }
    carrier.acquire(&order(number)).await.unwrap();

    carrier.fail_next_disconnect(Fault::Timeout, 1);
    let e = carrier.disconnect(&order(number)).await.unwrap_err();
    assert_eq!((e.code(), e.message().as_str()), (500, "timeout"));
    assert!(
        carrier.is_sold(&number),
        "a failed disconnect releases nothing"
    );
    carrier.disconnect(&order(number)).await.unwrap();

    carrier.fail_next_find(Fault::Error, 1);
    assert!(matches!(
        carrier.find_numbers(&search("+1415", 5, 0)).await,
        Err(Error::ByCarrier { .. })
    ));
    // Kazoo's not_available from a search means "no results".
    carrier.fail_next_find(Fault::NotAvailable, 1);
    assert!(carrier
        .find_numbers(&search("+1415", 5, 0))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(find(&carrier, "+1415", 5, 0).await.len(), 5);

    carrier.fail_next_check(Fault::Error, 1);
    assert!(carrier.check_numbers(&[number]).await.is_err());
    assert!(carrier.check_numbers(&[number]).await.is_ok());

    assert_eq!(carrier.acquire_calls(), 3);
    assert_eq!(carrier.disconnect_calls(), 2);
    assert_eq!(carrier.find_calls(), 4);
    assert_eq!(carrier.check_calls(), 2);
}

#[tokio::test]
async fn per_number_fault_scripts() {
    let carrier = SimulatedCarrier::new(4);
    let found = find(&carrier, "+1415", 2, 0).await;
    let (flaky, broken) = (found[0], found[1]);

    carrier.fail_number(flaky, Fault::NotAvailable);
    assert_not_available(&carrier.acquire(&order(flaky)).await.unwrap_err(), flaky);
    carrier.acquire(&order(flaky)).await.unwrap();

    carrier.fail_number_always(broken, Fault::Error);
    for _ in 0..3 {
        assert!(matches!(
            carrier.acquire(&order(broken)).await,
            Err(Error::ByCarrier { .. })
        ));
    }
    let checked = carrier.check_numbers(&[broken]).await.unwrap();
    assert_eq!(checked[&broken], Availability::Error);
    carrier.heal_number(&broken);
    assert_eq!(
        carrier.check_numbers(&[broken]).await.unwrap()[&broken],
        Availability::Success
    );
    carrier.acquire(&order(broken)).await.unwrap();
    assert_eq!(carrier.purchase_count(), 2);
}

#[tokio::test]
async fn whole_carrier_outage() {
    let carrier = SimulatedCarrier::new(4);
    let number = find(&carrier, "+1415", 1, 0).await[0];
    carrier.outage(Fault::Error);
    assert!(carrier.find_numbers(&search("+1415", 1, 0)).await.is_err());
    assert!(carrier.acquire(&order(number)).await.is_err());
    assert!(carrier.disconnect(&order(number)).await.is_err());
    assert!(carrier.check_numbers(&[number]).await.is_err());
    carrier.restore();
    carrier.acquire(&order(number)).await.unwrap();
}

#[tokio::test]
async fn check_numbers_reports_what_can_be_bought() {
    let carrier = SimulatedCarrier::new(6);
    assert!(carrier.capabilities().check_numbers);
    let found = find(&carrier, "+1646", 3, 0).await;
    let (free, sold, faulted) = (found[0], found[1], found[2]);
    carrier.acquire(&order(sold)).await.unwrap();
    carrier.fail_number(faulted, Fault::Error);
    let unknown = (0..10)
        .map(|i| n(&format!("+1646555010{i}")))
        .find(|c| !carrier.offers(c))
        .unwrap();
    let answer = carrier
        .check_numbers(&[free, sold, faulted, unknown])
        .await
        .unwrap();
    assert_eq!(answer[&free], Availability::Success);
    assert_eq!(answer[&sold], Availability::Error);
    assert_eq!(answer[&faulted], Availability::Error);
    assert_eq!(answer[&unknown], Availability::Error);
    // Checking does not use up a one-shot fault.
    assert!(carrier.acquire(&order(faulted)).await.is_err());
}

#[tokio::test]
async fn owned_numbers_says_what_this_system_holds() {
    let carrier = SimulatedCarrier::new(6);
    assert!(carrier.capabilities().owned_numbers);
    assert!(
        !SimulatedCarrier::new(6)
            .without_owned_numbers()
            .capabilities()
            .owned_numbers
    );
    let found = find(&carrier, "+1646", 2, 0).await;
    let (held, free) = (found[0], found[1]);
    let data = carrier.acquire(&order(held)).await.unwrap();
    let answer = carrier.owned_numbers(&[held, free]).await.unwrap();
    assert_eq!(answer.len(), 2);
    match &answer[&held] {
        Ownership::Ours { carrier_data } => {
            assert_eq!(carrier_data["order_id"], data["order_id"]);
        }
        other => panic!("{held} was bought: {other:?}"),
    }
    assert_eq!(answer[&free], Ownership::NotOurs);
    // Given back, it is no longer ours.
    carrier.disconnect(&order(held)).await.unwrap();
    let answer = carrier.owned_numbers(&[held]).await.unwrap();
    assert_eq!(answer[&held], Ownership::NotOurs);
    // Faults apply as to any call, and are counted.
    carrier.fail_next_owned(Fault::Error, 1);
    assert!(carrier.owned_numbers(&[held]).await.is_err());
    assert_eq!(carrier.owned_calls(), 3);
}

#[test]
fn delays_need_no_runtime() {
    let carrier = SimulatedCarrier::new(4).with_latency(Duration::from_millis(30));
    let started = Instant::now();
    let found = block_on(carrier.find_numbers(&search("+1415", 2, 0))).unwrap();
    assert_eq!(found.len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(30));

    let carrier = SimulatedCarrier::new(4);
    carrier.fail_next_acquire(Fault::Delay(Duration::from_millis(40)), 1);
    let started = Instant::now();
    block_on(carrier.acquire(&order(found[0].number))).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert!(carrier.is_sold(&found[0].number));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_buyers_get_exactly_one_success() {
    let carrier = Arc::new(SimulatedCarrier::new(77).with_latency(Duration::from_millis(5)));
    let number = find(carrier.as_ref(), "+1415", 1, 0).await[0];
    let mut tasks = Vec::new();
    for i in 0..32 {
        let carrier = Arc::clone(&carrier);
        tasks.push(tokio::spawn(async move {
            carrier
                .acquire(&order_for(number, &format!("acct{i}")))
                .await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_not_available(&e, number),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(carrier.purchase_count(), 1);
    assert_eq!(carrier.acquire_calls(), 32);
}

#[test]
fn capabilities_and_registry() {
    let carrier = SimulatedCarrier::new(1).with_name("sim2");
    assert_eq!(carrier.name(), "sim2");
    assert_eq!(carrier.seed(), 1);
    let caps = carrier.capabilities();
    assert!(!caps.is_local && caps.billable && caps.check_numbers);
    assert_eq!(caps.maximal_prefix_length, 10);
    let registry = CarrierRegistry::new()
        .with(Arc::new(carrier))
        .with(Arc::new(InventoryCarrier::new()));
    assert!(!registry.is_local("sim2"));
    assert!(!registry.is_local("inventory"));
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<SimulatedCarrier>();
    shareable::<InventoryCarrier>();
}

// ---------------------------------------------------------------- inventory

#[tokio::test]
async fn inventory_pool_accounting() {
    let inventory = InventoryCarrier::new();
    let caps = inventory.capabilities();
    assert!(!caps.is_local && !caps.billable && caps.check_numbers);
    let pool = [
        n("+14155550103"),
        n("+14155550101"),
        n("+14165550100"),
        n("+14155550102"),
    ];
    inventory.load(pool);
    inventory.load([n("+14155550101")]);
    assert_eq!(inventory.available().len(), 4);

    let found = inventory
        .find_numbers(&search("+1415", 10, 0))
        .await
        .unwrap();
    assert_eq!(
        numbers(&found),
        vec![n("+14155550101"), n("+14155550102"), n("+14155550103")]
    );
    assert!(found.iter().all(|r| r.state == NumberState::Discovery));
    assert_eq!(found[0].data["formatted_number"], "1-415-555-0101");
    assert_eq!(
        find(&inventory, "+1415", 1, 1).await,
        vec![n("+14155550102")]
    );
    assert_eq!(
        find(&inventory, "415", 10, 2).await,
        vec![n("+14155550103")]
    );

    let number = n("+14155550102");
    inventory.acquire(&order(number)).await.unwrap();
    assert!(!inventory.contains(&number));
    assert_eq!(inventory.acquired(), vec![number]);
    assert_eq!(inventory.available().len(), 3);
    assert!(!find(&inventory, "+1415", 10, 0).await.contains(&number));
    assert_not_available(
        &inventory.acquire(&order(number)).await.unwrap_err(),
        number,
    );
    let outside = n("+12125550100");
    assert_not_available(
        &inventory.acquire(&order(outside)).await.unwrap_err(),
        outside,
    );

    let checked = inventory
        .check_numbers(&[number, n("+14155550101"), outside])
        .await
        .unwrap();
    assert_eq!(checked[&number], Availability::Error);
    assert_eq!(checked[&n("+14155550101")], Availability::Success);
    assert_eq!(checked[&outside], Availability::Error);

    // Loading does not put a sold number back; disconnecting does.
    inventory.load([number]);
    assert!(!inventory.contains(&number));
    inventory.disconnect(&order(number)).await.unwrap();
    assert!(inventory.contains(&number));
    assert!(inventory.acquired().is_empty());

    assert_eq!(inventory.unload(&[number, outside]), 1);
    assert_eq!(inventory.available().len(), 3);
}

#[tokio::test]
async fn inventory_data_follows_the_number() {
    let inventory = InventoryCarrier::new().with_name("bulk");
    assert_eq!(inventory.name(), "bulk");
    let number = n("+14155550100");
    let mut data = Map::new();
    data.insert("vendor".into(), json!("acme"));
    assert_eq!(inventory.load_with_data([(number, data)]), 1);
    let found = inventory.find_numbers(&search("+1", 1, 0)).await.unwrap();
    assert_eq!(found[0].data["vendor"], "acme");

    let mut o = order(number);
    o.carrier_data.insert("from_search".into(), json!(true));
    let bought = inventory.acquire(&o).await.unwrap();
    assert_eq!(bought["vendor"], "acme");
    assert_eq!(bought["from_search"], true);
    inventory.disconnect(&o).await.unwrap();
    let again = inventory.find_numbers(&search("+1", 1, 0)).await.unwrap();
    assert_eq!(again[0].data["vendor"], "acme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inventory_racing_buyers_get_exactly_one_success() {
    let inventory = Arc::new(InventoryCarrier::new());
    let number = n("+14155550100");
    inventory.load([number]);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let inventory = Arc::clone(&inventory);
            tokio::spawn(async move { inventory.acquire(&order(number)).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(inventory.acquired(), vec![number]);
}

// ---------------------------------------------------------- local, reserved

mod over_a_store {
    use super::*;
    use number_manager::carrier::{LocalCarrier, ReservedCarrier};
    use number_manager::clock::from_gregorian;
    use number_manager::record::NumberRecord;
    use number_manager::store::{MemoryStore, Store, StoreExt};

    fn record(
        number: &str,
        state: NumberState,
        carrier: &str,
        owner: Option<&str>,
    ) -> NumberRecord {
        let now = from_gregorian(63_628_550_806).unwrap();
        let mut r = NumberRecord::new(n(number), state, carrier, now);
        if let Some(o) = owner {
            r.set_assigned_to(Some(AccountId::new(o).unwrap()));
        }
        r
    }

    async fn store_with(records: Vec<NumberRecord>) -> Arc<dyn Store> {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        for r in records {
            store.insert(r).await.unwrap();
        }
        store
    }

    fn with_account(
        prefix: &str,
        quantity: usize,
        offset: usize,
        account: Option<&str>,
    ) -> SearchRequest {
        let request = search(prefix, quantity, offset);
        match account {
            Some(a) => request.with_account(AccountId::new(a).unwrap()),
            None => request,
        }
    }

    #[tokio::test]
    async fn local_finds_available_local_numbers_under_a_real_prefix() {
        let store = store_with(vec![
            record("+14155550102", NumberState::Available, "local", None),
            record("+14155550100", NumberState::Available, "local", None),
            // Another carrier's available number, a reserved local one, and a
            // local one just past the prefix (Kazoo's lower-bound bug).
            record("+14155550101", NumberState::Available, "simulated", None),
            record(
                "+14155550103",
                NumberState::Reserved,
                "local",
                Some("acct1"),
            ),
            record("+14165550100", NumberState::Available, "local", None),
        ])
        .await;
        let local = LocalCarrier::new(store);
        let caps = local.capabilities();
        assert!(caps.is_local && !caps.billable);
        assert_eq!(caps.maximal_prefix_length, 10);

        let found = local.find_numbers(&search("+1415", 10, 0)).await.unwrap();
        assert_eq!(numbers(&found), vec![n("+14155550100"), n("+14155550102")]);
        assert!(found.iter().all(|r| r.state == NumberState::Available));
        assert_eq!(found[0].data["formatted_number"], "1-415-555-0100");
        assert_eq!(found[0].data["status"], "Available");
        assert_eq!(find(&local, "415", 10, 1).await, vec![n("+14155550102")]);
        assert_eq!(find(&local, "+1416", 10, 0).await, vec![n("+14165550100")]);
        assert!(find(&local, "+1417", 10, 0).await.is_empty());
        assert!(find(&local, "+1415", 0, 0).await.is_empty());

        // Buying and releasing change nothing upstream.
        let mut o = order(n("+14155550100"));
        o.carrier_data.insert("kept".into(), json!(1));
        assert_eq!(local.acquire(&o).await.unwrap(), o.carrier_data);
        local.disconnect(&o).await.unwrap();
    }

    #[tokio::test]
    async fn local_pages_through_a_store_full_of_other_numbers() {
        // 450 local numbers interleaved with 450 of another carrier: the
        // carrier filter needs several store pages.
        let mut records = Vec::new();
        for i in 0..900 {
            let carrier = if i % 2 == 0 { "local" } else { "simulated" };
            records.push(record(
                &format!("+1415555{i:04}"),
                NumberState::Available,
                carrier,
                None,
            ));
        }
        let local = LocalCarrier::new(store_with(records).await);
        let all = find(&local, "+1415555", 1000, 0).await;
        assert_eq!(all.len(), 450);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(all[0], n("+14155550000"));
        assert_eq!(all[449], n("+14155550898"));
        let page = find(&local, "+1415555", 100, 300).await;
        assert_eq!(page, all[300..400]);
        assert_eq!(find(&local, "+1415555", 100, 440).await, all[440..]);
    }

    #[tokio::test]
    async fn reserved_finds_the_searching_accounts_reserved_numbers() {
        let store = store_with(vec![
            record(
                "+14155550100",
                NumberState::Reserved,
                "simulated",
                Some("acct1"),
            ),
            record(
                "+14155550101",
                NumberState::Reserved,
                "local",
                Some("acct1"),
            ),
            record(
                "+14155550102",
                NumberState::Reserved,
                "local",
                Some("acct2"),
            ),
            record(
                "+14155550103",
                NumberState::InService,
                "local",
                Some("acct1"),
            ),
            record(
                "+14165550104",
                NumberState::Reserved,
                "local",
                Some("acct1"),
            ),
        ])
        .await;
        let reserved = ReservedCarrier::new(store);
        assert_eq!(reserved.name(), "reserved");
        assert!(reserved.capabilities().is_local);

        let found = reserved
            .find_numbers(&with_account("+1415", 10, 0, Some("acct1")))
            .await
            .unwrap();
        assert_eq!(numbers(&found), vec![n("+14155550100"), n("+14155550101")]);
        assert!(found.iter().all(|r| r.state == NumberState::Reserved));
        assert_eq!(found[0].data["status"], "Reserved");

        let page = reserved
            .find_numbers(&with_account("+1415", 1, 1, Some("acct1")))
            .await
            .unwrap();
        assert_eq!(numbers(&page), vec![n("+14155550101")]);
        let theirs = reserved
            .find_numbers(&with_account("+1", 10, 0, Some("acct2")))
            .await
            .unwrap();
        assert_eq!(numbers(&theirs), vec![n("+14155550102")]);
        // No account, no results.
        assert!(reserved
            .find_numbers(&with_account("+1415", 10, 0, None))
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn the_simulated_carrier_reports_its_health_and_others_do_not_tell() {
    use number_manager::carrier::{CarrierHealth, LocalCarrier};
    use number_manager::store::MemoryStore;

    let c = SimulatedCarrier::new(7);
    assert_eq!(c.health().await, CarrierHealth::Up);
    c.outage(Fault::Error);
    assert!(
        matches!(c.health().await, CarrierHealth::Down(why) if !why.is_empty()),
        "an outage that fails calls is down"
    );
    c.outage(Fault::Delay(Duration::from_millis(1)));
    assert_eq!(
        c.health().await,
        CarrierHealth::Up,
        "a slow carrier still takes calls"
    );
    c.outage(Fault::Timeout);
    assert!(matches!(c.health().await, CarrierHealth::Down(_)));
    c.restore();
    assert_eq!(c.health().await, CarrierHealth::Up);
    // Asking is not a call of the carrier's API.
    assert_eq!(
        (
            c.find_calls(),
            c.acquire_calls(),
            c.disconnect_calls(),
            c.check_calls()
        ),
        (0, 0, 0, 0)
    );
    // The trait's default: a carrier that does not tell.
    let local = LocalCarrier::new(Arc::new(MemoryStore::new()));
    assert_eq!(local.health().await, CarrierHealth::Unknown);
}
