//! Settle: what is left to put right around the writes. Before planning,
//! lapsed reservations go back the way a release would; after the commit, a
//! number whose write failed gives back what this operation bought, and the
//! E911 addresses of committed numbers that no longer show one are removed.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use super::{E911Work, Stage, Work};
use crate::carrier::NumberOrder;
use crate::error::Result;
use crate::manager::NumberManager;
use crate::number::PhoneNumber;
use crate::record::NumberRecord;
use crate::state::NumberState;
use crate::util::join_all;

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl NumberManager {
    /// Releases the lapsed reservations among `reads`, as the system, before
    /// anything else is planned; whether there were any (the batch is then
    /// read again).
    pub(super) async fn release_lapsed_first(
        &self,
        reads: &[Option<NumberRecord>],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let lapsed: Vec<PhoneNumber> = reads
            .iter()
            .flatten()
            .filter(|r| r.state == NumberState::Reserved && r.is_expired(now) && !r.is_claimed(now))
            .map(|r| r.number)
            .collect();
        if lapsed.is_empty() {
            return Ok(false);
        }
        self.release_lapsed(lapsed).await?;
        Ok(true)
    }

    /// Moves every `Unwritten` item to `Failed`, giving back what it bought,
    /// and removes the E911 addresses the committed items dropped.
    pub(super) async fn settle(&self, stages: &mut [Stage]) {
        for stage in stages.iter_mut() {
            if !matches!(stage, Stage::Unwritten { .. }) {
                continue;
            }
            if let Stage::Unwritten {
                work,
                bought,
                error,
            } = stage.take()
            {
                if bought {
                    self.undo_purchase(&work).await;
                }
                *stage = Stage::Failed(error);
            }
        }
        let removals: Vec<PhoneNumber> = stages
            .iter()
            .filter_map(|s| match s {
                Stage::Committed { work, .. } if matches!(work.e911, Some(E911Work::Remove)) => {
                    Some(work.number)
                }
                _ => None,
            })
            .collect();
        self.remove_e911_upstream(&removals).await;
    }

    /// A number was bought but its record could not be written: give it back so
    /// nothing is paid for without a record (best effort; a failure here leaves
    /// the claim for reconciliation).
    async fn undo_purchase(&self, work: &Work) {
        let carrier_name = work
            .read
            .as_ref()
            .map(|r| r.carrier.clone())
            .unwrap_or_default();
        let new = work.new.as_ref();
        let order = NumberOrder {
            number: work.number,
            account: new.and_then(|r| r.assigned_to.clone()),
            carrier_data: new.map(|r| r.carrier_data.clone()).unwrap_or_default(),
        };
        self.give_back(work.number, &carrier_name, &order).await;
    }

    /// Removes the E911 addresses of numbers whose records no longer show
    /// them, concurrently. Kazoo treats a failed removal as removed: the
    /// record is already written without the address.
    async fn remove_e911_upstream(&self, numbers: &[PhoneNumber]) {
        let Some(provider) = &self.inner.e911 else {
            return;
        };
        let futures: Vec<BoxFut<'_, ()>> = numbers
            .iter()
            .map(|n| {
                let fut: BoxFut<'_, ()> = Box::pin(async move {
                    let _ = provider.remove(n).await;
                });
                fut
            })
            .collect();
        join_all(futures).await;
    }
}
