//! The seeds' examples that involve carriers and E911, through the typed API:
//! search, activate (and its carrier fault), update with CNAM, E911's three
//! outcomes, release deprovisioning, hard delete.

mod common;

use common::{body, shape, World};
use number_manager::carrier::Fault;
use number_manager::manager::SearchQuery;
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::{Error, Options, PhoneNumber};
use serde_json::{json, Map, Value};

async fn search_and_pick(w: &World, prefix: &str, n: usize) -> Vec<PhoneNumber> {
    let q = SearchQuery::new(prefix, n);
    let hits = w
        .manager
        .search(&q, &Options::as_account(&w.customer))
        .await
        .unwrap();
    assert_eq!(hits.len(), n);
    hits.iter().map(|h| h.number).collect()
}

#[tokio::test]
async fn search_returns_the_seeds_fields_and_remembers_discoveries() {
    let w = World::new();
    let hits = w
        .manager
        .search(&SearchQuery::new("415", 2), &Options::system())
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits[0].number < hits[1].number, "sorted by number");
    let first = hits[0].to_json();
    for key in [
        "e164",
        "formatted_number",
        "npa_nxx",
        "number",
        "number_id",
        "rate_center",
        "status",
        "ten_digit",
    ] {
        assert!(
            first.get(key).is_some(),
            "search result lacks {key}: {first}"
        );
    }
    assert!(first["number"].as_str().unwrap().starts_with("+1415"));
    assert_eq!(first["status"], "Available");
    // Page 1 continues where page 0 stopped.
    let mut q = SearchQuery::new("+1415", 2);
    q.offset = 1;
    let page1 = w.manager.search(&q, &Options::system()).await.unwrap();
    assert!(page1[0].number > hits[1].number);
    // Every result is remembered as a discovery entry that listings never show.
    let stored = w.store.get(&hits[0].number).await.unwrap().unwrap();
    assert_eq!(stored.state, NumberState::Discovery);
    assert_eq!(stored.carrier, "simulated");
    assert!(stored.expires_at.is_some());
    let e = w
        .manager
        .get(hits[0].number.as_str(), &w.as_customer())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
    // Bad prefixes are validation errors.
    assert_eq!(
        w.manager
            .search(&SearchQuery::new("41", 2), &Options::system())
            .await
            .unwrap_err()
            .name(),
        "validation_error"
    );
}

#[tokio::test]
async fn activate_buys_a_searched_number_once() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0].as_str();
    let bought = w
        .manager
        .activate(&w.customer, n, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(
        shape(bought.to_public_json()),
        json!({"_read_only": {"state": "in_service"}, "id": n, "state": "in_service"})
    );
    let ro = &bought.to_public_json()["_read_only"];
    assert_eq!(ro["created"], ro["modified"]);
    assert_eq!(w.carrier.purchase_count(), 1);
    assert_eq!(w.carrier.purchases()[0].account.as_ref(), Some(&w.customer));
    // "One is not charged if number is already in service."
    let again = w
        .manager
        .activate(&w.customer, n, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert!(again.plan.noop);
    assert_eq!(w.carrier.purchase_count(), 1);
    // A number never seen in a search cannot be bought from a carrier.
    let e = w
        .manager
        .activate(&w.customer, "+14155550199", Map::new(), &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "bad_identifier");
}

#[tokio::test]
async fn a_carrier_fault_leaves_everything_as_it_was() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0];
    let before = w.store.get(&n).await.unwrap().unwrap();
    w.carrier.fail_number(n, Fault::Error);
    let e = w
        .manager
        .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_json(),
        json!({"cause": n.as_str(), "code": 500, "error": "unspecified_fault", "message": "fault by carrier"})
    );
    let after = w.store.get(&n).await.unwrap().unwrap();
    let mut after_content = after.clone();
    after_content.revision = before.revision;
    assert_eq!(
        after_content, before,
        "the record is exactly as it was (only its revision moved)"
    );
    assert!(after.pending.is_none());
    assert_eq!(w.carrier.purchase_count(), 0);
    // The fault was one-shot: the next try buys it.
    w.manager
        .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(w.carrier.purchase_count(), 1);
}

