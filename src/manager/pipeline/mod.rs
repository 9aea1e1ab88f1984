//! The batch pipeline every mutating operation runs through, as typed stages.
//!
//! A request runs over a batch of numbers (a single-number call is a batch of
//! one). Each number of the batch is in one [`Stage`], and each stage of the
//! pipeline, in its own file, moves the numbers it is responsible for on to
//! the next:
//!
//! | stage | file | moves |
//! |---|---|---|
//! | gather | `gather.rs` | inputs parsed once; actor, target and owners fetched once; records read |
//! | plan | `plan.rs` | `Queued` to `Planned` (or straight to `Settled` for a dry run or a no-op) |
//! | claim | `claim.rs` | `Planned` to `Claimed` |
//! | act | `act.rs` | `Claimed` to `Acted` (or `Unclaiming` when its carrier / E911 calls failed) |
//! | commit | `commit.rs` | `Acted` to `Committed` (or `Unwritten`, or back to `Queued` on a lost race) |
//! | settle | `settle.rs` | `Unwritten` to `Failed`, giving back what it bought; E911 removals; lapsed leases |
//! | report | `report.rs` | `Committed` to `Settled`, with its event |
//!
//! A number that fails a stage is `Failed` with its error and the others go
//! on. Numbers that lost a compare-and-swap race go back to `Queued` and run
//! again from a fresh read, up to `Config::cas_retries` times.
//! `reconcile.rs` settles claims whose holder died.

use serde_json::{Map, Value};

use super::{NumberManager, Options, Outcome};
use crate::account::AccountId;
use crate::e911::E911Address;
use crate::error::{ConflictKind, Error, Result};
use crate::lifecycle::{Op, Plan};
use crate::number::PhoneNumber;
use crate::record::{NumberRecord, Revision};

mod act;
mod claim;
mod commit;
mod gather;
mod plan;
mod reconcile;
mod report;
mod settle;

pub(crate) use gather::{ActorCtx, Input};
pub(crate) use reconcile::{is_removal_claim, Settled};

/// How an operation changes public fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// Keep them.
    Keep,
    /// Replace them (POST, PUT).
    Replace(Map<String, Value>),
    /// Replace them only if the body is non-empty (activate, reserve: an empty
    /// body keeps the fields, fixing Kazoo's wipe).
    ReplaceIfAny(Map<String, Value>),
    /// Deep merge (PATCH).
    Merge(Map<String, Value>),
    /// Set each top-level key to its value, replacing what is there, and
    /// remove the keys given as `null` (the typed operations: `set_cnam`,
    /// `set_e911`, `remove_e911`).
    Set(Map<String, Value>),
    /// Set the application using the number.
    UsedBy(Option<String>),
}

/// One operation over a batch.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) op: Op,
    pub(crate) change: Change,
    pub(crate) opts: Options,
    /// The idempotency key whose progress records each committed number's
    /// outcome, in the same transaction as its record.
    pub(crate) journal: Option<String>,
}

impl Request {
    /// Whether lapsed leases are released before this request runs: on every
    /// real change and on reads, never inside a release itself.
    fn settles_leases(&self) -> bool {
        !matches!(self.op, Op::Release) && (!self.opts.dry_run || matches!(self.op, Op::Read))
    }

    /// The account the operation assigns numbers to, if any.
    pub(crate) fn op_target(&self) -> Option<&AccountId> {
        match &self.op {
            Op::Create { assign_to, .. }
            | Op::Activate { assign_to }
            | Op::Reserve { assign_to, .. } => Some(assign_to),
            _ => None,
        }
    }
}

/// A planned change to one number: what was read, what the planner decided,
/// and what is to be written.
pub(super) struct Work {
    number: PhoneNumber,
    /// The record as read (`None`: absent).
    read: Option<NumberRecord>,
    plan: Plan,
    /// The record to write (`None`: remove it).
    new: Option<NumberRecord>,
    e911: Option<E911Work>,
    /// An interrupted purchase of the number went through earlier: this
    /// system holds it already, with this order data, so the operation takes
    /// it over instead of buying it again.
    held: Option<Map<String, Value>>,
}

/// What the E911 provider must do for a number.
enum E911Work {
    /// Provision the address (validated while planning) under public key `key`.
    Provision {
        key: &'static str,
        address: Box<E911Address>,
        caller_name: String,
    },
    /// Remove the address, once the record without it is written.
    Remove,
}

