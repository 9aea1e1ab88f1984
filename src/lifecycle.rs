//! The number lifecycle's pure planner: `(number, record, operation, facts,
//! config) -> Plan | Error`, over the transition table in
//! `state::table`. The one place that decides who may
//! do what to a number.
//!
//! No I/O, no clock: the manager looks up the facts (who the actor is relative
//! to the owner and the target account) and hands them in. `dry_run` returns
//! exactly this plan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::AccountId;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;
use crate::record::NumberRecord;
use crate::state::table::{self, Action, Auth, Effect, Target};
use crate::state::{NumberState, Operation, StateConfig};

/// An operation on one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Add the number (PUT). `state` is `create_with_state` (default reserved);
    /// `port_in` is how `port` creates.
    Create {
        /// Requested state.
        state: NumberState,
        /// The account the number is for.
        assign_to: AccountId,
        /// The number was ported in elsewhere: it is created `in_service` and
        /// marked ported in (master and the system only).
        ported_in: bool,
    },
    /// Buy / move into service for `assign_to`.
    Activate {
        /// The account the number is for.
        assign_to: AccountId,
    },
    /// Reserve for `assign_to`, optionally until a lease ends.
    Reserve {
        /// The account the number is for.
        assign_to: AccountId,
        /// When the reservation lapses (beyond Kazoo).
        lease_until: Option<DateTime<Utc>>,
    },
    /// Release (soft delete).
    Release,
    /// Hard delete.
    Delete,
    /// Change public fields or `used_by` (no state change).
    Edit,
    /// Read.
    Read,
}

impl Op {
    /// The operation as plans, events and claims name it.
    pub fn operation(&self) -> Operation {
        match self {
            Op::Create {
                state: NumberState::PortIn,
                ..
            } => Operation::Port,
            Op::Create { .. } => Operation::Create,
            Op::Activate { .. } => Operation::Activate,
            Op::Reserve { .. } => Operation::Reserve,
            Op::Release => Operation::Release,
            Op::Delete => Operation::Delete,
            Op::Edit => Operation::Update,
            Op::Read => Operation::Read,
        }
    }

    /// The operation's name in events and plans (`port`, `update`, ...).
    pub fn name(&self) -> &'static str {
        self.operation().as_str()
    }

    fn target(&self) -> Option<&AccountId> {
        match self {
            Op::Create { assign_to, .. }
            | Op::Activate { assign_to }
            | Op::Reserve { assign_to, .. } => Some(assign_to),
            _ => None,
        }
    }
}

/// What the manager found out about the actor, relative to this number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ActorFacts {
    /// The actor is the system (every check passes).
    pub system: bool,
    /// The actor is the master (superduper admin) account.
    pub master: bool,
    /// The actor has `pvt_wnm_allow_additions`.
    pub allow_additions: bool,
    /// The actor's account id, for error causes.
    pub account: Option<AccountId>,
    /// The actor is the number's owner or an ancestor of it.
    pub owner_or_ancestor: bool,
    /// The owner is the actor or an ancestor of the actor (the actor descends from the reserver).
    pub descendant_of_owner: bool,
    /// The actor is the target account or an ancestor of it.
    pub target_or_ancestor: bool,
    /// The number's carrier is local (release deletes it, any state may be released).
    pub number_is_local: bool,
    /// The number's carrier module is `mdn` (a mobile number created for a
    /// device): it only ever stays `in_service`.
    pub number_is_mdn: bool,
    /// The call runs with the `mdn_run` option: it may write MDN numbers, and
    /// only them (the system may write any number either way).
    pub mdn_run: bool,
}

impl ActorFacts {
    /// Facts for the system actor.
    pub fn system() -> Self {
        ActorFacts {
            system: true,
            master: true,
            ..Default::default()
        }
    }

    fn admin(&self) -> bool {
        self.system || self.master
    }
}

/// A carrier call the plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierAction {
    /// None.
    None,
    /// Buy the number.
    Acquire,
    /// Release it upstream.
    Disconnect,
}

