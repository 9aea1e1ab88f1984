//! Plan: each queued number's plan and the record it leads to. The pure
//! planner (`lifecycle::plan`) decides who may do what and which transition
//! applies; this stage hands it the facts and then builds the new record:
//! the change to public fields, the features, the E911 work.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::gather::{AccountCache, Edit, RequestFacts};
use super::report::{outcome, unchanged_outcome};
use super::{Batch, E911Work, Request, Settled, Stage, Work};
use crate::account::AccountInfo;
use crate::e911::{E911Address, Validation};
use crate::error::{ConflictKind, Error, Result, UnspecifiedKind};
use crate::features::{self, E911Step, FeatureContext, FeatureLists};
use crate::lifecycle::{self, ActorFacts, CarrierAction, Op, Plan};
use crate::manager::NumberManager;
use crate::number::PhoneNumber;
use crate::record::{merge_public, validate_public_within, NumberRecord};
use crate::state::NumberState;
use crate::util::timeout;

/// The carrier module of MDN numbers (mobile numbers created for devices).
const MDN_MODULE: &str = "mdn";

/// What the planner decided for one number, with the facts it was given.
struct Decided {
    plan: Plan,
    facts: ActorFacts,
    owner: Option<AccountInfo>,
    /// The carrier module a new record gets.
    new_carrier: String,
}

/// A planned number, and whether it changes nothing.
struct Planned {
    work: Work,
    noop: bool,
}

impl NumberManager {
    /// Plans the `queued` items of the batch against their fresh `reads`. A
    /// dry run and a change that changes nothing are settled here.
    pub(super) async fn plan(
        &self,
        batch: &mut Batch,
        queued: &[usize],
        reads: Vec<Option<NumberRecord>>,
        req: &Request,
        facts: &mut RequestFacts,
        now: DateTime<Utc>,
    ) {
        for (i, read) in queued.iter().zip(reads) {
            let (Some(number), Some(stage)) = (batch.numbers.get(*i), batch.stages.get_mut(*i))
            else {
                continue;
            };
            *stage = match self.plan_one(*number, read, req, facts, now).await {
                Ok(Planned { work, .. }) if req.opts.dry_run => {
                    Stage::Settled(outcome(work, now, true))
                }
                Ok(Planned { work, noop: true }) => Stage::Settled(unchanged_outcome(work, now)),
                Ok(Planned { work, noop: false }) => Stage::Planned(Box::new(work)),
                Err(e) => Stage::Failed(e),
            };
        }
    }

    async fn plan_one(
        &self,
        number: PhoneNumber,
        read: Option<NumberRecord>,
        req: &Request,
        facts: &mut RequestFacts,
        now: DateTime<Utc>,
    ) -> Result<Planned> {
        let for_plan = planned_against(number, read.as_ref(), &req.op, now)?;
        let decided = self.decide(number, for_plan, req, facts).await?;
        let base = match for_plan {
            Some(r) => r.clone(),
            None => {
                let mut fresh =
                    NumberRecord::new(number, decided.plan.to, decided.new_carrier, now);
                // Keep the store revision of a replaced discovery entry for the CAS.
                if let Some(r) = read.as_ref() {
                    fresh.revision = r.revision;
                }
                fresh
            }
        };
        let plan = decided.plan;
        let had_e911 = base.features.contains_key("e911");
        let mut new = lifecycle::apply(base, &plan, now);
        let mut noop = plan.noop;
        let mut e911 = None;
        if let Some(rec) = new.as_mut().filter(|_| !plan.noop) {
            // Fields the actor may not read never pass on to it.
            let readable = for_plan.is_none_or(|r| lifecycle::may_read(r, &decided.facts));
            e911 = self
                .shape(number, rec, readable, decided.owner.as_ref(), facts)
                .await?;
            noop = e911.is_none()
                && plan.carrier == CarrierAction::None
                && read.as_ref().is_some_and(|r| same_content(r, rec));
        }
        if plan.reset && had_e911 {
            e911 = Some(E911Work::Remove);
        }
        let held = self.held_purchase(&plan, read.as_ref()).await?;
        let work = Work {
            number,
            read,
            plan,
            new,
            e911,
            held,
        };
        Ok(Planned { work, noop })
    }

