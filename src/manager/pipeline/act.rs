//! Act: the carrier and E911 calls of every claimed number, concurrently
//! across the batch (which `Limits::max_numbers` bounds), each call within
//! `Config::carrier_timeout`. A number whose calls fail is left as it was:
//! what this operation bought is given back, and its claim is lifted unless
//! the carrier may still complete the call.

use std::future::Future;
use std::pin::Pin;

use serde_json::Map;

use super::{E911Work, Request, Stage, Work};
use crate::carrier::{Carrier, NumberOrder, Ownership};
use crate::error::{Error, Result, UnspecifiedKind};
use crate::events::Event;
use crate::lifecycle::CarrierAction;
use crate::manager::NumberManager;
use crate::number::PhoneNumber;
use crate::record::Revision;
use crate::state::{NumberState, Operation};
use crate::util::{join_all, timeout};

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a number's side effects failed, and whether its claim must stay (a
/// call that timed out or whose answer was lost may still go through
/// upstream: the claim is the trace reconciliation needs).
struct Failure {
    error: Error,
    keep_claim: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            keep_claim: false,
        }
    }
}

/// The `timeout` fault of a carrier call about `number`.
pub(super) fn carrier_timeout(number: PhoneNumber) -> Error {
    Error::timeout(number.to_string())
}

