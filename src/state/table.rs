//! The transition table (Kazoo's, with its argument-order and re-purchase bugs fixed) as data.
//!
//! Each row says: for this [`Action`] on a number in state `from`, who may do it
//! ([`Auth`]), what happens ([`Effect`]s) and which state results ([`Target`]).
//! A missing row is an `invalid_state_transition`. [`mermaid`] draws the table;
//! the README's diagram is its output, and a test keeps the two in step.

use super::NumberState;
use NumberState::*;

/// What an operation asks of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Move to `in_service` (activate / buy, or create in_service).
    ToInService,
    /// Move to `reserved` (reserve, or create reserved).
    ToReserved,
    /// Create in `available` (master only).
    ToAvailable,
    /// Create in `aging` (master only).
    ToAging,
    /// Create in `port_in` (any account, through `port`).
    ToPortIn,
    /// Release (soft delete).
    Release,
    /// Hard delete (master only).
    Delete,
}

impl Action {
    /// The label used in the diagram.
    #[cfg(test)]
    pub fn label(self) -> &'static str {
        match self {
            Action::ToInService => "activate",
            Action::ToReserved => "reserve",
            Action::ToAvailable => "create available",
            Action::ToAging => "create aging",
            Action::ToPortIn => "port",
            Action::Release => "release",
            Action::Delete => "delete hard",
        }
    }

    /// The state a create in this action produces, if it is a creation target.
    pub fn create_target(self) -> Option<NumberState> {
        match self {
            Action::ToInService => Some(InService),
            Action::ToReserved => Some(Reserved),
            Action::ToAvailable => Some(Available),
            Action::ToAging => Some(Aging),
            Action::ToPortIn => Some(PortIn),
            Action::Release | Action::Delete => None,
        }
    }

    /// The action that moves a number to `state`, if any.
    pub fn for_target(state: NumberState) -> Option<Action> {
        match state {
            InService => Some(Action::ToInService),
            Reserved => Some(Action::ToReserved),
            Available => Some(Action::ToAvailable),
            Aging => Some(Action::ToAging),
            PortIn => Some(Action::ToPortIn),
            _ => None,
        }
    }
}

/// Who may perform a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone who may act for the target account ("everyone must be allowed to buy available").
    Anyone,
    /// Kazoo's `is_authorized`: the owner or an ancestor of it (for an unassigned
    /// number: the target account or an ancestor of it), or master.
    Owner,
    /// `Owner`, or a descendant of the account that reserved the number.
    OwnerOrDescendant,
    /// Master (or the system) only.
    Master,
}

/// One thing a transition does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Assign the number to the target account (with Kazoo's side effects).
    Move,
    /// Push the target account onto the reserve history.
    History,
    /// Buy the number from its carrier.
    Acquire,
    /// Clear public fields and features, deprovision E911/CNAM, unwind the
    /// reserve history, disconnect the number upstream when it ends unassigned.
    Release,
    /// Remove the record (E911 removed upstream first).
    Remove,
}

/// Which state a row ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Always this state.
    Fixed(NumberState),
    /// The release rule: back to the previous reserver, else `released_state`
    /// (or aging / deleted per configuration and carrier).
    Released,
}

/// A row's extra condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// None.
    Always,
    /// Only for numbers of a local carrier.
    LocalOnly,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The operation.
    pub action: Action,
    /// The current state.
    pub from: NumberState,
    /// The resulting state.
    pub to: Target,
    /// Who may do it.
    pub auth: Auth,
    /// What it does, in order.
    pub effects: &'static [Effect],
    /// Extra condition.
    pub guard: Guard,
}

const fn row(
    action: Action,
    from: NumberState,
    to: NumberState,
    auth: Auth,
    effects: &'static [Effect],
) -> Transition {
    Transition {
        action,
        from,
        to: Target::Fixed(to),
        auth,
        effects,
        guard: Guard::Always,
    }
}

const fn release(from: NumberState, guard: Guard) -> Transition {
    Transition {
        action: Action::Release,
        from,
        to: Target::Released,
        auth: Auth::Owner,
        effects: &[Effect::Release],
        guard,
    }
}

const fn delete(from: NumberState) -> Transition {
    Transition {
        action: Action::Delete,
        from,
        to: Target::Fixed(Deleted),
        auth: Auth::Master,
        effects: &[Effect::Remove],
        guard: Guard::Always,
    }
}

use Action::*;
use Auth::*;
use Effect::{Acquire, History, Move};

