//! Port requests: bringing numbers over from another carrier.
//!
//! A [`PortRequest`] carries what every real port-in needs (the numbers, the
//! losing carrier and the account held there, the dates, the documents, the
//! back-and-forth with the port authority) and moves through the
//! [`PortState`]s by the table [`MOVES`]: the pure
//! [`plan_move`] decides whether a move is allowed and who may make it.
//! Requests are kept through a [`PortRequestStore`]; `NumberManager` runs the
//! operations and the effects on numbers (a number in an active request is
//! `number_is_porting`; completing a request creates its numbers in service).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::AccountId;
use crate::error::{Error, Result};
use crate::number::PhoneNumber;
use crate::record::Revision;

mod attachments;
mod moves;
mod store;

pub use attachments::{AttachmentStore, MemoryAttachments};
pub use moves::{plan_move, PortFacts, PortMove, MOVES};
pub use store::PortRequestStore;

/// Where a port request stands (defined with the other state values in
/// [`state`](crate::state), so the error catalogue can name it).
pub use crate::state::PortState;

/// A port request's id: 1 to 64 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortId(String);

impl PortId {
    /// Checks and wraps an id.
    ///
    /// ```
    /// use number_manager::porting::PortId;
    /// assert!(PortId::new("0a1b2c").is_ok());
    /// assert!(PortId::new("").is_err() && PortId::new("a/b").is_err());
    /// ```
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(PortId(id))
        } else {
            Err(Error::validation(
                "id",
                "pattern",
                "a port request id is 1 to 64 letters, digits, '-' or '_'",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PortId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        PortId::new(s)
    }
}

impl From<PortId> for String {
    fn from(id: PortId) -> String {
        id.0
    }
}

/// The customer's account at the losing carrier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BillingDetails {
    /// The name on the account.
    pub name: Option<String>,
    /// The billing address.
    pub address: Option<String>,
    /// The account number.
    pub account_number: Option<String>,
    /// The account's PIN (passcode).
    pub pin: Option<String>,
}

/// A document attached to a request (the bytes are kept elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attachment {
    /// The file name (`bill.pdf`).
    pub name: String,
    /// Its media type (`application/pdf`).
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Attachment {
    /// An attachment's metadata.
    pub fn new(name: impl Into<String>, content_type: impl Into<String>, size: u64) -> Self {
        Attachment {
            name: name.into(),
            content_type: content_type.into(),
            size,
        }
    }
}

/// Who may read a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone who may read the request.
    Public,
    /// The port authority only.
    Private,
}

/// A comment on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Comment {
    /// The writer (`None`: the system).
    pub by: Option<AccountId>,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// The text.
    pub text: String,
    /// Who may read it.
    pub visibility: Visibility,
}

impl Comment {
    /// A comment.
    pub fn new(
        by: Option<AccountId>,
        at: DateTime<Utc>,
        text: impl Into<String>,
        visibility: Visibility,
    ) -> Self {
        Comment {
            by,
            at,
            text: text.into(),
            visibility,
        }
    }
}

/// One move of a request, as its timeline keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TimelineEntry {
    /// The state before.
    pub previous: PortState,
    /// The state after.
    pub new: PortState,
    /// The account that made the move (`None`: the system).
    pub by: Option<AccountId>,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, when given (a rejection's reason, ...).
    pub reason: Option<String>,
}

/// A request to port numbers in from another carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortRequest {
    /// The id.
    pub id: PortId,
    /// The account the numbers are for.
    pub account: AccountId,
    /// A name for the request.
    pub name: String,
    /// The numbers, each once.
    pub numbers: Vec<PhoneNumber>,
    /// Where it stands.
    pub state: PortState,
    /// The customer's account at the losing carrier.
    pub billing: BillingDetails,
    /// The carrier the numbers leave.
    pub losing_carrier: Option<String>,
    /// When the customer would like the port to happen.
    pub desired_date: Option<DateTime<Utc>>,
    /// When the port is scheduled (needed to move to `scheduled`).
    pub schedule_on: Option<DateTime<Utc>>,
    /// Addresses to tell about progress.
    pub notifications: Vec<String>,
    /// The documents (metadata).
    pub attachments: Vec<Attachment>,
    /// The comments, oldest first.
    pub comments: Vec<Comment>,
    /// Every move, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// When it last changed.
    pub modified: DateTime<Utc>,
    /// The store's revision ([`Revision::NEW`] before it is first stored).
    pub revision: Revision,
}

impl PortRequest {
    /// A new, `unconfirmed` request.
    pub fn new(
        id: PortId,
        account: AccountId,
        name: impl Into<String>,
        numbers: Vec<PhoneNumber>,
        now: DateTime<Utc>,
    ) -> Self {
        PortRequest {
            id,
            account,
            name: name.into(),
            numbers,
            state: PortState::Unconfirmed,
            billing: BillingDetails::default(),
            losing_carrier: None,
            desired_date: None,
            schedule_on: None,
            notifications: Vec::new(),
            attachments: Vec::new(),
            comments: Vec::new(),
            timeline: Vec::new(),
            created: now,
            modified: now,
            revision: Revision::NEW,
        }
    }

    /// The request as someone who is not the port authority may read it:
    /// private comments removed.
    pub fn public_view(&self) -> PortRequest {
        let mut view = self.clone();
        view.comments.retain(|c| c.visibility == Visibility::Public);
        view
    }
}
