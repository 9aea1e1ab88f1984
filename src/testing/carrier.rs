//! [`FaultyCarrier`]: any [`Carrier`] whose calls fail as a [`FaultPlan`] says.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::plan::{Failures, Injector};
use super::FaultPlan;
use crate::carrier::{
    Availability, Capabilities, Carrier, CarrierHealth, NumberOrder, Ownership, SearchRequest,
    SearchResult,
};
use crate::error::{Error, Result};
use crate::number::PhoneNumber;

const FAILURES: Failures = Failures {
    error: |method| Error::by_carrier(String::new(), format!("injected fault in {method}")),
    timeout: |method| Error::timeout(format!("injected in {method}")),
};

/// Wraps any [`Carrier`] and fails its calls as a [`FaultPlan`] says; every
/// other call goes straight to the inner carrier, and `name` and
/// `capabilities` are the inner carrier's.
///
/// The method names a plan can single out are those of [`Carrier`]:
/// `find_numbers`, `acquire`, `disconnect`, `check_numbers`, `owned_numbers`.
///
/// An [`Ambiguous`](super::FaultKind::Ambiguous) `acquire` or `disconnect`
/// breaks the [`Carrier`] contract on purpose (it moved the number and says
/// it failed): it shows what a host's carrier that does so would cost.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::carrier::{Carrier, NumberOrder, SimulatedCarrier};
/// use number_manager::testing::{FaultKind, FaultPlan, FaultyCarrier};
/// use number_manager::PhoneNumber;
///
/// let plan = FaultPlan::nth(1, FaultKind::Ambiguous).only(&["acquire"]);
/// let carrier = FaultyCarrier::new(SimulatedCarrier::new(7).accept_any_number(), plan);
/// let order = NumberOrder::new(PhoneNumber::from_e164("+14155550100").unwrap());
/// assert!(carrier.acquire(&order).await.is_err());
/// // ... but it went through upstream.
/// assert!(carrier.inner().is_sold(&order.number));
/// # });
/// ```
#[derive(Debug)]
pub struct FaultyCarrier<C> {
    inner: C,
    faults: Injector,
}

impl<C: Carrier> FaultyCarrier<C> {
    /// Wraps `inner`, failing calls as `plan` says.
    pub fn new(inner: C, plan: FaultPlan) -> Self {
        FaultyCarrier {
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

    /// The wrapped carrier.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

#[async_trait]
impl<C: Carrier> Carrier for FaultyCarrier<C> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn health(&self) -> CarrierHealth {
        self.inner.health().await
    }
    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let call = self.inner.find_numbers(request);
        self.faults.run("find_numbers", &FAILURES, call).await
    }
    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        let call = self.inner.acquire(order);
        self.faults.run("acquire", &FAILURES, call).await
    }
    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        let call = self.inner.disconnect(order);
        self.faults.run("disconnect", &FAILURES, call).await
    }
    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        let call = self.inner.check_numbers(numbers);
        self.faults.run("check_numbers", &FAILURES, call).await
    }
    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let call = self.inner.owned_numbers(numbers);
        self.faults.run("owned_numbers", &FAILURES, call).await
    }
}
