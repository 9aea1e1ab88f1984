//! Port requests through the typed API: every allowed move, every disallowed
//! move and actor with its error, and the effects on numbers.

mod common;

use std::sync::Arc;

use common::{World, T0};
use number_manager::account::AccountId;
use number_manager::clock::from_gregorian;
use number_manager::manager::PortingConfig;
use number_manager::porting::{PortId, PortRequest, PortState};
use number_manager::state::NumberState;
use number_manager::store::MemoryStore;
use number_manager::{Config, Error, NewPortRequest, Options, PortTransitionRequest, PublicChange};

use PortState::*;

fn new_request(numbers: &[&str]) -> NewPortRequest {
    let mut new = NewPortRequest::default();
    new.name = "from the old carrier".into();
    new.numbers = numbers.iter().map(|n| n.to_string()).collect();
    new.losing_carrier = Some("Old Telco".into());
    new.billing.account_number = Some("12345".into());
    new.billing.pin = Some("0000".into());
    new
}

async fn open(w: &World, numbers: &[&str]) -> PortRequest {
    w.manager
        .create_port_request(&w.customer, new_request(numbers), &w.as_customer())
        .await
        .unwrap()
}

async fn move_to(
    w: &World,
    id: &PortId,
    to: PortState,
    opts: &Options,
) -> Result<PortRequest, Error> {
    w.manager
        .transition_port_request(id, PortTransitionRequest::to(to), opts)
        .await
        .map(|t| t.request)
}

fn when() -> chrono::DateTime<chrono::Utc> {
    from_gregorian(T0 + 86_400).unwrap()
}

#[tokio::test]
async fn a_request_walks_to_completion_and_its_numbers_go_in_service() {
    let w = World::new();
    let r = open(&w, &["4155550701", "+14155550702"]).await;
    assert_eq!(r.state, Unconfirmed);
    assert_eq!(r.account, w.customer);
    assert_eq!(r.numbers.len(), 2);
    assert!(r.timeline.is_empty());
    let got = w
        .manager
        .port_request(&r.id, &w.as_customer())
        .await
        .unwrap();
    assert_eq!(got.billing.pin.as_deref(), Some("0000"));

    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    move_to(&w, &r.id, Pending, &w.as_master()).await.unwrap();
    // Scheduling needs a date.
    let e = move_to(&w, &r.id, Scheduled, &w.as_master())
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.name()), (400, "validation_error"), "{e:?}");
    let scheduled = w
        .manager
        .transition_port_request(
            &r.id,
            PortTransitionRequest::to(Scheduled)
                .with_schedule_on(when())
                .with_reason("the carrier set a date"),
            &w.as_master(),
        )
        .await
        .unwrap();
    assert_eq!(scheduled.request.schedule_on, Some(when()));
    assert!(scheduled.numbers.is_none());
    let done = w
        .manager
        .transition_port_request(&r.id, PortTransitionRequest::to(Completed), &w.as_master())
        .await
        .unwrap();
    assert_eq!(done.request.state, Completed);
    let moves: Vec<(PortState, PortState)> = done
        .request
        .timeline
        .iter()
        .map(|t| (t.previous, t.new))
        .collect();
    assert_eq!(
        moves,
        vec![
            (Unconfirmed, Submitted),
            (Submitted, Pending),
            (Pending, Scheduled),
            (Scheduled, Completed)
        ]
    );
    assert_eq!(done.request.timeline[0].by.as_ref(), Some(&w.customer));
    assert_eq!(done.request.timeline[1].by.as_ref(), Some(&w.master));
    assert_eq!(
        done.request.timeline[2].reason.as_deref(),
        Some("the carrier set a date")
    );
    let numbers = done.numbers.expect("completion reports its numbers");
    assert!(numbers.errors.is_empty(), "{:?}", numbers.errors);
    for n in ["+14155550701", "+14155550702"] {
        let rec = &numbers.success[n].record;
        assert_eq!(rec.state, NumberState::InService);
        assert!(rec.ported_in);
        assert_eq!(rec.assigned_to.as_ref(), Some(&w.customer));
        assert_eq!(rec.public["port_id"], r.id.as_str());
        assert_eq!(rec.carrier, w.manager.config().port_in_module);
    }
    // Completed is final.
    let e = move_to(&w, &r.id, Canceled, &w.as_master())
        .await
        .unwrap_err();
    assert_eq!(e.cause().as_deref(), Some("from completed to canceled"));
}