/// What an operation will do to one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The number.
    pub number: PhoneNumber,
    /// The operation.
    pub operation: Operation,
    /// State before (`None` for a new number).
    pub from: Option<NumberState>,
    /// State after (`deleted` when the record goes away).
    pub to: NumberState,
    /// Nothing changes (e.g. activating a number already in service for the account).
    pub noop: bool,
    /// New owner, when it changes (`Some(None)` unassigns).
    pub assign: Option<Option<AccountId>>,
    /// Account pushed onto the reserve history.
    pub push_history: Option<AccountId>,
    /// Replacement reserve history (release unwinding).
    pub set_history: Option<Vec<AccountId>>,
    /// Clear public fields and features (release).
    pub reset: bool,
    /// Carrier call.
    pub carrier: CarrierAction,
    /// Remove the record.
    pub remove: bool,
    /// Mark the number ported in (port completion).
    pub ported_in: bool,
    /// Expiry to set (reservation lease); cleared otherwise on a state change.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Plan {
    fn new(number: PhoneNumber, op: &Op, from: Option<NumberState>, to: NumberState) -> Self {
        Plan {
            number,
            operation: op.operation(),
            from,
            to,
            noop: false,
            assign: None,
            push_history: None,
            set_history: None,
            reset: false,
            carrier: CarrierAction::None,
            remove: false,
            ported_in: false,
            expires_at: None,
        }
    }

    /// Whether the plan changes the state.
    pub fn changes_state(&self) -> bool {
        self.from != Some(self.to)
    }
}

/// Kazoo's `is_authorized`: owner or ancestor; for an unassigned number the
/// target account (or an ancestor of it); master and system always.
fn is_authorized(record: Option<&NumberRecord>, facts: &ActorFacts, has_target: bool) -> bool {
    if facts.admin() {
        return true;
    }
    match record.and_then(|r| r.assigned_to.as_ref()) {
        Some(_) => facts.owner_or_ancestor,
        None => has_target && facts.target_or_ancestor,
    }
}

/// Who may know the number exists: available numbers are public; everything
/// else only to its owner, the owner's ancestors and master, except that a
/// descendant of the reserving account may activate (and only activate) a
/// reserved number.
fn is_visible(record: &NumberRecord, facts: &ActorFacts, op: &Op) -> bool {
    match record.state {
        NumberState::Available => true,
        // Search results are offered to everyone, but only buying sees them.
        NumberState::Discovery => {
            matches!(op, Op::Activate { .. } | Op::Reserve { .. } | Op::Delete) || facts.admin()
        }
        // A descendant may buy what its ancestor reserved, but not read it or its fields.
        NumberState::Reserved if facts.descendant_of_owner && matches!(op, Op::Activate { .. }) => {
            true
        }
        _ => is_authorized(Some(record), facts, op.target().is_some()),
    }
}

/// Whether the actor may act for `account` (address it in a URL, list its
/// numbers, create, reserve or buy for it): an account acts for itself and
/// its descendants, master and the system for anyone. `facts.target_or_ancestor`
/// must say whether the actor is `account` or one of its ancestors.
pub(crate) fn authorize_account(facts: &ActorFacts, account: &AccountId) -> Result<()> {
    if facts.admin() || facts.target_or_ancestor {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "account '{}' may not act for account '{}'",
        facts
            .account
            .as_ref()
            .map(AccountId::as_str)
            .unwrap_or("undefined"),
        account
    )))
}

/// Whether the actor may learn who owns `record` (`identify`): only the
/// owner, its ancestors and master. Everyone else is told the number is not
/// found, so ownership never leaks; search results are never identified.
pub(crate) fn authorize_identify(
    number: PhoneNumber,
    record: &NumberRecord,
    facts: &ActorFacts,
) -> Result<()> {
    let owner_side = facts.admin() || (record.assigned_to.is_some() && facts.owner_or_ancestor);
    if record.state == NumberState::Discovery || !owner_side {
        return Err(Error::NotFound {
            number: number.to_string(),
        });
    }
    Ok(())
}

/// Whether the actor may repair `record` (`fix`): repairing is a change, so
/// it follows the edit rule (the owner, its ancestors and master; for an
/// unassigned number, master only). A remembered search result, which only a
/// purchase may touch, is master's alone to repair.
pub(crate) fn authorize_fix(
    number: PhoneNumber,
    record: Option<&NumberRecord>,
    facts: &ActorFacts,
) -> Result<()> {
    match record {
        Some(r) if r.state == NumberState::Discovery && facts.admin() => Ok(()),
        _ => plan(number, record, &Op::Edit, facts, &StateConfig::default()).map(|_| ()),
    }
}

