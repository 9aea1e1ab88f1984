//! The carrier conformance suite on each HTTP adapter, against a stateful
//! fake of its carrier's API on a local stub server.

mod carrier_support;

use std::sync::Arc;
use std::time::Duration;

use carrier_support::{fakes, HyperClient, Stub};
use number_manager::carrier::conformance::{self, Fixture};
use number_manager::carrier::{Carrier, HttpClient};

fn client() -> Arc<dyn HttpClient> {
    Arc::new(HyperClient::new(Duration::from_secs(10)))
}

#[cfg(feature = "telnyx")]
#[tokio::test]
async fn telnyx_conforms() {
    use number_manager::carrier::TelnyxCarrier;
    let stub = Stub::start().await;
    stub.handle(fakes::telnyx());
    let base = stub.url("/v2");
    let report = conformance::run_all(&Fixture::new("+1415", "US"), || {
        let base = base.clone();
        async move { Arc::new(TelnyxCarrier::new(client(), "KEY", base)) as Arc<dyn Carrier> }
    })
    .await;
    println!("{report}");
    assert!(report.failed().is_empty(), "{report}");
    assert!(
        report.passed().contains(&"concurrent_acquires_one_wins"),
        "{report}"
    );
    assert!(
        report.passed().contains(&"owned_numbers_follows_purchases"),
        "{report}"
    );
}

#[cfg(feature = "twilio")]
#[tokio::test]
async fn twilio_conforms() {
    use number_manager::carrier::TwilioCarrier;
    const SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let stub = Stub::start().await;
    stub.handle(fakes::twilio(SID));
    let base = stub.url("");
    let report = conformance::run_all(&Fixture::new("+1415", "US"), || {
        let base = base.clone();
        async move { Arc::new(TwilioCarrier::new(client(), SID, "token", base)) as Arc<dyn Carrier> }
    })
    .await;
    println!("{report}");
    assert!(report.failed().is_empty(), "{report}");
    assert!(
        report.passed().contains(&"concurrent_acquires_one_wins"),
        "{report}"
    );
    assert!(
        report.passed().contains(&"owned_numbers_follows_purchases"),
        "{report}"
    );
}
