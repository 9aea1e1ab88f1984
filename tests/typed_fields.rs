//! Typed public fields and the typed CNAM / E911 operations, through the
//! public API: the typed views read and write the seeds' JSON exactly, the
//! typed operations change what `update` would (features, provider calls)
//! and keep every other field, and the provider's refusals come back as
//! `E911Outcome`s.

mod common;

use common::{body, World};
use number_manager::fields::{
    Cnam, E911Address, Failover, LegacyData, Messaging, Porting, Prepend, PublicFields, Ringback,
};
use number_manager::manager::{E911Outcome, SearchQuery};
use number_manager::{Error, Options, PhoneNumber};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// `json` read as `T` and written back is the same JSON text, key order
/// included.
fn round_trips<T: Serialize + DeserializeOwned + std::fmt::Debug>(json: &str) -> T {
    let typed: T = serde_json::from_str(json).unwrap();
    let compact: Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        serde_json::to_string(&typed).unwrap(),
        serde_json::to_string(&compact).unwrap(),
        "{typed:?}"
    );
    typed
}

#[test]
fn the_seeds_cnam_example_round_trips() {
    let cnam: Cnam = round_trips(r#"{"display_name": "My caller ID", "inbound_lookup": true}"#);
    assert_eq!(cnam, Cnam::new("My caller ID").with_inbound_lookup(true));
    let only_name: Cnam = round_trips(r#"{"display_name": "My caller ID"}"#);
    assert_eq!(only_name.inbound_lookup, None);
}

#[test]
fn the_seeds_provisioned_e911_example_round_trips() {
    let address: E911Address = round_trips(
        r#"{
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
            "legacy_data": {
                "house_number": "116",
                "streetname": "NATOMA ST",
                "suite": "APT 116"
            }
        }"#,
    );
    assert_eq!(
        address.legacy_data,
        Some(LegacyData {
            house_number: Some("116".into()),
            predirectional: None,
            streetname: Some("NATOMA ST".into()),
            suite: Some("APT 116".into()),
        })
    );
    // The seeds' request shape: the four required fields and the extended address.
    let submitted: E911Address = round_trips(
        r#"{"street_address": "116 Natoma St", "extended_address": "Apt 116",
            "locality": "San Francisco", "postal_code": "94105", "region": "CA"}"#,
    );
    assert_eq!(
        submitted,
        E911Address::new("116 Natoma St", "San Francisco", "CA", "94105")
            .with_extended_address("Apt 116")
    );
}

