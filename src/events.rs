//! Events: every committed change is reported to an [`EventSink`].
//!
//! The default sink, [`AuditLog`], keeps the most recent events in memory
//! (a bounded ring, [`AuditLog::DEFAULT_CAPACITY`] by default) so a host (or
//! a test) can ask what happened to a number lately.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::{AccountId, Actor};
use crate::number::PhoneNumber;
use crate::record::Revision;
use crate::state::{NumberState, Operation};

/// One committed change.
///
/// Built by the manager only (the struct is `#[non_exhaustive]`); a consumer
/// of the outbox reads one back from a message body with `serde_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// The account that held the number before (none for a new number, or
    /// one nobody held).
    pub owner_before: Option<AccountId>,
    /// The account that holds it after (none for a removal, or a number
    /// nobody holds now: released to `available`, aged, given back).
    pub owner_after: Option<AccountId>,
    /// When.
    pub at: DateTime<Utc>,
    /// Revision before (`0` for a new number).
    pub before: Revision,
    /// Revision after (`0` for a removal).
    pub after: Revision,
    /// The request that caused the change ([`Options::request_id`](crate::Options::request_id),
    /// which the API fills from `X-Request-Id`); `None` for housekeeping
    /// (aging, giving back an interrupted purchase) and for callers that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The number's features and their settings before the change (empty
    /// for a new number).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features_before: BTreeMap<String, Value>,
    /// The number's features and their settings after the change (empty for
    /// a removal).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features_after: BTreeMap<String, Value>,
    /// The names of the public fields the change added, changed or removed,
    /// sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<String>,
}

impl Event {
    /// An event with the given facts and no features, changed fields or
    /// request id (the manager fills those in where it knows them).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        number: PhoneNumber,
        operation: Operation,
        from: Option<NumberState>,
        to: NumberState,
        actor: Actor,
        owners: (Option<AccountId>, Option<AccountId>),
        at: DateTime<Utc>,
        revisions: (Revision, Revision),
    ) -> Self {
        Event {
            number,
            operation,
            from,
            to,
            actor,
            owner_before: owners.0,
            owner_after: owners.1,
            at,
            before: revisions.0,
            after: revisions.1,
            request_id: None,
            features_before: BTreeMap::new(),
            features_after: BTreeMap::new(),
            changed_fields: Vec::new(),
        }
    }
}

