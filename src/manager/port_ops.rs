//! Port requests on [`NumberManager`]: create, read, list, move (cancel
//! included), and the effect of completing one: its numbers created in
//! service for the request's account, in one collection.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::{json, Map};

use super::pipeline::ActorCtx;
use super::{BatchResult, Identify, NumberManager, Options, PublicChange};
use crate::account::{AccountId, AccountInfo};
use crate::error::{Error, Result};
use crate::lifecycle::{authorize_account, ActorFacts};
use crate::number::PhoneNumber;
use crate::porting::{
    plan_move, Attachment, BillingDetails, PortFacts, PortId, PortRequest, PortState,
};

/// What a new port request holds; the manager gives it its id and account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPortRequest {
    /// A name for the request.
    pub name: String,
    /// The numbers to port, in any form `PhoneNumber::parse` reads; each once.
    pub numbers: Vec<String>,
    /// The customer's account at the losing carrier.
    pub billing: BillingDetails,
    /// The carrier the numbers leave.
    pub losing_carrier: Option<String>,
    /// When the customer would like the port to happen.
    pub desired_date: Option<DateTime<Utc>>,
    /// When it is scheduled, if already known.
    pub schedule_on: Option<DateTime<Utc>>,
    /// Addresses to tell about progress.
    pub notifications: Vec<String>,
    /// The documents (metadata).
    pub attachments: Vec<Attachment>,
}

/// A move asked of a port request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortTransitionRequest {
    /// The state to move to.
    pub to: PortState,
    /// Why (kept in the timeline).
    pub reason: Option<String>,
    /// Sets `schedule_on` with the move (a move to `scheduled` needs one).
    pub schedule_on: Option<DateTime<Utc>>,
}

impl PortTransitionRequest {
    /// A move to `to`, with no reason and no date.
    pub fn to(to: PortState) -> Self {
        PortTransitionRequest {
            to,
            reason: None,
            schedule_on: None,
        }
    }

    /// Gives the reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets `schedule_on` with the move.
    pub fn with_schedule_on(mut self, on: DateTime<Utc>) -> Self {
        self.schedule_on = Some(on);
        self
    }
}

/// The answer to a move: the request after it, and, when it completed the
/// request, what happened to each of its numbers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PortTransition {
    /// The request after the move, as the actor may read it.
    pub request: PortRequest,
    /// On completion: each number created in service (or why not).
    pub numbers: Option<BatchResult>,
}

impl NumberManager {
    /// Opens a port request for `account` (`unconfirmed`). The actor must act
    /// for `account` (itself, an ancestor of it, or master). Each number must
    /// be E.164 and in no other open request (`number_is_porting`).
    pub async fn create_port_request(
        &self,
        account: &AccountId,
        new: NewPortRequest,
        opts: &Options,
    ) -> Result<PortRequest> {
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let info = self.port_account(account).await?;
        authorize_account(&self.acting_for(&actor, &info), account)?;
        let inputs = self.parse_inputs(&new.numbers)?;
        let numbers = inputs
            .into_iter()
            .map(|i| i.number)
            .collect::<Result<Vec<_>>>()?;
        let now = self.inner.clock.now();
        let mut request = PortRequest::new(new_port_id()?, account.clone(), new.name, numbers, now);
        request.billing = new.billing;
        request.losing_carrier = new.losing_carrier;
        request.desired_date = new.desired_date;
        request.schedule_on = new.schedule_on;
        request.notifications = new.notifications;
        request.attachments = new.attachments;
        request.revision = self
            .inner
            .ports
            .create_port_request(request.clone())
            .await?;
        Ok(request)
    }

    /// A port request the actor may read (anyone in its account's tree, the
    /// port authority, master); anyone else is told it is not found. Private
    /// comments are for the port authority only.
    pub async fn port_request(&self, id: &PortId, opts: &Options) -> Result<PortRequest> {
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let (request, facts) = self.readable_port_request(&actor, id).await?;
        Ok(view(request, &facts))
    }

    /// The port requests of `account`, oldest first; the actor must act for it.
    pub async fn port_requests(
        &self,
        account: &AccountId,
        opts: &Options,
    ) -> Result<Vec<PortRequest>> {
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let info = self.port_account(account).await?;
        authorize_account(&self.acting_for(&actor, &info), account)?;
        let facts = self.port_facts(&actor, &info);
        let all = self.inner.ports.list_port_requests(account).await?;
        Ok(all.into_iter().map(|r| view(r, &facts)).collect())
    }