/// Where one number of the batch stands.
pub(super) enum Stage {
    /// To be read and planned (again, after losing a compare-and-swap race).
    Queued,
    /// Planned; nothing done yet.
    Planned(Box<Work>),
    /// Claimed at this revision when its side effects need a claim.
    Claimed(Box<Work>, Option<Revision>),
    /// Its carrier and E911 calls went through; `bought` when this operation
    /// bought the number (so a failed write gives it back).
    Acted {
        work: Box<Work>,
        claim: Option<Revision>,
        bought: bool,
    },
    /// Its side effects failed after it was claimed: the record as read is
    /// written back over the claim, then the number fails with `error`.
    Unclaiming {
        record: NumberRecord,
        claim: Revision,
        error: Error,
    },
    /// Its write failed for sure: what it bought is given back, then it fails.
    Unwritten {
        work: Box<Work>,
        bought: bool,
        error: Error,
    },
    /// Written; the new record's revision.
    Committed { work: Box<Work>, revision: Revision },
    /// Done.
    Settled(Outcome),
    /// Failed.
    Failed(Error),
}

impl Stage {
    /// Moves the stage out, leaving `Queued`; the caller puts the next one back.
    fn take(&mut self) -> Stage {
        std::mem::replace(self, Stage::Queued)
    }
}

/// The numbers of one request, each in its stage; an item's index is its key.
struct Batch {
    numbers: Vec<PhoneNumber>,
    stages: Vec<Stage>,
}

impl Batch {
    fn new(numbers: Vec<PhoneNumber>) -> Self {
        let stages = numbers.iter().map(|_| Stage::Queued).collect();
        Batch { numbers, stages }
    }

    /// The items waiting to be read and planned.
    fn queued(&self) -> Vec<usize> {
        let queued = |(i, s): (usize, &Stage)| matches!(s, Stage::Queued).then_some(i);
        self.stages.iter().enumerate().filter_map(queued).collect()
    }

    /// Fails every queued item with `error`.
    fn fail_queued(&mut self, error: &Error) {
        for s in self
            .stages
            .iter_mut()
            .filter(|s| matches!(s, Stage::Queued))
        {
            *s = Stage::Failed(error.clone());
        }
    }

    /// Out of retries: every item still queued lost every race.
    fn give_up(&mut self) {
        for (n, s) in self.numbers.iter().zip(self.stages.iter_mut()) {
            if matches!(s, Stage::Queued) {
                *s = Stage::Failed(Error::conflict(
                    n.to_string(),
                    ConflictKind::RetriesExhausted,
                ));
            }
        }
    }

    /// Each item's outcome or error, in input order.
    fn into_results(self) -> Vec<Result<Outcome>> {
        let result = |s: Stage| match s {
            Stage::Settled(outcome) => Ok(outcome),
            Stage::Failed(e) => Err(e),
            _ => Err(Error::Internal {
                cause: "the pipeline left a number unfinished".into(),
            }),
        };
        self.stages.into_iter().map(result).collect()
    }
}

impl NumberManager {
    /// Runs `req` over `numbers` (distinct); returns each number's outcome or
    /// error, in the order of `numbers`. Fails as a whole only when a lapsed
    /// lease cannot be settled or the target account cannot be looked up.
    pub(crate) async fn execute(
        &self,
        numbers: Vec<PhoneNumber>,
        req: &Request,
    ) -> Result<Vec<Result<Outcome>>> {
        let mut batch = Batch::new(numbers);
        if batch.numbers.is_empty() {
            return Ok(Vec::new());
        }
        let mut facts = match self.gather(req).await? {
            Ok(facts) => facts,
            Err(e) => {
                batch.fail_queued(&e);
                return Ok(batch.into_results());
            }
        };
        let mut attempt = 0u32;
        loop {
            let queued = batch.queued();
            if queued.is_empty() {
                break;
            }
            let now = self.inner.clock.now();
            let reads = match self.read(&batch, &queued).await {
                Ok(reads) => reads,
                Err(e) => {
                    batch.fail_queued(&e);
                    break;
                }
            };
            if req.settles_leases()
                && attempt <= self.inner.config.cas_retries
                && self.release_lapsed_first(&reads, now).await?
            {
                attempt += 1;
                continue;
            }
            if !req.opts.dry_run {
                self.purge_stale_discoveries(req, &reads, now).await;
            }
            self.plan(&mut batch, &queued, reads, req, &mut facts, now)
                .await;
            if req.opts.dry_run {
                break;
            }
            self.run_changes(&mut batch.stages, req).await;
            attempt += 1;
            if attempt > self.inner.config.cas_retries {
                batch.give_up();
            }
        }
        Ok(batch.into_results())
    }

    /// The stages after planning: claim, act, commit, settle, report.
    async fn run_changes(&self, stages: &mut Vec<Stage>, req: &Request) {
        let now = self.inner.clock.now();
        self.claim(stages, req, now).await;
        *stages = self.act(std::mem::take(stages), req).await;
        self.commit(stages, req, now).await;
        self.settle(stages).await;
        self.report(stages, req, now);
    }
}