/// The names of the public fields that differ between `before` and `after`
/// (added, removed or changed), sorted.
pub(crate) fn changed_fields(
    before: &serde_json::Map<String, Value>,
    after: &serde_json::Map<String, Value>,
) -> Vec<String> {
    let mut names: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(after.keys().filter(|k| !before.contains_key(*k)).cloned())
        .collect();
    names.sort();
    names.dedup();
    names
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

/// An in-memory audit log of the most recent events (the default sink).
///
/// A bounded ring: it keeps the last [`capacity`](AuditLog::capacity)
/// events over all numbers, and once full each new event drops the oldest
/// one, counted by [`dropped`](AuditLog::dropped). For a lasting trail, give
/// the manager an [`EventSink`] of your own.
///
/// ```
/// use number_manager::events::{AuditLog, EventSink};
/// let log = AuditLog::default();
/// assert_eq!(log.capacity(), AuditLog::DEFAULT_CAPACITY);
/// assert!(log.history(&number_manager::PhoneNumber::parse("+14155550000").unwrap()).is_empty());
/// assert_eq!(log.dropped(), 0);
/// ```
#[derive(Debug)]
pub struct AuditLog {
    ring: RwLock<Ring>,
    capacity: usize,
    dropped: AtomicU64,
}

/// The kept events, by number, and the order they came in (to drop the oldest).
#[derive(Debug, Default)]
struct Ring {
    by_number: HashMap<PhoneNumber, VecDeque<Event>>,
    order: VecDeque<PhoneNumber>,
}

impl Default for AuditLog {
    fn default() -> Self {
        AuditLog::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

impl AuditLog {
    /// How many events the default log keeps.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A log that keeps the last `capacity` events (`0` keeps none).
    pub fn with_capacity(capacity: usize) -> Self {
        AuditLog {
            ring: RwLock::new(Ring::default()),
            capacity,
            dropped: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The kept events for one number, oldest first.
    pub fn history(&self, number: &PhoneNumber) -> Vec<Event> {
        let ring = self.read();
        ring.by_number
            .get(number)
            .map(|events| events.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many events are kept now (at most [`capacity`](AuditLog::capacity)).
    pub fn len(&self) -> usize {
        self.read().order.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many events the log keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events were dropped to make room (or, with capacity `0`,
    /// not kept at all).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl EventSink for AuditLog {
    fn emit(&self, event: &Event) {
        if self.capacity == 0 {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("number_manager_audit_events_dropped_total").increment(1);
            return;
        }
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        let mut dropped = 0;
        while ring.order.len() >= self.capacity {
            let Some(oldest) = ring.order.pop_front() else {
                break;
            };
            // A number's events came in order, so its oldest is the front.
            if let Some(events) = ring.by_number.get_mut(&oldest) {
                events.pop_front();
                if events.is_empty() {
                    ring.by_number.remove(&oldest);
                }
            }
            dropped += 1;
        }
        ring.order.push_back(event.number);
        ring.by_number
            .entry(event.number)
            .or_default()
            .push_back(event.clone());
        drop(ring);
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            metrics::counter!("number_manager_audit_events_dropped_total").increment(dropped);
        }
    }
}

impl<T: EventSink + ?Sized> EventSink for std::sync::Arc<T> {
    fn emit(&self, event: &Event) {
        (**self).emit(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(number: &str, operation: Operation) -> Event {
        Event::new(
            PhoneNumber::parse(number).unwrap(),
            operation,
            None,
            NumberState::Reserved,
            Actor::System,
            (None, None),
            DateTime::<Utc>::UNIX_EPOCH,
            (Revision::NEW, Revision::NEW),
        )
    }

    #[test]
    fn changed_fields_names_added_changed_and_removed_fields() {
        let before: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"a":1,"b":2,"c":3}"#).unwrap();
        let after: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"b":2,"c":4,"d":5}"#).unwrap();
        assert_eq!(changed_fields(&before, &after), ["a", "c", "d"]);
        assert!(changed_fields(&before, &before).is_empty());
    }

    #[test]
    fn an_event_reads_back_from_its_json() {
        let mut e = event("+14155550001", Operation::Update);
        e.request_id = Some("r".into());
        e.changed_fields = vec!["cnam".into()];
        e.features_after.insert("cnam".into(), Value::Bool(true));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
    }

    fn operations(log: &AuditLog, number: &str) -> Vec<Operation> {
        let n = PhoneNumber::parse(number).unwrap();
        log.history(&n).iter().map(|e| e.operation).collect()
    }

    #[test]
    fn a_full_log_drops_the_oldest_event_over_all_numbers() {
        let log = AuditLog::with_capacity(3);
        let (a, b) = ("+14155550001", "+14155550002");
        log.emit(&event(a, Operation::Create));
        log.emit(&event(b, Operation::Create));
        log.emit(&event(a, Operation::Update));
        assert_eq!((log.len(), log.dropped()), (3, 0));
        log.emit(&event(b, Operation::Release));
        assert_eq!((log.len(), log.dropped()), (3, 1));
        assert_eq!(operations(&log, a), vec![Operation::Update]);
        assert_eq!(
            operations(&log, b),
            vec![Operation::Create, Operation::Release]
        );
        log.emit(&event(b, Operation::Delete));
        log.emit(&event(b, Operation::Create));
        assert!(
            operations(&log, a).is_empty(),
            "a's last event was the oldest"
        );
        assert_eq!(
            operations(&log, b),
            vec![Operation::Release, Operation::Delete, Operation::Create]
        );
        assert_eq!((log.len(), log.dropped()), (3, 3));
    }

    #[test]
    fn a_log_of_capacity_zero_keeps_nothing_and_counts_everything() {
        let log = AuditLog::with_capacity(0);
        log.emit(&event("+14155550001", Operation::Create));
        log.emit(&event("+14155550001", Operation::Release));
        assert!(log.is_empty());
        assert_eq!(log.dropped(), 2);
        assert!(operations(&log, "+14155550001").is_empty());
    }
}