    /// The facts about the actor and the record, and the planner's answer.
    async fn decide(
        &self,
        number: PhoneNumber,
        record: Option<&NumberRecord>,
        req: &Request,
        facts: &mut RequestFacts,
    ) -> Result<Decided> {
        let owner_id = record.and_then(|r| r.assigned_to.as_ref());
        let owner = match owner_id {
            Some(id) => self.account_cached(&mut facts.accounts, id).await?,
            None => None,
        };
        let new_carrier = match &req.op {
            Op::Create {
                state: NumberState::PortIn,
                ..
            }
            | Op::Create {
                ported_in: true, ..
            } => self.inner.config.port_in_module.clone(),
            Op::Create { .. } if req.opts.mdn_run => MDN_MODULE.to_string(),
            _ => self.inner.carriers.default_module().to_string(),
        };
        let carrier = record.map_or(new_carrier.as_str(), |r| r.carrier.as_str());
        let mut actor_facts = self.facts(
            &facts.actor,
            owner.as_ref(),
            owner_id,
            facts.target.as_ref(),
            carrier,
        );
        actor_facts.mdn_run = req.opts.mdn_run;
        if record.is_none() {
            self.check_not_porting(number, &req.op).await?;
        }
        let mut plan = lifecycle::plan(
            number,
            record,
            &req.op,
            &actor_facts,
            &self.inner.config.state,
        )?;
        if let Some(r) = record.filter(|_| !actor_facts.number_is_local) {
            if !self.still_held(r, &plan).await? {
                // The carrier no longer holds it for us: buy it again or fail.
                plan.carrier = CarrierAction::Acquire;
            }
        }
        Ok(Decided {
            plan,
            facts: actor_facts,
            owner,
            new_carrier,
        })
    }

