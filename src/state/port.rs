//! The states of a port request: [`PortState`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// Where a port request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    /// Being prepared by the customer; nothing is sent yet.
    Unconfirmed,
    /// Sent to the port authority.
    Submitted,
    /// Accepted by the port authority, waiting on the losing carrier.
    Pending,
    /// A date is set (`schedule_on`).
    Scheduled,
    /// Done: the numbers are in service here.
    Completed,
    /// Refused (by the losing carrier or the port authority); may be fixed and
    /// submitted again.
    Rejected,
    /// Given up.
    Canceled,
}

impl PortState {
    /// Every state.
    pub const ALL: [PortState; 7] = [
        PortState::Unconfirmed,
        PortState::Submitted,
        PortState::Pending,
        PortState::Scheduled,
        PortState::Completed,
        PortState::Rejected,
        PortState::Canceled,
    ];

    /// The state's wire name (`unconfirmed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Unconfirmed => "unconfirmed",
            PortState::Submitted => "submitted",
            PortState::Pending => "pending",
            PortState::Scheduled => "scheduled",
            PortState::Completed => "completed",
            PortState::Rejected => "rejected",
            PortState::Canceled => "canceled",
        }
    }

    /// The request still holds its numbers: no other request may hold them
    /// (every state but `completed` and `canceled`).
    pub fn is_open(self) -> bool {
        !matches!(self, PortState::Completed | PortState::Canceled)
    }

    /// The numbers are on their way here (`submitted`, `pending`,
    /// `scheduled`): creating one of them is `number_is_porting`.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            PortState::Submitted | PortState::Pending | PortState::Scheduled
        )
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PortState {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        PortState::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParseError::new("port_state", s))
    }
}