/// Whether the actor may read `record` and its public fields (the read rule:
/// available numbers are public; everything else only to its owner, the
/// owner's ancestors and master). A descendant that activates its ancestor's
/// reservation may not, so the ancestor's fields do not pass on to it.
pub(crate) fn may_read(record: &NumberRecord, facts: &ActorFacts) -> bool {
    record.state != NumberState::Discovery && is_visible(record, facts, &Op::Read)
}

fn allowed_creation_states(facts: &ActorFacts) -> &'static [NumberState] {
    use NumberState::*;
    if facts.admin() {
        &[Aging, Available, InService, PortIn, Reserved]
    } else if facts.allow_additions {
        &[InService, Reserved]
    } else {
        &[]
    }
}

/// Plans `op` on `number`, whose stored record is `record` (`None` when absent;
/// the manager passes `None` for expired discovery entries too).
pub(crate) fn plan(
    number: PhoneNumber,
    record: Option<&NumberRecord>,
    op: &Op,
    facts: &ActorFacts,
    config: &StateConfig,
) -> Result<Plan> {
    let p = plan_op(number, record, op, facts, config)?;
    mdn_guard(&p, facts)?;
    Ok(p)
}

/// MDN numbers only ever stay in service: a move of one to `reserved`,
/// `available`, `aging` or `port_in` is `from 'MDN' to <state>`, and one to
/// `in_service` from any other state is `from <state> to in_service`.
fn mdn_rule(record: Option<&NumberRecord>, op: &Op, facts: &ActorFacts) -> Result<()> {
    if !facts.number_is_mdn {
        return Ok(());
    }
    let to = match op {
        Op::Create { state, .. } => *state,
        Op::Activate { .. } => NumberState::InService,
        Op::Reserve { .. } => NumberState::Reserved,
        Op::Release | Op::Delete | Op::Edit | Op::Read => return Ok(()),
    };
    let from = record.map(|r| r.state);
    match (from, to) {
        (None | Some(NumberState::InService), NumberState::InService) => Ok(()),
        (_, NumberState::InService) => Err(Error::InvalidStateTransition { from, to }),
        _ => Err(Error::InvalidMdnTransition { to }),
    }
}

/// The MDN guard: unless the actor is the system, a plan that writes a
/// record passes only when the call's `mdn_run` matches whether the number
/// is an MDN number. Plans that change nothing, or that remove the record,
/// write nothing and pass.
fn mdn_guard(p: &Plan, facts: &ActorFacts) -> Result<()> {
    let writes = !p.noop && !p.remove && p.operation != Operation::Read;
    if facts.system || !writes || facts.mdn_run == facts.number_is_mdn {
        return Ok(());
    }
    Err(Error::Unauthorized { cause: None })
}

