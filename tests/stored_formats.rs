//! A store written by number-manager 0.1.0, before stored record documents
//! declared their format, opens and reads with this version: records in every
//! state with their features and public fields, a claim, a tombstone and a
//! finished idempotency key. What the fixture holds and how it was written:
//! `tests/fixtures/README.md`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use number_manager::account::{AccountId, MemoryAccounts};
use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
use number_manager::e911::SimulatedE911;
use number_manager::state::NumberState;
use number_manager::store::{SqliteStore, StoreExt};
use number_manager::{Error, NumberManager, Options, PhoneNumber};
use serde_json::json;
use sqlx::Row as _;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/store-0.1.0.sqlite"
);

/// The number the fixture bought from `SimulatedCarrier::new(42)`.
const BOUGHT: &str = "+14152000005";

/// A copy of the fixture in a directory of its own (removed on drop), so the
/// committed file is never written.
struct Copy(PathBuf);

impl Copy {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nm-formats-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let file = dir.join("numbers.db");
        std::fs::copy(FIXTURE, &file).expect("copy the fixture");
        Copy(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("numbers.db")
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct World {
    manager: NumberManager,
    store: Arc<SqliteStore>,
    customer: AccountId,
}

/// The accounts, carrier and E911 provider the fixture was written with.
async fn open(copy: &Copy) -> World {
    let store = Arc::new(
        SqliteStore::open(copy.file())
            .await
            .expect("open the fixture"),
    );
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).expect("master");
    accounts.set_master(&master, true);
    let customer = accounts
        .add("customer", "Customer", Some(&master))
        .expect("customer");
    let manager = NumberManager::builder()
        .store(store.clone())
        .accounts(accounts)
        .carriers(CarrierRegistry::new().with(Arc::new(SimulatedCarrier::new(42))))
        .e911(Arc::new(SimulatedE911::seed_demo()))
        .build();
    World {
        manager,
        store,
        customer,
    }
}

fn number(n: &str) -> PhoneNumber {
    PhoneNumber::from_e164(n).expect("a fixture number")
}

#[tokio::test]
async fn records_of_every_state_read_back_with_their_fields() {
    let copy = Copy::new();
    let w = open(&copy).await;
    let me = Options::as_account(&w.customer);

    let bought = w.manager.get(BOUGHT, &me).await.expect("the bought number");
    assert_eq!(bought.state, NumberState::InService);
    assert_eq!(bought.carrier, "simulated");
    assert!(!bought.carrier_data.is_empty(), "the carrier's order data");
    for feature in ["e911", "inbound_cnam", "outbound_cnam"] {
        assert!(bought.features.contains_key(feature), "{feature}");
    }
    assert_eq!(bought.public["cnam"]["display_name"], json!("Fixture"));
    assert_eq!(
        bought.public["e911"]["street_address"],
        json!("116 NATOMA ST")
    );

    let expect = [
        ("+14155550101", NumberState::InService),
        ("+14155550102", NumberState::Reserved),
        ("+14155550103", NumberState::PortIn),
        ("+14155550104", NumberState::Aging),
        ("+14155550106", NumberState::InService),
        ("+14155550107", NumberState::InService),
    ];
    for (n, state) in expect {
        let r = w.manager.get(n, &me).await.expect(n);
        assert_eq!(r.state, state, "{n}");
        assert_eq!(r.assigned_to.as_ref(), Some(&w.customer), "{n}");
    }
    let labelled = w.manager.get("+14155550101", &me).await.expect("101");
    assert_eq!(labelled.public["label"], json!("front desk"));
    let reserved = w.manager.get("+14155550102", &me).await.expect("102");
    assert_eq!(reserved.reserve_history, vec![w.customer.clone()]);
    let porting = w.manager.get("+14155550103", &me).await.expect("103");
    assert_eq!(
        porting.public["porting"],
        json!({"service_provider": "Old Telco", "billing_name": "Fixture Inc", "comments": ["first"]})
    );
    let listed = w
        .manager
        .list_numbers(&w.customer, &Default::default(), &me)
        .await
        .expect("the customer's listing");
    let mut listed: Vec<String> = listed
        .numbers
        .iter()
        .map(|r| r.number.to_string())
        .collect();
    listed.sort();
    let mut all: Vec<String> = expect.iter().map(|(n, _)| n.to_string()).collect();
    all.extend([BOUGHT.to_string(), "+14155550108".to_string()]);
    all.sort();
    assert_eq!(listed, all);
}

#[tokio::test]
async fn a_claim_still_holds_and_a_tombstone_still_guards_its_revision() {
    let copy = Copy::new();
    let w = open(&copy).await;
    let me = Options::as_account(&w.customer);
    let held = w
        .manager
        .activate(&w.customer, "+14155550108", Default::default(), &me)
        .await;
    assert!(matches!(held, Err(Error::Conflict { .. })), "{held:?}");

    let gone = w.manager.get("+14155550105", &me).await;
    assert!(matches!(gone, Err(Error::NotFound { .. })), "{gone:?}");
    let system = Options::system();
    let created = w
        .manager
        .create(
            &w.customer,
            "+14155550105",
            number_manager::manager::PublicChange::fields(Default::default()),
            &system,
        )
        .await
        .expect("create the deleted number again");
    let stored = w
        .store
        .get(&created.record.number)
        .await
        .expect("read")
        .expect("stored");
    assert!(
        stored.revision.0 >= 2,
        "the 0.1.0 tombstone keeps revisions moving forward: {:?}",
        stored.revision
    );
}

#[tokio::test]
async fn a_finished_key_replays_and_refuses_other_input() {
    let copy = Copy::new();
    let w = open(&copy).await;
    let keyed = Options::as_account(&w.customer).idempotency_key("fixture-key-1");
    let replay = w
        .manager
        .activate_many(
            &w.customer,
            &["+14155550106", "+14155550107"],
            Default::default(),
            &keyed,
        )
        .await
        .expect("the replay");
    assert!(replay.errors.is_empty(), "{:?}", replay.errors);
    assert_eq!(replay.success.len(), 2);
    for outcome in replay.success.values() {
        assert_eq!(outcome.record.state, NumberState::InService);
    }
    let other = w
        .manager
        .activate_many(&w.customer, &["+14155550106"], Default::default(), &keyed)
        .await;
    assert!(matches!(other, Err(Error::Conflict { .. })), "{other:?}");
}

#[tokio::test]
async fn records_written_now_declare_their_format() {
    let copy = Copy::new();
    let w = open(&copy).await;
    let me = Options::as_account(&w.customer);
    let body = json!({"label": "reception"});
    w.manager
        .update(
            "+14155550101",
            body.as_object().cloned().unwrap_or_default(),
            &me,
        )
        .await
        .expect("update");
    w.store.close().await;
    let url = format!("sqlite://{}", copy.file().display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("raw open");
    let doc = |n: &'static str| {
        let pool = pool.clone();
        async move {
            let row = sqlx::query("SELECT doc FROM nm_numbers WHERE number = ?")
                .bind(n)
                .fetch_one(&pool)
                .await
                .expect("a row");
            row.get::<String, _>(0)
        }
    };
    assert!(doc("+14155550101").await.starts_with("{\"format\":2,"));
    assert!(
        !doc("+14155550102").await.contains("\"format\""),
        "an untouched 0.1.0 document stays as it was"
    );
    pool.close().await;
    let reopened = open(&copy).await;
    let r = reopened
        .store
        .get(&number("+14155550101"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(r.public["label"], json!("reception"));
}
