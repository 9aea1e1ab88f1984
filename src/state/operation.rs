//! [`Operation`]: the name of what was done to a number, as plans, events
//! and claims carry it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// What was (or is being) done to a number. Serializes to the snake_case name
/// the seeds, the events and stored claims use (`activate`, `give_back`, ...).
///
/// ```
/// use number_manager::state::Operation;
/// assert_eq!(Operation::GiveBack.as_str(), "give_back");
/// assert_eq!("port".parse::<Operation>().unwrap(), Operation::Port);
/// assert_eq!(Operation::Update, "update");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// A number was added (PUT).
    Create,
    /// A number was added to be ported in.
    Port,
    /// A number was bought or put in service.
    Activate,
    /// A number was reserved.
    Reserve,
    /// A number was released (soft delete).
    Release,
    /// A number was removed for good.
    Delete,
    /// Public fields or `used_by` changed (POST, PATCH).
    Update,
    /// A number was read.
    Read,
    /// The aging sweep made a number available.
    Age,
    /// Maintenance is giving an interrupted purchase back to its carrier (a claim).
    GiveBack,
    /// An interrupted purchase was given back to its carrier.
    InterruptedPurchaseGivenBack,
    /// A purchase whose record could not be written could not be given back.
    UndoPurchaseFailed,
    /// Maintenance (`fix`) repaired a number's record: features recomputed,
    /// a stale claim cleared, an owner and state made to agree, or an
    /// interrupted removal completed.
    Fix,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 13] = [
        Operation::Create,
        Operation::Port,
        Operation::Activate,
        Operation::Reserve,
        Operation::Release,
        Operation::Delete,
        Operation::Update,
        Operation::Read,
        Operation::Age,
        Operation::GiveBack,
        Operation::InterruptedPurchaseGivenBack,
        Operation::UndoPurchaseFailed,
        Operation::Fix,
    ];

    /// The operation's wire name (`activate`, `give_back`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Port => "port",
            Operation::Activate => "activate",
            Operation::Reserve => "reserve",
            Operation::Release => "release",
            Operation::Delete => "delete",
            Operation::Update => "update",
            Operation::Read => "read",
            Operation::Age => "age",
            Operation::GiveBack => "give_back",
            Operation::InterruptedPurchaseGivenBack => "interrupted_purchase_given_back",
            Operation::UndoPurchaseFailed => "undo_purchase_failed",
            Operation::Fix => "fix",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| ParseError::new("operation", s))
    }
}

impl PartialEq<str> for Operation {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Operation {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Operation> for str {
    fn eq(&self, other: &Operation) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Operation> for &str {
    fn eq(&self, other: &Operation) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for op in Operation::ALL {
            let json = serde_json::to_value(op).unwrap();
            assert_eq!(json, serde_json::Value::String(op.as_str().into()));
            assert_eq!(serde_json::from_value::<Operation>(json).unwrap(), op);
            assert_eq!(op.as_str().parse::<Operation>().unwrap(), op);
        }
        assert!("purchase".parse::<Operation>().is_err());
    }
}