fn plan_op(
    number: PhoneNumber,
    record: Option<&NumberRecord>,
    op: &Op,
    facts: &ActorFacts,
    config: &StateConfig,
) -> Result<Plan> {
    let not_found = || Error::NotFound {
        number: number.to_string(),
    };
    // Every operation that assigns must be done by someone who may act for the target.
    if let Some(target) = op.target() {
        authorize_account(facts, target)?;
    }
    if let Op::Create {
        state,
        assign_to,
        ported_in,
    } = op
    {
        let create = Create {
            state: *state,
            assign_to,
            ported_in: *ported_in,
        };
        return plan_create(number, record, create, facts, config);
    }
    if let Op::Delete = op {
        if !facts.admin() {
            return Err(Error::Unauthorized { cause: None });
        }
    }
    let record = record.ok_or_else(not_found)?;
    if !is_visible(record, facts, op) {
        return Err(not_found());
    }
    mdn_rule(Some(record), op, facts)?;
    match op {
        Op::Read => {
            let mut p = Plan::new(number, op, Some(record.state), record.state);
            p.noop = true;
            Ok(p)
        }
        Op::Edit => {
            if record.state == NumberState::Discovery {
                return Err(not_found());
            }
            if !is_authorized(Some(record), facts, false) {
                return Err(Error::Unauthorized { cause: None });
            }
            Ok(Plan::new(number, op, Some(record.state), record.state))
        }
        Op::Activate { assign_to } => {
            if record.state == NumberState::InService
                && record.assigned_to.as_ref() == Some(assign_to)
            {
                let mut p = Plan::new(number, op, Some(record.state), record.state);
                p.noop = true;
                return Ok(p);
            }
            dispatch(number, record, Action::ToInService, op, facts, config)
        }
        Op::Reserve { assign_to, .. } => {
            if record.state == NumberState::Reserved
                && record.assigned_to.as_ref() == Some(assign_to)
            {
                return Err(Error::NoChangeRequired {
                    number: number.to_string(),
                });
            }
            dispatch(number, record, Action::ToReserved, op, facts, config)
        }
        Op::Release => dispatch(number, record, Action::Release, op, facts, config),
        Op::Delete => dispatch(number, record, Action::Delete, op, facts, config),
        Op::Create { .. } => Err(Error::Internal {
            cause: "create is planned separately".into(),
        }),
    }
}

/// A create's parameters.
struct Create<'a> {
    state: NumberState,
    assign_to: &'a AccountId,
    ported_in: bool,
}

fn plan_create(
    number: PhoneNumber,
    record: Option<&NumberRecord>,
    create: Create<'_>,
    facts: &ActorFacts,
    config: &StateConfig,
) -> Result<Plan> {
    let Create {
        state,
        assign_to,
        ported_in,
    } = create;
    if ported_in && !facts.admin() {
        return Err(Error::forbidden(format!(
            "account '{}' may not create numbers ported in",
            facts
                .account
                .as_ref()
                .map(AccountId::as_str)
                .unwrap_or("undefined")
        )));
    }
    // A number ported in elsewhere is in service here at once.
    let state = if ported_in && state != NumberState::PortIn {
        NumberState::InService
    } else {
        state
    };
    let mut p = plan_create_in(number, record, state, assign_to, facts, config)?;
    if ported_in && p.to == NumberState::InService {
        p.ported_in = true;
    }
    Ok(p)
}

fn plan_create_in(
    number: PhoneNumber,
    record: Option<&NumberRecord>,
    state: NumberState,
    assign_to: &AccountId,
    facts: &ActorFacts,
    config: &StateConfig,
) -> Result<Plan> {
    let port = state == NumberState::PortIn;
    if !port && !allowed_creation_states(facts).contains(&state) {
        // An account that may not create at all gets the more telling cause.
        if !facts.admin() && !facts.allow_additions {
            return Err(Error::forbidden(format!(
                "account '{}' is not allowed to create number",
                facts
                    .account
                    .as_ref()
                    .map(AccountId::as_str)
                    .unwrap_or("undefined")
            )));
        }
        return Err(Error::forbidden(format!(
            "creating number in state '{}' is not allowed",
            state.as_str()
        )));
    }
    let action = Action::for_target(state).ok_or_else(|| {
        Error::forbidden(format!(
            "creating number in state '{}' is not allowed",
            state.as_str()
        ))
    })?;
    let op = Op::Create {
        state,
        assign_to: assign_to.clone(),
        ported_in: false,
    };
    match record {
        Some(existing)
            if matches!(
                existing.state,
                NumberState::Aging | NumberState::Available | NumberState::PortIn
            ) =>
        {
            // An owned aging or port_in number belongs to its owner's tree: to
            // anyone else it simply exists, and who holds it stays hidden.
            if !is_authorized(Some(existing), facts, true) {
                return Err(Error::NumberExists {
                    number: number.to_string(),
                });
            }
            mdn_rule(Some(existing), &op, facts)?;
            dispatch(number, existing, action, &op, facts, config)
        }
        Some(_) => Err(Error::NumberExists {
            number: number.to_string(),
        }),
        None => {
            mdn_rule(None, &op, facts)?;
            // A new number is already in its target state: the "target <- target" row applies.
            let row = table::lookup(action, state, facts.number_is_local).ok_or(
                Error::InvalidStateTransition {
                    from: None,
                    to: state,
                },
            )?;
            if !auth_ok(row.auth, None, facts, true) {
                return Err(Error::Unauthorized { cause: None });
            }
            let mut p = Plan::new(number, &op, None, state);
            apply_effects(&mut p, row.effects, assign_to, None, &op);
            Ok(p)
        }
    }
}

