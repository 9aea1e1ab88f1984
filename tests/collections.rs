//! Collections, listing, leases, idempotency and maintenance through the typed API.

mod common;

use std::collections::BTreeSet;

use common::{body, World};
use number_manager::clock::from_gregorian;
use number_manager::manager::ListOptions;
use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::{BatchMode, StoreExt, Write};
use number_manager::{Error, Options, PhoneNumber, PublicChange};
use serde_json::{json, Map};

#[tokio::test]
async fn collection_create_reports_each_number_on_its_own() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(&w.customer, "4155551002", PublicChange::default(), &o)
        .await
        .unwrap();
    let r = w
        .manager
        .create_many(
            &w.customer,
            &["4155551001", "4155551002", "+141510010+15", "4155551003"],
            PublicChange::fields(body(json!({"myfield": 1337}))),
            &o,
        )
        .await
        .unwrap();
    let ok: Vec<&str> = r.success.keys().map(String::as_str).collect();
    assert_eq!(ok, vec!["+14155551001", "+14155551003"]);
    assert_eq!(r.errors["+14155551002"].name(), "number_exists");
    assert_eq!(r.errors["+141510010+15"].name(), "not_reconcilable");
    let data = r.to_json();
    assert_eq!(data["success"]["+14155551001"]["myfield"], 1337);
    assert_eq!(data["success"]["+14155551001"]["state"], "reserved");
    assert_eq!(
        data["error"]["+14155551002"],
        json!({"cause": "+14155551002", "code": 409, "error": "number_exists", "message": "number +14155551002 already exists"})
    );
    // `numbers` is never stored as a public field.
    let r = w
        .manager
        .update_many(&["4155551001"], body(json!({"numbers": ["x"], "a": 1})), &o)
        .await
        .unwrap();
    assert_eq!(
        r.success["+14155551001"].record.public,
        body(json!({"a": 1}))
    );
}

#[tokio::test]
async fn collection_input_is_validated() {
    let w = World::new();
    let o = w.as_customer();
    let empty: [&str; 0] = [];
    let e = w.manager.release_many(&empty, &o).await.unwrap_err();
    assert_eq!(
        e.envelope().2["numbers"]["minimum"]["message"],
        "minimum 1 number required"
    );
    let e = w
        .manager
        .release_many(&["4155551234", "+14155551234"], &o)
        .await
        .unwrap_err();
    assert_eq!(
        e.envelope().2["numbers"]["uniqueItems"]["message"],
        "some numbers appear twice"
    );
    let many: Vec<String> = (0..1001).map(|i| format!("+1415555{i:04}")).collect();
    let e = w.manager.release_many(&many, &o).await.unwrap_err();
    assert!(matches!(e, Error::Validation { .. }));
    // Collection bodies are validated like single ones.
    w.manager
        .create(&w.customer, "4155551010", PublicChange::default(), &o)
        .await
        .unwrap();
    let r = w
        .manager
        .patch_many(&["4155551010"], body(json!({"carrier_name": ""})), &o)
        .await
        .unwrap();
    assert_eq!(r.errors["+14155551010"].name(), "validation_error");
}

async fn seed_owned(w: &World, count: u32, owner: &number_manager::account::AccountId, base: u64) {
    let now = w.clock.now_for_tests();
    let mut writes = Vec::new();
    for i in 0..count {
        let n = PhoneNumber::from_e164(&format!("+1{}", base + u64::from(i))).unwrap();
        let mut r = NumberRecord::new(n, NumberState::InService, "local", now);
        r.assigned_to = Some(owner.clone());
        writes.push(Write::Insert(r));
        if writes.len() == 5000 {
            let res = w
                .store
                .write_batch(std::mem::take(&mut writes), BatchMode::Atomic)
                .await
                .unwrap();
            assert!(res.iter().all(|r| r.is_ok()));
        }
    }
    if !writes.is_empty() {
        w.store
            .write_batch(writes, BatchMode::Atomic)
            .await
            .unwrap();
    }
}

trait NowForTests {
    fn now_for_tests(&self) -> chrono::DateTime<chrono::Utc>;
}
impl NowForTests for number_manager::clock::ManualClock {
    fn now_for_tests(&self) -> chrono::DateTime<chrono::Utc> {
        use number_manager::clock::Clock;
        self.now()
    }
}