/// Every allowed transition. Special cases handled by the planner on top of a
/// row: activating a number the target already has in service is a no-op;
/// reserving onto the account that holds it is `no_change_required`.
pub static TRANSITIONS: &[Transition] = &[
    row(ToInService, InService, InService, Owner, &[Move]),
    row(ToInService, Discovery, InService, Anyone, &[Move, Acquire]),
    row(ToInService, PortIn, InService, Owner, &[Move]),
    row(ToInService, Available, InService, Anyone, &[Move]),
    row(ToInService, Aging, InService, Owner, &[Move]),
    row(ToInService, Reserved, InService, OwnerOrDescendant, &[Move]),
    // reserved -> reserved never calls the carrier again.
    row(ToReserved, Reserved, Reserved, Owner, &[History, Move]),
    row(
        ToReserved,
        Discovery,
        Reserved,
        Owner,
        &[History, Move, Acquire],
    ),
    row(ToReserved, Available, Reserved, Owner, &[History, Move]),
    row(ToReserved, InService, Reserved, Owner, &[History, Move]),
    row(ToAvailable, Available, Available, Owner, &[]),
    row(ToAging, Aging, Aging, Owner, &[Move]),
    row(ToAging, Released, Aging, Anyone, &[Move]),
    row(ToAging, Available, Aging, Anyone, &[Move]),
    row(ToPortIn, PortIn, PortIn, Owner, &[Move]),
    release(Released, Guard::Always),
    release(Reserved, Guard::Always),
    release(PortIn, Guard::Always),
    release(InService, Guard::Always),
    release(Available, Guard::LocalOnly),
    release(Aging, Guard::LocalOnly),
    release(PortOut, Guard::LocalOnly),
    delete(Discovery),
    delete(Available),
    delete(Reserved),
    delete(InService),
    delete(PortIn),
    delete(PortOut),
    delete(Released),
    delete(Aging),
];

/// The row for `action` from `from`, honouring guards.
pub fn lookup(action: Action, from: NumberState, is_local: bool) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|t| {
        t.action == action
            && t.from == from
            && (t.guard == Guard::Always || (t.guard == Guard::LocalOnly && is_local))
    })
}

/// The table as a mermaid `stateDiagram-v2`, one edge per row (release edges
/// drawn to each state a release can end in). `[*]` stands for "no record":
/// creation edges start there and removals end there.
// Only the README test renders the diagram.
#[cfg(test)]
pub fn mermaid() -> String {
    let mut lines = vec!["stateDiagram-v2".to_string()];
    for state in [Available, Reserved, InService, PortIn, Aging] {
        lines.push(format!(
            "    [*] --> {} : create {}",
            state.as_str(),
            state.as_str()
        ));
    }
    for t in TRANSITIONS {
        let guard = match t.guard {
            Guard::Always => "",
            Guard::LocalOnly => " (local)",
        };
        match t.to {
            Target::Fixed(Deleted) => {
                lines.push(format!(
                    "    {} --> [*] : {}{}",
                    t.from.as_str(),
                    t.action.label(),
                    guard
                ));
            }
            Target::Fixed(to) => {
                lines.push(format!(
                    "    {} --> {} : {}{}",
                    t.from.as_str(),
                    to.as_str(),
                    t.action.label(),
                    guard
                ));
            }
            Target::Released => {
                for to in ["reserved", "available", "released", "aging"] {
                    lines.push(format!(
                        "    {} --> {} : {}{}",
                        t.from.as_str(),
                        to,
                        t.action.label(),
                        guard
                    ));
                }
                lines.push(format!(
                    "    {} --> [*] : {}{}",
                    t.from.as_str(),
                    t.action.label(),
                    guard
                ));
            }
        }
    }
    lines.join("\n")
}

/// The README's state diagram is generated from this table; these tests fail
/// when they disagree. Regenerate with
/// `UPDATE_README=1 cargo test --lib readme_tests`.
#[cfg(test)]
mod readme_tests {
    use super::*;
    const BEGIN: &str = "<!-- state-diagram:begin (generated from state::table::mermaid; do not edit) -->\n```mermaid\n";
    const END: &str = "\n```\n<!-- state-diagram:end -->";

    #[test]
    fn readme_state_diagram_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let start = readme
            .find(BEGIN)
            .expect("README has the state-diagram begin marker")
            + BEGIN.len();
        let end = readme[start..]
            .find(END)
            .expect("README has the state-diagram end marker")
            + start;
        let generated = mermaid();
        if readme[start..end] != generated {
            if std::env::var_os("UPDATE_README").is_some() {
                let updated = format!("{}{}{}", &readme[..start], generated, &readme[end..]);
                std::fs::write(path, updated).expect("write README.md");
            } else {
                panic!(
                    "README state diagram is stale; run `UPDATE_README=1 cargo test --lib readme_tests`.\nExpected:\n{generated}"
                );
            }
        }
    }

    #[test]
    fn diagram_has_an_edge_per_table_row() {
        let diagram = mermaid();
        for t in TRANSITIONS {
            let from = format!("    {} --> ", t.from.as_str());
            assert!(
                diagram
                    .lines()
                    .any(|l| l.starts_with(&from) && l.contains(t.action.label())),
                "no edge for {:?} from {:?}",
                t.action,
                t.from
            );
        }
    }
}
