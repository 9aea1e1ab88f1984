//! The number lifecycle through the typed API, following the seeds' examples.

mod common;

use common::{body, shape, World, T0};
use number_manager::clock::to_gregorian;
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::{Error, Options, PhoneNumber, PublicChange};
use serde_json::{json, Map};

#[tokio::test]
async fn create_get_and_number_exists_as_the_seeds_show() {
    let w = World::new();
    let opts = w.as_customer();
    let created = w
        .manager
        .create(
            &w.customer,
            "4155558920",
            PublicChange::fields(body(json!({"my_own_field": {}}))),
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(
        shape(created.to_public_json()),
        json!({"_read_only": {"features": ["local"], "state": "reserved"}, "features": ["local"], "id": "+14155558920", "state": "reserved", "my_own_field": {}})
    );
    assert_eq!(created.to_public_json()["_read_only"]["created"], json!(T0));
    assert_eq!(created.record.reserve_history, vec![w.customer.clone()]);
    assert_eq!(created.record.assigned_to.as_ref(), Some(&w.customer));

    let got = w.manager.get("+14155558920", &opts).await.unwrap();
    assert_eq!(shape(got.to_public_json()), shape(created.to_public_json()));

    let again = w
        .manager
        .create(&w.customer, "+14155558920", PublicChange::default(), &opts)
        .await
        .unwrap_err();
    assert_eq!(
        again.to_json(),
        json!({"cause": "+14155558920", "code": 409, "error": "number_exists", "message": "number +14155558920 already exists"})
    );
    let bad = w
        .manager
        .create(&w.customer, "+141510010+15", PublicChange::default(), &opts)
        .await
        .unwrap_err();
    assert_eq!(bad.name(), "not_reconcilable");
    assert_eq!(bad.code(), 404);
}

#[tokio::test]
async fn reading_needs_ownership_or_ancestry() {
    let w = World::new();
    w.manager
        .create(
            &w.customer,
            "4155550001",
            PublicChange::default(),
            &w.as_customer(),
        )
        .await
        .unwrap();
    for who in [&w.customer, &w.reseller, &w.master] {
        assert!(w
            .manager
            .get("4155550001", &Options::as_account(who))
            .await
            .is_ok());
    }
    let e = w
        .manager
        .get("4155550001", &Options::as_account(&w.other))
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "bad_identifier");
    // A sub-account may buy what its parent reserved, but not see it.
    let e = w
        .manager
        .get("4155550001", &Options::as_account(&w.sub))
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "bad_identifier");
    let e = w
        .manager
        .get("4155559999", &w.as_customer())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }));
}

#[tokio::test]
async fn update_replaces_and_patch_merges_public_fields() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(
            &w.customer,
            "4155550002",
            PublicChange::fields(body(json!({"a": 1, "nested": {"x": 1, "y": 2}}))),
            &o,
        )
        .await
        .unwrap();
    let up = w
        .manager
        .update(
            "4155550002",
            body(json!({"my_own_field": "some other value"})),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        up.record.public,
        body(json!({"my_own_field": "some other value"}))
    );
    let patched = w
        .manager
        .patch(
            "4155550002",
            body(json!({"my_own_field": null, "nested": {"x": 5}, "b": true})),
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        patched.record.public,
        body(json!({"nested": {"x": 5}, "b": true}))
    );
    // Private fields can never be written through public fields.
    let sneaky = w
        .manager
        .update(
            "4155550002",
            body(json!({"pvt_assigned_to": "x", "_id": "y", "state": "available", "id": "z"})),
            &o,
        )
        .await
        .unwrap();
    assert!(sneaky.record.public.is_empty());
    assert_eq!(sneaky.record.state, NumberState::Reserved);
    assert_eq!(sneaky.record.assigned_to.as_ref(), Some(&w.customer));
    // Schema violations are per-field validation errors.
    let e = w
        .manager
        .update(
            "4155550002",
            body(json!({"cnam": {"display_name": "a name that is far too long"}})),
            &o,
        )
        .await
        .unwrap_err();
    assert_eq!(e.envelope().0, 400);
    assert_eq!(e.envelope().1, "validation error");
    assert!(e.envelope().2.get("cnam.display_name").is_some());
}

