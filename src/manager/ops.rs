//! The typed operations, single-number and collection.
//!
//! Each single-number operation is the collection operation on a batch of one.

use chrono::Duration;
use serde::Serialize;
use serde_json::{Map, Value};

use super::pipeline::{Change, Input, Request};
use super::{BatchResult, NumberManager, Options, Outcome};
use crate::account::AccountId;
use crate::error::{Error, NotIdentifiedReason, Result};
use crate::lifecycle::Op;
use crate::number::PhoneNumber;
use crate::record::NumberRecord;
use crate::state::NumberState;
use crate::store::StoreExt;

/// The body of a create (PUT): public fields and the optional `create_with_state`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PublicChange {
    /// Public fields to store.
    pub public: Map<String, Value>,
    /// The state to create in (default `reserved`).
    pub state: Option<NumberState>,
}

impl PublicChange {
    /// Splits a request body into public fields and `create_with_state`.
    pub fn from_body(body: &Map<String, Value>) -> Result<Self> {
        let state = match body.get("create_with_state") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.parse::<NumberState>().map_err(|_| {
                Error::validation(
                    "create_with_state",
                    "enum",
                    "Value not found in enumerated list of values",
                )
            })?),
            Some(_) => {
                return Err(Error::validation(
                    "create_with_state",
                    "type",
                    "create_with_state must be a string",
                ))
            }
        };
        let mut public = body.clone();
        public.remove("create_with_state");
        Ok(PublicChange { public, state })
    }

    /// Only public fields, default state.
    pub fn fields(public: Map<String, Value>) -> Self {
        PublicChange {
            public,
            state: None,
        }
    }
}

crate::util::with_setters!(PublicChange {
    /// Sets the public fields ([`PublicChange::public`]).
    with_public => public: Map<String, Value>;
    /// Sets the state to create in ([`PublicChange::state`]).
    with_state => state: NumberState as some;
});

/// Who owns a number and how calls to it should be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Identify {
    /// The owner.
    pub account_id: AccountId,
    /// The number.
    pub number: PhoneNumber,
    /// The number is being ported in.
    pub pending_port: bool,
    /// The number's carrier is local.
    pub local: bool,
    /// Force calls out through the carrier.
    pub force_outbound: bool,
    /// Look up CNAM on inbound calls.
    pub inbound_cnam: bool,
    /// Caller-id prepend, when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepend: Option<String>,
    /// Early ringback media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ringback_media: Option<String>,
    /// Transfer ringback media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_media: Option<String>,
}