fn auth_ok(
    auth: Auth,
    record: Option<&NumberRecord>,
    facts: &ActorFacts,
    has_target: bool,
) -> bool {
    match auth {
        Auth::Anyone => true,
        Auth::Owner => is_authorized(record, facts, has_target),
        Auth::OwnerOrDescendant => {
            is_authorized(record, facts, has_target)
                || (record.is_some_and(|r| r.state == NumberState::Reserved)
                    && facts.descendant_of_owner)
        }
        Auth::Master => facts.admin(),
    }
}

fn apply_effects(
    p: &mut Plan,
    effects: &[Effect],
    target: &AccountId,
    record: Option<&NumberRecord>,
    op: &Op,
) {
    for e in effects {
        match e {
            Effect::Move => {
                if record.and_then(|r| r.assigned_to.as_ref()) != Some(target) {
                    p.assign = Some(Some(target.clone()));
                }
            }
            Effect::History => p.push_history = Some(target.clone()),
            Effect::Acquire => p.carrier = CarrierAction::Acquire,
            Effect::Release | Effect::Remove => {}
        }
    }
    if let Op::Reserve { lease_until, .. } = op {
        p.expires_at = *lease_until;
    }
    if p.from == Some(NumberState::PortIn) && p.to == NumberState::InService {
        p.ported_in = true;
    }
}

fn dispatch(
    number: PhoneNumber,
    record: &NumberRecord,
    action: Action,
    op: &Op,
    facts: &ActorFacts,
    config: &StateConfig,
) -> Result<Plan> {
    let invalid_to = match action {
        Action::Release => config.released_state,
        Action::Delete => NumberState::Deleted,
        other => other.create_target().unwrap_or(NumberState::Deleted),
    };
    let row = table::lookup(action, record.state, facts.number_is_local).ok_or(
        Error::InvalidStateTransition {
            from: Some(record.state),
            to: invalid_to,
        },
    )?;
    if !auth_ok(row.auth, Some(record), facts, op.target().is_some()) {
        return Err(Error::Unauthorized { cause: None });
    }
    match row.to {
        Target::Fixed(NumberState::Deleted) => {
            let mut p = Plan::new(number, op, Some(record.state), NumberState::Deleted);
            p.remove = true;
            p.reset = true;
            // The number leaves the system: give back whatever we hold upstream
            // (a search result was never bought).
            if record.state != NumberState::Discovery && !facts.number_is_local {
                p.carrier = CarrierAction::Disconnect;
            }
            Ok(p)
        }
        Target::Fixed(to) => {
            let mut p = Plan::new(number, op, Some(record.state), to);
            if let Some(target) = op.target() {
                apply_effects(&mut p, row.effects, target, Some(record), op);
            }
            Ok(p)
        }
        Target::Released => Ok(plan_release(number, record, op, facts, config)),
    }
}

/// Unwinds the reserve history, else falls back to `released_state`. A number
/// that stays in the inventory (available, aging, released) stays held at its
/// carrier; only one that leaves the system (local numbers, or every number
/// with `should_permanently_delete`) is deleted and disconnected upstream. A
/// number sent to `aging` stays with its owner until the aging sweep.
fn plan_release(
    number: PhoneNumber,
    record: &NumberRecord,
    op: &Op,
    facts: &ActorFacts,
    config: &StateConfig,
) -> Plan {
    let mut p = Plan::new(number, op, Some(record.state), config.released_state);
    p.reset = true;
    if let [_, previous, rest @ ..] = record.reserve_history.as_slice() {
        p.assign = Some(Some(previous.clone()));
        let mut history = vec![previous.clone()];
        history.extend(rest.iter().cloned());
        p.set_history = Some(history);
        p.to = NumberState::Reserved;
        return p;
    }
    p.assign = Some(None);
    p.set_history = Some(Vec::new());
    if config.should_permanently_delete || facts.number_is_local {
        p.to = NumberState::Deleted;
        p.remove = true;
        p.carrier = CarrierAction::Disconnect;
    } else if config.should_age && p.to == NumberState::Available {
        // The quarantine keeps the releasing owner: only its tree (or master)
        // may buy back a number released by accident; the aging sweep frees it.
        p.to = NumberState::Aging;
        p.assign = None;
    }
    p
}