#[test]
fn porting_and_the_kazoo_features_round_trip() {
    let porting: Porting = round_trips(
        r#"{"billing_account_id": "acct", "billing_extended_address": "Floor 2",
            "billing_locality": "San Francisco", "billing_name": "ACME",
            "billing_postal_code": "94105", "billing_region": "CA",
            "billing_street_address": "1 Market St", "billing_telephone_number": "+14155550000",
            "comments": ["first", "second"], "customer_contact": "+14155550001",
            "port_id": "p1", "requested_port_date": "2016-05-01",
            "service_provider": "Old Telco"}"#,
    );
    assert_eq!(
        porting.comments.as_deref(),
        Some(&["first".to_string(), "second".to_string()][..])
    );
    let prepend: Prepend = round_trips(r#"{"enabled": true, "name": "VIP", "number": "+1"}"#);
    assert_eq!(prepend.enabled, Some(true));
    let failover: Failover =
        round_trips(r#"{"e164": "+14155550002", "sip": "sip:me@example.com"}"#);
    assert_eq!(failover.sip.as_deref(), Some("sip:me@example.com"));
    let ringback: Ringback = round_trips(r#"{"early": "media1", "transfer": "media2"}"#);
    assert_eq!(ringback.transfer.as_deref(), Some("media2"));
    let sms: Messaging = round_trips(r#"{"enabled": true}"#);
    assert_eq!(sms.enabled, Some(true));
    // Nothing set is an empty object, not a row of nulls.
    assert_eq!(round_trips::<Cnam>("{}"), Cnam::default());
    assert_eq!(round_trips::<Porting>("{}"), Porting::default());
    assert_eq!(round_trips::<Prepend>("{}"), Prepend::default());
    assert_eq!(round_trips::<Failover>("{}"), Failover::default());
}

#[test]
fn public_fields_set_typed_keys_in_place_and_keep_custom_ones() {
    let stored = body(json!({
        "my_own_field": {"a": 1},
        "cnam": {"display_name": "Old"},
        "ui_metadata": "x",
        "dash_e911": {"street_address": "1 A", "locality": "B", "region": "CA", "postal_code": "1"}
    }));
    let mut fields = PublicFields::from(stored.clone());
    assert_eq!(
        fields.e911().unwrap().unwrap().street_address,
        "1 A",
        "the alias dash_e911 is read"
    );
    fields
        .set_cnam(Some(Cnam::new("New")))
        .set_failover(Some(Failover {
            e164: Some("+14155550002".into()),
            sip: None,
        }))
        .set_force_outbound(Some(true));
    let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(fields.as_map()),
        [
            "my_own_field",
            "cnam",
            "ui_metadata",
            "dash_e911",
            "failover",
            "force_outbound"
        ]
    );
    fields.set_e911(None).set_cnam(None);
    assert_eq!(
        keys(fields.as_map()),
        ["my_own_field", "ui_metadata", "failover", "force_outbound"]
    );
    let custom: Vec<_> = fields
        .custom()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        custom,
        [
            ("my_own_field".to_string(), json!({"a": 1})),
            ("ui_metadata".to_string(), json!("x"))
        ]
    );
    assert_eq!(fields.force_outbound().unwrap(), Some(true));
    // Untouched, the map is what was stored.
    assert_eq!(PublicFields::from(stored.clone()).into_map(), stored);
    // Serialized, the fields are the bare map (the stored format).
    assert_eq!(
        serde_json::to_value(PublicFields::from(stored.clone())).unwrap(),
        Value::Object(stored)
    );
}

#[test]
fn a_stored_value_of_the_wrong_shape_is_a_validation_error() {
    let fields = PublicFields::from(body(json!({"cnam": "not an object", "prepend": null})));
    match fields.cnam() {
        Err(Error::Validation { errors }) => assert_eq!(errors[0].field, "cnam"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fields.prepend().unwrap(), None, "null reads as absent");
}

/// Numbers from the simulated carrier, activated for the customer.
async fn in_service(w: &World, count: usize) -> Vec<String> {
    let q = SearchQuery::new("415", count);
    let hits = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap();
    assert_eq!(hits.len(), count);
    let numbers: Vec<String> = hits.iter().map(|h| h.number.to_string()).collect();
    let done = w
        .manager
        .activate_many(&w.customer, &numbers, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    numbers
}

/// The public JSON without what differs between two numbers.
fn comparable(mut v: Value) -> Value {
    let m = v.as_object_mut().unwrap();
    m.remove("id");
    m.remove("_read_only");
    v
}

#[tokio::test]
async fn set_cnam_does_what_update_does_and_keeps_other_fields() {
    let w = World::new();
    let o = w.as_customer();
    let ns = in_service(&w, 2).await;
    let custom = json!({"my_own_field": "some value", "ringback": {"early": "m1"}});
    for n in &ns {
        w.manager.update(n, body(custom.clone()), &o).await.unwrap();
    }
    let cnam = Cnam::new("My caller ID").with_inbound_lookup(true);
    let typed = w
        .manager
        .set_cnam(&ns[0], Some(cnam.clone()), &o)
        .await
        .unwrap();
    let mut with_cnam = body(custom.clone());
    with_cnam.insert("cnam".into(), serde_json::to_value(&cnam).unwrap());
    let untyped = w.manager.update(&ns[1], with_cnam, &o).await.unwrap();

    assert_eq!(typed.record.features, untyped.record.features);
    assert_eq!(
        comparable(typed.to_public_json()),
        comparable(untyped.to_public_json())
    );
    assert_eq!(
        typed.record.feature_names(),
        ["inbound_cnam", "outbound_cnam", "ringback"]
    );
    let fields = typed.record.public_fields();
    assert_eq!(fields.cnam().unwrap(), Some(cnam));
    assert_eq!(
        fields.custom().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["my_own_field"]
    );
    assert_eq!(
        fields.ringback().unwrap().unwrap().early.as_deref(),
        Some("m1")
    );

    // Stored as it was answered.
    let read = w.manager.get(&ns[0], &o).await.unwrap();
    assert_eq!(read.public, typed.record.public);

    // Removing CNAM removes both features and nothing else.
    let removed = w.manager.set_cnam(&ns[0], None, &o).await.unwrap();
    assert_eq!(removed.record.feature_names(), ["ringback"]);
    assert_eq!(
        removed.record.public,
        body(custom),
        "the other fields, in their order"
    );
}

#[tokio::test]
async fn set_cnam_validates_and_authorizes_like_update() {
    let w = World::new();
    let ns = in_service(&w, 1).await;
    let too_long = Cnam::new("sixteen chars!!!");
    match w
        .manager
        .set_cnam(&ns[0], Some(too_long), &w.as_customer())
        .await
    {
        Err(Error::Validation { errors }) => {
            assert_eq!(errors[0].field, "cnam.display_name");
            assert_eq!(errors[0].code, "maxLength");
        }
        other => panic!("{other:?}"),
    }
    // An unrelated account may not change the number.
    let e = w
        .manager
        .set_cnam(
            &ns[0],
            Some(Cnam::new("Mine")),
            &Options::as_account(&w.other),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Unauthorized { .. } | Error::NotFound { .. }),
        "{e:?}"
    );
    let read = w.manager.get(&ns[0], &w.as_customer()).await.unwrap();
    assert!(read.public.is_empty(), "nothing was written");
}

fn natoma() -> E911Address {
    E911Address::new("116 Natoma St", "San Francisco", "CA", "94105")
        .with_extended_address("Apt 116")
}

#[tokio::test]
async fn set_e911_provisioned_outcome() {
    let w = World::new();
    let o = w.as_customer();
    let ns = in_service(&w, 1).await;
    w.manager
        .update(&ns[0], body(json!({"my_own_field": 1})), &o)
        .await
        .unwrap();
    let outcome = w.manager.set_e911(&ns[0], natoma(), &o).await.unwrap();
    let E911Outcome::Provisioned { address, outcome } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(address.street_address, "116 NATOMA ST");
    assert_eq!(address.location_id.as_deref(), Some("27578725"));
    assert_eq!(address.status.as_deref(), Some("PROVISIONED"));
    assert_eq!(address.caller_name.as_deref(), Some("Valued Customer"));
    assert_eq!(outcome.record.features["e911"], address.to_json());
    let view = outcome.to_public_json();
    assert_eq!(view["e911"], address.to_json());
    assert_eq!(view["my_own_field"], 1);
    assert_eq!(view["features"], json!(["e911"]));
    let number = PhoneNumber::parse(&ns[0]).unwrap();
    assert_eq!(w.e911.provisioned().get(&number), Some(&*address));
    assert_eq!(w.e911.provision_count(), 1);
}

#[tokio::test]
async fn set_e911_invalid_and_multiple_choice_are_outcomes_that_change_nothing() {
    let w = World::new();
    let o = w.as_customer();
    let ns = in_service(&w, 1).await;
    let nowhere = E911Address::new("1 Nowhere Rd", "San Francisco", "CA", "94105");
    match w
        .manager
        .set_e911(&ns[0], nowhere.clone(), &o)
        .await
        .unwrap()
    {
        E911Outcome::Invalid {
            provider,
            message,
            address,
        } => {
            assert_eq!(provider, "dash_e911");
            assert_eq!(message, "Location is not geocoded");
            assert_eq!(*address, nowhere);
        }
        other => panic!("{other:?}"),
    }
    let market = E911Address::new("1 Market", "San Francisco", "CA", "94105");
    match w.manager.set_e911(&ns[0], market, &o).await.unwrap() {
        E911Outcome::MultipleChoice {
            provider,
            message,
            candidates,
            ..
        } => {
            assert_eq!(provider, "dash_e911");
            assert_eq!(message, "more than one address found");
            let streets: Vec<_> = candidates
                .iter()
                .map(|c| c.street_address.as_str())
                .collect();
            assert_eq!(streets, ["1 MARKET ST", "1 MARKET PLZ"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.e911.provision_count(), 0);
    let read = w.manager.get(&ns[0], &o).await.unwrap();
    assert!(read.public.is_empty());
    assert!(!read.features.contains_key("e911"));

    // A candidate, submitted, is provisioned.
    let E911Outcome::MultipleChoice { candidates, .. } = w
        .manager
        .set_e911(
            &ns[0],
            E911Address::new("1 Market", "San Francisco", "CA", "94105"),
            &o,
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let picked = w
        .manager
        .set_e911(&ns[0], candidates[0].clone(), &o)
        .await
        .unwrap();
    assert!(picked.is_provisioned(), "{picked:?}");
}

#[tokio::test]
async fn update_keeps_answering_the_provider_refusals_as_errors() {
    let w = World::new();
    let ns = in_service(&w, 1).await;
    let e = w
        .manager
        .update(
            &ns[0],
            body(json!({"e911": E911Address::new("1 Nowhere Rd", "San Francisco", "CA", "94105")})),
            &w.as_customer(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::E911Invalid { .. }), "{e:?}");
}

#[tokio::test]
async fn set_e911_errors_other_than_the_providers_stay_errors() {
    let w = World::new();
    let ns = in_service(&w, 1).await;
    let mut malformed = natoma();
    malformed.region = "California".into();
    match w
        .manager
        .set_e911(&ns[0], malformed, &w.as_customer())
        .await
    {
        Err(Error::Validation { errors }) => assert_eq!(errors[0].field, "e911.region"),
        other => panic!("{other:?}"),
    }
    let e = w
        .manager
        .set_e911("+14155559999", natoma(), &w.as_customer())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn set_e911_replaces_the_dash_e911_alias_and_remove_e911_removes_it() {
    let w = World::new();
    let o = w.as_customer();
    let ns = in_service(&w, 1).await;
    let first = w
        .manager
        .update(
            &ns[0],
            body(json!({"dash_e911": natoma(), "z_custom": true})),
            &o,
        )
        .await
        .unwrap();
    assert!(first.record.public.contains_key("dash_e911"));
    let market_st = E911Address::new("1 Market St", "San Francisco", "CA", "94105");
    let outcome = w.manager.set_e911(&ns[0], market_st, &o).await.unwrap();
    let E911Outcome::Provisioned { outcome, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let keys: Vec<_> = outcome.record.public.keys().cloned().collect();
    assert_eq!(keys, ["z_custom", "e911"]);
    assert_eq!(
        outcome.record.public["e911"]["street_address"],
        "1 MARKET ST"
    );

    let removed = w.manager.remove_e911(&ns[0], &o).await.unwrap();
    assert_eq!(removed.record.public, body(json!({"z_custom": true})));
    assert!(!removed.record.features.contains_key("e911"));
    let number = PhoneNumber::parse(&ns[0]).unwrap();
    assert_eq!(w.e911.removals(), vec![number]);

    // Nothing left to remove: nothing changes, no provider call.
    let again = w.manager.remove_e911(&ns[0], &o).await.unwrap();
    assert_eq!(again.record.revision, removed.record.revision);
    assert_eq!(w.e911.removals().len(), 1);
}

#[tokio::test]
async fn a_dry_run_validates_but_neither_writes_nor_provisions() {
    let w = World::new();
    let ns = in_service(&w, 1).await;
    let o = w.as_customer().dry_run();
    let outcome = w.manager.set_e911(&ns[0], natoma(), &o).await.unwrap();
    let E911Outcome::Provisioned { address, outcome } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(outcome.dry_run);
    assert_eq!(*address, natoma(), "the submitted address");
    assert_eq!(w.e911.provision_count(), 0);
    assert!(w.e911.validate_count() >= 1);
    let read = w.manager.get(&ns[0], &w.as_customer()).await.unwrap();
    assert!(read.public.is_empty());
}

#[tokio::test]
async fn collection_forms_answer_per_number() {
    let w = World::new();
    let o = w.as_customer();
    let mut ns = in_service(&w, 2).await;
    ns.push("+14155559999".into()); // not in the store
    ns.push("not a number".into());

    let cnam = w
        .manager
        .set_cnam_many(&ns, Some(Cnam::new("Bulk")), &o)
        .await
        .unwrap();
    assert_eq!(cnam.success.len(), 2);
    for n in &ns[..2] {
        assert_eq!(cnam.success[n].record.feature_names(), ["outbound_cnam"]);
    }
    assert!(matches!(
        cnam.errors["+14155559999"],
        Error::NotFound { .. }
    ));
    assert!(cnam.errors.contains_key("not a number"));

    let nowhere = E911Address::new("1 Nowhere Rd", "San Francisco", "CA", "94105");
    let refused = w.manager.set_e911_many(&ns, nowhere, &o).await.unwrap();
    for n in &ns[..2] {
        assert!(
            matches!(refused.outcomes[n], E911Outcome::Invalid { .. }),
            "{:?}",
            refused.outcomes[n]
        );
    }
    assert_eq!(refused.errors.len(), 2);

    let e911 = w.manager.set_e911_many(&ns, natoma(), &o).await.unwrap();
    assert_eq!(e911.outcomes.len(), 2);
    assert!(e911.outcomes.values().all(E911Outcome::is_provisioned));
    assert!(matches!(
        e911.errors["+14155559999"],
        Error::NotFound { .. }
    ));
    assert_eq!(w.e911.provisioned().len(), 2);
    for n in &ns[..2] {
        let read = w.manager.get(n, &o).await.unwrap();
        assert_eq!(read.feature_names(), ["e911", "outbound_cnam"]);
        assert_eq!(
            read.public_fields().cnam().unwrap(),
            Some(Cnam::new("Bulk"))
        );
    }

    let removed = w.manager.remove_e911_many(&ns[..2], &o).await.unwrap();
    assert_eq!(removed.success.len(), 2);
    for outcome in removed.success.values() {
        assert_eq!(outcome.record.feature_names(), ["outbound_cnam"]);
        assert_eq!(outcome.record.public_fields().e911().unwrap(), None);
    }
    assert_eq!(w.e911.removals().len(), 2);
}

#[tokio::test]
async fn typed_operations_are_idempotent_with_a_key() {
    let w = World::new();
    let ns = in_service(&w, 1).await;
    let o = w.as_customer().idempotency_key("cnam-1");
    let first = w
        .manager
        .set_cnam(&ns[0], Some(Cnam::new("Once")), &o)
        .await
        .unwrap();
    let again = w
        .manager
        .set_cnam(&ns[0], Some(Cnam::new("Once")), &o)
        .await
        .unwrap();
    assert_eq!(first.record.revision, again.record.revision);
    // Another change under the same key is refused, not applied.
    let other = w
        .manager
        .set_cnam(&ns[0], Some(Cnam::new("Twice")), &o)
        .await;
    assert!(other.is_err(), "{other:?}");
    let read = w.manager.get(&ns[0], &w.as_customer()).await.unwrap();
    assert_eq!(
        read.public_fields().cnam().unwrap(),
        Some(Cnam::new("Once"))
    );
}
