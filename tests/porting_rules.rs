//! Kazoo's number rules around porting and local carriers, through the
//! public API: a carrier module the registry does not know, `ported_in`
//! creations, MDN numbers, and whom a purchase may be for.

mod common;

use common::{body, World, T0};
use number_manager::account::AccountId;
use number_manager::clock::from_gregorian;

use number_manager::record::NumberRecord;
use number_manager::state::NumberState;
use number_manager::store::StoreExt;
use number_manager::{Error, Options, PhoneNumber, PublicChange};
use serde_json::json;

/// Stores a number of `customer` in `state` whose carrier module is `module`.
async fn stored(w: &World, number: &str, state: NumberState, module: &str) -> PhoneNumber {
    let n = PhoneNumber::parse(number).unwrap();
    let now = from_gregorian(T0).unwrap();
    let mut r = NumberRecord::new(n, state, module, now);
    if state != NumberState::Available {
        r.set_assigned_to(Some(w.customer.clone()));
    }
    w.store.insert(r).await.unwrap();
    n
}

async fn stored_in_service(w: &World, number: &str, module: &str) -> PhoneNumber {
    stored(w, number, NumberState::InService, module).await
}

fn assert_forbidden(e: &Error) {
    assert_eq!((e.code(), e.name()), (403, "forbidden"), "{e:?}");
}

// ------------------------------------------------ modules the registry lacks

#[tokio::test]
async fn a_number_of_an_unknown_module_is_not_local_and_a_release_keeps_it() {
    let w = World::new();
    let n = stored_in_service(&w, "+14155550101", "gone_carrier").await;
    let released = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.record.state, NumberState::Available);
    assert!(released.record.assigned_to.is_none());
    assert!(!released.record.features.contains_key("local"));
    let kept = w.store.get(&n).await.unwrap().expect("still stored");
    assert_eq!(kept.state, NumberState::Available);
    assert_eq!(kept.carrier, "gone_carrier");
}