/// Applies a plan to a record (for a new number, `base` is the fresh record).
/// Returns `None` when the record is removed.
pub(crate) fn apply(base: NumberRecord, plan: &Plan, now: DateTime<Utc>) -> Option<NumberRecord> {
    if plan.remove {
        return None;
    }
    if plan.noop {
        return Some(base);
    }
    let mut r = base;
    if let Some(owner) = &plan.assign {
        r.set_assigned_to(owner.clone());
    }
    if let Some(h) = &plan.set_history {
        r.reserve_history = h.clone();
    }
    if let Some(h) = &plan.push_history {
        if r.reserve_history.first() != Some(h) {
            r.reserve_history.insert(0, h.clone());
        }
    }
    if plan.reset {
        r.public.clear();
        r.features.retain(|k, _| k == "local");
    }
    if plan.ported_in {
        r.ported_in = true;
    }
    // A remembered search result becomes a real number now.
    if plan.from == Some(NumberState::Discovery) {
        r.created = now;
    }
    // A state change, a new owner or a release ends any lease (a lease belongs
    // to one reservation); a new lease replaces the old.
    if plan.changes_state() || plan.expires_at.is_some() || plan.reset || plan.assign.is_some() {
        r.expires_at = plan.expires_at;
    }
    r.state = plan.to;
    r.pending = None;
    r.modified = now;
    Some(r)
}

// These were doc examples while the planner was public; it is crate-internal now.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_may_not_act_for_a_sibling_but_the_system_may() {
        let sibling = AccountId::new("b2").unwrap();
        let facts = ActorFacts {
            account: AccountId::new("a1").ok(),
            ..Default::default()
        };
        assert!(authorize_account(&facts, &sibling).is_err());
        assert!(authorize_account(&ActorFacts::system(), &sibling).is_ok());
    }

    #[test]
    fn a_create_plans_a_reserved_number_for_its_account() {
        let n = PhoneNumber::parse("+14155550000").unwrap();
        let acct = AccountId::new("a1").unwrap();
        let op = Op::Create {
            state: NumberState::Reserved,
            assign_to: acct.clone(),
            ported_in: false,
        };
        let p = plan(n, None, &op, &ActorFacts::system(), &StateConfig::default()).unwrap();
        assert_eq!(p.to, NumberState::Reserved);
        assert_eq!(p.assign, Some(Some(acct)));
    }

    #[test]
    fn the_planner_refuses_every_mdn_move_but_in_service_to_in_service() {
        let n = PhoneNumber::parse("+14155550304").unwrap();
        let acct = AccountId::new("a1").unwrap();
        let mut facts = ActorFacts::system();
        facts.number_is_mdn = true;
        facts.number_is_local = true;
        let config = StateConfig::default();
        for state in [
            NumberState::Reserved,
            NumberState::Available,
            NumberState::Aging,
            NumberState::PortIn,
        ] {
            let op = Op::Create {
                state,
                assign_to: acct.clone(),
                ported_in: false,
            };
            let e = plan(n, None, &op, &facts, &config).unwrap_err();
            assert_eq!(e, Error::InvalidMdnTransition { to: state });
            assert_eq!(e.cause(), Some(format!("from 'MDN' to {}", state.as_str())));
        }
        let now = chrono::Utc::now();
        let mut r = NumberRecord::new(n, NumberState::InService, "mdn", now);
        r.set_assigned_to(Some(acct.clone()));
        let other = AccountId::new("b2").unwrap();
        let moved = plan(
            n,
            Some(&r),
            &Op::Activate {
                assign_to: other.clone(),
            },
            &facts,
            &config,
        )
        .unwrap();
        assert_eq!(moved.to, NumberState::InService);
        assert_eq!(moved.assign, Some(Some(other)));
    }
}
