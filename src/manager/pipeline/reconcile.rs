//! Reconcile: claims whose holder died (the claim lapsed) may hide a carrier
//! call that went through before the holder could record it. The carrier is
//! asked what became of it, and the claim is settled accordingly.

use serde_json::{Map, Value};

use crate::account::Actor;
use crate::carrier::{Availability, NumberOrder, Ownership};
use crate::error::{ConflictKind, Error, Result};
use crate::events::Event;
use crate::manager::NumberManager;
use crate::record::{NumberRecord, Pending, Revision};
use crate::state::Operation;
use crate::store::StoreExt;
use crate::util::timeout;

/// What became of an interrupted purchase, as far as the carrier can tell.
pub(crate) enum Settled {
    /// No claim to settle, or the purchase never happened.
    Free,
    /// The purchase went through: this system holds the number, with this
    /// order data.
    Ours(Map<String, Value>),
}

/// Whether a record's claim was taken by an operation that removes the
/// number and disconnects it upstream.
pub(crate) fn is_removal_claim(record: &NumberRecord) -> bool {
    record
        .pending
        .as_ref()
        .is_some_and(|p| matches!(p.operation, Operation::Delete | Operation::Release))
}

impl NumberManager {
    /// A record still carrying a claim whose holder died (the claim expired)
    /// may have been bought by that holder before it could record the purchase.
    /// Ask the carrier when it can tell:
    ///
    /// - a carrier that answers `owned_numbers` says for sure: the number is
    ///   ours (the purchase went through; its order data comes back) or not;
    /// - else one that answers `check_numbers`: still on offer means the
    ///   purchase never happened; anything else is refused as a conflict, so
    ///   nothing is bought twice;
    /// - a carrier that can do neither is trusted to refuse a number it has
    ///   already sold.
    ///
    /// No answer (an error, a timeout, a number left out) is a conflict too.
    pub(crate) async fn reconcile_stale_claim(&self, record: &NumberRecord) -> Result<Settled> {
        if record.pending.is_none() {
            return Ok(Settled::Free);
        }
        let settled = self.ask_about_claim(record).await;
        let ours = settled.as_ref().map(|s| matches!(s, Settled::Ours(_)));
        crate::observe::claim_settled(record.number, &record.carrier, ours);
        settled
    }

    /// What the carrier says of the purchase behind `record`'s claim.
    async fn ask_about_claim(&self, record: &NumberRecord) -> Result<Settled> {
        let Some(carrier) = self.inner.carriers.get(&record.carrier) else {
            return Ok(Settled::Free);
        };
        let caps = carrier.capabilities();
        let number = std::slice::from_ref(&record.number);
        let conflict = |kind: ConflictKind| Error::conflict(record.number.to_string(), kind);
        if caps.owned_numbers {
            let answer = timeout(
                self.inner.config.carrier_timeout,
                carrier.owned_numbers(number),
            )
            .await;
            return match answer
                .and_then(|a| a.ok())
                .and_then(|mut m| m.remove(&record.number))
            {
                Some(Ownership::Ours { carrier_data }) => Ok(Settled::Ours(carrier_data)),
                Some(Ownership::NotOurs) => Ok(Settled::Free),
                None => Err(conflict(ConflictKind::PurchaseUncertain)),
            };
        }
        if !caps.check_numbers {
            return Ok(Settled::Free);
        }
        let answer = timeout(
            self.inner.config.carrier_timeout,
            carrier.check_numbers(number),
        )
        .await;
        match answer {
            Some(Ok(m)) if m.get(&record.number) == Some(&Availability::Success) => {
                Ok(Settled::Free)
            }
            _ => Err(conflict(ConflictKind::PurchaseNoLongerOffered)),
        }
    }

