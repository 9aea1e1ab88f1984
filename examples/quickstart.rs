//! A host wiring the number manager: accounts, a carrier, an E911 provider,
//! then search, buy, configure and release a number.
use std::sync::Arc;

use number_manager::account::MemoryAccounts;
use number_manager::carrier::{CarrierRegistry, SimulatedCarrier};
use number_manager::e911::SimulatedE911;
use number_manager::manager::SearchQuery;
use number_manager::{NumberManager, Options};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> number_manager::Result<()> {
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None)?;
    accounts.set_master(&master, true);
    let customer = accounts.add("customer", "Customer", Some(&master))?;
    let manager = NumberManager::builder()
        .accounts(accounts)
        .carriers(CarrierRegistry::new().with(Arc::new(SimulatedCarrier::new(42))))
        .e911(Arc::new(SimulatedE911::seed_demo()))
        .build();
    let me = Options::as_account(&customer);

    let hits = manager
        .search(&SearchQuery::new("415", 3), &Options::system())
        .await?;
    println!(
        "search: {}",
        json!(hits.iter().map(|h| h.to_json()).collect::<Vec<_>>())
    );
    let number = hits[0].number.to_string();
    let bought = manager
        .activate(&customer, &number, Default::default(), &me)
        .await?;
    println!("activate: {}", bought.to_public_json());
    let cnam = json!({"cnam": {"display_name": "My caller ID", "inbound_lookup": true}});
    let updated = manager
        .update(&number, cnam.as_object().cloned().unwrap_or_default(), &me)
        .await?;
    println!("update: {}", updated.to_public_json());
    let class = manager.classifiers().classify(&number).map(|c| c.to_json());
    println!("classify: {}", class.unwrap_or_default());
    println!(
        "release: {}",
        manager.release(&number, &me).await?.to_public_json()
    );
    Ok(())
}