#[tokio::test]
async fn dry_run_activation_buys_nothing() {
    let w = World::new();
    let picked = search_and_pick(&w, "212", 1).await;
    let n = picked[0];
    let before = w.store.get(&n).await.unwrap().unwrap();
    let planned = w
        .manager
        .activate(
            &w.customer,
            n.as_str(),
            Map::new(),
            &w.as_customer().dry_run(),
        )
        .await
        .unwrap();
    assert_eq!(planned.record.state, NumberState::InService);
    assert_eq!(
        planned.plan.carrier,
        number_manager::lifecycle::CarrierAction::Acquire
    );
    assert_eq!(w.carrier.purchase_count(), 0);
    assert_eq!(w.store.get(&n).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn update_with_cnam_turns_on_both_cnam_features() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0].as_str();
    let o = w.as_customer();
    w.manager
        .activate(&w.customer, n, Map::new(), &o)
        .await
        .unwrap();
    w.manager
        .assign_to_app(n, Some("callflow"), &o)
        .await
        .unwrap();
    let up = w
        .manager
        .update(
            n,
            body(json!({"my_own_field": "some other value", "cnam": {"display_name": "My caller ID", "inbound_lookup": true}})),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        shape(up.to_public_json()),
        json!({
            "_read_only": {"features": ["inbound_cnam", "outbound_cnam"], "state": "in_service", "used_by": "callflow"},
            "cnam": {"display_name": "My caller ID", "inbound_lookup": true},
            "features": ["inbound_cnam", "outbound_cnam"],
            "id": n,
            "my_own_field": "some other value",
            "state": "in_service",
            "used_by": "callflow"
        })
    );
    let id = w.manager.identify(n, &o).await.unwrap();
    assert!(id.inbound_cnam);
    // Removing cnam removes the features.
    let off = w
        .manager
        .patch(n, body(json!({"cnam": null})), &o)
        .await
        .unwrap();
    assert!(off.record.features.is_empty());
}

fn address(street: &str) -> Value {
    json!({
        "postal_code": "94105",
        "street_address": street,
        "extended_address": "APT 116",
        "locality": "SAN FRANCISCO",
        "region": "CA"
    })
}

#[tokio::test]
async fn e911_three_outcomes() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0].as_str();
    let o = w.as_customer();
    w.manager
        .activate(&w.customer, n, Map::new(), &o)
        .await
        .unwrap();

    // Invalid address.
    let e = w
        .manager
        .update(
            n,
            body(json!({"used_by": "callflow", "id": n, "dash_e911": address("1 NOWHERE ST")})),
            &o,
        )
        .await
        .unwrap_err();
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "invalid data"));
    assert_eq!(
        data,
        json!({"address": {"invalid": {"cause": address("1 NOWHERE ST"), "message": "Location is not geocoded", "provider": "dash_e911"}}})
    );

    // Multiple choice.
    let e = w
        .manager
        .update(n, body(json!({"dash_e911": address("1 MARKET")})), &o)
        .await
        .unwrap_err();
    let (status, message, data) = e.envelope();
    assert_eq!((status, message.as_str()), (400, "multiple_choice"));
    let choice = &data["multiple_choice"]["dash_e911"];
    assert_eq!(choice["cause"], address("1 MARKET"));
    assert_eq!(choice["message"], "more than one address found");
    assert!(choice["details"].as_array().unwrap().len() >= 2);
    assert_eq!(
        w.e911.provision_count(),
        0,
        "nothing provisioned on a failed validation"
    );

    // Provisioned.
    let ok = w
        .manager
        .update(
            n,
            body(json!({"used_by": "callflow", "id": n, "dash_e911": address("116 NATOMA ST")})),
            &o,
        )
        .await
        .unwrap();
    let view = ok.to_public_json();
    let e911 = &view["dash_e911"];
    assert_eq!(e911["street_address"], "116 NATOMA ST");
    assert_eq!(e911["extended_address"], "APT 116");
    assert_eq!(e911["caller_name"], "Valued Customer");
    assert_eq!(e911["locality"], "SAN FRANCISCO");
    assert_eq!(e911["latitude"], "37.786861");
    assert_eq!(e911["longitude"], "-122.399484");
    assert_eq!(e911["location_id"], "27578725");
    assert_eq!(e911["plus_four"], "3745");
    assert_eq!(e911["postal_code"], "94105");
    assert_eq!(e911["region"], "CA");
    assert_eq!(e911["status"], "PROVISIONED");
    assert_eq!(
        e911["legacy_data"],
        json!({"house_number": "116", "streetname": "NATOMA ST", "suite": "APT 116"})
    );
    assert_eq!(view["features"], json!(["e911"]));
    assert!(
        view.get("used_by").is_none(),
        "used_by is not a public field"
    );
    let number = PhoneNumber::parse(n).unwrap();
    assert!(w.e911.provisioned().contains_key(&number));

    // Release deprovisions upstream (Kazoo forgot to).
    let released = w.manager.release(n, &o).await.unwrap();
    assert_eq!(released.record.state, NumberState::Available);
    assert!(released.record.features.is_empty());
    assert_eq!(w.e911.removals(), vec![number]);
    // The number stays in our inventory, so it stays held upstream.
    assert_eq!(w.carrier.disconnects().len(), 0);
    assert!(w.carrier.is_sold(&number));
}

