//! The port request state machine as data ([`MOVES`], one row a move) and
//! the pure function that applies it ([`plan_move`]): no I/O, no clock.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{PortRequest, PortState, TimelineEntry};
use crate::account::AccountId;
use crate::error::{Error, Result};
use PortState::*;

/// One allowed move of a port request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMove {
    /// The state the request is in.
    pub from: PortState,
    /// The state it moves to.
    pub to: PortState,
    /// Allowed only when the configuration says so
    /// (`PortingConfig::schedule_from_submitted`).
    pub configurable: bool,
}

const fn mv(from: PortState, to: PortState) -> PortMove {
    PortMove {
        from,
        to,
        configurable: false,
    }
}

/// Every allowed move; any other is `invalid_state_transition`.
pub static MOVES: &[PortMove] = &[
    mv(Unconfirmed, Submitted),
    mv(Rejected, Submitted),
    mv(Submitted, Pending),
    mv(Pending, Scheduled),
    PortMove {
        from: Submitted,
        to: Scheduled,
        configurable: true,
    },
    mv(Pending, Completed),
    mv(Scheduled, Completed),
    mv(Rejected, Completed),
    mv(Submitted, Rejected),
    mv(Pending, Rejected),
    mv(Scheduled, Rejected),
    mv(Unconfirmed, Canceled),
    mv(Submitted, Canceled),
    mv(Pending, Canceled),
    mv(Scheduled, Canceled),
    mv(Rejected, Canceled),
];

/// The row for `from -> to`, if the move is allowed with this configuration.
fn lookup(
    from: PortState,
    to: PortState,
    schedule_from_submitted: bool,
) -> Option<&'static PortMove> {
    MOVES
        .iter()
        .find(|m| m.from == from && m.to == to && (!m.configurable || schedule_from_submitted))
}

/// What the manager found out about the actor, relative to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PortFacts {
    /// The actor is the system.
    pub system: bool,
    /// The actor is the master account.
    pub master: bool,
    /// The actor's account, for timelines and error causes.
    pub account: Option<AccountId>,
    /// The actor is the request's account or an ancestor of it.
    pub account_or_ancestor: bool,
    /// The actor is in the request's account tree: the account, an ancestor
    /// or a descendant of it.
    pub in_tree: bool,
    /// The actor is the port authority of the request's account (the one
    /// its nearest reseller names, else master).
    pub port_authority: bool,
}

impl PortFacts {
    /// Facts for the system actor.
    pub fn system() -> Self {
        PortFacts {
            system: true,
            master: true,
            ..Default::default()
        }
    }

    /// The actor may make every allowed move.
    fn authority(&self) -> bool {
        self.system || self.master || self.port_authority
    }

    /// Whether the actor may read the request: anyone in its account's tree
    /// (who may submit it), or the port authority.
    pub fn may_read(&self) -> bool {
        self.authority() || self.in_tree
    }

    /// Whether the actor may read the private comments.
    pub fn may_read_private(&self) -> bool {
        self.authority()
    }
}

/// Who may make the move `from -> to`: the port authority (and master, and
/// the system) any; anyone in the request's account tree may submit; the
/// request's account or an ancestor may cancel while it is `unconfirmed`.
fn may_move(from: PortState, to: PortState, facts: &PortFacts) -> bool {
    facts.authority()
        || (to == Submitted && facts.in_tree)
        || (from == Unconfirmed && to == Canceled && facts.account_or_ancestor)
}

/// The request after the move to `to` by the actor `facts` describes, with
/// its timeline entry `{previous, new, by, at, reason}`; or why not:
/// `invalid_state_transition` (cause `from <a> to <b>`) for a move the table
/// does not have, `user_not_allowed` for an actor who may not make it, and a
/// validation error on `schedule_on` for `scheduled` without a date.
///
/// ```
/// use number_manager::porting::{plan_move, PortFacts, PortId, PortRequest, PortState};
/// use number_manager::account::AccountId;
/// let now = chrono::Utc::now();
/// let account = AccountId::new("a1").unwrap();
/// let r = PortRequest::new(PortId::new("p1").unwrap(), account, "move", vec![], now);
/// let submitted = plan_move(&r, PortState::Submitted, &PortFacts::system(), false, None, now).unwrap();
/// assert_eq!(submitted.state, PortState::Submitted);
/// assert_eq!(submitted.timeline[0].previous, PortState::Unconfirmed);
/// let e = plan_move(&r, PortState::Completed, &PortFacts::system(), false, None, now).unwrap_err();
/// assert_eq!(e.cause().as_deref(), Some("from unconfirmed to completed"));
/// ```
pub fn plan_move(
    request: &PortRequest,
    to: PortState,
    facts: &PortFacts,
    schedule_from_submitted: bool,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<PortRequest> {
    let from = request.state;
    if lookup(from, to, schedule_from_submitted).is_none() {
        return Err(Error::InvalidPortTransition { from, to });
    }
    if !may_move(from, to, facts) {
        return Err(Error::UserNotAllowed {
            cause: Some(format!(
                "account '{}' may not move port request {} from {from} to {to}",
                facts
                    .account
                    .as_ref()
                    .map(AccountId::as_str)
                    .unwrap_or("undefined"),
                request.id
            )),
        });
    }
    if to == Scheduled && request.schedule_on.is_none() {
        return Err(Error::validation(
            "schedule_on",
            "required",
            "a scheduled port request needs schedule_on",
        ));
    }
    let mut next = request.clone();
    next.state = to;
    next.modified = now;
    next.timeline.push(TimelineEntry {
        previous: from,
        new: to,
        by: if facts.system {
            None
        } else {
            facts.account.clone()
        },
        at: now,
        reason,
    });
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The moves exactly as the issue lists them, by target.
    #[test]
    fn the_table_is_the_listed_moves() {
        let listed: &[(PortState, &[PortState])] = &[
            (Submitted, &[Unconfirmed, Rejected]),
            (Pending, &[Submitted]),
            (Scheduled, &[Pending, Submitted]),
            (Completed, &[Pending, Scheduled, Rejected]),
            (Rejected, &[Submitted, Pending, Scheduled]),
            (
                Canceled,
                &[Unconfirmed, Submitted, Pending, Scheduled, Rejected],
            ),
        ];
        for from in PortState::ALL {
            for to in PortState::ALL {
                let expected = listed
                    .iter()
                    .any(|(t, froms)| *t == to && froms.contains(&from));
                let with_flag = lookup(from, to, true).is_some();
                assert_eq!(with_flag, expected, "{from} -> {to}");
                let without = lookup(from, to, false).is_some();
                assert_eq!(without, expected && !(from == Submitted && to == Scheduled));
            }
        }
    }
}