    /// A new number must not be in an active port request (`submitted`,
    /// `pending`, `scheduled`): it is on its way here, and its request
    /// creates it on completion (ported in, which skips this check).
    async fn check_not_porting(&self, number: PhoneNumber, op: &Op) -> Result<()> {
        if !matches!(
            op,
            Op::Create {
                ported_in: false,
                ..
            }
        ) {
            return Ok(());
        }
        match self.inner.ports.find_open_port_request(&number).await? {
            Some(r) if r.state.is_active() => Err(Error::NumberIsPorting {
                number: number.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Applies the request's change to a new record's public fields and
    /// recomputes its features; returns the E911 work they call for.
    async fn shape(
        &self,
        number: PhoneNumber,
        rec: &mut NumberRecord,
        readable: bool,
        owner: Option<&AccountInfo>,
        facts: &mut RequestFacts,
    ) -> Result<Option<E911Work>> {
        self.edit_fields(rec, &facts.edit, readable)?;
        let reseller = self.reseller_lists(owner, &mut facts.accounts).await?;
        let ctx = FeatureContext {
            config: &self.inner.config.features,
            reseller: reseller.as_ref(),
            admin: facts.actor.is_admin(),
            known_carriers: self.inner.carriers.names(),
        };
        match features::apply(rec, &ctx)? {
            E911Step::None => Ok(None),
            E911Step::Remove => Ok(Some(E911Work::Remove)),
            E911Step::Provision { key, address } => self
                .validate_e911(number, key, &address, rec, &mut facts.accounts)
                .await
                .map(Some),
        }
    }

    /// Changes the public fields (or `used_by`) as the request says. A
    /// change is validated; fields left as they were are not.
    fn edit_fields(&self, rec: &mut NumberRecord, edit: &Edit, readable: bool) -> Result<()> {
        match edit {
            Edit::Keep => {}
            Edit::Replace {
                fields,
                checked,
                always,
            } => {
                if (*always || !readable) && rec.public != *fields {
                    checked.clone()?;
                    rec.public = fields.clone();
                }
            }
            Edit::Merge(patch) => {
                let before = rec.public.clone();
                merge_public(&mut rec.public, patch);
                if rec.public != before {
                    validate_public_within(&rec.public, &self.inner.config.limits)?;
                }
            }
            Edit::Set(fields) => {
                let before = rec.public.clone();
                for (key, value) in fields {
                    if value.is_null() {
                        // Keeps the other keys in their order.
                        rec.public.shift_remove(key);
                    } else {
                        rec.public.insert(key.clone(), value.clone());
                    }
                }
                if rec.public != before {
                    validate_public_within(&rec.public, &self.inner.config.limits)?;
                }
            }
            Edit::UsedBy(app) => rec.used_by = app.clone(),
        }
        Ok(())
    }

    /// For a purchase over a lapsed claim: the order data of an interrupted
    /// purchase that went through (taken over instead of buying again).
    async fn held_purchase(
        &self,
        plan: &Plan,
        read: Option<&NumberRecord>,
    ) -> Result<Option<Map<String, Value>>> {
        match read {
            Some(r) if plan.carrier == CarrierAction::Acquire => {
                match self.reconcile_stale_claim(r).await? {
                    Settled::Ours(data) => Ok(Some(data)),
                    Settled::Free => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// Whether a number from our inventory that `plan` puts to use is still held
    /// at its carrier. Only a carrier that can list what it holds is asked;
    /// one that cannot answer fails the operation, since nothing may go in
    /// service on a hold we no longer have.
    async fn still_held(&self, record: &NumberRecord, plan: &Plan) -> Result<bool> {
        let from_inventory = matches!(
            record.state,
            NumberState::Available | NumberState::Aging | NumberState::Released
        );
        let to_use = matches!(plan.to, NumberState::InService | NumberState::Reserved);
        if !from_inventory || !to_use || plan.noop || plan.carrier != CarrierAction::None {
            return Ok(true);
        }
        let Some(carrier) = self
            .inner
            .carriers
            .get(&record.carrier)
            .filter(|c| c.capabilities().owned_numbers)
        else {
            return Ok(true);
        };
        let answer = timeout(
            self.inner.config.carrier_timeout,
            carrier.owned_numbers(&[record.number]),
        )
        .await
        .ok_or_else(|| super::act::carrier_timeout(record.number))??;
        match answer.get(&record.number) {
            Some(crate::carrier::Ownership::Ours { .. }) => Ok(true),
            Some(crate::carrier::Ownership::NotOurs) => Ok(false),
            None => Err(Error::Unspecified {
                kind: UnspecifiedKind::CarrierCannotTell,
                cause: Some(format!(
                    "carrier '{}' could not tell whether it still holds {}",
                    record.carrier, record.number
                )),
            }),
        }
    }

    /// The feature lists that apply to a number of `owner`: the owner's own, else
    /// those of its nearest ancestor that sets any (Kazoo's reseller config).
    pub(crate) async fn reseller_lists(
        &self,
        owner: Option<&AccountInfo>,
        cache: &mut AccountCache,
    ) -> Result<Option<FeatureLists>> {
        let Some(owner) = owner else { return Ok(None) };
        if owner.features.is_some() {
            return Ok(owner.features.clone());
        }
        for ancestor in owner.tree.iter().rev() {
            if let Some(info) = self.account_cached(cache, ancestor).await? {
                if info.features.is_some() {
                    return Ok(info.features);
                }
            }
        }
        Ok(None)
    }

    /// Validates a submitted E911 address with the provider: one geocoded
    /// address is provisioned later, several candidates or none fail now.
    async fn validate_e911(
        &self,
        number: PhoneNumber,
        key: &'static str,
        submitted: &Value,
        record: &NumberRecord,
        cache: &mut AccountCache,
    ) -> Result<E911Work> {
        let provider = self.inner.e911.as_ref().ok_or_else(|| {
            Error::unspecified(
                UnspecifiedKind::E911ProviderNotConfigured,
                number.to_string(),
            )
        })?;
        let address = E911Address::from_json(submitted)?;
        match provider.validate(&address).await? {
            Validation::Invalid { message } => Err(Error::E911Invalid {
                provider: provider.name().to_string(),
                address: Box::new(submitted.clone()),
                message,
            }),
            Validation::Candidates(c) if c.len() > 1 => Err(Error::MultipleChoice {
                provider: provider.name().to_string(),
                address: Box::new(submitted.clone()),
                details: c.iter().map(E911Address::to_json).collect(),
                message: "more than one address found".into(),
            }),
            Validation::Candidates(_) | Validation::Geocoded(_) => {
                let caller_name = self.caller_name(&address, record, cache).await?;
                Ok(E911Work::Provision {
                    key,
                    address: Box::new(address),
                    caller_name,
                })
            }
        }
    }

    /// Kazoo's E911 caller name: the address's, else the owner's name padded
    /// to 3 characters, else a default.
    async fn caller_name(
        &self,
        address: &E911Address,
        record: &NumberRecord,
        cache: &mut AccountCache,
    ) -> Result<String> {
        if let Some(name) = address.caller_name.as_ref().filter(|n| !n.is_empty()) {
            return Ok(name.clone());
        }
        if let Some(owner) = &record.assigned_to {
            if let Some(info) = self.account_cached(cache, owner).await? {
                if !info.name.is_empty() {
                    return Ok(format!("{:<3}", info.name));
                }
            }
        }
        Ok("Valued Customer".into())
    }
}

/// The record an operation is planned against: none for an absent number or
/// an expired search result (as good as absent), and none for a create over
/// a remembered search result (which creates afresh). A number another
/// operation has claimed is a conflict, except for a read.
fn planned_against<'r>(
    number: PhoneNumber,
    read: Option<&'r NumberRecord>,
    op: &Op,
    now: DateTime<Utc>,
) -> Result<Option<&'r NumberRecord>> {
    let live = read.filter(|r| !(r.state == NumberState::Discovery && r.is_expired(now)));
    if live.is_some_and(|r| r.is_claimed(now)) && !matches!(op, Op::Read) {
        return Err(Error::conflict(number.to_string(), ConflictKind::Claimed));
    }
    Ok(match (op, live) {
        (Op::Create { .. }, Some(r)) if r.state == NumberState::Discovery => None,
        (_, r) => r,
    })
}

/// Whether a new record differs from the one read only in bookkeeping
/// (revision, modified time).
fn same_content(read: &NumberRecord, new: &mut NumberRecord) -> bool {
    let (revision, modified) = (new.revision, new.modified);
    new.revision = read.revision;
    new.modified = read.modified;
    let same = *read == *new;
    new.revision = revision;
    new.modified = modified;
    same
}