impl NumberManager {
    /// Moves every `Claimed` item on: `Acted` when its calls went through,
    /// else `Unclaiming` (claimed, so its record is put back) or `Failed`.
    pub(super) async fn act(&self, stages: Vec<Stage>, req: &Request) -> Vec<Stage> {
        let futures: Vec<BoxFut<'_, Stage>> = stages
            .into_iter()
            .map(|stage| {
                let fut: BoxFut<'_, Stage> = Box::pin(async move {
                    match stage {
                        Stage::Claimed(work, claim) => self.act_one(work, claim, req).await,
                        other => other,
                    }
                });
                fut
            })
            .collect();
        join_all(futures).await
    }

    async fn act_one(&self, mut work: Box<Work>, claim: Option<Revision>, req: &Request) -> Stage {
        let carrier = carrier_of(&work);
        let order = order_of(&work, req);
        let result = match self.carrier_call(&mut work, &carrier, &order).await {
            Ok(bought) => self
                .provision(&mut work, bought, &carrier, &order)
                .await
                .map(|()| bought),
            Err(failure) => Err(failure),
        };
        let error = match result {
            Ok(bought) => {
                return Stage::Acted {
                    work,
                    claim,
                    bought,
                }
            }
            Err(Failure {
                error,
                keep_claim: true,
            }) => return Stage::Failed(error),
            Err(Failure { error, .. }) => error,
        };
        match (claim, work.read) {
            (Some(claim), Some(record)) => Stage::Unclaiming {
                record,
                claim,
                error,
            },
            _ => Stage::Failed(error),
        }
    }

    /// The plan's carrier call; whether it bought the number.
    async fn carrier_call(
        &self,
        work: &mut Work,
        carrier: &str,
        order: &NumberOrder,
    ) -> std::result::Result<bool, Failure> {
        match work.plan.carrier {
            CarrierAction::None => Ok(false),
            CarrierAction::Acquire => {
                // Taken over from an interrupted purchase: no second sale. If
                // this commit fails in turn, it is given back like a fresh one.
                let data = match work.held.take() {
                    Some(data) => data,
                    None => self.buy(work.number, carrier, order).await?,
                };
                if let Some(rec) = work.new.as_mut() {
                    rec.carrier_data.extend(data);
                }
                Ok(true)
            }
            CarrierAction::Disconnect => {
                self.disconnect(work.number, carrier, order).await?;
                Ok(false)
            }
        }
    }

    /// Buys the number; its order data.
    async fn buy(
        &self,
        number: PhoneNumber,
        carrier_name: &str,
        order: &NumberOrder,
    ) -> std::result::Result<Map<String, serde_json::Value>, Failure> {
        let carrier = self.inner.carriers.get(carrier_name).ok_or_else(|| {
            Error::unspecified(UnspecifiedKind::CarrierNotSpecified, carrier_name)
        })?;
        let Some(answer) = timeout(self.inner.config.carrier_timeout, carrier.acquire(order)).await
        else {
            return Err(Failure {
                error: carrier_timeout(number),
                keep_claim: true,
            });
        };
        match answer {
            Ok(data) => Ok(data),
            Err(error) => Err(Failure {
                keep_claim: self.may_hold(carrier.as_ref(), number).await,
                error,
            }),
        }
    }

    /// Disconnects the number upstream. A number of an unknown module is
    /// tolerated, as in Kazoo; a hung disconnect may still go through, so its
    /// claim stays.
    async fn disconnect(
        &self,
        number: PhoneNumber,
        carrier: &str,
        order: &NumberOrder,
    ) -> std::result::Result<(), Failure> {
        if let Some(Err(e)) = self.disconnect_timed(carrier, order).await {
            let timed_out = matches!(
                &e,
                Error::Unspecified {
                    kind: UnspecifiedKind::Timeout,
                    ..
                }
            );
            if let Err(error) = self.disconnect_failed(carrier, number, e).await {
                return Err(Failure {
                    error,
                    keep_claim: timed_out,
                });
            }
        }
        Ok(())
    }

    /// Provisions the E911 address the plan validated. On failure, what this
    /// operation bought is given back, so nothing is half moved. (Removal is
    /// done once the record is written: removed upstream first, a failed
    /// write would leave the record showing an address that is gone.)
    async fn provision(
        &self,
        work: &mut Work,
        bought: bool,
        carrier: &str,
        order: &NumberOrder,
    ) -> std::result::Result<(), Failure> {
        let Some(E911Work::Provision {
            key,
            address,
            caller_name,
        }) = &work.e911
        else {
            return Ok(());
        };
        let provider = self.inner.e911.as_ref().ok_or_else(|| {
            Error::unspecified(
                UnspecifiedKind::E911ProviderNotConfigured,
                work.number.to_string(),
            )
        })?;
        match provider.provision(&work.number, address, caller_name).await {
            Ok(provisioned) => {
                if let Some(rec) = work.new.as_mut() {
                    let json = provisioned.to_json();
                    rec.public.insert((*key).to_string(), json.clone());
                    rec.features.insert("e911".into(), json);
                }
                Ok(())
            }
            Err(e) => {
                if bought {
                    self.give_back(work.number, carrier, order).await;
                }
                Err(e.into())
            }
        }
    }

    /// After a purchase answered with an error: whether it may have gone
    /// through all the same (the answer was lost on the way back). A carrier
    /// that answers `owned_numbers` is asked, and only a clear "not ours" rules
    /// it out; one that cannot tell is trusted to have bought nothing.
    async fn may_hold(&self, carrier: &dyn Carrier, number: PhoneNumber) -> bool {
        carrier.capabilities().owned_numbers
            && !matches!(
                self.ownership(carrier, number).await,
                Some(Ownership::NotOurs)
            )
    }

    /// What the carrier says of `number` now, within the carrier timeout;
    /// `None` when it cannot tell (no `owned_numbers`, an error, a timeout, a
    /// number left out of the answer).
    pub(super) async fn ownership(
        &self,
        carrier: &dyn Carrier,
        number: PhoneNumber,
    ) -> Option<Ownership> {
        if !carrier.capabilities().owned_numbers {
            return None;
        }
        timeout(
            self.inner.config.carrier_timeout,
            carrier.owned_numbers(std::slice::from_ref(&number)),
        )
        .await
        .and_then(|a| a.ok())
        .and_then(|mut m| m.remove(&number))
    }

    /// A disconnect that failed, or answered too late: done all the same when
    /// the carrier says the number is no longer ours (the answer was lost),
    /// else its error.
    async fn disconnect_failed(
        &self,
        carrier_name: &str,
        number: PhoneNumber,
        e: Error,
    ) -> Result<()> {
        let Some(carrier) = self.inner.carriers.get(carrier_name) else {
            return Err(e);
        };
        match self.ownership(carrier.as_ref(), number).await {
            Some(Ownership::NotOurs) => Ok(()),
            _ => Err(e),
        }
    }

    /// Disconnects `order` through the carrier `carrier_name` within
    /// `Config::carrier_timeout` (a timeout is the `timeout` fault). `None`
    /// when no such carrier is configured.
    pub(super) async fn disconnect_timed(
        &self,
        carrier_name: &str,
        order: &NumberOrder,
    ) -> Option<Result<()>> {
        let carrier = self.inner.carriers.get(carrier_name)?;
        Some(
            timeout(self.inner.config.carrier_timeout, carrier.disconnect(order))
                .await
                .unwrap_or_else(|| Err(carrier_timeout(order.number))),
        )
    }

    /// Gives a number bought in this operation back to its carrier (best
    /// effort: a failure is reported as an `undo_purchase_failed` event, and
    /// the claim, if any, is left for reconciliation).
    pub(super) async fn give_back(
        &self,
        number: PhoneNumber,
        carrier_name: &str,
        order: &NumberOrder,
    ) {
        let answer = self.disconnect_timed(carrier_name, order).await;
        let missing = || Error::unspecified(UnspecifiedKind::CarrierNotSpecified, carrier_name);
        match &answer {
            Some(Ok(())) => crate::observe::gave_back(number, carrier_name, None),
            Some(Err(e)) => crate::observe::gave_back(number, carrier_name, Some(e)),
            None => crate::observe::gave_back(number, carrier_name, Some(&missing())),
        }
        if let Some(Err(_)) = answer {
            self.emit_standalone(Event::new(
                number,
                Operation::UndoPurchaseFailed,
                None,
                NumberState::Discovery,
                crate::account::Actor::System,
                // Bought for this account, but no record says so.
                (order.account.clone(), None),
                self.inner.clock.now(),
                (Revision::NEW, Revision::NEW),
            ))
            .await;
        }
    }
}

/// The carrier module the number's calls go to: the stored record's, else
/// the new record's.
fn carrier_of(work: &Work) -> String {
    work.read
        .as_ref()
        .or(work.new.as_ref())
        .map(|r| r.carrier.clone())
        .unwrap_or_default()
}

/// The order a carrier call is about: the target account, else the owner.
fn order_of(work: &Work, req: &Request) -> NumberOrder {
    let read = work.read.as_ref();
    NumberOrder {
        number: work.number,
        account: req
            .op_target()
            .cloned()
            .or_else(|| read.and_then(|r| r.assigned_to.clone())),
        carrier_data: read.map(|r| r.carrier_data.clone()).unwrap_or_default(),
    }
}