impl NumberManager {
    pub(crate) async fn run_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        req: Request,
    ) -> Result<BatchResult> {
        crate::observe::Traced::new(req.op.name(), numbers.len(), &req.opts)
            .run(self.run_many_observed(numbers, req))
            .await
    }

    async fn run_many_observed<S: AsRef<str>>(
        &self,
        numbers: &[S],
        req: Request,
    ) -> Result<BatchResult> {
        let inputs = self.parse_inputs(numbers)?;
        match req.opts.idempotency_key.clone() {
            Some(key) if !req.opts.dry_run => self.run_idempotent(&key, &inputs, &req).await,
            _ => self.run_inputs(&inputs, &req).await,
        }
    }

    /// Runs `req` over the inputs that parsed; those that did not fail alone.
    pub(super) async fn run_inputs(&self, inputs: &[Input], req: &Request) -> Result<BatchResult> {
        let numbers = inputs
            .iter()
            .filter_map(|i| i.number.as_ref().ok().copied())
            .collect();
        let results = self.execute(numbers, req).await?;
        Ok(BatchResult::of_inputs(inputs, results))
    }

    /// Runs `req` over one number: a batch of one, whose only item is its answer.
    pub(super) async fn run_one(&self, number: &str, req: Request) -> Result<Outcome> {
        crate::observe::Traced::new(req.op.name(), 1, &req.opts)
            .run(self.run_one_observed(number, req))
            .await
    }

    async fn run_one_observed(&self, number: &str, req: Request) -> Result<Outcome> {
        let parsed = self.inner.normalizer.parse(number)?;
        self.inner.config.limits.check_numbers(1)?;
        if let Some(key) = req
            .opts
            .idempotency_key
            .clone()
            .filter(|_| !req.opts.dry_run)
        {
            let input = Input {
                raw: number.to_string(),
                number: Ok(parsed),
            };
            return self
                .run_idempotent(&key, std::slice::from_ref(&input), &req)
                .await?
                .single(parsed);
        }
        let mut results = self.execute(vec![parsed], &req).await?;
        results.pop().unwrap_or_else(|| {
            Err(Error::Internal {
                cause: "operation produced no result".into(),
            })
        })
    }

    /// Adds numbers to `account` (PUT). New numbers are `reserved` unless
    /// `change.state` says otherwise; an existing number is
    /// `number_exists` unless it is aging, available or port_in.
    pub async fn create_many<S: AsRef<str>>(
        &self,
        account: &AccountId,
        numbers: &[S],
        change: PublicChange,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, create_req(account, change, opts))
            .await
    }

    /// Adds one number; see [`NumberManager::create_many`].
    pub async fn create(
        &self,
        account: &AccountId,
        number: &str,
        change: PublicChange,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, create_req(account, change, opts))
            .await
    }

    /// Creates numbers in `port_in` for `account` (any account may).
    pub async fn port_in_many<S: AsRef<str>>(
        &self,
        account: &AccountId,
        numbers: &[S],
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.create_many(
            account,
            numbers,
            PublicChange {
                public,
                state: Some(NumberState::PortIn),
            },
            opts,
        )
        .await
    }

    /// Creates one number in `port_in`.
    pub async fn port_in(
        &self,
        account: &AccountId,
        number: &str,
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.create(
            account,
            number,
            PublicChange {
                public,
                state: Some(NumberState::PortIn),
            },
            opts,
        )
        .await
    }

    /// Reads a number the actor may see (others get `not_found`).
    pub async fn get(&self, number: &str, opts: &Options) -> Result<NumberRecord> {
        let req = Request {
            op: Op::Read,
            change: Change::Keep,
            opts: Options {
                dry_run: true,
                ..opts.clone()
            },
            journal: None,
        };
        self.run_one(number, req).await.map(|o| o.record)
    }

    /// Replaces public fields (POST).
    pub async fn update(
        &self,
        number: &str,
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, edit(Change::Replace(public), opts))
            .await
    }

    /// Replaces public fields of many numbers.
    pub async fn update_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, edit(Change::Replace(public), opts))
            .await
    }

    /// Deep-merges public fields (PATCH; `null` deletes a key).
    pub async fn patch(
        &self,
        number: &str,
        patch: Map<String, Value>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, edit(Change::Merge(patch), opts)).await
    }

    /// Deep-merges public fields of many numbers.
    pub async fn patch_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        patch: Map<String, Value>,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, edit(Change::Merge(patch), opts))
            .await
    }

    /// Records which application uses the number (`None` clears it).
    pub async fn assign_to_app(
        &self,
        number: &str,
        app: Option<&str>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, edit(Change::UsedBy(app.map(str::to_string)), opts))
            .await
    }

    /// Releases a number (DELETE): back to the previous reserver, else
    /// `released_state`; local numbers are deleted; E911 is removed upstream.
    pub async fn release(&self, number: &str, opts: &Options) -> Result<Outcome> {
        self.run_one(number, simple(Op::Release, opts)).await
    }

    /// Releases many numbers.
    pub async fn release_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, simple(Op::Release, opts)).await
    }

    /// Removes a number for good (DELETE `?hard=true`; master only).
    pub async fn delete(&self, number: &str, opts: &Options) -> Result<Outcome> {
        self.run_one(number, simple(Op::Delete, opts)).await
    }

    /// Removes many numbers for good.
    pub async fn delete_many<S: AsRef<str>>(
        &self,
        numbers: &[S],
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, simple(Op::Delete, opts)).await
    }

    /// Reserves a number for `account`. A non-empty `public` replaces the public fields.
    pub async fn reserve(
        &self,
        account: &AccountId,
        number: &str,
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, reserve_req(account, None, public, opts))
            .await
    }

    /// Reserves many numbers.
    pub async fn reserve_many<S: AsRef<str>>(
        &self,
        account: &AccountId,
        numbers: &[S],
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, reserve_req(account, None, public, opts))
            .await
    }

    /// Reserves numbers with a lease: after `lease` the reservation lapses and the
    /// numbers go back the way a release would (beyond Kazoo).
    pub async fn reserve_with_lease<S: AsRef<str>>(
        &self,
        account: &AccountId,
        numbers: &[S],
        lease: Duration,
        opts: &Options,
    ) -> Result<BatchResult> {
        let until = self.inner.clock.now() + lease;
        self.run_many(numbers, reserve_req(account, Some(until), Map::new(), opts))
            .await
    }

    /// Activates (buys) a number for `account`: from a search result through its
    /// carrier, or from available / aging / port_in / reserved per the table.
    /// Activating a number the account already has in service charges nothing.
    pub async fn activate(
        &self,
        account: &AccountId,
        number: &str,
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<Outcome> {
        self.run_one(number, activate_req(account, public, opts))
            .await
    }

    /// Activates many numbers.
    pub async fn activate_many<S: AsRef<str>>(
        &self,
        account: &AccountId,
        numbers: &[S],
        public: Map<String, Value>,
        opts: &Options,
    ) -> Result<BatchResult> {
        self.run_many(numbers, activate_req(account, public, opts))
            .await
    }

    /// Which account a number belongs to, and how to route it.
    /// Only the owner, its ancestors and master may ask. A number not in the
    /// system but in an active port request (submitted, pending, scheduled)
    /// identifies as the request's account, `pending_port`, local and forced
    /// outbound.
    pub async fn identify(&self, number: &str, opts: &Options) -> Result<Identify> {
        crate::observe::Traced::new("identify", 1, opts)
            .run(self.identify_observed(number, opts))
            .await
    }

    async fn identify_observed(&self, number: &str, opts: &Options) -> Result<Identify> {
        let n = self.inner.normalizer.parse(number)?;
        let not_found = || Error::NotFound {
            number: n.to_string(),
        };
        let Some(mut record) = self.inner.store.get(&n).await? else {
            return self.identify_porting(n, opts).await;
        };
        let now = self.inner.clock.now();
        if record.state == NumberState::Reserved
            && record.is_expired(now)
            && !record.is_claimed(now)
        {
            // A lapsed reservation goes back first: calls never route to an
            // account whose lease has ended.
            self.release_lapsed(vec![n]).await?;
            record = self.inner.store.get(&n).await?.ok_or_else(not_found)?;
        }
        let actor = self.actor_ctx(&opts.auth_by).await?;
        let (facts, owner) = self.record_facts(&actor, &record).await?;
        crate::lifecycle::authorize_identify(n, &record, &facts)?;
        let owner_id = record.assigned_to.clone();
        let account_id = owner_id.ok_or_else(|| Error::NotIdentified {
            number: n.to_string(),
            reason: NotIdentifiedReason::Unassigned,
            account_id: None,
        })?;
        if !matches!(
            record.state,
            NumberState::PortIn
                | NumberState::InService
                | NumberState::PortOut
                | NumberState::Reserved
        ) {
            return Err(Error::NotIdentified {
                number: n.to_string(),
                reason: NotIdentifiedReason::NotInService,
                account_id: Some(account_id.to_string()),
            });
        }
        if owner.as_ref().is_some_and(|o| !o.enabled) {
            return Err(Error::NotIdentified {
                number: n.to_string(),
                reason: NotIdentifiedReason::AccountDisabled,
                account_id: Some(account_id.to_string()),
            });
        }
        let local = self.inner.carriers.is_local(&record.carrier);
        let feature = |k: &str| record.features.get(k);
        let force_outbound = match record.state {
            NumberState::PortIn | NumberState::PortOut => true,
            _ if local => true,
            _ => feature("force_outbound")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        };
        let prepend = feature("prepend")
            .filter(|p| p.get("enabled").and_then(Value::as_bool) == Some(true))
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let ringback = |k: &str| {
            feature("ringback")
                .and_then(|r| r.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let inbound_cnam = feature("inbound_cnam").is_some()
            && self
                .inner
                .carriers
                .get(&record.carrier)
                .map(|c| c.capabilities().should_lookup_cnam)
                .unwrap_or(true);
        Ok(Identify {
            account_id,
            number: n,
            pending_port: record.state == NumberState::PortIn,
            local,
            force_outbound,
            inbound_cnam,
            prepend,
            ringback_media: ringback("early"),
            transfer_media: ringback("transfer"),
        })
    }
}

fn create_req(account: &AccountId, change: PublicChange, opts: &Options) -> Request {
    // Without create_with_state a number is created reserved; one ported in
    // elsewhere, or an MDN number, is in service at once (port_in stays asked).
    let state = match change.state {
        Some(NumberState::PortIn) => NumberState::PortIn,
        _ if opts.ported_in || opts.mdn_run => NumberState::InService,
        asked => asked.unwrap_or(NumberState::Reserved),
    };
    Request {
        op: Op::Create {
            state,
            assign_to: account.clone(),
            ported_in: opts.ported_in,
        },
        change: Change::Replace(change.public),
        opts: opts.clone(),
        journal: None,
    }
}

fn edit(change: Change, opts: &Options) -> Request {
    Request {
        op: Op::Edit,
        change,
        opts: opts.clone(),
        journal: None,
    }
}

fn simple(op: Op, opts: &Options) -> Request {
    Request {
        op,
        change: Change::Keep,
        opts: opts.clone(),
        journal: None,
    }
}

fn reserve_req(
    account: &AccountId,
    lease_until: Option<chrono::DateTime<chrono::Utc>>,
    public: Map<String, Value>,
    opts: &Options,
) -> Request {
    Request {
        op: Op::Reserve {
            assign_to: account.clone(),
            lease_until,
        },
        change: Change::ReplaceIfAny(public),
        opts: opts.clone(),
        journal: None,
    }
}

fn activate_req(account: &AccountId, public: Map<String, Value>, opts: &Options) -> Request {
    Request {
        op: Op::Activate {
            assign_to: account.clone(),
        },
        change: Change::ReplaceIfAny(public),
        opts: opts.clone(),
        journal: None,
    }
}
