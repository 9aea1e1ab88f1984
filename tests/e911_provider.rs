//! The simulated E911 provider through the public API: the seeds' three
//! outcomes (invalid, multiple choice, provisioned), bookkeeping, faults.

use std::sync::Arc;
use std::time::{Duration, Instant};

use number_manager::carrier::Fault;
use number_manager::clock::ManualClock;
use number_manager::e911::{E911Address, E911Provider, LegacyData, SimulatedE911, Validation};
use number_manager::{Error, PhoneNumber};
use serde_json::json;

fn n(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn address(street: &str, extended: Option<&str>, postal: &str) -> E911Address {
    E911Address {
        street_address: street.into(),
        extended_address: extended.map(Into::into),
        locality: "San Francisco".into(),
        region: "CA".into(),
        postal_code: postal.into(),
        ..Default::default()
    }
}

fn natoma() -> E911Address {
    address("116 natoma st", Some("apt 116"), "94105")
}

#[tokio::test]
async fn the_seeds_success_example() {
    let clock = Arc::new(ManualClock::at_gregorian(63_628_550_806));
    let e911 = SimulatedE911::seed_demo().with_clock(clock);
    assert_eq!(e911.name(), "dash_e911");

    let Validation::Geocoded(geocoded) = e911.validate(&natoma()).await.unwrap() else {
        panic!("expected geocoded")
    };
    assert_eq!(geocoded.status.as_deref(), Some("GEOCODED"));
    assert_eq!(geocoded.street_address, "116 NATOMA ST");

    let number = n("+14158551292");
    let done = e911
        .provision(&number, &natoma(), "Valued Customer")
        .await
        .unwrap();
    assert_eq!(
        done.to_json(),
        json!({
            "street_address": "116 NATOMA ST",
            "extended_address": "APT 116",
            "caller_name": "Valued Customer",
            "locality": "SAN FRANCISCO",
            "latitude": "37.786861",
            "longitude": "-122.399484",
            "location_id": "27578725",
            "plus_four": "3745",
            "postal_code": "94105",
            "region": "CA",
            "status": "PROVISIONED",
            "activated_time": "2016-04-22T13:26:46Z",
            "legacy_data": {"house_number": "116", "streetname": "NATOMA ST", "suite": "APT 116"}
        })
    );
    assert_eq!(e911.provisioned().get(&number), Some(&done));
    assert_eq!((e911.validate_count(), e911.provision_count()), (1, 1));
}

#[tokio::test]
async fn matching_ignores_case_spacing_punctuation_and_zip4() {
    let e911 = SimulatedE911::seed_demo();
    for a in [
        address("116  Natoma St.", None, "94105"),
        address("116 NATOMA ST", None, "94105-3745"),
        address(" 116 natoma st ", Some("Apt 116"), " 94105 "),
    ] {
        assert!(
            matches!(e911.validate(&a).await.unwrap(), Validation::Geocoded(_)),
            "{a:?}"
        );
    }
    // A different street, or the same street in another ZIP, is unknown.
    for a in [
        address("118 Natoma St", None, "94105"),
        address("116 Natoma St", None, "94103"),
    ] {
        assert!(matches!(
            e911.validate(&a).await.unwrap(),
            Validation::Invalid { .. }
        ));
    }
}

#[tokio::test]
async fn invalid_address_is_the_seeds_invalid_data() {
    let e911 = SimulatedE911::seed_demo();
    let nowhere = address("1 Nowhere Rd", Some("Suite 9"), "94105");
    assert_eq!(
        e911.validate(&nowhere).await.unwrap(),
        Validation::Invalid {
            message: "Location is not geocoded".into()
        }
    );
    let e = e911
        .provision(&n("+14155550100"), &nowhere, "Bob")
        .await
        .unwrap_err();
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "invalid data"));
    assert_eq!(
        data,
        json!({"address": {"invalid": {
            "cause": {
                "postal_code": "94105",
                "street_address": "1 Nowhere Rd",
                "extended_address": "Suite 9",
                "locality": "San Francisco",
                "region": "CA"
            },
            "message": "Location is not geocoded",
            "provider": "dash_e911"
        }}})
    );
    assert!(e911.provisioned().is_empty());
}

