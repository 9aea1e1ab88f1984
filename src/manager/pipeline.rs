//! The batch pipeline every mutating operation runs through.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{BatchResult, NumberManager, Options, Outcome};
use crate::account::{AccountId, AccountInfo, Actor};
use crate::carrier::{Availability, Carrier, NumberOrder, Ownership};
use crate::e911::{E911Address, Validation};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::features::{self, E911Step, FeatureContext, FeatureLists};
use crate::number::PhoneNumber;
use crate::record::{
    merge_public, sanitize_public, validate_public_within, NumberRecord, Pending, Revision,
};
use crate::state::{self, ActorFacts, CarrierAction, NumberState, Op, Operation, Plan};
use crate::store::{BatchMode, Journal, StoreExt, Write, WriteResult};
use crate::util::{join_all, timeout};

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

/// The acting account, looked up once per request.
pub(crate) struct ActorCtx {
    pub(crate) actor: Actor,
    pub(crate) info: Option<AccountInfo>,
}

impl ActorCtx {
    pub(crate) fn is_admin(&self) -> bool {
        matches!(self.actor, Actor::System) || self.info.as_ref().is_some_and(|i| i.is_master)
    }
}

/// A number ready to commit.
struct Prepared {
    number: PhoneNumber,
    read: Option<NumberRecord>,
    plan: Plan,
    /// The record to write (`None`: remove).
    new: Option<NumberRecord>,
    e911: Option<E911Work>,
    /// Nothing to write.
    noop: bool,
    /// The carrier sold us the number in this operation.
    acquired: bool,
    /// An interrupted purchase of the number went through earlier: this
    /// system holds it already, with this order data, so the operation takes
    /// it over instead of buying it again.
    held: Option<Map<String, Value>>,
    /// A carrier call timed out: it may still have gone through upstream, so the
    /// claim stays in place as the trace that reconciliation needs.
    uncertain: bool,
}

enum E911Work {
    Provision {
        key: &'static str,
        address: Box<E911Address>,
        caller_name: String,
    },
    Remove,
}

/// What became of an interrupted purchase, as far as the carrier can tell.
pub(crate) enum Settled {
    /// No claim to settle, or the purchase never happened.
    Free,
    /// The purchase went through: this system holds the number, with this
    /// order data.
    Ours(Map<String, Value>),
}