#[tokio::test]
async fn local_numbers_deny_external_features() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(&w.customer, "4155550003", PublicChange::default(), &o)
        .await
        .unwrap();
    let e = w
        .manager
        .update(
            "4155550003",
            body(json!({"cnam": {"display_name": "My caller ID"}})),
            &o,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    let stored = w.manager.get("4155550003", &o).await.unwrap();
    assert!(stored.public.is_empty(), "a refused update changes nothing");
}

#[tokio::test]
async fn reserve_release_and_the_reserve_history() {
    let w = World::new();
    // The reseller reserves, a customer below it reserves it too, then releases:
    // the number goes back to the reseller (reference §6.5).
    w.manager
        .create(
            &w.reseller,
            "4155550004",
            PublicChange::default(),
            &w.as_master(),
        )
        .await
        .unwrap();
    let e = w
        .manager
        .reserve(
            &w.reseller,
            "4155550004",
            Map::new(),
            &Options::as_account(&w.reseller),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_json(),
        json!({"code": 400, "error": "no_change_required", "message": "no change required"})
    );
    let r = w
        .manager
        .reserve(
            &w.customer,
            "4155550004",
            Map::new(),
            &Options::as_account(&w.reseller),
        )
        .await
        .unwrap();
    assert_eq!(r.record.assigned_to.as_ref(), Some(&w.customer));
    assert_eq!(
        r.record.reserve_history,
        vec![w.customer.clone(), w.reseller.clone()]
    );
    let released = w
        .manager
        .release("4155550004", &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.record.state, NumberState::Reserved);
    assert_eq!(released.record.assigned_to.as_ref(), Some(&w.reseller));
    assert_eq!(released.record.prev_assigned_to.as_ref(), Some(&w.customer));
    // Releasing a local number with no history left deletes it.
    let gone = w
        .manager
        .release("4155550004", &Options::as_account(&w.reseller))
        .await
        .unwrap();
    assert_eq!(
        shape(gone.to_public_json()),
        json!({"_read_only": {"features": ["local"], "state": "deleted"}, "features": ["local"], "id": "+14155550004", "state": "deleted"})
    );
    let n = PhoneNumber::parse("4155550004").unwrap();
    assert!(w.store.get(&n).await.unwrap().is_none());
}

#[tokio::test]
async fn hard_delete_is_for_master_only() {
    let w = World::new();
    w.manager
        .create(
            &w.customer,
            "4155550005",
            PublicChange::default(),
            &w.as_customer(),
        )
        .await
        .unwrap();
    let e = w
        .manager
        .delete("4155550005", &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    let d = w
        .manager
        .delete("4155550005", &w.as_master())
        .await
        .unwrap();
    assert_eq!(d.record.state, NumberState::Deleted);
    assert_eq!(d.to_public_json()["state"], "deleted");
    assert_eq!(d.to_public_json()["_read_only"]["state"], "deleted");
    let e = w
        .manager
        .get("4155550005", &w.as_master())
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "bad_identifier");
}

