//! Report: committed numbers become outcomes, each with its event; outcomes
//! gathered into the [`BatchResult`] of a collection call.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{Input, Request, Stage, Work};
use crate::error::Result;
use crate::events::Event;
use crate::manager::{BatchResult, NumberManager, Outcome};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;

impl NumberManager {
    /// Moves every `Committed` item to `Settled`, emitting its event.
    pub(super) fn report(&self, stages: &mut [Stage], req: &Request, now: DateTime<Utc>) {
        for stage in stages.iter_mut() {
            if !matches!(stage, Stage::Committed { .. }) {
                continue;
            }
            if let Stage::Committed { mut work, revision } = stage.take() {
                if let Some(new) = work.new.as_mut() {
                    new.revision = revision;
                }
                self.emit(req, &work, now);
                *stage = Stage::Settled(outcome(*work, now, false));
            }
        }
    }

    /// Reports one committed change to the event sink.
    fn emit(&self, req: &Request, work: &Work, now: DateTime<Utc>) {
        self.inner.events.emit(&event_of(req, work, now));
    }
}

/// The event of one change (its `after` is the new record's revision, which
/// the store sets again when it writes the event into the outbox).
pub(super) fn event_of(req: &Request, work: &Work, now: DateTime<Utc>) -> Event {
    let read = work.read.as_ref();
    let new = work.new.as_ref();
    let mut event = Event::new(
        work.number,
        work.plan.operation,
        work.plan.from,
        new.map_or(NumberState::Deleted, |r| r.state),
        req.opts.auth_by.clone(),
        (
            read.and_then(|r| r.assigned_to.clone()),
            new.and_then(|r| r.assigned_to.clone()),
        ),
        now,
        (
            read.map_or(Revision::NEW, |r| r.revision),
            new.map_or(Revision::NEW, |r| r.revision),
        ),
    );
    event.request_id = req.opts.request_id.clone();
    event.features_before = read.map(|r| r.features.clone()).unwrap_or_default();
    event.features_after = new.map(|r| r.features.clone()).unwrap_or_default();
    let empty = serde_json::Map::new();
    event.changed_fields = crate::events::changed_fields(
        read.map_or(&empty, |r| &r.public),
        new.map_or(&empty, |r| &r.public),
    );
    event
}

/// What an operation did (or, on a dry run, would do) to a number.
pub(super) fn outcome(work: Work, now: DateTime<Utc>, dry_run: bool) -> Outcome {
    let Work {
        number,
        read,
        plan,
        new,
        ..
    } = work;
    Outcome {
        record: new.unwrap_or_else(|| removed(number, read, now)),
        plan,
        dry_run,
    }
}

/// The outcome of a change that changes nothing: the record as it stands.
pub(super) fn unchanged_outcome(work: Work, now: DateTime<Utc>) -> Outcome {
    match work.read {
        Some(record) => Outcome {
            record,
            plan: work.plan,
            dry_run: false,
        },
        None => outcome(work, now, false),
    }
}

/// The record an outcome shows, borrowed when it is the new record.
pub(super) fn shown_record(work: &Work, now: DateTime<Utc>) -> Cow<'_, NumberRecord> {
    match &work.new {
        Some(r) => Cow::Borrowed(r),
        None => Cow::Owned(removed(work.number, work.read.clone(), now)),
    }
}

/// A removed number as an outcome shows it: the old record in state
/// `deleted`, owned by nobody, with its public fields and reserve history
/// gone (what the plan did to it).
fn removed(number: PhoneNumber, read: Option<NumberRecord>, now: DateTime<Utc>) -> NumberRecord {
    let Some(mut r) = read else {
        return NumberRecord::new(number, NumberState::Deleted, "local", now);
    };
    r.state = NumberState::Deleted;
    r.set_assigned_to(None);
    r.reserve_history.clear();
    r.public.clear();
    r.features.retain(|k, _| k == "local");
    r.used_by = None;
    r.pending = None;
    r.modified = now;
    r
}

impl BatchResult {
    /// The collection result of `inputs`: unparseable ones fail alone, keyed
    /// by the raw input; `results` answer the parsed ones, in order.
    pub(crate) fn of_inputs(inputs: &[Input], results: Vec<Result<Outcome>>) -> BatchResult {
        let mut batch = BatchResult::default();
        let mut results = results.into_iter();
        for input in inputs {
            let result = match &input.number {
                Err(e) => Err(e.clone()),
                Ok(_) => results.next().unwrap_or_else(|| {
                    Err(crate::error::Error::Internal {
                        cause: "operation produced no result".into(),
                    })
                }),
            };
            batch.insert(input.key(), result);
        }
        batch
    }

    /// The collection result of `numbers`, answered by `results` in order.
    pub(crate) fn of_numbers(numbers: &[PhoneNumber], results: Vec<Result<Outcome>>) -> Self {
        let mut batch = BatchResult::default();
        for (n, result) in numbers.iter().zip(results) {
            batch.insert(n.to_string(), result);
        }
        batch
    }

    fn insert(&mut self, key: String, result: Result<Outcome>) {
        match result {
            Ok(outcome) => {
                self.success.insert(key, outcome);
            }
            Err(e) => {
                self.errors.insert(key, e);
            }
        }
    }
}