#[tokio::test]
async fn listing_walks_a_100k_account_without_missing_or_repeating() {
    let w = World::new();
    seed_owned(&w, 100_000, &w.customer, 4_152_000_000).await;
    seed_owned(&w, 500, &w.sub, 4_153_000_000).await;
    seed_owned(&w, 300, &w.other, 4_154_000_000).await;
    let o = w.as_customer();
    let mut seen = BTreeSet::new();
    let mut list = ListOptions::default().with_page_size(997);
    let mut pages = 0;
    loop {
        let page = w
            .manager
            .list_numbers(&w.customer, &list, &o)
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.cascade_quantity, 500);
        for r in &page.numbers {
            assert!(seen.insert(r.number), "{} repeated", r.number);
            assert_eq!(r.assigned_to.as_ref(), Some(&w.customer));
        }
        match page.next_start_key {
            Some(k) => list.start_key = Some(k),
            None => break,
        }
    }
    assert_eq!(seen.len(), 100_000);
    assert_eq!(pages, 101);
    // With descendants.
    let all = w
        .manager
        .list_numbers(
            &w.customer,
            &ListOptions::default()
                .with_page_size(1000)
                .with_include_descendants(true)
                .with_start_key(PhoneNumber::from_e164("+14152099999").unwrap()),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(all.numbers.len(), 501);
    assert!(all.next_start_key.is_none());
    // Another customer may not list this account.
    let e = w
        .manager
        .list_numbers(
            &w.customer,
            &ListOptions::default(),
            &Options::as_account(&w.other),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
}

#[tokio::test]
async fn listing_filters_and_the_seeds_shape() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(
            &w.customer,
            "4152338421",
            PublicChange::fields(body(json!({"tag": "a"}))),
            &o,
        )
        .await
        .unwrap();
    w.clock.advance(chrono::Duration::seconds(100));
    w.manager
        .create(
            &w.customer,
            "4155234712",
            PublicChange::default()
                .with_public(body(json!({"tag": "b"})))
                .with_state(NumberState::InService),
            &o,
        )
        .await
        .unwrap();
    let page = w
        .manager
        .list_numbers(&w.customer, &ListOptions::default(), &o)
        .await
        .unwrap();
    let data = page.to_json();
    assert_eq!(data["cascade_quantity"], 0);
    assert_eq!(data["casquade_quantity"], 0);
    assert_eq!(
        data["numbers"]["+14155234712"],
        json!({"assigned_to": "009afc511c97b2ae693c6cc4920988e8", "created": common::T0 + 100, "features": ["local"], "state": "in_service", "updated": common::T0 + 100})
    );
    let only = |list: ListOptions| {
        let m = w.manager.clone();
        let o = o.clone();
        let c = w.customer.clone();
        async move {
            m.list_numbers(&c, &list, &o)
                .await
                .unwrap()
                .numbers
                .iter()
                .map(|r| r.number.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        only(ListOptions::default().with_states(vec![NumberState::InService])).await,
        vec!["+14155234712"]
    );
    assert_eq!(
        only(ListOptions::default().with_created_from(from_gregorian(common::T0 + 50).unwrap()))
            .await,
        vec!["+14155234712"]
    );
    assert_eq!(
        only(ListOptions::default().with_created_to(from_gregorian(common::T0 + 50).unwrap()))
            .await,
        vec!["+14152338421"]
    );
    assert_eq!(
        only(ListOptions::default().with_public_filters(vec![("tag".into(), "a".into())])).await,
        vec!["+14152338421"]
    );
    let owned = w
        .manager
        .search_owned(&w.customer, "415", 3, 0, &o)
        .await
        .unwrap();
    assert_eq!(owned.len(), 2);
    assert_eq!(
        owned[1],
        (
            PhoneNumber::parse("4155234712").unwrap(),
            NumberState::InService
        )
    );
    let owned = w
        .manager
        .search_owned(
            &w.customer,
            "%2B1415".replace("%2B", "+").as_str(),
            1,
            1,
            &o,
        )
        .await
        .unwrap();
    assert_eq!(owned.len(), 1);
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_result() {
    let w = World::new();
    let o = w.as_customer().idempotency_key("order-1");
    let first = w
        .manager
        .create_many(
            &w.customer,
            &["4155552001", "4155552002"],
            PublicChange::default(),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(first.success.len(), 2);
    let events = w.manager.audit_log().unwrap().len();
    let again = w
        .manager
        .create_many(
            &w.customer,
            &["4155552001", "4155552002"],
            PublicChange::default(),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "the stored result comes back, not number_exists"
    );
    assert_eq!(
        w.manager.audit_log().unwrap().len(),
        events,
        "nothing was done again"
    );
    let e = w
        .manager
        .create_many(&w.customer, &["4155552003"], PublicChange::default(), &o)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 409);
    // Keys expire.
    w.clock.advance(chrono::Duration::hours(25));
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.idempotency_removed, 1);
}

#[tokio::test]
async fn leases_lapse_on_read_and_on_purge() {
    let w = World::new();
    let m = w.as_master();
    for n in ["4155553001", "4155553002"] {
        w.manager
            .create(
                &w.master,
                n,
                PublicChange::default().with_state(NumberState::Available),
                &m,
            )
            .await
            .unwrap();
    }
    let r = w
        .manager
        .reserve_with_lease(
            &w.customer,
            &["4155553001", "4155553002"],
            chrono::Duration::minutes(10),
            &w.as_customer(),
        )
        .await
        .unwrap();
    assert_eq!(r.success.len(), 2);
    assert!(r.success["+14155553001"].record.expires_at.is_some());
    w.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(
        w.manager
            .get("4155553001", &w.as_customer())
            .await
            .unwrap()
            .state,
        NumberState::Reserved
    );
    w.clock.advance(chrono::Duration::minutes(6));
    // On read: released the way a release would (a local number is deleted).
    let e = w
        .manager
        .get("4155553001", &w.as_customer())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    let report = w.manager.purge_expired().await.unwrap();
    assert_eq!(report.leases_released, 1);
    assert!(w
        .store
        .get(&PhoneNumber::parse("4155553002").unwrap())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn carriers_info_and_fix() {
    let w = World::new();
    let info = w.manager.carriers_info(&w.as_customer()).await.unwrap();
    assert_eq!(
        info.usable_creation_states,
        vec![NumberState::InService, NumberState::Reserved]
    );
    assert!(info.usable_carriers.contains(&"local".to_string()));
    let info = w
        .manager
        .carriers_info(&Options::as_account(&w.other))
        .await
        .unwrap();
    assert!(info.usable_creation_states.is_empty());
    let info = w.manager.carriers_info(&w.as_master()).await.unwrap();
    assert_eq!(info.usable_creation_states.len(), 5);

    let o = w.as_customer();
    w.manager
        .create(&w.customer, "4155554001", PublicChange::default(), &o)
        .await
        .unwrap();
    // Damage a record behind the manager's back: features lost.
    let n = PhoneNumber::parse("4155554001").unwrap();
    let mut r = w.store.get(&n).await.unwrap().unwrap();
    let rev = r.revision;
    r.features.clear();
    w.store.update(r, rev).await.unwrap();
    let report = w.manager.fix(&w.customer, &o).await.unwrap();
    assert_eq!(
        report.fixed["+14155554001"],
        vec!["features recomputed".to_string()]
    );
    assert!(w
        .store
        .get(&n)
        .await
        .unwrap()
        .unwrap()
        .features
        .contains_key("local"));
    let report = w.manager.fix_number("4155554001", &o).await.unwrap();
    assert!(report.fixed.is_empty());
    let e = w
        .manager
        .fix_number("4155554001", &Options::as_account(&w.other))
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "bad_identifier");
}

#[tokio::test]
async fn fix_dry_run_reports_without_writing() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(&w.customer, "4155554101", PublicChange::default(), &o)
        .await
        .unwrap();
    let n = PhoneNumber::parse("4155554101").unwrap();
    let mut r = w.store.get(&n).await.unwrap().unwrap();
    let rev = r.revision;
    r.features.clear();
    w.store.update(r, rev).await.unwrap();
    let before = w.store.get(&n).await.unwrap().unwrap();
    let report = w
        .manager
        .fix(&w.customer, &o.clone().dry_run())
        .await
        .unwrap();
    assert_eq!(
        report.fixed["+14155554101"],
        vec!["features recomputed".to_string()]
    );
    assert_eq!(w.store.get(&n).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn a_rare_public_filter_walks_the_account_in_few_store_reads() {
    let counting = std::sync::Arc::new(number_manager::testing::Counting::new(
        number_manager::store::MemoryStore::new(),
    ));
    let w = World::with(counting.clone(), number_manager::Config::default());
    let o = w.as_customer();
    let numbers: Vec<String> = (0..3000).map(|i| format!("+1415200{i:04}")).collect();
    for chunk in numbers.chunks(1000) {
        let made = w
            .manager
            .create_many(&w.customer, chunk, PublicChange::default(), &o)
            .await
            .unwrap();
        assert_eq!(made.success.len(), 1000);
    }
    let tagged = [
        "+14152000007",
        "+14152001500",
        "+14152001501",
        "+14152002999",
    ];
    for n in tagged {
        let mut patch = Map::new();
        patch.insert("team".into(), json!({"name": "rare"}));
        w.manager.patch(n, patch, &o).await.unwrap();
    }
    let before = counting.calls("list");
    let mut seen = Vec::new();
    let mut start_key = None;
    let mut pages = 0;
    loop {
        let mut list = ListOptions::default()
            .with_page_size(3)
            .with_public_filters(vec![("team.name".into(), "rare".into())]);
        list.start_key = start_key;
        let page = w
            .manager
            .list_numbers(&w.customer, &list, &o)
            .await
            .unwrap();
        pages += 1;
        assert!(page.numbers.len() <= 3);
        seen.extend(page.numbers.iter().map(|r| r.number.to_string()));
        match page.next_start_key {
            Some(k) => start_key = Some(k),
            None => break,
        }
        assert!(pages < 10, "the walk ends");
    }
    assert_eq!(seen, tagged, "every match once, in order");
    assert_eq!(pages, 2);
    // 3,000 numbers read 500 at a time: one walk over the account (7 reads
    // at most, the second page resuming where the first stopped), where pages
    // of 3 took a thousand.
    let reads = counting.calls("list") - before;
    assert!(reads <= 8, "{reads} store reads");
}

/// Creates `count` numbers `+1415300xxxx` for the customer, in collections.
async fn many_numbers(w: &World, count: usize) -> Vec<String> {
    let numbers: Vec<String> = (0..count).map(|i| format!("+1415300{i:04}")).collect();
    for chunk in numbers.chunks(1000) {
        let made = w
            .manager
            .create_many(
                &w.customer,
                chunk,
                PublicChange::default(),
                &w.as_customer(),
            )
            .await
            .unwrap();
        assert_eq!(made.success.len(), chunk.len());
    }
    numbers
}

/// Walks a listing to its end; returns the numbers and the page sizes.
async fn walk(w: &World, list: ListOptions) -> (Vec<String>, Vec<usize>) {
    let (mut seen, mut sizes) = (Vec::new(), Vec::new());
    let mut list = list;
    loop {
        let page = w
            .manager
            .list_numbers(&w.customer, &list, &w.as_customer())
            .await
            .unwrap();
        sizes.push(page.numbers.len());
        seen.extend(page.numbers.iter().map(|r| r.number.to_string()));
        match page.next_start_key {
            Some(k) => list.start_key = Some(k),
            None => return (seen, sizes),
        }
        assert!(sizes.len() < 1000, "the walk ends");
    }
}

#[tokio::test]
async fn a_filter_matching_nothing_examines_at_most_the_scan_budget_per_page() {
    let counting = std::sync::Arc::new(number_manager::testing::Counting::new(
        number_manager::store::MemoryStore::new(),
    ));
    let config = number_manager::Config::default().with_list_scan_budget(300);
    let w = World::with(counting.clone(), config);
    let numbers = many_numbers(&w, 2000).await;
    // A public filter that matches nothing: the first page stops after 300
    // numbers, empty, with the key of the first number it did not examine.
    let nothing = ListOptions::default().with_public_filters(vec![("team".into(), "none".into())]);
    let page = w
        .manager
        .list_numbers(&w.customer, &nothing, &w.as_customer())
        .await
        .unwrap();
    assert!(page.numbers.is_empty());
    assert_eq!(
        page.next_start_key.map(|k| k.to_string()),
        Some(numbers[300].clone())
    );
    let (seen, sizes) = walk(&w, nothing).await;
    assert!(seen.is_empty());
    assert_eq!(sizes.len(), 7, "2,000 numbers, 300 a page");
    // The same for a store filter (a state nobody is in).
    let port_in = ListOptions::default().with_states(vec![NumberState::PortIn]);
    let page = w
        .manager
        .list_numbers(&w.customer, &port_in, &w.as_customer())
        .await
        .unwrap();
    assert!(page.numbers.is_empty());
    assert_eq!(
        page.next_start_key.map(|k| k.to_string()),
        Some(numbers[300].clone())
    );
    // A rare match is still found, exactly once, by continuing the walk.
    let mut patch = Map::new();
    patch.insert("team".into(), json!("rare"));
    w.manager
        .patch(&numbers[1234], patch, &w.as_customer())
        .await
        .unwrap();
    let (seen, _) = walk(
        &w,
        ListOptions::default().with_public_filters(vec![("team".into(), "rare".into())]),
    )
    .await;
    assert_eq!(seen, vec![numbers[1234].clone()]);
    // An unfiltered walk is unchanged: full pages of every number.
    let (seen, sizes) = walk(&w, ListOptions::default().with_page_size(500)).await;
    assert_eq!(seen, numbers);
    assert_eq!(sizes, vec![500, 500, 500, 500]);
}