fn carrier_timeout(number: PhoneNumber) -> Error {
    Error::Unspecified {
        message: "timeout".into(),
        cause: Some(number.to_string()),
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A number after its side effects: the work, its claim, and how it went.
type Done = (Prepared, Option<Revision>, Result<()>);

impl NumberManager {
    pub(crate) async fn actor_ctx(&self, actor: &Actor) -> Result<ActorCtx> {
        match actor {
            Actor::System => Ok(ActorCtx {
                actor: actor.clone(),
                info: None,
            }),
            Actor::Account(id) => {
                let info = self.inner.accounts.get(id).await?;
                match info {
                    Some(i) if i.enabled => Ok(ActorCtx {
                        actor: actor.clone(),
                        info: Some(i),
                    }),
                    _ => Err(Error::forbidden(format!(
                        "account '{id}' is unknown or disabled"
                    ))),
                }
            }
        }
    }

    /// Facts about the actor relative to the record's owner and the target.
    pub(crate) fn facts(
        &self,
        actor: &ActorCtx,
        owner: Option<&AccountInfo>,
        owner_id: Option<&AccountId>,
        target: Option<&AccountInfo>,
        carrier: &str,
    ) -> ActorFacts {
        let number_is_local = self.inner.carriers.is_local(carrier);
        let Some(me) = &actor.info else {
            return ActorFacts {
                number_is_local,
                ..ActorFacts::system()
            };
        };
        let owner_or_ancestor = match (owner, owner_id) {
            (Some(o), _) => o.is_self_or_descendant_of(&me.id),
            (None, Some(id)) => id == &me.id,
            (None, None) => false,
        };
        let descendant_of_owner = owner_id.is_some_and(|o| me.is_self_or_descendant_of(o));
        let target_or_ancestor = target.is_some_and(|t| t.is_self_or_descendant_of(&me.id));
        ActorFacts {
            system: false,
            master: me.is_master,
            allow_additions: me.allow_additions,
            account: Some(me.id.clone()),
            owner_or_ancestor,
            descendant_of_owner,
            target_or_ancestor,
            number_is_local,
        }
    }

    /// The actor's facts about one stored record, and the record's owner.
    pub(crate) async fn record_facts(
        &self,
        actor: &ActorCtx,
        record: &NumberRecord,
    ) -> Result<(ActorFacts, Option<AccountInfo>)> {
        let owner = match &record.assigned_to {
            Some(id) => self.inner.accounts.get(id).await?,
            None => None,
        };
        let facts = self.facts(
            actor,
            owner.as_ref(),
            record.assigned_to.as_ref(),
            None,
            &record.carrier,
        );
        Ok((facts, owner))
    }

    pub(crate) async fn account_cached(
        &self,
        cache: &mut HashMap<AccountId, Option<AccountInfo>>,
        id: &AccountId,
    ) -> Result<Option<AccountInfo>> {
        if let Some(hit) = cache.get(id) {
            return Ok(hit.clone());
        }
        let info = self.inner.accounts.get(id).await?;
        cache.insert(id.clone(), info.clone());
        Ok(info)
    }

    /// Parses raw inputs; unparseable ones fail alone, keyed by the raw input.
    pub(crate) fn parse_all(&self, raws: &[String], result: &mut BatchResult) -> Vec<PhoneNumber> {
        let mut out = Vec::with_capacity(raws.len());
        for raw in raws {
            match self.inner.normalizer.parse(raw) {
                Ok(n) => out.push(n),
                Err(e) => {
                    result.errors.insert(raw.clone(), e);
                }
            }
        }
        out
    }

    /// Runs `req` over `numbers`, adding to `result`.
    pub(crate) async fn execute(
        &self,
        numbers: Vec<PhoneNumber>,
        req: &Request,
        result: &mut BatchResult,
    ) -> Result<()> {
        if numbers.is_empty() {
            return Ok(());
        }
        let actor = match self.actor_ctx(&req.opts.auth_by).await {
            Ok(a) => a,
            Err(e) => {
                for n in numbers {
                    result.errors.insert(n.to_string(), e.clone());
                }
                return Ok(());
            }
        };
        let mut cache: HashMap<AccountId, Option<AccountInfo>> = HashMap::new();
        let target = match req.op_target() {
            Some(t) => match self.account_cached(&mut cache, t).await? {
                Some(info) => Some(info),
                None => {
                    let e = Error::AssignFailure {
                        cause: format!("account '{t}' not found"),
                    };
                    for n in numbers {
                        result.errors.insert(n.to_string(), e.clone());
                    }
                    return Ok(());
                }
            },
            None => None,
        };

        let mut todo = numbers;
        let mut attempt = 0u32;
        loop {
            let now = self.inner.clock.now();
            let records = match self.inner.store.get_many(&todo).await {
                Ok(r) => r,
                Err(e) => {
                    for n in todo {
                        result.errors.insert(n.to_string(), e.clone());
                    }
                    return Ok(());
                }
            };
            if req.settles_leases() {
                // A lapsed reservation goes back the way a release would, before anything else.
                let lapsed: Vec<PhoneNumber> = records
                    .iter()
                    .flatten()
                    .filter(|r| {
                        r.state == NumberState::Reserved && r.is_expired(now) && !r.is_claimed(now)
                    })
                    .map(|r| r.number)
                    .collect();
                if !lapsed.is_empty() && attempt <= self.inner.config.cas_retries {
                    self.release_lapsed(lapsed).await?;
                    attempt += 1;
                    continue;
                }
            }
            if !req.opts.dry_run {
                // Expired search results are purged lazily; losing that race is harmless.
                let stale: Vec<Write> = records
                    .iter()
                    .flatten()
                    .filter(|r| {
                        r.state == NumberState::Discovery && r.is_expired(now) && !r.is_claimed(now)
                    })
                    .filter(|_| !matches!(req.op, Op::Create { .. }))
                    .map(|r| Write::Delete {
                        number: r.number,
                        expected: r.revision,
                    })
                    .collect();
                if !stale.is_empty() {
                    let _ = self
                        .inner
                        .store
                        .write_batch(stale, BatchMode::PerItem)
                        .await;
                }
            }
            let mut prepared = Vec::with_capacity(todo.len());
            for (n, rec) in todo.iter().zip(records) {
                match self
                    .prepare(*n, rec, req, &actor, target.as_ref(), &mut cache, now)
                    .await
                {
                    Ok(p) => prepared.push(p),
                    Err(e) => {
                        result.errors.insert(n.to_string(), e);
                    }
                }
            }
            if req.opts.dry_run {
                for p in prepared {
                    let record = outcome_record(&p, now);
                    result.success.insert(
                        p.number.to_string(),
                        Outcome {
                            record,
                            plan: p.plan,
                            dry_run: true,
                        },
                    );
                }
                return Ok(());
            }
            let retry = self.commit(prepared, req, &actor, result).await;
            if retry.is_empty() {
                return Ok(());
            }
            attempt += 1;
            if attempt > self.inner.config.cas_retries {
                for n in retry {
                    result.errors.insert(
                        n.to_string(),
                        Error::Conflict {
                            number: n.to_string(),
                            reason: "concurrent writers won every retry".into(),
                        },
                    );
                }
                return Ok(());
            }
            todo = retry;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn prepare(
        &self,
        number: PhoneNumber,
        read: Option<NumberRecord>,
        req: &Request,
        actor: &ActorCtx,
        target: Option<&AccountInfo>,
        cache: &mut HashMap<AccountId, Option<AccountInfo>>,
        now: DateTime<Utc>,
    ) -> Result<Prepared> {
        // An expired search result is as good as absent.
        let live = read
            .as_ref()
            .filter(|r| !(r.state == NumberState::Discovery && r.is_expired(now)));
        if live.is_some_and(|r| r.is_claimed(now)) && !matches!(req.op, Op::Read) {
            return Err(Error::Conflict {
                number: number.to_string(),
                reason: "number is being changed by another operation".into(),
            });
        }
        // A create over a remembered search result creates afresh.
        let for_plan = match (&req.op, live) {
            (Op::Create { .. }, Some(r)) if r.state == NumberState::Discovery => None,
            (_, r) => r,
        };
        let owner_id = for_plan.and_then(|r| r.assigned_to.clone());
        let owner = match &owner_id {
            Some(id) => self.account_cached(cache, id).await?,
            None => None,
        };
        let new_carrier = match &req.op {
            Op::Create {
                state: NumberState::PortIn,
                ..
            } => self.inner.config.port_in_module.clone(),
            _ => self.inner.carriers.default_module().to_string(),
        };
        let carrier = for_plan
            .map(|r| r.carrier.clone())
            .unwrap_or(new_carrier.clone());
        let facts = self.facts(actor, owner.as_ref(), owner_id.as_ref(), target, &carrier);
        let mut plan = state::plan(number, for_plan, &req.op, &facts, &self.inner.config.state)?;
        if let Some(r) = for_plan.filter(|_| !facts.number_is_local) {
            if !self.still_held(r, &plan).await? {
                // The carrier no longer holds it for us: buy it again or fail.
                plan.carrier = CarrierAction::Acquire;
            }
        }

        let base = match for_plan {
            Some(r) => r.clone(),
            None => {
                let mut fresh = NumberRecord::new(number, plan.to, new_carrier, now);
                // Keep the store revision of a replaced discovery entry for the CAS.
                if let Some(r) = read.as_ref() {
                    fresh.revision = r.revision;
                }
                fresh
            }
        };
        let had_e911 = base.features.contains_key("e911");
        let mut new = state::apply(base, &plan, now);
        let mut noop = plan.noop;

        let mut e911 = None;
        if let Some(rec) = new.as_mut().filter(|_| !plan.noop) {
            let before_public = rec.public.clone();
            match &req.change {
                Change::Keep => {}
                Change::Replace(body) => rec.public = sanitize_public(body),
                Change::ReplaceIfAny(body) => {
                    // Fields the actor may not read never pass on to it.
                    let readable = for_plan.is_none_or(|r| state::may_read(r, &facts));
                    if !body.is_empty() || !readable {
                        rec.public = sanitize_public(body)
                    }
                }
                Change::Merge(patch) => merge_public(&mut rec.public, &sanitize_public(patch)),
                Change::UsedBy(app) => rec.used_by = app.clone(),
            }
            if rec.public != before_public {
                validate_public_within(&rec.public, &self.inner.config.limits)?;
            }
            let reseller = self.reseller_lists(owner.as_ref(), cache).await?;
            let known = self.inner.carriers.names();
            let local = self.inner.carriers.local_names();
            let ctx = FeatureContext {
                config: &self.inner.config.features,
                reseller: reseller.as_ref(),
                admin: actor.is_admin(),
                known_carriers: known,
                local_carriers: local,
            };
            let step = features::apply(rec, &ctx)?;
            e911 = match step {
                E911Step::None => None,
                E911Step::Remove => Some(E911Work::Remove),
                E911Step::Provision { key, address } => Some(
                    self.validate_e911(number, key, &address, rec, cache)
                        .await?,
                ),
            };
            if e911.is_none()
                && plan.carrier == CarrierAction::None
                && read.as_ref().is_some_and(|r| same_content(r, rec))
            {
                noop = true;
            }
        }
        if plan.reset && had_e911 {
            e911 = Some(E911Work::Remove);
        }
        let mut held = None;
        if plan.carrier == CarrierAction::Acquire {
            if let Some(r) = &read {
                if let Settled::Ours(data) = self.reconcile_stale_claim(r).await? {
                    held = Some(data);
                }
            }
        }
        Ok(Prepared {
            number,
            read,
            plan,
            new,
            e911,
            noop,
            acquired: false,
            held,
            uncertain: false,
        })
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
        .ok_or_else(|| carrier_timeout(record.number))??;
        match answer.get(&record.number) {
            Some(Ownership::Ours { .. }) => Ok(true),
            Some(Ownership::NotOurs) => Ok(false),
            None => Err(Error::Unspecified {
                message: "fault by carrier".into(),
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
        cache: &mut HashMap<AccountId, Option<AccountInfo>>,
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

    async fn validate_e911(
        &self,
        number: PhoneNumber,
        key: &'static str,
        submitted: &Value,
        record: &NumberRecord,
        cache: &mut HashMap<AccountId, Option<AccountInfo>>,
    ) -> Result<E911Work> {
        let provider = self.inner.e911.as_ref().ok_or_else(|| Error::Unspecified {
            message: "e911_provider_not_configured".into(),
            cause: Some(number.to_string()),
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
                // Kazoo: the caller name, else the owner's name padded to 3, else a default.
                let mut caller_name = address.caller_name.clone().unwrap_or_default();
                if caller_name.is_empty() {
                    if let Some(owner) = &record.assigned_to {
                        if let Some(info) = self.account_cached(cache, owner).await? {
                            if !info.name.is_empty() {
                                caller_name = format!("{:<3}", info.name);
                            }
                        }
                    }
                }
                if caller_name.is_empty() {
                    caller_name = "Valued Customer".into();
                }
                Ok(E911Work::Provision {
                    key,
                    address: Box::new(address),
                    caller_name,
                })
            }
        }
    }

    /// Claims, side effects, writes. Returns numbers that lost a race and should be retried.
    async fn commit(
        &self,
        prepared: Vec<Prepared>,
        req: &Request,
        actor: &ActorCtx,
        result: &mut BatchResult,
    ) -> Vec<PhoneNumber> {
        let now = self.inner.clock.now();
        let mut retry = Vec::new();
        let mut work: Vec<Prepared> = Vec::with_capacity(prepared.len());
        for p in prepared {
            if p.noop {
                let record = p.read.clone().unwrap_or_else(|| outcome_record(&p, now));
                result.success.insert(
                    p.number.to_string(),
                    Outcome {
                        record,
                        plan: p.plan,
                        dry_run: false,
                    },
                );
            } else {
                work.push(p);
            }
        }

        // 1. Claim numbers about to be bought, so no other writer buys them too.
        let claim_idx: Vec<usize> = work
            .iter()
            .enumerate()
            .filter(|(_, p)| needs_claim(p))
            .map(|(i, _)| i)
            .collect();
        let mut claimed: HashMap<usize, Revision> = HashMap::new();
        if !claim_idx.is_empty() {
            let writes: Vec<Write> = claim_idx
                .iter()
                .filter_map(|i| work[*i].read.as_ref())
                .map(|r| {
                    let mut c = r.clone();
                    c.pending = Some(Pending {
                        operation: req.op.operation(),
                        by: actor.actor.clone(),
                        until: now + self.inner.config.claim_ttl,
                    });
                    Write::Update {
                        record: c,
                        expected: r.revision,
                    }
                })
                .collect();
            match self
                .inner
                .store
                .write_batch(writes, BatchMode::PerItem)
                .await
            {
                Ok(results) => {
                    for (i, r) in claim_idx.iter().zip(results) {
                        match r {
                            Ok(rev) => {
                                claimed.insert(*i, rev);
                            }
                            Err(Error::Conflict { .. }) => retry.push(work[*i].number),
                            Err(e) => {
                                result.errors.insert(work[*i].number.to_string(), e);
                            }
                        }
                    }
                }
                Err(e) => {
                    for i in &claim_idx {
                        result.errors.insert(work[*i].number.to_string(), e.clone());
                    }
                }
            }
        }
        let work: Vec<(Prepared, Option<Revision>)> = work
            .into_iter()
            .enumerate()
            .filter(|(i, p)| !needs_claim(p) || claimed.contains_key(i))
            .map(|(i, p)| {
                let c = claimed.get(&i).copied();
                (p, c)
            })
            .collect();

        // 2. Side effects, concurrently across numbers.
        let futures: Vec<BoxFut<'_, Done>> = work
            .into_iter()
            .map(|(mut p, claim)| {
                let fut: BoxFut<'_, _> = Box::pin(async move {
                    let r = self.side_effects(&mut p, req).await;
                    (p, claim, r)
                });
                fut
            })
            .collect();
        let done = join_all(futures).await;

        // 3. Write back: failures restore claimed records; successes commit.
        let mut writes = Vec::new();
        let mut meta: Vec<(Prepared, bool)> = Vec::new();
        for (p, claim, outcome) in done {
            match outcome {
                Err(e) => {
                    result.errors.insert(p.number.to_string(), e);
                    if p.uncertain {
                        // Leave the claim: whether the carrier sold the number is unknown.
                        continue;
                    }
                    if let (Some(rev), Some(orig)) = (claim, p.read.clone()) {
                        writes.push(Write::Update {
                            record: orig,
                            expected: rev,
                        });
                        meta.push((p, false));
                    }
                }
                Ok(()) => {
                    let expected = claim.or(p.read.as_ref().map(|r| r.revision));
                    let w = match (&p.new, expected) {
                        (Some(rec), Some(exp)) => Write::Update {
                            record: rec.clone(),
                            expected: exp,
                        },
                        (Some(rec), None) => Write::Insert(rec.clone()),
                        (None, Some(exp)) => Write::Delete {
                            number: p.number,
                            expected: exp,
                        },
                        (None, None) => {
                            result.errors.insert(
                                p.number.to_string(),
                                Error::NotFound {
                                    number: p.number.to_string(),
                                },
                            );
                            continue;
                        }
                    };
                    writes.push(w);
                    meta.push((p, true));
                }
            }
        }
        if writes.is_empty() {
            return retry;
        }
        let expected: Vec<Option<Revision>> = writes.iter().map(expected_revision).collect();
        let results = match self.write_back(writes, &meta, req, now).await {
            Ok(r) => r,
            Err(e) => {
                let unwritten = self.unwritten(&meta, &expected).await;
                for ((p, ok), unwritten) in meta.iter().zip(unwritten) {
                    if *ok {
                        result.errors.insert(p.number.to_string(), e.clone());
                        if unwritten {
                            self.undo_purchase(p).await;
                        }
                    }
                }
                return retry;
            }
        };
        let mut removals = Vec::new();
        for ((p, is_commit), r) in meta.into_iter().zip(results) {
            if !is_commit {
                continue;
            }
            match r {
                Ok(rev) => {
                    if matches!(p.e911, Some(E911Work::Remove)) {
                        removals.push(p.number);
                    }
                    let mut record = outcome_record(&p, now);
                    if p.new.is_some() {
                        record.revision = rev;
                    }
                    self.emit(&p, &record, actor, now);
                    result.success.insert(
                        p.number.to_string(),
                        Outcome {
                            record,
                            plan: p.plan,
                            dry_run: false,
                        },
                    );
                }
                Err(Error::Conflict { .. }) | Err(Error::NumberExists { .. })
                    if p.plan.carrier != CarrierAction::Acquire =>
                {
                    retry.push(p.number)
                }
                Err(e) => {
                    self.undo_purchase(&p).await;
                    result.errors.insert(p.number.to_string(), e);
                }
            }
        }
        self.remove_e911(&removals).await;
        retry
    }

    /// Removes the E911 addresses of numbers whose records no longer show
    /// them, concurrently. Kazoo treats a failed removal as removed: the
    /// record is already written without the address.
    async fn remove_e911(&self, numbers: &[PhoneNumber]) {
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

    /// After a batch write failed as a whole, which of its writes surely did not
    /// go through: the record still stands at the revision the write expected
    /// (a failed batch may have been applied in part or in full). When the
    /// store cannot be read either, none is sure: a purchase then keeps its
    /// claim, and reconciliation settles it with the carrier.
    async fn unwritten(
        &self,
        meta: &[(Prepared, bool)],
        expected: &[Option<Revision>],
    ) -> Vec<bool> {
        let numbers: Vec<PhoneNumber> = meta.iter().map(|(p, _)| p.number).collect();
        let Ok(stored) = self.inner.store.get_many(&numbers).await else {
            return vec![false; meta.len()];
        };
        stored
            .iter()
            .zip(expected)
            .map(|(r, exp)| match (r, exp) {
                (Some(r), Some(exp)) => r.revision == *exp,
                (None, None) => true,
                _ => false,
            })
            .collect()
    }

    /// The commit's writes, journaled under the request's idempotency key (if
    /// any) with the outcome each commit reports when it succeeds.
    async fn write_back(
        &self,
        writes: Vec<Write>,
        meta: &[(Prepared, bool)],
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Vec<WriteResult>> {
        let Some(key) = &req.journal else {
            return self
                .inner
                .store
                .write_batch(writes, BatchMode::PerItem)
                .await;
        };
        let outcomes = meta
            .iter()
            .map(|(p, is_commit)| {
                let outcome = || Outcome {
                    record: outcome_record(p, now),
                    plan: p.plan.clone(),
                    dry_run: false,
                };
                // Unserializable: nothing recorded, so a retry redoes the number.
                is_commit
                    .then(|| serde_json::to_value(outcome()).ok())
                    .flatten()
            })
            .collect();
        let journal = Journal {
            key: key.clone(),
            outcomes,
        };
        self.inner
            .store
            .write_batch_journaled(writes, BatchMode::PerItem, &journal)
            .await
    }

    /// A number was bought but its record could not be written: give it back so
    /// nothing is paid for without a record (best effort; a failure here leaves
    /// the claim for reconciliation).
    async fn undo_purchase(&self, p: &Prepared) {
        if !p.acquired {
            return;
        }
        let carrier_name = p
            .read
            .as_ref()
            .map(|r| r.carrier.clone())
            .unwrap_or_default();
        let order = NumberOrder {
            number: p.number,
            account: p.new.as_ref().and_then(|r| r.assigned_to.clone()),
            carrier_data: p
                .new
                .as_ref()
                .map(|r| r.carrier_data.clone())
                .unwrap_or_default(),
        };
        self.give_back(p.number, &carrier_name, &order).await;
    }

    /// Disconnects `order` through the carrier `carrier_name` within
    /// `Config::carrier_timeout` (a timeout is the `timeout` fault). `None`
    /// when no such carrier is configured.
    async fn disconnect_timed(
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

    async fn give_back(&self, number: PhoneNumber, carrier_name: &str, order: &NumberOrder) {
        if let Some(Err(_)) = self.disconnect_timed(carrier_name, order).await {
            self.inner.events.emit(&Event {
                number,
                operation: Operation::UndoPurchaseFailed,
                from: None,
                to: NumberState::Discovery,
                actor: Actor::System,
                at: self.inner.clock.now(),
                before: Revision::NEW,
                after: Revision::NEW,
            });
        }
    }

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
        let Some(carrier) = self.inner.carriers.get(&record.carrier) else {
            return Ok(Settled::Free);
        };
        let caps = carrier.capabilities();
        let number = std::slice::from_ref(&record.number);
        let conflict = |reason: &str| Error::Conflict {
            number: record.number.to_string(),
            reason: reason.into(),
        };
        if caps.owned_numbers {
            let answer = timeout(
                self.inner.config.carrier_timeout,
                carrier.owned_numbers(number),
            )
            .await;
            return match answer.and_then(|a| a.ok()).and_then(|mut m| m.remove(&record.number)) {
                Some(Ownership::Ours { carrier_data }) => Ok(Settled::Ours(carrier_data)),
                Some(Ownership::NotOurs) => Ok(Settled::Free),
                None => Err(conflict(
                    "an interrupted purchase of this number may have gone through; the carrier cannot tell now",
                )),
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
            _ => Err(conflict(
                "an interrupted purchase of this number may have gone through; the carrier no longer offers it",
            )),
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
            None => Err(Error::Conflict {
                number: record.number.to_string(),
                reason: "an interrupted removal of this number may have disconnected it; the carrier cannot tell now".into(),
            }),
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
            account: record.pending.as_ref().and_then(|p| p.by.account().cloned()),
            carrier_data,
        };
        let now = self.inner.clock.now();
        let mut claimed = record.clone();
        claimed.pending = Some(Pending {
            operation: Operation::GiveBack,
            // Still the purchase's claimant, so a retry gives back the same order.
            by: record
                .pending
                .as_ref()
                .map_or(Actor::System, |p| p.by.clone()),
            until: now + self.inner.config.claim_ttl,
        });
        let revision = self
            .inner
            .store
            .update(claimed, record.revision)
            .await
            .map_err(|e| match e {
                // The record changed since it was read: someone else settles it.
                Error::Conflict { .. } => Error::Conflict {
                    number: record.number.to_string(),
                    reason: "number is being changed by another operation".into(),
                },
                other => other,
            })?;
        // On failure the fresh claim stays: it lapses, and the next run asks again.
        match self.disconnect_timed(&record.carrier, &order).await {
            Some(Ok(())) => {
                self.inner.events.emit(&Event {
                    number: record.number,
                    operation: Operation::InterruptedPurchaseGivenBack,
                    from: Some(record.state),
                    to: record.state,
                    actor: Actor::System,
                    at: now,
                    before: record.revision,
                    after: revision,
                });
                Ok(Some(revision))
            }
            Some(Err(e)) => Err(Error::Conflict {
                number: record.number.to_string(),
                reason: format!(
                    "an interrupted purchase of this number went through and giving it back failed: {e}"
                ),
            }),
            None => Err(Error::Conflict {
                number: record.number.to_string(),
                reason: format!(
                    "an interrupted purchase of this number went through and its carrier {} is not configured",
                    record.carrier
                ),
            }),
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
    async fn ownership(&self, carrier: &dyn Carrier, number: PhoneNumber) -> Option<Ownership> {
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

    /// Carrier and E911 calls for one number; on failure nothing is left half done.
    async fn side_effects(&self, p: &mut Prepared, req: &Request) -> Result<()> {
        let carrier_name = p
            .read
            .as_ref()
            .map(|r| r.carrier.clone())
            .or_else(|| p.new.as_ref().map(|r| r.carrier.clone()))
            .unwrap_or_default();
        let order = NumberOrder {
            number: p.number,
            account: req
                .op_target()
                .cloned()
                .or_else(|| p.read.as_ref().and_then(|r| r.assigned_to.clone())),
            carrier_data: p
                .read
                .as_ref()
                .map(|r| r.carrier_data.clone())
                .unwrap_or_default(),
        };
        let mut acquired = false;
        match p.plan.carrier {
            CarrierAction::None => {}
            CarrierAction::Acquire if p.held.is_some() => {
                // Taken over from an interrupted purchase: no second sale. If
                // this commit fails in turn, it is given back like a fresh one.
                if let (Some(data), Some(rec)) = (p.held.take(), p.new.as_mut()) {
                    for (k, v) in data {
                        rec.carrier_data.insert(k, v);
                    }
                }
                acquired = true;
                p.acquired = true;
            }
            CarrierAction::Acquire => {
                let carrier =
                    self.inner
                        .carriers
                        .get(&carrier_name)
                        .ok_or_else(|| Error::Unspecified {
                            message: "carrier_not_specified".into(),
                            cause: Some(carrier_name.clone()),
                        })?;
                let Some(answer) =
                    timeout(self.inner.config.carrier_timeout, carrier.acquire(&order)).await
                else {
                    p.uncertain = true;
                    return Err(carrier_timeout(p.number));
                };
                let data = match answer {
                    Ok(data) => data,
                    Err(e) => {
                        p.uncertain = self.may_hold(carrier.as_ref(), p.number).await;
                        return Err(e);
                    }
                };
                if let Some(rec) = p.new.as_mut() {
                    for (k, v) in data {
                        rec.carrier_data.insert(k, v);
                    }
                }
                acquired = true;
                p.acquired = true;
            }
            CarrierAction::Disconnect => {
                // A number of an unknown module is tolerated, as in Kazoo.
                if let Some(Err(e)) = self.disconnect_timed(&carrier_name, &order).await {
                    // A hung disconnect may still go through: keep its claim.
                    let timed_out =
                        matches!(&e, Error::Unspecified { message, .. } if message == "timeout");
                    if let Err(e) = self.disconnect_failed(&carrier_name, p.number, e).await {
                        p.uncertain = timed_out;
                        return Err(e);
                    }
                }
            }
        }
        match &p.e911 {
            None => {}
            // Done once the record is written (`remove_e911`): removed upstream
            // first, a failed write would leave the record showing an address
            // that is gone.
            Some(E911Work::Remove) => {}
            Some(E911Work::Provision {
                key,
                address,
                caller_name,
            }) => {
                let provider = self.inner.e911.as_ref().ok_or_else(|| Error::Unspecified {
                    message: "e911_provider_not_configured".into(),
                    cause: Some(p.number.to_string()),
                })?;
                match provider.provision(&p.number, address, caller_name).await {
                    Ok(provisioned) => {
                        if let Some(rec) = p.new.as_mut() {
                            let json = provisioned.to_json();
                            rec.public.insert((*key).to_string(), json.clone());
                            rec.features.insert("e911".into(), json);
                        }
                    }
                    Err(e) => {
                        if acquired {
                            // Give back what this operation bought, so nothing is half moved.
                            self.give_back(p.number, &carrier_name, &order).await;
                            p.acquired = false;
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    fn emit(&self, p: &Prepared, record: &NumberRecord, actor: &ActorCtx, now: DateTime<Utc>) {
        let event = Event {
            number: p.number,
            operation: p.plan.operation,
            from: p.plan.from,
            to: record.state,
            actor: actor.actor.clone(),
            at: now,
            before: p.read.as_ref().map(|r| r.revision).unwrap_or(Revision::NEW),
            after: if p.new.is_some() {
                record.revision
            } else {
                Revision::NEW
            },
        };
        self.inner.events.emit(&event);
    }
}

/// Whether a number is claimed before its side effects: a purchase (so no
/// other writer buys it too) and a disconnect (so that, if the record cannot
/// be written afterwards, the claim stays as the trace reconciliation needs).
fn needs_claim(p: &Prepared) -> bool {
    p.read.is_some()
        && matches!(
            p.plan.carrier,
            CarrierAction::Acquire | CarrierAction::Disconnect
        )
}

/// Whether a record's claim was taken by an operation that removes the
/// number and disconnects it upstream.
pub(crate) fn is_removal_claim(record: &NumberRecord) -> bool {
    record
        .pending
        .as_ref()
        .is_some_and(|p| matches!(p.operation, Operation::Delete | Operation::Release))
}

/// The revision a write expects the stored record to have (`None`: absent).
fn expected_revision(w: &Write) -> Option<Revision> {
    match w {
        Write::Insert(_) => None,
        Write::Update { expected, .. } | Write::Delete { expected, .. } => Some(*expected),
    }
}

/// Whether two records differ only in bookkeeping (revision, modified time).
fn same_content(a: &NumberRecord, b: &NumberRecord) -> bool {
    let mut b = b.clone();
    b.revision = a.revision;
    b.modified = a.modified;
    *a == b
}

/// The record to show for a prepared number: the new record, or for a removal
/// the old one in state `deleted`, owned by nobody, with its public fields and
/// reserve history gone (what the plan did to it).
fn outcome_record(p: &Prepared, now: DateTime<Utc>) -> NumberRecord {
    match (&p.new, &p.read) {
        (Some(r), _) => r.clone(),
        (None, Some(old)) => {
            let mut r = old.clone();
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
        (None, None) => NumberRecord::new(p.number, NumberState::Deleted, "local", now),
    }
}

impl Request {
    /// Whether lapsed leases are released before this request runs: on every
    /// real change and on reads, never inside a release itself.
    fn settles_leases(&self) -> bool {
        !matches!(self.op, Op::Release) && (!self.opts.dry_run || matches!(self.op, Op::Read))
    }

    pub(crate) fn op_target(&self) -> Option<&AccountId> {
        match &self.op {
            Op::Create { assign_to, .. }
            | Op::Activate { assign_to }
            | Op::Reserve { assign_to, .. } => Some(assign_to),
            _ => None,
        }
    }
}