#[tokio::test]
async fn ambiguous_address_is_the_seeds_multiple_choice() {
    let e911 = SimulatedE911::seed_demo();
    let market = address("1 Market", None, "94105");
    let Validation::Candidates(candidates) = e911.validate(&market).await.unwrap() else {
        panic!("expected candidates")
    };
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[0].street_address, "1 MARKET ST");
    assert_eq!(candidates[1].street_address, "1 MARKET PLZ");

    let e = e911
        .provision(&n("+14155550100"), &market, "Bob")
        .await
        .unwrap_err();
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "multiple_choice"));
    let choice = &data["multiple_choice"]["dash_e911"];
    assert_eq!(choice["message"], "more than one address found");
    assert_eq!(choice["cause"]["street_address"], "1 Market");
    assert_eq!(choice["details"].as_array().unwrap().len(), 2);
    assert_eq!(choice["details"][0]["street_address"], "1 MARKET ST");

    // Picking a candidate provisions it.
    let picked = e911
        .provision(&n("+14155550100"), &candidates[1], "Bob")
        .await
        .unwrap();
    assert_eq!(picked.location_id.as_deref(), Some("27578802"));
    assert_eq!(picked.caller_name.as_deref(), Some("Bob"));
}

#[tokio::test]
async fn add_valid_fills_in_what_a_geocoder_would() {
    let e911 = SimulatedE911::new().with_name("e911_test");
    e911.add_valid(E911Address {
        street_address: "1600 Pennsylvania Ave NW".into(),
        locality: "Washington".into(),
        region: "dc".into(),
        postal_code: "20500".into(),
        ..Default::default()
    });
    let a = address("1600 pennsylvania ave nw", Some("West Wing"), "20500");
    let Validation::Geocoded(g) = e911.validate(&a).await.unwrap() else {
        panic!("expected geocoded")
    };
    assert_eq!(g.street_address, "1600 PENNSYLVANIA AVE NW");
    assert_eq!(g.locality, "WASHINGTON");
    assert_eq!(g.region, "DC");
    assert!(g.location_id.is_some());
    // The submitted suite is kept when the book has none.
    assert_eq!(g.extended_address.as_deref(), Some("WEST WING"));
    assert_eq!(
        g.legacy_data,
        Some(LegacyData {
            house_number: Some("1600".into()),
            predirectional: None,
            streetname: Some("PENNSYLVANIA AVE NW".into()),
            suite: None,
        })
    );

    // An empty caller name falls back as Kazoo does.
    let done = e911.provision(&n("+12025550100"), &a, "  ").await.unwrap();
    assert_eq!(done.caller_name.as_deref(), Some("Valued Customer"));
    assert!(done.activated_time.is_some());

    e911.forget(&a);
    assert!(matches!(
        e911.validate(&a).await.unwrap(),
        Validation::Invalid { .. }
    ));
}

#[tokio::test]
async fn remove_is_recorded_even_when_nothing_is_provisioned() {
    let e911 = SimulatedE911::seed_demo();
    let one = n("+14155550100");
    let two = n("+14155550101");
    e911.provision(&one, &natoma(), "Bob").await.unwrap();
    e911.provision(&two, &natoma(), "Ann").await.unwrap();
    e911.remove(&one).await.unwrap();
    e911.remove(&n("+14155550199")).await.unwrap();
    assert_eq!(e911.removals(), vec![one, n("+14155550199")]);
    assert_eq!(
        e911.provisioned().keys().copied().collect::<Vec<_>>(),
        vec![two]
    );
    assert_eq!(e911.remove_count(), 2);
}

#[tokio::test]
async fn scripted_faults_fail_one_call_and_change_nothing() {
    let e911 = SimulatedE911::seed_demo();
    let number = n("+14155550100");

    e911.fail_next_validate(Fault::Error);
    let e = e911.validate(&natoma()).await.unwrap_err();
    assert_eq!((e.code(), e.message().as_str()), (500, "server_error"));
    assert!(e911.validate(&natoma()).await.is_ok());

    e911.fail_next_provision(Fault::Timeout);
    e911.fail_next_provision(Fault::NotAvailable);
    let e = e911.provision(&number, &natoma(), "Bob").await.unwrap_err();
    assert_eq!(e.message(), "timeout");
    let e = e911.provision(&number, &natoma(), "Bob").await.unwrap_err();
    assert_eq!(e.message(), "unreachable");
    assert!(e911.provisioned().is_empty());
    e911.provision(&number, &natoma(), "Bob").await.unwrap();

    e911.fail_next_remove(Fault::Error);
    assert!(matches!(
        e911.remove(&number).await,
        Err(Error::Unspecified { .. })
    ));
    assert!(e911.removals().is_empty());
    assert!(e911.provisioned().contains_key(&number));
    assert_eq!(e911.provision_count(), 3);
}

#[tokio::test]
async fn a_delay_waits_then_answers() {
    let e911 = SimulatedE911::seed_demo();
    e911.fail_next_validate(Fault::Delay(Duration::from_millis(60)));
    let started = Instant::now();
    assert!(matches!(
        e911.validate(&natoma()).await.unwrap(),
        Validation::Geocoded(_)
    ));
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[test]
fn provider_is_shareable() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<SimulatedE911>();
    let _: Arc<dyn E911Provider> = Arc::new(SimulatedE911::new());
}
