//! The number state machine's values: [`NumberState`], [`Operation`], the
//! transition table (`table.rs`, internal) and [`StateConfig`].
//!
//! Everything here is pure data and depends on no other module of the crate
//! (it is the bottom layer: a name that does not parse is a [`ParseError`],
//! which the error catalogue turns into a validation error). The planner that
//! applies the table to a record is [`lifecycle`](crate::lifecycle), above the
//! record.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod operation;
mod port;
// The transition table is an internal of the planner (`lifecycle`); hosts see
// its rules through `NumberManager` and the README's generated diagram.
pub(crate) mod table;

pub use operation::Operation;
pub use port::PortState;

/// The nine states of the seeds' schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberState {
    /// A carrier search result remembered so it can be bought.
    Discovery,
    /// Routed but unassigned; anyone may buy it.
    Available,
    /// Assigned to an account but not in use.
    Reserved,
    /// Assigned and in use.
    InService,
    /// Being ported in.
    PortIn,
    /// Being ported out.
    PortOut,
    /// Released (only with `released_state = released`).
    Released,
    /// Quarantined after a release.
    Aging,
    /// Removed; only ever returned, never stored.
    Deleted,
}

impl NumberState {
    /// Every state, in schema order.
    pub const ALL: [NumberState; 9] = [
        NumberState::Aging,
        NumberState::Available,
        NumberState::Deleted,
        NumberState::Discovery,
        NumberState::InService,
        NumberState::PortIn,
        NumberState::PortOut,
        NumberState::Released,
        NumberState::Reserved,
    ];

    /// The state's wire name (`in_service`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NumberState::Discovery => "discovery",
            NumberState::Available => "available",
            NumberState::Reserved => "reserved",
            NumberState::InService => "in_service",
            NumberState::PortIn => "port_in",
            NumberState::PortOut => "port_out",
            NumberState::Released => "released",
            NumberState::Aging => "aging",
            NumberState::Deleted => "deleted",
        }
    }

    /// Whether a number in this state has an owner.
    pub fn is_assigned(self) -> bool {
        matches!(
            self,
            NumberState::Reserved
                | NumberState::InService
                | NumberState::PortIn
                | NumberState::PortOut
        )
    }
}

impl fmt::Display for NumberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NumberState {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        NumberState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ParseError::new("state", s))
    }
}

/// A name that is not a [`NumberState`] (or not an [`Operation`]). Converts
/// into a validation error on the field it names (`state` or `operation`,
/// keyword `enum`).
///
/// ```
/// use number_manager::state::NumberState;
/// let err = "sold".parse::<NumberState>().unwrap_err();
/// assert_eq!(err.field(), "state");
/// assert_eq!(err.to_string(), r#"unknown state "sold""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    field: &'static str,
    name: String,
}

impl ParseError {
    pub(crate) fn new(field: &'static str, name: &str) -> Self {
        ParseError {
            field,
            name: name.to_string(),
        }
    }

    /// What was being parsed: `state`, `operation` or `port_state`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The name that did not parse.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.field, self.name)
    }
}

impl std::error::Error for ParseError {}

/// Configuration the state machine consults (a missing field keeps its
/// default when read; an unknown one is an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StateConfig {
    /// State after a release with an empty reserve history (default `available`).
    pub released_state: NumberState,
    /// Send released non-local numbers to `aging` (default false).
    pub should_age: bool,
    /// Delete every released number (default false).
    pub should_permanently_delete: bool,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            released_state: NumberState::Available,
            should_age: false,
            should_permanently_delete: false,
        }
    }
}

crate::util::with_setters!(StateConfig {
    /// Sets [`StateConfig::released_state`].
    with_released_state => released_state: NumberState;
    /// Sets [`StateConfig::should_age`].
    with_should_age => should_age: bool;
    /// Sets [`StateConfig::should_permanently_delete`].
    with_should_permanently_delete => should_permanently_delete: bool;
});
