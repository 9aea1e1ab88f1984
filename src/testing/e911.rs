//! [`FaultyE911`]: any [`E911Provider`] whose calls fail as a [`FaultPlan`] says.

use async_trait::async_trait;

use super::plan::{Failures, Injector};
use super::FaultPlan;
use crate::e911::{E911Address, E911Provider, Validation};
use crate::error::{Error, Result, UnspecifiedKind};
use crate::number::PhoneNumber;

const FAILURES: Failures = Failures {
    error: |method| {
        Error::unspecified(
            UnspecifiedKind::ServerError,
            format!("injected fault in {method}"),
        )
    },
    timeout: |method| Error::timeout(format!("injected in {method}")),
};

/// Wraps any [`E911Provider`] and fails its calls as a [`FaultPlan`] says;
/// every other call goes straight to the inner provider, and `name` is the
/// inner provider's.
///
/// The method names a plan can single out are those of [`E911Provider`]:
/// `validate`, `provision`, `remove`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::e911::{E911Provider, SimulatedE911};
/// use number_manager::testing::{FaultKind, FaultPlan, FaultyE911};
/// use number_manager::PhoneNumber;
///
/// let plan = FaultPlan::nth(1, FaultKind::Timeout).only(&["remove"]);
/// let e911 = FaultyE911::new(SimulatedE911::seed_demo(), plan);
/// let n = PhoneNumber::from_e164("+14155550100").unwrap();
/// let e = e911.remove(&n).await.unwrap_err();
/// assert_eq!(e.to_json()["message"], "timeout");
/// assert_eq!(e911.inner().remove_count(), 0, "not performed");
/// assert!(e911.remove(&n).await.is_ok());
/// # });
/// ```
#[derive(Debug)]
pub struct FaultyE911<E> {
    inner: E,
    faults: Injector,
}

impl<E: E911Provider> FaultyE911<E> {
    /// Wraps `inner`, failing calls as `plan` says.
    pub fn new(inner: E, plan: FaultPlan) -> Self {
        FaultyE911 {
            inner,
            faults: Injector::new(plan),
        }
    }

    /// Replaces the plan and resets the counters.
    pub fn set_plan(&self, plan: FaultPlan) {
        self.faults.set_plan(plan);
    }

    /// Calls the plan matched since it was set.
    pub fn calls(&self) -> usize {
        self.faults.calls()
    }

    /// Faults injected since the plan was set.
    pub fn injected(&self) -> usize {
        self.faults.injected()
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &E {
        &self.inner
    }
}

#[async_trait]
impl<E: E911Provider> E911Provider for FaultyE911<E> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn validate(&self, address: &E911Address) -> Result<Validation> {
        let call = self.inner.validate(address);
        self.faults.run("validate", &FAILURES, call).await
    }
    async fn provision(
        &self,
        number: &PhoneNumber,
        address: &E911Address,
        caller_name: &str,
    ) -> Result<E911Address> {
        let call = self.inner.provision(number, address, caller_name);
        self.faults.run("provision", &FAILURES, call).await
    }
    async fn remove(&self, number: &PhoneNumber) -> Result<()> {
        let call = self.inner.remove(number);
        self.faults.run("remove", &FAILURES, call).await
    }
}
