//! Commit: one batch write, compare-and-swap on the revision each number was
//! read (or claimed) at. Records whose side effects failed after their claim
//! are written back in the same batch. Under an idempotency key, the write
//! also records each committed number's outcome in the key's progress.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::report::shown_record;
use super::{Request, Stage};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::lifecycle::{CarrierAction, Plan};
use crate::manager::NumberManager;
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::store::{Journal, Write, WriteResult};

/// An outcome as journaled: the same document as [`Outcome`](crate::Outcome),
/// serialized from borrowed parts.
#[derive(Serialize)]
struct OutcomeDoc<'a> {
    record: &'a NumberRecord,
    plan: &'a Plan,
    dry_run: bool,
}

impl NumberManager {
    /// Writes every `Acted` item (to `Committed`, `Unwritten`, `Failed`, or
    /// back to `Queued` on a lost race) and every `Unclaiming` one (to `Failed`).
    pub(super) async fn commit(&self, stages: &mut [Stage], req: &Request, now: DateTime<Utc>) {
        let mut writes = Vec::new();
        let mut at = Vec::new();
        // Journaled outcomes and events are taken before the writes consume
        // the records.
        let mut outcomes = Vec::new();
        let mut events = Vec::new();
        let outbox = self.outbox_on();
        for (i, stage) in stages.iter_mut().enumerate() {
            let outcome = req.journal.as_ref().and_then(|_| journaled(stage, now));
            let event = outbox.then(|| event_for(stage, req, now)).flatten();
            if let Some(write) = write_of(stage) {
                writes.push(write);
                outcomes.push(outcome);
                events.push(event);
                at.push(i);
            }
        }
        if writes.is_empty() {
            return;
        }
        let written: Vec<(PhoneNumber, Option<Revision>)> = writes
            .iter()
            .map(|w| (number_of(w), expected_revision(w)))
            .collect();
        match self.write_back(writes, outcomes, &events, req).await {
            Ok(results) => {
                for (i, r) in at.iter().zip(results) {
                    if let Some(stage) = stages.get_mut(*i) {
                        *stage = after_write(stage.take(), r);
                    }
                }
            }
            Err(e) => {
                let unwritten = self.unwritten(&written).await;
                for (i, sure) in at.iter().zip(unwritten) {
                    if let Some(stage) = stages.get_mut(*i) {
                        *stage = after_failed_batch(stage.take(), &e, sure);
                    }
                }
            }
        }
    }

    /// The writes, journaled under the request's idempotency key (if any)
    /// with the outcome each commit reports when it succeeds, and with the
    /// outbox on, each commit's event.
    async fn write_back(
        &self,
        writes: Vec<Write>,
        outcomes: Vec<Option<Value>>,
        events: &[Option<Event>],
        req: &Request,
    ) -> Result<Vec<WriteResult>> {
        let journal = req.journal.as_ref().map(|key| Journal {
            key: key.clone(),
            outcomes,
        });
        self.write_with_events(writes, journal.as_ref(), events)
            .await
    }

    /// After a batch write failed as a whole, which of its writes surely did not
    /// go through: the record still stands at the revision the write expected
    /// (a failed batch may have been applied in part or in full). When the
    /// store cannot be read either, none is sure: a purchase then keeps its
    /// claim, and reconciliation settles it with the carrier.
    async fn unwritten(&self, written: &[(PhoneNumber, Option<Revision>)]) -> Vec<bool> {
        let numbers: Vec<PhoneNumber> = written.iter().map(|(n, _)| *n).collect();
        let Ok(stored) = self.inner.store.get_many(&numbers).await else {
            return vec![false; written.len()];
        };
        stored
            .iter()
            .zip(written)
            .map(|(r, (_, expected))| match (r, expected) {
                (Some(r), Some(exp)) => r.revision == *exp,
                (None, None) => true,
                _ => false,
            })
            .collect()
    }
}

/// The write an item asks for, if any. An `Unclaiming` item hands its record
/// over to the write and fails with its error whatever the write answers.
fn write_of(stage: &mut Stage) -> Option<Write> {
    match stage {
        Stage::Acted { work, claim, .. } => {
            let expected = claim.or(work.read.as_ref().map(|r| r.revision));
            match (&work.new, expected) {
                (Some(rec), Some(expected)) => Some(Write::Update {
                    record: rec.clone(),
                    expected,
                }),
                (Some(rec), None) => Some(Write::Insert(rec.clone())),
                (None, Some(expected)) => Some(Write::Delete {
                    number: work.number,
                    expected,
                }),
                (None, None) => {
                    let number = work.number.to_string();
                    *stage = Stage::Failed(Error::NotFound { number });
                    None
                }
            }
        }
        Stage::Unclaiming { .. } => match stage.take() {
            Stage::Unclaiming {
                record,
                claim,
                error,
            } => {
                *stage = Stage::Failed(error);
                Some(Write::Update {
                    record,
                    expected: claim,
                })
            }
            other => {
                *stage = other;
                None
            }
        },
        _ => None,
    }
}

/// What the idempotency progress records for an item's write: its outcome,
/// for a commit (unserializable: nothing, so a retry redoes the number).
fn journaled(stage: &Stage, now: DateTime<Utc>) -> Option<Value> {
    let Stage::Acted { work, .. } = stage else {
        return None;
    };
    let record = shown_record(work, now);
    serde_json::to_value(OutcomeDoc {
        record: &record,
        plan: &work.plan,
        dry_run: false,
    })
    .ok()
}

/// The event a commit of the item reports (none for an item that only
/// gives its claim back).
fn event_for(stage: &Stage, req: &Request, now: DateTime<Utc>) -> Option<Event> {
    match stage {
        Stage::Acted { work, .. } => Some(super::report::event_of(req, work, now)),
        _ => None,
    }
}

/// An item after its write answered.
fn after_write(stage: Stage, result: WriteResult) -> Stage {
    let Stage::Acted { work, bought, .. } = stage else {
        return stage;
    };
    match result {
        Ok(revision) => Stage::Committed { work, revision },
        // A purchase is never retried: what it bought is given back instead.
        Err(Error::Conflict { .. }) | Err(Error::NumberExists { .. })
            if work.plan.carrier != CarrierAction::Acquire =>
        {
            Stage::Queued
        }
        Err(error) => Stage::Unwritten {
            work,
            bought,
            error,
        },
    }
}

/// An item after the batch write failed as a whole: a commit fails with the
/// batch's error, and gives back what it bought only when its write surely
/// did not go through.
fn after_failed_batch(stage: Stage, error: &Error, surely_unwritten: bool) -> Stage {
    match stage {
        Stage::Acted { work, bought, .. } if surely_unwritten => Stage::Unwritten {
            work,
            bought,
            error: error.clone(),
        },
        Stage::Acted { .. } => Stage::Failed(error.clone()),
        other => other,
    }
}

fn number_of(w: &Write) -> PhoneNumber {
    match w {
        Write::Insert(record) | Write::Update { record, .. } => record.number,
        Write::Delete { number, .. } => *number,
    }
}

/// The revision a write expects the stored record to have (`None`: absent).
fn expected_revision(w: &Write) -> Option<Revision> {
    match w {
        Write::Insert(_) => None,
        Write::Update { expected, .. } | Write::Delete { expected, .. } => Some(*expected),
    }
}