    /// Moves a port request (see `porting::MOVES` and `porting::plan_move`
    /// for which moves exist and who may make them). The move is a
    /// compare-and-swap on the request read, retried from a fresh read on a
    /// lost race. Completing the request creates each of its numbers
    /// `in_service` for the request's account, ported in, with the public
    /// field `port_id`, in one collection whose per-number results the
    /// answer carries.
    pub async fn transition_port_request(
        &self,
        id: &PortId,
        change: PortTransitionRequest,
        opts: &Options,
    ) -> Result<PortTransition> {
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let mut attempts = 0;
        let (request, facts) = loop {
            let (read, facts) = self.readable_port_request(&actor, id).await?;
            let expected = read.revision;
            let mut base = read;
            if let Some(on) = change.schedule_on {
                base.schedule_on = Some(on);
            }
            let now = self.inner.clock.now();
            let flag = self.inner.config.porting.schedule_from_submitted;
            let next = plan_move(&base, change.to, &facts, flag, change.reason.clone(), now)?;
            match self
                .inner
                .ports
                .update_port_request(next.clone(), expected)
                .await
            {
                Ok(revision) => {
                    let mut stored = next;
                    stored.revision = revision;
                    break (stored, facts);
                }
                Err(Error::Conflict { .. }) if attempts < self.inner.config.cas_retries => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let numbers = match request.state {
            PortState::Completed => Some(self.complete_port_numbers(&request).await?),
            _ => None,
        };
        Ok(PortTransition {
            request: view(request, &facts),
            numbers,
        })
    }

    /// Cancels a port request; see [`NumberManager::transition_port_request`].
    pub async fn cancel_port_request(
        &self,
        id: &PortId,
        reason: Option<String>,
        opts: &Options,
    ) -> Result<PortRequest> {
        let mut change = PortTransitionRequest::to(PortState::Canceled);
        change.reason = reason;
        Ok(self
            .transition_port_request(id, change, opts)
            .await?
            .request)
    }

    /// `identify` of a number the store does not have: its active port
    /// request's account, for those who may identify the account's numbers.
    pub(super) async fn identify_porting(
        &self,
        number: PhoneNumber,
        opts: &Options,
    ) -> Result<Identify> {
        let not_found = || Error::NotFound {
            number: number.to_string(),
        };
        let request = self
            .inner
            .ports
            .find_open_port_request(&number)
            .await?
            .filter(|r| r.state.is_active())
            .ok_or_else(not_found)?;
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let info = self.port_account(&request.account).await?;
        let facts = self.port_facts(&actor, &info);
        if !(facts.system || facts.master || facts.account_or_ancestor) {
            return Err(not_found());
        }
        Ok(Identify {
            account_id: request.account,
            number,
            pending_port: true,
            local: true,
            force_outbound: true,
            inbound_cnam: false,
            prepend: None,
            ringback_media: None,
            transfer_media: None,
        })
    }

    /// The numbers of a completed request, created in service for its account.
    async fn complete_port_numbers(&self, request: &PortRequest) -> Result<BatchResult> {
        let numbers: Vec<&str> = request.numbers.iter().map(|n| n.as_str()).collect();
        let mut public = Map::new();
        public.insert("port_id".into(), json!(request.id.as_str()));
        self.create_many(
            &request.account,
            &numbers,
            PublicChange::fields(public),
            &Options::system().with_ported_in(true),
        )
        .await
    }

    /// A request and the actor's facts about it, if the actor may read it.
    pub(super) async fn readable_port_request(
        &self,
        actor: &ActorCtx,
        id: &PortId,
    ) -> Result<(PortRequest, PortFacts)> {
        let not_found = || Error::NotFound {
            number: id.to_string(),
        };
        let request = self
            .inner
            .ports
            .get_port_request(id)
            .await?
            .ok_or_else(not_found)?;
        let info = self.port_account(&request.account).await?;
        let facts = self.port_facts(actor, &info);
        if !facts.may_read() {
            return Err(not_found());
        }
        Ok((request, facts))
    }

    async fn port_account(&self, account: &AccountId) -> Result<AccountInfo> {
        self.inner
            .accounts
            .get(account)
            .await?
            .ok_or_else(|| Error::AssignFailure {
                cause: format!("account '{account}' not found"),
            })
    }

    /// The actor's facts for acting for `account` (the target of a request).
    fn acting_for(&self, actor: &ActorCtx, account: &AccountInfo) -> ActorFacts {
        self.facts(actor, None, None, Some(account), "")
    }

    /// The actor's facts about a request of `account`.
    fn port_facts(&self, actor: &ActorCtx, account: &AccountInfo) -> PortFacts {
        let Some(me) = &actor.info else {
            return PortFacts::system();
        };
        let mut facts = PortFacts::default();
        facts.master = me.is_master;
        facts.account = Some(me.id.clone());
        facts.account_or_ancestor = account.is_self_or_descendant_of(&me.id);
        facts.in_tree = facts.account_or_ancestor || me.is_self_or_descendant_of(&account.id);
        facts.port_authority = self.port_authority(account) == Some(&me.id);
        facts
    }

    /// The port authority its account or nearest ancestor names (`None`:
    /// master's alone).
    fn port_authority(&self, account: &AccountInfo) -> Option<&AccountId> {
        let authorities = &self.inner.config.porting.authorities;
        std::iter::once(&account.id)
            .chain(account.tree.iter().rev())
            .find_map(|a| authorities.get(a))
    }
}

/// The request as the actor may read it.
pub(super) fn view(request: PortRequest, facts: &PortFacts) -> PortRequest {
    if facts.may_read_private() {
        request
    } else {
        request.public_view()
    }
}

/// A fresh 32-hex-digit id: two hashes of a process-wide counter and the
/// time, keyed at random per process, so ids from different processes differ.
fn new_port_id() -> Result<PortId> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_i64(nanos);
        h.write_u64(salt);
        h.finish()
    };
    PortId::new(format!("{:016x}{:016x}", half(1), half(2))).map_err(|_| Error::Internal {
        cause: "generated port request id is invalid".into(),
    })
}
