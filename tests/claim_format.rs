//! Claims (`Pending`) carry a typed operation and a typed actor; claims stored
//! by earlier versions, whose actor was its display string, still read.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use number_manager::account::{AccountId, Actor, MemoryAccounts};
use number_manager::record::{NumberRecord, Pending};
use number_manager::state::{NumberState, Operation};
use number_manager::store::{SqliteStore, Store, StoreExt};
use number_manager::{NumberManager, Options, PhoneNumber};
use serde_json::{json, Map};
use sqlx::{Connection, SqliteConnection};

fn number() -> PhoneNumber {
    PhoneNumber::parse("+14155550123").unwrap()
}

/// A record as JSON, with `pending` as given.
fn doc_with_claim(pending: serde_json::Value) -> serde_json::Value {
    let record = NumberRecord::new(
        number(),
        NumberState::Discovery,
        "local",
        chrono::Utc::now(),
    );
    let mut doc = serde_json::to_value(record).unwrap();
    doc["pending"] = pending;
    doc
}

#[test]
fn a_claim_in_the_display_string_encoding_reads_typed() {
    let until = "2024-01-02T03:04:05Z";
    let by_account =
        doc_with_claim(json!({"operation": "activate", "by": "acct-1", "until": until}));
    let record: NumberRecord = serde_json::from_value(by_account).unwrap();
    let claim = record.pending.unwrap();
    assert_eq!(claim.operation, Operation::Activate);
    assert_eq!(claim.by, Actor::Account(AccountId::new("acct-1").unwrap()));

    let by_system =
        doc_with_claim(json!({"operation": "give_back", "by": "system", "until": until}));
    let record: NumberRecord = serde_json::from_value(by_system).unwrap();
    let claim = record.pending.unwrap();
    assert_eq!(claim.operation, Operation::GiveBack);
    assert_eq!(claim.by, Actor::System);

    // An actor string that is no account id does not read as one.
    let bad = doc_with_claim(json!({"operation": "activate", "by": "a/b", "until": until}));
    assert!(serde_json::from_value::<NumberRecord>(bad).is_err());
    // Nor does an operation this version does not know.
    let unknown = doc_with_claim(json!({"operation": "buy", "by": "acct-1", "until": until}));
    assert!(serde_json::from_value::<NumberRecord>(unknown).is_err());
}

#[test]
fn a_claim_is_written_typed_and_reads_back() {
    let claim = Pending {
        operation: Operation::Delete,
        by: Actor::Account(AccountId::new("system").unwrap()),
        until: chrono::Utc::now(),
    };
    let json = serde_json::to_value(&claim).unwrap();
    // An account named `system` stays an account: the encoding is typed.
    assert_eq!(json["by"], json!({"account": "system"}));
    assert_eq!(json["operation"], "delete");
    assert_eq!(serde_json::from_value::<Pending>(json).unwrap(), claim);
    let system = Pending {
        by: Actor::System,
        ..claim
    };
    let json = serde_json::to_value(&system).unwrap();
    assert_eq!(json["by"], "system");
    assert_eq!(serde_json::from_value::<Pending>(json).unwrap(), system);
}

struct TempFile(PathBuf);

impl TempFile {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nm-claims-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempFile(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("numbers.db")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A SQLite row whose claim was stored by an earlier version reads back
/// typed, and once the claim has lapsed the number can be changed again.
#[tokio::test]
async fn a_sqlite_row_with_an_old_claim_reads_and_its_lapsed_claim_is_taken_over() {
    let dir = TempFile::new();
    let accounts = Arc::new(MemoryAccounts::new());
    let owner = accounts.add("owner-1", "Owner", None).unwrap();
    let store = SqliteStore::open(dir.file()).await.unwrap();
    {
        let manager = NumberManager::builder()
            .store(Arc::new(store.clone()))
            .accounts(accounts.clone())
            .build();
        manager
            .create(
                &owner,
                number().as_str(),
                Default::default(),
                &Options::system(),
            )
            .await
            .unwrap();
    }
    store.close().await;

    // What an earlier version stored for a claim by `owner-1` that lapsed.
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", dir.file().display()))
        .await
        .unwrap();
    let doc: String = sqlx::query_scalar("SELECT doc FROM nm_numbers WHERE number = ?")
        .bind(number().as_str())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    doc["pending"] =
        json!({"operation": "reserve", "by": "owner-1", "until": "2001-01-01T00:00:00Z"});
    sqlx::query("UPDATE nm_numbers SET doc = ? WHERE number = ?")
        .bind(doc.to_string())
        .bind(number().as_str())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::open(dir.file()).await.unwrap();
    let read = store.get(&number()).await.unwrap().unwrap();
    let claim = read.pending.clone().unwrap();
    assert_eq!(claim.operation, Operation::Reserve);
    assert_eq!(claim.by, Actor::Account(owner.clone()));

    let manager = NumberManager::builder()
        .store(Arc::new(store.clone()) as Arc<dyn Store>)
        .accounts(accounts)
        .build();
    let mut fields = Map::new();
    fields.insert("note".into(), json!("after the upgrade"));
    let updated = manager
        .update(number().as_str(), fields, &Options::as_account(&owner))
        .await
        .unwrap();
    assert_eq!(updated.record.pending, None);
    let stored = store.get(&number()).await.unwrap().unwrap();
    assert_eq!(stored.pending, None);
    assert_eq!(stored.public["note"], "after the upgrade");
    store.close().await;
}
