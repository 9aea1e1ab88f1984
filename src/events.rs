//! Events: every committed change is reported to an [`EventSink`].
//!
//! The default sink, [`AuditLog`], keeps every event in memory per number so a
//! host (or a test) can ask what happened to a number.

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::account::Actor;
use crate::number::PhoneNumber;
use crate::record::Revision;
use crate::state::{NumberState, Operation};

/// One committed change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The number.
    pub number: PhoneNumber,
    /// The operation (`create`, `activate`, `reserve`, `release`, `delete`, `update`, ...).
    pub operation: Operation,
    /// State before (none for a new number).
    pub from: Option<NumberState>,
    /// State after (`deleted` for a removal).
    pub to: NumberState,
    /// Who did it.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// Revision before (`0` for a new number).
    pub before: Revision,
    /// Revision after (`0` for a removal).
    pub after: Revision,
    /// The request that caused the change ([`Options::request_id`](crate::Options::request_id),
    /// which the API fills from `X-Request-Id`); `None` for housekeeping
    /// (aging, giving back an interrupted purchase) and for callers that set none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Receives events after they are committed. Must be cheap and must not block:
/// it is called on the operation's path.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Called once per committed change.
    fn emit(&self, event: &Event);
}

/// An in-memory audit log per number (the default sink).
///
/// ```
/// use number_manager::events::{AuditLog, EventSink};
/// let log = AuditLog::default();
/// assert!(log.history(&number_manager::PhoneNumber::parse("+14155550000").unwrap()).is_empty());
/// ```
#[derive(Debug, Default)]
pub struct AuditLog {
    events: RwLock<HashMap<PhoneNumber, Vec<Event>>>,
}

impl AuditLog {
    /// Every event for one number, oldest first.
    pub fn history(&self, number: &PhoneNumber) -> Vec<Event> {
        let events = self.events.read().unwrap_or_else(|p| p.into_inner());
        events.get(number).cloned().unwrap_or_default()
    }

    /// How many events were recorded in total.
    pub fn len(&self) -> usize {
        let events = self.events.read().unwrap_or_else(|p| p.into_inner());
        events.values().map(Vec::len).sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EventSink for AuditLog {
    fn emit(&self, event: &Event) {
        let mut events = self.events.write().unwrap_or_else(|p| p.into_inner());
        events.entry(event.number).or_default().push(event.clone());
    }
}

impl<T: EventSink + ?Sized> EventSink for std::sync::Arc<T> {
    fn emit(&self, event: &Event) {
        (**self).emit(event)
    }
}