#[tokio::test]
async fn a_local_number_is_still_deleted_on_release() {
    let w = World::new();
    let n = stored_in_service(&w, "+14155550102", "local").await;
    let released = w
        .manager
        .release(n.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(released.record.state, NumberState::Deleted);
    assert!(w.store.get(&n).await.unwrap().is_none());
}

#[tokio::test]
async fn an_available_number_of_an_unknown_module_cannot_be_released() {
    // Only local numbers may be released from any state.
    let w = World::new();
    let n = PhoneNumber::parse("+14155550103").unwrap();
    let now = from_gregorian(T0).unwrap();
    w.store
        .insert(NumberRecord::new(
            n,
            NumberState::Available,
            "gone_carrier",
            now,
        ))
        .await
        .unwrap();
    let e = w
        .manager
        .release(n.as_str(), &w.as_master())
        .await
        .unwrap_err();
    assert_eq!(e.name(), "invalid_state_transition");
    assert_eq!(e.to_json()["cause"], "from available to available");
}

// ---------------------------------------------------------------- ported_in

#[tokio::test]
async fn master_creates_a_number_ported_in_and_it_is_in_service() {
    let w = World::new();
    let opts = w.as_master().with_ported_in(true);
    // Whatever state is asked (here the default, reserved), it is in service.
    let out = w
        .manager
        .create(&w.customer, "4155550201", PublicChange::default(), &opts)
        .await
        .unwrap();
    assert_eq!(out.record.state, NumberState::InService);
    assert!(out.record.ported_in);
    assert_eq!(out.record.assigned_to.as_ref(), Some(&w.customer));
    assert!(out.record.reserve_history.is_empty());
    assert_eq!(out.record.carrier, w.manager.config().port_in_module);
    let v = out.to_public_json();
    assert_eq!(v["state"], "in_service");
    assert_eq!(v["_read_only"]["ported_in"], true);
    // The flag is stored, and the customer sees it too.
    let got = w
        .manager
        .get("+14155550201", &w.as_customer())
        .await
        .unwrap();
    assert!(got.ported_in);
    assert_eq!(got.to_public_json()["_read_only"]["ported_in"], true);
}

#[tokio::test]
async fn a_number_created_without_ported_in_does_not_show_the_flag() {
    let w = World::new();
    let out = w
        .manager
        .create(
            &w.customer,
            "4155550202",
            PublicChange::default(),
            &w.as_master(),
        )
        .await
        .unwrap();
    assert!(!out.record.ported_in);
    assert!(out.to_public_json()["_read_only"]
        .get("ported_in")
        .is_none());
}

#[tokio::test]
async fn only_master_or_the_system_may_create_numbers_ported_in() {
    let w = World::new();
    for who in [&w.customer, &w.reseller] {
        let opts = Options::as_account(who).with_ported_in(true);
        let e = w
            .manager
            .create(&w.customer, "4155550203", PublicChange::default(), &opts)
            .await
            .unwrap_err();
        assert_forbidden(&e);
        let many = w
            .manager
            .create_many(&w.customer, &["4155550204"], PublicChange::default(), &opts)
            .await
            .unwrap();
        assert_forbidden(&many.errors["+14155550204"]);
    }
    assert!(w
        .store
        .get(&PhoneNumber::parse("+14155550203").unwrap())
        .await
        .unwrap()
        .is_none());
    let system = Options::system().with_ported_in(true);
    let out = w
        .manager
        .create(&w.customer, "4155550203", PublicChange::default(), &system)
        .await
        .unwrap();
    assert_eq!(out.record.state, NumberState::InService);
    assert!(out.record.ported_in);
}

#[tokio::test]
async fn ported_in_over_an_available_number_puts_it_in_service_marked() {
    let w = World::new();
    let n = stored(&w, "+14155550205", NumberState::Available, "local").await;
    let out = w
        .manager
        .create(
            &w.customer,
            n.as_str(),
            PublicChange::fields(body(json!({"tag": "ported"}))),
            &w.as_master().with_ported_in(true),
        )
        .await
        .unwrap();
    assert_eq!(out.record.state, NumberState::InService);
    assert!(out.record.ported_in);
    assert_eq!(out.record.assigned_to.as_ref(), Some(&w.customer));
    assert_eq!(out.record.public["tag"], "ported");
}

#[tokio::test]
async fn ported_in_does_not_create_over_a_number_in_service() {
    let w = World::new();
    let n = stored_in_service(&w, "+14155550206", "local").await;
    let e = w
        .manager
        .create(
            &w.customer,
            n.as_str(),
            PublicChange::default(),
            &w.as_master().with_ported_in(true),
        )
        .await
        .unwrap_err();
    assert_eq!(e.name(), "number_exists");
}

// ---------------------------------------------------------------- MDN

fn mdn_opts(who: &AccountId) -> Options {
    Options::as_account(who).with_mdn_run(true)
}

/// An MDN number of the customer, created as the device API does.
async fn mdn_number(w: &World, number: &str) -> PhoneNumber {
    let out = w
        .manager
        .create(
            &w.customer,
            number,
            PublicChange::default(),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap();
    assert_eq!(out.record.state, NumberState::InService);
    assert_eq!(out.record.carrier, "mdn");
    assert!(
        out.record.features.contains_key("local"),
        "MDN numbers are local"
    );
    out.record.number
}

#[tokio::test]
async fn an_mdn_number_is_never_reserved_ported_or_put_back_in_service() {
    let w = World::new();
    let n = mdn_number(&w, "4155550301").await;
    let e = w
        .manager
        .reserve(
            &w.customer,
            n.as_str(),
            Default::default(),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_json(),
        json!({"cause": "from 'MDN' to reserved", "code": 400, "error": "invalid_state_transition", "message": "invalid state transition"})
    );
    // A port creates a local number, which mdn_run may not write.
    let e = w
        .manager
        .port_in(
            &w.customer,
            "4155550302",
            Default::default(),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap_err();
    assert_forbidden(&e);
    // An aging MDN number is not created over, since it may not age.
    let aging = stored(&w, "+14155550309", NumberState::Aging, "mdn").await;
    let e = w
        .manager
        .create(
            &w.customer,
            aging.as_str(),
            PublicChange::fields(Default::default()),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap_err();
    assert_eq!(e.cause().as_deref(), Some("from aging to in_service"));
    let e = w
        .manager
        .port_in(
            &w.customer,
            aging.as_str(),
            Default::default(),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap_err();
    assert_eq!(e.cause().as_deref(), Some("from 'MDN' to port_in"));
    // An MDN number in any other state never goes (back) in service.
    let reserved = stored(&w, "+14155550303", NumberState::Reserved, "mdn").await;
    let e = w
        .manager
        .activate(
            &w.customer,
            reserved.as_str(),
            Default::default(),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap_err();
    assert_eq!(e.name(), "invalid_state_transition");
    assert_eq!(e.cause().as_deref(), Some("from reserved to in_service"));
}

#[tokio::test]
async fn mdn_numbers_are_written_only_with_mdn_run_and_mdn_run_writes_only_them() {
    let w = World::new();
    let mdn = mdn_number(&w, "4155550305").await;
    let fields = || body(json!({"tag": "x"}));
    // Without mdn_run, even master may not write an MDN number.
    for opts in [w.as_customer(), w.as_master()] {
        let e = w
            .manager
            .update(mdn.as_str(), fields(), &opts)
            .await
            .unwrap_err();
        assert_forbidden(&e);
    }
    let ok = w
        .manager
        .update(mdn.as_str(), fields(), &mdn_opts(&w.customer))
        .await
        .unwrap();
    assert_eq!(ok.record.public["tag"], "x");
    // With mdn_run, nothing but MDN numbers.
    let plain = stored_in_service(&w, "+14155550306", "local").await;
    let e = w
        .manager
        .update(plain.as_str(), fields(), &mdn_opts(&w.customer))
        .await
        .unwrap_err();
    assert_forbidden(&e);
    // The system writes either.
    w.manager
        .update(mdn.as_str(), body(json!({"tag": "y"})), &Options::system())
        .await
        .unwrap();
    w.manager
        .update(
            plain.as_str(),
            fields(),
            &Options::system().with_mdn_run(true),
        )
        .await
        .unwrap();
    // Moving an MDN number between accounts (in service to in service) is allowed with it.
    let moved = w
        .manager
        .activate(
            &w.sub,
            mdn.as_str(),
            Default::default(),
            &mdn_opts(&w.customer),
        )
        .await
        .unwrap();
    assert_eq!(moved.record.assigned_to.as_ref(), Some(&w.sub));
    assert_eq!(moved.record.state, NumberState::InService);
    // Reading needs nothing.
    assert!(w.manager.get(mdn.as_str(), &w.as_customer()).await.is_ok());
}

#[tokio::test]
async fn a_released_mdn_number_is_deleted() {
    let w = World::new();
    let n = mdn_number(&w, "4155550307").await;
    let out = w
        .manager
        .release(n.as_str(), &mdn_opts(&w.customer))
        .await
        .unwrap();
    assert_eq!(out.record.state, NumberState::Deleted);
    assert!(w.store.get(&n).await.unwrap().is_none());
    // Nothing is written on a release that deletes, so mdn_run is not needed.
    let m = mdn_number(&w, "4155550308").await;
    let out = w
        .manager
        .release(m.as_str(), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(out.record.state, NumberState::Deleted);
}

// ------------------------------------------------ whom a purchase is for

#[tokio::test]
async fn a_purchase_is_for_the_actor_a_descendant_or_by_master() {
    let w = World::new();
    let mut n = 0;
    let mut available = || {
        n += 1;
        format!("+1415555050{n}")
    };
    // Kazoo's library would let the customer buy for a sibling or an ancestor.
    for target in [&w.other, &w.reseller] {
        let number = stored(&w, &available(), NumberState::Available, "local").await;
        let e = w
            .manager
            .activate(
                target,
                number.as_str(),
                Default::default(),
                &w.as_customer(),
            )
            .await
            .unwrap_err();
        assert_forbidden(&e);
        let e = w
            .manager
            .reserve(
                target,
                number.as_str(),
                Default::default(),
                &w.as_customer(),
            )
            .await
            .unwrap_err();
        assert_forbidden(&e);
        let many = w
            .manager
            .activate_many(
                target,
                &[number.as_str()],
                Default::default(),
                &w.as_customer(),
            )
            .await
            .unwrap();
        assert_forbidden(&many.errors[number.as_str()]);
        let e = w
            .manager
            .create(
                target,
                &available(),
                PublicChange::default(),
                &w.as_customer(),
            )
            .await
            .unwrap_err();
        assert_forbidden(&e);
        let untouched = w.store.get(&number).await.unwrap().unwrap();
        assert_eq!(untouched.state, NumberState::Available);
        assert!(untouched.assigned_to.is_none());
    }
    // Itself, a descendant, or anyone when master.
    for (target, opts) in [
        (&w.customer, w.as_customer()),
        (&w.sub, w.as_customer()),
        (&w.other, w.as_master()),
    ] {
        let number = stored(&w, &available(), NumberState::Available, "local").await;
        let out = w
            .manager
            .activate(target, number.as_str(), Default::default(), &opts)
            .await
            .unwrap();
        assert_eq!(out.record.assigned_to.as_ref(), Some(target));
        assert_eq!(out.record.state, NumberState::InService);
    }
}

// ---------------------------------------------------------------- over HTTP

#[cfg(feature = "api")]
mod http {
    use super::*;
    use number_manager::api::{Api, ApiRequest, Method};
    use serde_json::Value;

    fn api(w: &World) -> Api {
        w.accounts.set_token(&w.master, "master-token");
        w.accounts.set_token(&w.customer, "customer-token");
        Api::new(w.manager.clone(), w.accounts.clone())
    }

    async fn put(api: &Api, target: &str, token: &str, body: Value) -> (u16, Value) {
        let res = api
            .handle(
                ApiRequest::new(Method::Put, target)
                    .token(token)
                    .json(&body),
            )
            .await;
        (res.status, res.json().expect("JSON"))
    }

    #[tokio::test]
    async fn ported_in_is_read_from_the_query_string_or_the_body() {
        let w = World::new();
        let api = api(&w);
        let base = format!("/v2/accounts/{}/phone_numbers", w.customer);
        let (status, v) = put(
            &api,
            &format!("{base}/%2B14155550401?ported_in=true"),
            "master-token",
            json!({"data": {}}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["data"]["state"], "in_service");
        assert_eq!(v["data"]["_read_only"]["ported_in"], true);
        let (status, v) = put(
            &api,
            &format!("{base}/collection"),
            "master-token",
            json!({"data": {"numbers": ["+14155550402"], "ported_in": true, "tag": "t"}}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let one = &v["data"]["success"]["+14155550402"];
        assert_eq!(one["_read_only"]["ported_in"], true, "{v}");
        assert_eq!(one["tag"], "t");
        assert!(one.get("ported_in").is_none(), "never a public field: {v}");
    }

    #[tokio::test]
    async fn buying_for_a_sibling_over_http_is_forbidden() {
        let w = World::new();
        let api = api(&w);
        let n = stored(&w, "+14155550601", NumberState::Available, "local").await;
        let (status, v) = put(
            &api,
            &format!(
                "/v2/accounts/{}/phone_numbers/{}/activate",
                w.other, "%2B14155550601"
            ),
            "customer-token",
            json!({"data": {}}),
        )
        .await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(v["message"], "forbidden");
        assert!(w
            .store
            .get(&n)
            .await
            .unwrap()
            .unwrap()
            .assigned_to
            .is_none());
    }

    #[tokio::test]
    async fn an_account_asking_for_ported_in_gets_forbidden() {
        let w = World::new();
        let api = api(&w);
        let base = format!("/v2/accounts/{}/phone_numbers", w.customer);
        let (status, v) = put(
            &api,
            &format!("{base}/%2B14155550403"),
            "customer-token",
            json!({"data": {"ported_in": true}}),
        )
        .await;
        assert_eq!(status, 403, "{v}");
        assert_eq!(v["message"], "forbidden");
        // Without it, the same account creates as before.
        let (status, v) = put(
            &api,
            &format!("{base}/%2B14155550403"),
            "customer-token",
            json!({"data": {}}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["data"]["state"], "reserved");
    }
}