#[tokio::test]
async fn e911_provider_failure_leaves_the_record_alone() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0];
    let o = w.as_customer();
    w.manager
        .activate(&w.customer, n.as_str(), Map::new(), &o)
        .await
        .unwrap();
    let before = w.store.get(&n).await.unwrap().unwrap();
    w.e911.fail_next_provision(Fault::Error);
    let e = w
        .manager
        .update(
            n.as_str(),
            body(json!({"e911": address("116 NATOMA ST")})),
            &o,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 500);
    assert_eq!(w.store.get(&n).await.unwrap().unwrap(), before);
    assert!(w.e911.provisioned().is_empty());
}

#[tokio::test]
async fn e911_is_validated_even_on_dry_runs_but_never_provisioned() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0].as_str();
    let o = w.as_customer();
    w.manager
        .activate(&w.customer, n, Map::new(), &o)
        .await
        .unwrap();
    let planned = w
        .manager
        .update(
            n,
            body(json!({"e911": address("116 NATOMA ST")})),
            &o.clone().dry_run(),
        )
        .await
        .unwrap();
    assert!(planned.dry_run);
    assert_eq!(w.e911.provision_count(), 0);
    assert!(w.e911.validate_count() >= 1);
    let e = w
        .manager
        .update(n, body(json!({"e911": address("9 NOWHERE")})), &o.dry_run())
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "invalid data");
}

#[tokio::test]
async fn hard_delete_removes_e911_and_gives_the_number_back() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0];
    let o = w.as_customer();
    w.manager
        .activate(&w.customer, n.as_str(), Map::new(), &o)
        .await
        .unwrap();
    w.manager
        .update(
            n.as_str(),
            body(json!({"e911": address("116 NATOMA ST")})),
            &o,
        )
        .await
        .unwrap();
    let gone = w
        .manager
        .delete(n.as_str(), &Options::as_account(&w.master))
        .await
        .unwrap();
    assert_eq!(gone.to_public_json()["state"], "deleted");
    assert_eq!(w.e911.removals(), vec![n]);
    assert_eq!(w.carrier.disconnects().len(), 1);
    assert!(w.store.get(&n).await.unwrap().is_none());
}

#[tokio::test]
async fn a_sub_account_may_activate_what_its_parent_reserved() {
    let w = World::new();
    let picked = search_and_pick(&w, "415", 1).await;
    let n = picked[0].as_str();
    let r = w
        .manager
        .reserve(&w.customer, n, Map::new(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(r.record.state, NumberState::Reserved);
    assert_eq!(
        w.carrier.purchase_count(),
        1,
        "reserving a search result buys it"
    );
    let again = w
        .manager
        .reserve(&w.customer, n, Map::new(), &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(again.name(), "no_change_required");
    assert_eq!(
        w.carrier.purchase_count(),
        1,
        "reserved -> reserved never calls the carrier"
    );
    let act = w
        .manager
        .activate(&w.sub, n, Map::new(), &Options::as_account(&w.sub))
        .await
        .unwrap();
    assert_eq!(act.record.assigned_to.as_ref(), Some(&w.sub));
    assert_eq!(act.record.state, NumberState::InService);
    assert_eq!(w.carrier.purchase_count(), 1);
}

#[tokio::test]
async fn reseller_feature_lists_apply_to_descendants() {
    use number_manager::features::FeatureLists;
    let w = World::new();
    let picked = search_and_pick(&w, "415", 2).await;
    let o = w.as_customer();
    for n in &picked {
        w.manager
            .activate(&w.customer, n.as_str(), Map::new(), &o)
            .await
            .unwrap();
    }
    // The reseller denies CNAM to everything below it.
    w.accounts.set_feature_lists(
        &w.reseller,
        Some(FeatureLists::default().with_deny(vec![
            "cnam".into(),
            "inbound_cnam".into(),
            "outbound_cnam".into(),
        ])),
    );
    let cnam = body(json!({"cnam": {"display_name": "Denied"}}));
    let e = w
        .manager
        .update(picked[0].as_str(), cnam.clone(), &o)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    // The customer's own lists win over its reseller's.
    w.accounts.set_feature_lists(
        &w.customer,
        Some(
            FeatureLists::default()
                .with_allow(vec!["cnam".into()])
                .with_deny(vec![]),
        ),
    );
    let ok = w
        .manager
        .update(picked[1].as_str(), cnam, &o)
        .await
        .unwrap();
    assert_eq!(ok.record.feature_names(), vec!["outbound_cnam".to_string()]);
    // Per-number overrides win over both.
    let n = picked[1];
    let mut r = w.store.get(&n).await.unwrap().unwrap();
    let rev = r.revision;
    r.features_denied = vec!["cnam".into()];
    w.store.update(r, rev).await.unwrap();
    let e = w
        .manager
        .update(
            n.as_str(),
            body(json!({"cnam": {"display_name": "Again"}})),
            &o,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
}
