//! Claim: before a number's carrier calls, its stored record is marked with
//! a claim (compare-and-swap), so that no other writer buys or disconnects
//! it meanwhile, and so that, if the record cannot be written afterwards,
//! the claim stays as the trace reconciliation needs.

use chrono::{DateTime, Utc};

use super::{Request, Stage, Work};
use crate::error::Error;
use crate::lifecycle::CarrierAction;
use crate::manager::NumberManager;
use crate::record::{NumberRecord, Pending};
use crate::store::{BatchMode, Write, WriteResult};

impl NumberManager {
    /// Moves every `Planned` item to `Claimed`, claiming those that need it
    /// in one batch write. A claim that lost a race sends its item back to
    /// `Queued`.
    pub(super) async fn claim(&self, stages: &mut [Stage], req: &Request, now: DateTime<Utc>) {
        let until = crate::duration::after(now, self.inner.config.claim_ttl);
        let mut writes = Vec::new();
        let mut at = Vec::new();
        for (i, stage) in stages.iter().enumerate() {
            let Stage::Planned(work) = stage else {
                continue;
            };
            if let Some(read) = work.read.as_ref().filter(|_| needs_claim(work)) {
                let claim = Pending {
                    operation: req.op.operation(),
                    by: req.opts.auth_by.clone(),
                    until,
                };
                writes.push(claimed(read, claim));
                at.push(i);
            }
        }
        let mut answers: Vec<Option<WriteResult>> = stages.iter().map(|_| None).collect();
        if !writes.is_empty() {
            match self
                .inner
                .store
                .write_batch(writes, BatchMode::PerItem)
                .await
            {
                Ok(results) => {
                    for (i, r) in at.iter().zip(results) {
                        if let Some(slot) = answers.get_mut(*i) {
                            *slot = Some(r);
                        }
                    }
                }
                Err(e) => {
                    for i in &at {
                        if let Some(stage) = stages.get_mut(*i) {
                            *stage = Stage::Failed(e.clone());
                        }
                    }
                }
            }
        }
        for (stage, answer) in stages.iter_mut().zip(answers) {
            if matches!(stage, Stage::Planned(_)) {
                *stage = match (stage.take(), answer) {
                    (Stage::Planned(work), None) => Stage::Claimed(work, None),
                    (Stage::Planned(work), Some(Ok(revision))) => {
                        Stage::Claimed(work, Some(revision))
                    }
                    (_, Some(Err(Error::Conflict { .. }))) => Stage::Queued,
                    (_, Some(Err(e))) => Stage::Failed(e),
                    (other, _) => other,
                };
            }
        }
    }
}

/// Whether a number is claimed before its side effects: a purchase (so no
/// other writer buys it too) and a disconnect (so that, if the record cannot
/// be written afterwards, the claim stays as the trace reconciliation needs).
fn needs_claim(work: &Work) -> bool {
    work.read.is_some()
        && matches!(
            work.plan.carrier,
            CarrierAction::Acquire | CarrierAction::Disconnect
        )
}

/// The write that puts `claim` on the stored record.
fn claimed(read: &NumberRecord, claim: Pending) -> Write {
    let mut record = read.clone();
    record.pending = Some(claim);
    Write::Update {
        record,
        expected: read.revision,
    }
}