#[tokio::test]
async fn creation_states_follow_who_asks() {
    let w = World::new();
    // Master may create available numbers; they are unassigned.
    let a = w
        .manager
        .create(
            &w.master,
            "4155550006",
            PublicChange::default().with_state(NumberState::Available),
            &w.as_master(),
        )
        .await
        .unwrap();
    assert_eq!(a.record.state, NumberState::Available);
    assert_eq!(a.record.assigned_to, None);
    // An account with allow_additions may create in_service but not available.
    let e = w
        .manager
        .create(
            &w.customer,
            "4155550007",
            PublicChange::default().with_state(NumberState::Available),
            &w.as_customer(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_json()["cause"],
        "creating number in state 'available' is not allowed"
    );
    // An account without it may not create at all, but may port in.
    let e = w
        .manager
        .create(
            &w.other,
            "4155550008",
            PublicChange::default(),
            &Options::as_account(&w.other),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    let p = w
        .manager
        .port_in(
            &w.other,
            "4155550008",
            Map::new(),
            &Options::as_account(&w.other),
        )
        .await
        .unwrap();
    assert_eq!(p.record.state, NumberState::PortIn);
    // Anyone may buy an available number.
    let bought = w
        .manager
        .activate(
            &w.other,
            "4155550006",
            Map::new(),
            &Options::as_account(&w.other),
        )
        .await
        .unwrap();
    assert_eq!(bought.record.state, NumberState::InService);
    assert_eq!(bought.record.assigned_to.as_ref(), Some(&w.other));
    // Completing a port marks the number ported in.
    let done = w
        .manager
        .activate(
            &w.other,
            "4155550008",
            Map::new(),
            &Options::as_account(&w.other),
        )
        .await
        .unwrap();
    assert!(done.record.ported_in);
}

#[tokio::test]
async fn activating_an_owned_in_service_number_is_a_free_no_op() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(
            &w.customer,
            "4155550009",
            PublicChange::default()
                .with_public(body(json!({"keep": "me"})))
                .with_state(NumberState::InService),
            &o,
        )
        .await
        .unwrap();
    let before = w
        .store
        .get(&PhoneNumber::parse("4155550009").unwrap())
        .await
        .unwrap()
        .unwrap();
    w.clock.advance(chrono::Duration::seconds(30));
    let again = w
        .manager
        .activate(&w.customer, "4155550009", Map::new(), &o)
        .await
        .unwrap();
    assert!(again.plan.noop);
    assert_eq!(again.record.public, body(json!({"keep": "me"})));
    let after = w
        .store
        .get(&PhoneNumber::parse("4155550009").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before, after, "a no-op writes nothing");
}

#[tokio::test]
async fn dry_run_touches_nothing() {
    let w = World::new();
    let o = w.as_customer().dry_run();
    let planned = w
        .manager
        .create(&w.customer, "4155550010", PublicChange::default(), &o)
        .await
        .unwrap();
    assert!(planned.dry_run);
    assert_eq!(planned.record.state, NumberState::Reserved);
    assert!(w
        .store
        .get(&PhoneNumber::parse("4155550010").unwrap())
        .await
        .unwrap()
        .is_none());
    assert!(w.manager.audit_log().unwrap().is_empty());
}

#[tokio::test]
async fn identify_answers_the_owner_to_those_who_may_know() {
    let w = World::new();
    w.manager
        .create(
            &w.customer,
            "4155550011",
            PublicChange::default(),
            &w.as_customer(),
        )
        .await
        .unwrap();
    let id = w
        .manager
        .identify("4155550011", &w.as_customer())
        .await
        .unwrap();
    assert_eq!(
        id.to_json(),
        json!({"account_id": "009afc511c97b2ae693c6cc4920988e8", "number": "+14155550011"})
    );
    assert!(id.local);
    assert!(id.force_outbound);
    let e = w
        .manager
        .identify("4155550011", &Options::as_account(&w.other))
        .await
        .unwrap_err();
    assert_eq!(e.envelope().1, "bad_identifier");
}

#[tokio::test]
async fn assign_to_app_sets_used_by_and_events_are_recorded() {
    let w = World::new();
    let o = w.as_customer();
    w.manager
        .create(&w.customer, "4155550012", PublicChange::default(), &o)
        .await
        .unwrap();
    w.clock.advance(chrono::Duration::seconds(5));
    let used = w
        .manager
        .assign_to_app("4155550012", Some("callflow"), &o)
        .await
        .unwrap();
    assert_eq!(used.to_public_json()["used_by"], "callflow");
    assert_eq!(used.to_public_json()["_read_only"]["used_by"], "callflow");
    assert_eq!(to_gregorian(used.record.modified), T0 + 5);
    let history = w
        .manager
        .audit_log()
        .unwrap()
        .history(&PhoneNumber::parse("4155550012").unwrap());
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].operation, "create");
    assert_eq!(history[0].from, None);
    assert_eq!(history[0].to, NumberState::Reserved);
    assert_eq!(history[1].before.0 + 1, history[1].after.0);
}