#[tokio::test]
async fn every_move_the_table_lacks_is_an_invalid_state_transition() {
    let w = World::new();
    let r = open(&w, &["4155550711"]).await;
    for to in [Unconfirmed, Pending, Scheduled, Completed, Rejected] {
        let e = move_to(&w, &r.id, to, &w.as_master()).await.unwrap_err();
        assert_eq!(
            e.to_json(),
            serde_json::json!({"cause": format!("from unconfirmed to {to}"), "code": 400, "error": "invalid_state_transition", "message": "invalid state transition"})
        );
    }
    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    // Scheduled straight from submitted only with the flag.
    let e = w
        .manager
        .transition_port_request(
            &r.id,
            PortTransitionRequest::to(Scheduled).with_schedule_on(when()),
            &w.as_master(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.cause().as_deref(), Some("from submitted to scheduled"));
    // Rejected can be submitted again, or completed, or canceled.
    move_to(&w, &r.id, Rejected, &w.as_master()).await.unwrap();
    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    move_to(&w, &r.id, Rejected, &w.as_master()).await.unwrap();
    move_to(&w, &r.id, Canceled, &w.as_master()).await.unwrap();
}

#[tokio::test]
async fn the_flag_allows_scheduling_a_submitted_request() {
    let mut config = Config::default();
    let mut porting = PortingConfig::default();
    porting.schedule_from_submitted = true;
    config.porting = porting;
    let w = World::with(Arc::new(MemoryStore::new()), config);
    let r = open(&w, &["4155550721"]).await;
    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    let t = w
        .manager
        .transition_port_request(
            &r.id,
            PortTransitionRequest::to(Scheduled).with_schedule_on(when()),
            &w.as_master(),
        )
        .await
        .unwrap();
    assert_eq!(t.request.state, Scheduled);
}

fn user_not_allowed(e: &Error) {
    assert_eq!((e.code(), e.name()), (403, "user_not_allowed"), "{e:?}");
}

#[tokio::test]
async fn who_may_make_which_move() {
    let w = World::new();
    let r = open(&w, &["4155550731"]).await;
    // Outside the tree the request does not exist.
    for who in [&w.other] {
        let e = move_to(&w, &r.id, Submitted, &Options::as_account(who))
            .await
            .unwrap_err();
        assert_eq!(e.name(), "not_found", "{e:?}");
        let e = w
            .manager
            .port_request(&r.id, &Options::as_account(who))
            .await
            .unwrap_err();
        assert_eq!(e.name(), "not_found");
    }
    // Anyone in the tree may submit; a descendant too.
    move_to(&w, &r.id, Submitted, &Options::as_account(&w.sub))
        .await
        .unwrap();
    // The other moves are the port authority's (master by default).
    for to in [Pending, Rejected, Canceled] {
        for who in [&w.customer, &w.reseller, &w.sub] {
            let e = move_to(&w, &r.id, to, &Options::as_account(who))
                .await
                .unwrap_err();
            user_not_allowed(&e);
        }
    }
    move_to(&w, &r.id, Pending, &w.as_master()).await.unwrap();
    move_to(&w, &r.id, Rejected, &Options::system())
        .await
        .unwrap();
    let got = w
        .manager
        .port_request(&r.id, &w.as_customer())
        .await
        .unwrap();
    assert_eq!(
        got.timeline.last().and_then(|t| t.by.clone()),
        None,
        "the system"
    );
}

#[tokio::test]
async fn the_account_or_an_ancestor_may_cancel_while_unconfirmed() {
    let w = World::new();
    let a = open(&w, &["4155550741"]).await;
    let c = w
        .manager
        .cancel_port_request(&a.id, Some("changed my mind".into()), &w.as_customer())
        .await
        .unwrap();
    assert_eq!(c.state, Canceled);
    assert_eq!(c.timeline[0].reason.as_deref(), Some("changed my mind"));
    let b = open(&w, &["4155550742"]).await;
    w.manager
        .cancel_port_request(&b.id, None, &Options::as_account(&w.reseller))
        .await
        .unwrap();
    // A descendant may not, and nobody but the authority once submitted.
    let d = open(&w, &["4155550743"]).await;
    user_not_allowed(
        &w.manager
            .cancel_port_request(&d.id, None, &Options::as_account(&w.sub))
            .await
            .unwrap_err(),
    );
    move_to(&w, &d.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    user_not_allowed(
        &w.manager
            .cancel_port_request(&d.id, None, &w.as_customer())
            .await
            .unwrap_err(),
    );
    w.manager
        .cancel_port_request(&d.id, None, &w.as_master())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reseller_names_its_port_authority() {
    let mut config = Config::default();
    let w0 = World::new();
    let authority = w0.other.clone();
    let mut porting = PortingConfig::default();
    porting
        .authorities
        .insert(w0.reseller.clone(), authority.clone());
    config.porting = porting;
    let w = World::with(Arc::new(MemoryStore::new()), config);
    let r = open(&w, &["4155550751"]).await;
    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    // The authority reads and moves it though it is outside the tree.
    let as_authority = Options::as_account(&authority);
    assert!(w.manager.port_request(&r.id, &as_authority).await.is_ok());
    move_to(&w, &r.id, Pending, &as_authority).await.unwrap();
    user_not_allowed(
        &move_to(&w, &r.id, Rejected, &w.as_customer())
            .await
            .unwrap_err(),
    );
    // Master still may.
    move_to(&w, &r.id, Rejected, &w.as_master()).await.unwrap();
}

#[tokio::test]
async fn numbers_in_an_active_request_are_porting() {
    let w = World::new();
    let r = open(&w, &["4155550761", "4155550762"]).await;
    // A number is in at most one open request.
    let e = w
        .manager
        .create_port_request(&w.customer, new_request(&["4155550762"]), &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.name(), "number_is_porting");
    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    let e = w
        .manager
        .create(
            &w.customer,
            "4155550761",
            PublicChange::default(),
            &w.as_master(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_json(),
        serde_json::json!({"cause": "+14155550761", "code": 400, "error": "number_is_porting", "message": "number +14155550761 is porting"})
    );
    let many = w
        .manager
        .create_many(
            &w.customer,
            &["4155550762", "4155550763"],
            PublicChange::default(),
            &w.as_master(),
        )
        .await
        .unwrap();
    assert_eq!(many.errors["+14155550762"].name(), "number_is_porting");
    assert!(many.success.contains_key("+14155550763"));
    // Canceling frees them.
    w.manager
        .cancel_port_request(&r.id, None, &w.as_master())
        .await
        .unwrap();
    w.manager
        .create(
            &w.customer,
            "4155550761",
            PublicChange::default(),
            &w.as_master(),
        )
        .await
        .unwrap();
    open(&w, &["4155550762"]).await;
}

#[tokio::test]
async fn listing_is_for_those_who_act_for_the_account() {
    let w = World::new();
    let a = open(&w, &["4155550771"]).await;
    let b = open(&w, &["4155550772"]).await;
    let listed = w
        .manager
        .port_requests(&w.customer, &Options::as_account(&w.reseller))
        .await
        .unwrap();
    let ids: Vec<&PortId> = listed.iter().map(|r| &r.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&&a.id) && ids.contains(&&b.id));
    let e = w
        .manager
        .port_requests(&w.customer, &Options::as_account(&w.other))
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    // Opening one for an account one does not act for is forbidden too.
    let e = w
        .manager
        .create_port_request(&w.reseller, new_request(&["4155550773"]), &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.code(), 403);
    let bad: AccountId = w.other.clone();
    let e = w
        .manager
        .create_port_request(
            &bad,
            new_request(&["not a number"]),
            &Options::as_account(&bad),
        )
        .await
        .unwrap_err();
    assert_eq!(e.name(), "not_reconcilable");
}

#[tokio::test]
async fn completing_a_thousand_numbers_is_one_collection() {
    let w = World::new();
    let numbers: Vec<String> = (0..1000).map(|i| format!("+1415556{i:04}")).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let r = open(&w, &refs).await;
    for (to, opts) in [(Submitted, w.as_customer()), (Pending, w.as_master())] {
        move_to(&w, &r.id, to, &opts).await.unwrap();
    }
    let done = w
        .manager
        .transition_port_request(&r.id, PortTransitionRequest::to(Completed), &w.as_master())
        .await
        .unwrap();
    let result = done.numbers.unwrap();
    assert_eq!(result.success.len(), 1000);
    assert!(result.errors.is_empty());
    assert!(result
        .success
        .values()
        .all(|o| o.record.state == NumberState::InService && o.record.ported_in));
}

#[tokio::test]
async fn identify_falls_back_to_active_port_requests() {
    let w = World::new();
    let r = open(&w, &["4155550781"]).await;
    // Unconfirmed is not on its way yet.
    let e = w
        .manager
        .identify("4155550781", &w.as_customer())
        .await
        .unwrap_err();
    assert_eq!(e.name(), "not_found");
    move_to(&w, &r.id, Submitted, &w.as_customer())
        .await
        .unwrap();
    for who in [&w.customer, &w.reseller, &w.master] {
        let found = w
            .manager
            .identify("4155550781", &Options::as_account(who))
            .await
            .unwrap();
        assert_eq!(found.account_id, w.customer);
        assert!(found.pending_port && found.local && found.force_outbound);
        assert!(!found.inbound_cnam);
    }
    let e = w
        .manager
        .identify("4155550781", &Options::as_account(&w.other))
        .await
        .unwrap_err();
    assert_eq!(e.name(), "not_found", "ownership never leaks");
}
