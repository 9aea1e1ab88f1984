//! The [`PortRequestStore`] contract: its own registry, [`PORT_REQUEST_CHECKS`],
//! run on any port request store by [`run_port_requests`] (every built-in store
//! that keeps port requests runs it in its tests).

use std::future::Future;

use super::support::{account, num, t0};
use super::Report;
use crate::error::Error;
use crate::porting::{PortId, PortRequest, PortRequestStore, PortState};
use crate::record::Revision;
use crate::testing::poll::{catch_panic, Task};

/// One check of the port request contract.
#[derive(Clone, Copy)]
pub struct PortCheck {
    name: &'static str,
    run: for<'a> fn(&'a dyn PortRequestStore) -> Task<'a, ()>,
}

impl PortCheck {
    /// The check's name, e.g. `port_create_and_get`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the check; panics, naming it, when the store breaks the contract.
    pub fn run<'a>(&self, store: &'a dyn PortRequestStore) -> Task<'a, ()> {
        (self.run)(store)
    }
}

impl std::fmt::Debug for PortCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

macro_rules! port_registry {
    ($($name:ident),* $(,)?) => {
        &[$(PortCheck {
            name: stringify!($name),
            run: {
                fn run(store: &dyn PortRequestStore) -> Task<'_, ()> {
                    Box::pin($name(store))
                }
                run
            },
        },)*]
    };
}

/// Every check of the port request contract, in the order they run.
pub static PORT_REQUEST_CHECKS: &[PortCheck] = port_registry! {
    port_create_and_get,
    port_create_existing_id,
    port_update_compare_and_swap,
    port_one_open_request_per_number,
    port_list_by_account,
};

/// Runs every check of [`PORT_REQUEST_CHECKS`], each on a fresh store from
/// `factory`; panics with the report when any failed.
pub async fn run_port_requests<S, F, Fut>(mut factory: F) -> Report
where
    S: PortRequestStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Report::default();
    for check in PORT_REQUEST_CHECKS {
        let store = factory().await;
        let outcome = catch_panic(check.run(&store)).await;
        report.outcomes.push((check.name, outcome.err()));
    }
    if !report.failed().is_empty() {
        panic!("port request store conformance failed:\n{report}");
    }
    report
}

/// Each check's requests use numbers and accounts of its own block (900+).
fn request(check: u16, id: &str, numbers: &[u32]) -> PortRequest {
    let mut r = PortRequest::new(
        PortId::new(format!("conformance-{check}-{id}")).unwrap(),
        account(check, "owner"),
        format!("request {id}"),
        numbers.iter().map(|i| num(check, *i)).collect(),
        t0(),
    );
    r.losing_carrier = Some("losing".into());
    r.billing.pin = Some("1234".into());
    r
}

async fn port_create_and_get(store: &dyn PortRequestStore) {
    let r = request(900, "a", &[1, 2]);
    let rev = store.create_port_request(r.clone()).await.unwrap();
    assert_eq!(
        rev,
        Revision::NEW.next(),
        "port_create_and_get: first revision"
    );
    let got = store.get_port_request(&r.id).await.unwrap();
    let mut expected = r.clone();
    expected.revision = rev;
    assert_eq!(
        got,
        Some(expected),
        "port_create_and_get: read back exactly"
    );
    let missing = PortId::new("conformance-900-missing").unwrap();
    assert_eq!(store.get_port_request(&missing).await.unwrap(), None);
    let found = store.find_open_port_request(&num(900, 2)).await.unwrap();
    assert_eq!(
        found.map(|f| f.id),
        Some(r.id),
        "port_create_and_get: found by number"
    );
    assert!(store
        .find_open_port_request(&num(900, 3))
        .await
        .unwrap()
        .is_none());
}

async fn port_create_existing_id(store: &dyn PortRequestStore) {
    let r = request(901, "a", &[1]);
    store.create_port_request(r.clone()).await.unwrap();
    let mut again = request(901, "a", &[2]);
    again.name = "other".into();
    let e = store.create_port_request(again).await.unwrap_err();
    assert_eq!(e.code(), 409, "port_create_existing_id: {e:?}");
    let kept = store.get_port_request(&r.id).await.unwrap().unwrap();
    assert_eq!(kept.name, r.name, "port_create_existing_id: first kept");
}

async fn port_update_compare_and_swap(store: &dyn PortRequestStore) {
    let r = request(902, "a", &[1]);
    let rev = store.create_port_request(r.clone()).await.unwrap();
    let mut next = store.get_port_request(&r.id).await.unwrap().unwrap();
    next.state = PortState::Submitted;
    let rev2 = store.update_port_request(next.clone(), rev).await.unwrap();
    assert_eq!(
        rev2,
        rev.next(),
        "port_update_compare_and_swap: revision + 1"
    );
    let e = store
        .update_port_request(next.clone(), rev)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 409, "port_update_compare_and_swap: stale: {e:?}");
    let got = store.get_port_request(&r.id).await.unwrap().unwrap();
    assert_eq!((got.state, got.revision), (PortState::Submitted, rev2));
    let ghost = request(902, "ghost", &[9]);
    let e = store.update_port_request(ghost, rev).await.unwrap_err();
    assert_eq!(
        e.code(),
        409,
        "port_update_compare_and_swap: missing: {e:?}"
    );
}

async fn port_one_open_request_per_number(store: &dyn PortRequestStore) {
    let first = request(903, "a", &[1, 2]);
    let rev = store.create_port_request(first.clone()).await.unwrap();
    let e = store
        .create_port_request(request(903, "b", &[3, 2]))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        Error::NumberIsPorting {
            number: num(903, 2).to_string()
        },
        "port_one_open_request_per_number: a second open request"
    );
    assert!(store
        .get_port_request(&PortId::new("conformance-903-b").unwrap())
        .await
        .unwrap()
        .is_none());
    // Adding a number held elsewhere by an update is refused too.
    let other = request(903, "c", &[4]);
    let rev_c = store.create_port_request(other.clone()).await.unwrap();
    let mut grab = other.clone();
    grab.numbers.push(num(903, 1));
    let e = store.update_port_request(grab, rev_c).await.unwrap_err();
    assert_eq!(e.name(), "number_is_porting", "{e:?}");
    // Once the first is canceled, its numbers are free.
    let mut canceled = store.get_port_request(&first.id).await.unwrap().unwrap();
    canceled.state = PortState::Canceled;
    store.update_port_request(canceled, rev).await.unwrap();
    assert!(store
        .find_open_port_request(&num(903, 1))
        .await
        .unwrap()
        .is_none());
    store
        .create_port_request(request(903, "d", &[1, 2]))
        .await
        .unwrap();
    let holder = store.find_open_port_request(&num(903, 2)).await.unwrap();
    assert_eq!(
        holder.map(|h| h.id.to_string()),
        Some("conformance-903-d".into())
    );
}

async fn port_list_by_account(store: &dyn PortRequestStore) {
    let a = request(904, "a", &[1]);
    let mut b = request(904, "b", &[2]);
    b.created = super::support::at(10);
    let mut elsewhere = request(904, "c", &[3]);
    elsewhere.account = account(904, "other");
    for r in [b.clone(), a.clone(), elsewhere] {
        store.create_port_request(r).await.unwrap();
    }
    let ids: Vec<String> = store
        .list_port_requests(&account(904, "owner"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    let (first, second) = if a.created <= b.created {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(
        ids,
        vec![first.id.to_string(), second.id.to_string()],
        "oldest first"
    );
    assert!(store
        .list_port_requests(&account(904, "nobody"))
        .await
        .unwrap()
        .is_empty());
}
