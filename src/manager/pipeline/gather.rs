//! Gather: what a request needs to know before anything is planned, each
//! fact fetched once. Every input is normalized once; the actor and the
//! target account are fetched once per request, owners and resellers once
//! (a per-request cache); the request's public fields are cleaned and
//! validated once; the records are read in one call per attempt.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Batch, Change, Request};
use crate::account::{AccountId, AccountInfo, Actor};
use crate::error::{Error, Result};
use crate::lifecycle::{ActorFacts, Op};
use crate::limits::Limits;
use crate::manager::NumberManager;
use crate::number::PhoneNumber;
use crate::record::{sanitize_public, validate_public_within, NumberRecord};
use crate::state::NumberState;
use crate::store::{BatchMode, Write};

/// Accounts looked up during one request, by id (`None`: no such account).
pub(crate) type AccountCache = HashMap<AccountId, Option<AccountInfo>>;

/// One input of a collection, normalized once: its number, or why it does
/// not parse.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub(crate) raw: String,
    pub(crate) number: Result<PhoneNumber>,
}

impl Input {
    /// The key the input is reported under: its E.164 form, or the raw input.
    pub(crate) fn key(&self) -> String {
        match &self.number {
            Ok(n) => n.to_string(),
            Err(_) => self.raw.clone(),
        }
    }
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

/// What holds for the whole request.
pub(super) struct RequestFacts {
    pub(super) actor: ActorCtx,
    /// The account the operation assigns to, if any.
    pub(super) target: Option<AccountInfo>,
    /// Owners and resellers met so far (the actor and the target included).
    pub(super) accounts: AccountCache,
    pub(super) edit: Edit,
}

/// The request's change to public fields, cleaned once, and a replacement
/// validated once: each number whose fields it changes reports the answer.
pub(super) enum Edit {
    Keep,
    /// Replace the fields with `fields` (always, or only when the actor may
    /// not read the fields there, so that they never pass on to it).
    Replace {
        fields: Map<String, Value>,
        checked: Result<()>,
        always: bool,
    },
    /// Deep-merge the patch; the merged fields differ per number, so each
    /// number validates its own.
    Merge(Map<String, Value>),
    /// Set (or, for `null`, remove) top-level keys; validated per number,
    /// as the result differs per number.
    Set(Map<String, Value>),
    UsedBy(Option<String>),
}

impl Edit {
    fn new(change: &Change, limits: &Limits) -> Edit {
        let replace = |body: &Map<String, Value>, always: bool| {
            let fields = sanitize_public(body);
            let checked = validate_public_within(&fields, limits);
            Edit::Replace {
                fields,
                checked,
                always,
            }
        };
        match change {
            Change::Keep => Edit::Keep,
            Change::Replace(body) => replace(body, true),
            Change::ReplaceIfAny(body) => replace(body, !body.is_empty()),
            Change::Merge(patch) => Edit::Merge(sanitize_public(patch)),
            Change::Set(fields) => Edit::Set(fields.clone()),
            Change::UsedBy(app) => Edit::UsedBy(app.clone()),
        }
    }
}

impl NumberManager {
    /// Normalizes a collection's inputs once each and checks them: present,
    /// non-empty, within the batch limit, no duplicates after normalization.
    pub(crate) fn parse_inputs<S: AsRef<str>>(&self, raws: &[S]) -> Result<Vec<Input>> {
        if raws.is_empty() {
            return Err(Error::validation(
                "numbers",
                "minimum",
                "minimum 1 number required",
            ));
        }
        self.inner.config.limits.check_numbers(raws.len())?;
        let normalizer = &self.inner.normalizer;
        let mut seen = HashSet::with_capacity(raws.len());
        let mut inputs = Vec::with_capacity(raws.len());
        for raw in raws {
            let raw = raw.as_ref();
            let normalized = normalizer.normalize(raw);
            let number = normalizer.parse_normalized(&normalized, raw);
            if !seen.insert(normalized) {
                return Err(Error::validation(
                    "numbers",
                    "uniqueItems",
                    "some numbers appear twice",
                ));
            }
            inputs.push(Input {
                raw: raw.to_string(),
                number,
            });
        }
        Ok(inputs)
    }

    /// The request-wide facts. The outer error fails the request; the inner
    /// one fails every number with it (an unknown or disabled actor, an
    /// unknown target).
    pub(super) async fn gather(&self, req: &Request) -> Result<Result<RequestFacts>> {
        let actor = match self.actor_ctx(&req.opts.auth_by).await {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let mut accounts = AccountCache::new();
        if let Some(info) = &actor.info {
            accounts.insert(info.id.clone(), Some(info.clone()));
        }
        let target = match req.op_target() {
            None => None,
            Some(t) => match self.account_cached(&mut accounts, t).await? {
                Some(info) => Some(info),
                None => {
                    return Ok(Err(Error::AssignFailure {
                        cause: format!("account '{t}' not found"),
                    }))
                }
            },
        };
        let edit = Edit::new(&req.change, &self.inner.config.limits);
        Ok(Ok(RequestFacts {
            actor,
            target,
            accounts,
            edit,
        }))
    }

    pub(crate) async fn actor_ctx(&self, actor: &Actor) -> Result<ActorCtx> {
        let Actor::Account(id) = actor else {
            return Ok(ActorCtx {
                actor: actor.clone(),
                info: None,
            });
        };
        match self.inner.accounts.get(id).await? {
            Some(i) if i.enabled => Ok(ActorCtx {
                actor: actor.clone(),
                info: Some(i),
            }),
            _ => Err(Error::forbidden(format!(
                "account '{id}' is unknown or disabled"
            ))),
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
        let number_is_mdn = carrier == "mdn";
        let Some(me) = &actor.info else {
            return ActorFacts {
                number_is_local,
                number_is_mdn,
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
            number_is_mdn,
            mdn_run: false,
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

    /// An account, fetched at most once per request.
    pub(crate) async fn account_cached(
        &self,
        cache: &mut AccountCache,
        id: &AccountId,
    ) -> Result<Option<AccountInfo>> {
        if let Some(hit) = cache.get(id) {
            return Ok(hit.clone());
        }
        let info = self.inner.accounts.get(id).await?;
        cache.insert(id.clone(), info.clone());
        Ok(info)
    }

    /// The records of the `queued` items, in one read.
    pub(super) async fn read(
        &self,
        batch: &Batch,
        queued: &[usize],
    ) -> Result<Vec<Option<NumberRecord>>> {
        let numbers: Vec<PhoneNumber> = queued
            .iter()
            .filter_map(|i| batch.numbers.get(*i).copied())
            .collect();
        self.inner.store.get_many(&numbers).await
    }

    /// Expired search results are purged lazily (not by a create, which
    /// replaces them); losing that race is harmless.
    pub(super) async fn purge_stale_discoveries(
        &self,
        req: &Request,
        reads: &[Option<NumberRecord>],
        now: DateTime<Utc>,
    ) {
        if matches!(req.op, Op::Create { .. }) {
            return;
        }
        let stale: Vec<Write> = reads
            .iter()
            .flatten()
            .filter(|r| {
                r.state == NumberState::Discovery && r.is_expired(now) && !r.is_claimed(now)
            })
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
}
