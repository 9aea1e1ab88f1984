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
///
/// # Example
///
/// A sink that hands every event to the host's own queue (here a `Vec`):
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::{Arc, Mutex};
///
/// use number_manager::account::MemoryAccounts;
/// use number_manager::events::{Event, EventSink};
/// use number_manager::state::{NumberState, Operation};
/// use number_manager::{Error, NumberManager, Options};
///
/// #[derive(Debug, Default)]
/// struct Queue(Mutex<Vec<Event>>);
///
/// impl EventSink for Queue {
///     fn emit(&self, event: &Event) {
///         // On the operation's path: a push, no I/O.
///         self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
///     }
/// }
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// let queue = Arc::new(Queue::default());
/// let manager = NumberManager::builder()
///     .accounts(accounts)
///     .events(queue.clone())
///     .build();
/// let opts = Options::as_account(&master).with_request_id("req-1");
/// manager.create(&master, "4155550100", Default::default(), &opts).await?;
/// manager.release("4155550100", &opts).await?;
///
/// let events = queue.0.lock().unwrap();
/// let seen: Vec<(&str, Operation)> = events.iter().map(|e| (e.number.as_str(), e.operation)).collect();
/// assert_eq!(seen, [("+14155550100", Operation::Create), ("+14155550100", Operation::Release)]);
/// assert_eq!((events[0].from, events[0].to), (None, NumberState::Reserved));
/// assert_eq!(events[1].request_id.as_deref(), Some("req-1"));
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
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