    /// Settles the lapsed claim of a removal (a delete, or a release that
    /// deletes), whose holder died or whose write failed after it asked the
    /// carrier to disconnect: `true` when the carrier says the number is no
    /// longer ours (the disconnect went through, so the record must go too),
    /// `false` when it is still ours (the removal never happened; only the
    /// claim goes). A carrier without `owned_numbers` (a local one, say) is
    /// trusted to have done nothing, as its failed disconnect said; one that
    /// has it but does not answer leaves the claim: a conflict.
    pub(crate) async fn settle_removal_claim(&self, record: &NumberRecord) -> Result<bool> {
        let Some(carrier) = self
            .inner
            .carriers
            .get(&record.carrier)
            .filter(|c| c.capabilities().owned_numbers)
        else {
            return Ok(false);
        };
        match self.ownership(carrier.as_ref(), record.number).await {
            Some(Ownership::NotOurs) => Ok(true),
            Some(Ownership::Ours { .. }) => Ok(false),
            None => Err(Error::conflict(
                record.number.to_string(),
                ConflictKind::RemovalUncertain,
            )),
        }
    }

    /// Maintenance's side of [`reconcile_stale_claim`](Self::reconcile_stale_claim),
    /// where nobody is buying the number now: a purchase that went through is
    /// given back to the carrier (its caller was told it failed, or never heard
    /// back), so the claim can go.
    ///
    /// Before giving it back, the record is claimed afresh with
    /// compare-and-swap, as a purchase claims it: otherwise a buyer taking the
    /// number over at the same moment could record a number that was just
    /// given away. Returns the record's new revision when the number was given
    /// back (the caller's next write must expect it), `None` when there was
    /// nothing to give back.
    pub(crate) async fn settle_stale_claim(
        &self,
        record: &NumberRecord,
    ) -> Result<Option<Revision>> {
        let Settled::Ours(carrier_data) = self.reconcile_stale_claim(record).await? else {
            return Ok(None);
        };
        let order = NumberOrder {
            number: record.number,
            account: record
                .pending
                .as_ref()
                .and_then(|p| p.by.account().cloned()),
            carrier_data,
        };
        let now = self.inner.clock.now();
        let revision = self.claim_give_back(record, now).await?;
        // On failure the fresh claim stays: it lapses, and the next run asks again.
        let answer = self.disconnect_timed(&record.carrier, &order).await;
        if let Some(given) = &answer {
            crate::observe::gave_back(record.number, &record.carrier, given.as_ref().err());
        }
        match answer {
            Some(Ok(())) => {
                let mut event = Event::new(
                    record.number,
                    Operation::InterruptedPurchaseGivenBack,
                    Some(record.state),
                    record.state,
                    Actor::System,
                    // The record stays as it was; only the carrier's hold goes.
                    (record.assigned_to.clone(), record.assigned_to.clone()),
                    now,
                    (record.revision, revision),
                );
                event.features_before = record.features.clone();
                event.features_after = record.features.clone();
                self.emit_standalone(event).await;
                Ok(Some(revision))
            }
            Some(Err(e)) => Err(Error::Conflict {
                number: record.number.to_string(),
                kind: ConflictKind::GiveBackFailed,
                detail: Some(e.to_string()),
            }),
            None => Err(Error::Conflict {
                number: record.number.to_string(),
                kind: ConflictKind::GiveBackCarrierMissing,
                detail: Some(format!("carrier {}", record.carrier)),
            }),
        }
    }

    /// Claims `record` afresh for giving its number back (compare-and-swap,
    /// as a purchase claims it); the claimed record's revision.
    async fn claim_give_back(
        &self,
        record: &NumberRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Revision> {
        let mut claimed = record.clone();
        claimed.pending = Some(Pending {
            operation: Operation::GiveBack,
            // Still the purchase's claimant, so a retry gives back the same order.
            by: record
                .pending
                .as_ref()
                .map_or(Actor::System, |p| p.by.clone()),
            until: crate::duration::after(now, self.inner.config.claim_ttl),
        });
        self.inner
            .store
            .update(claimed, record.revision)
            .await
            .map_err(|e| match e {
                // The record changed since it was read: someone else settles it.
                Error::Conflict { .. } => {
                    Error::conflict(record.number.to_string(), ConflictKind::Claimed)
                }
                other => other,
            })
    }
}
