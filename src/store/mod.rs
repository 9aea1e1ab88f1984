//! Persistence: the [`Store`] trait, its conveniences ([`StoreExt`]) and the
//! built-in backends.
//!
//! A store holds three kinds of entries, all keyed so that any instance sharing
//! the store sees the same thing:
//! - number records ([`NumberRecord`]), including `discovery` entries left by
//!   searches (they carry an `expires_at` and never show in listings);
//! - idempotency entries ([`IdempotencyEntry`]), with the per-number outcomes
//!   a keyed request committed ([`Committed`]).
//!
//! Every write of a record is conditional: an insert fails if the number exists,
//! an update or delete fails unless the stored revision is the one the caller
//! read (compare-and-swap). There is no last-writer-wins anywhere. A number's
//! revisions never repeat, even across its deletion and re-insertion, so a
//! revision read before a delete never matches the record inserted after it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::account::AccountId;
use crate::error::{ConflictKind, Error, Result};
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;

mod memory;
mod memory_ports;
pub use memory::MemoryStore;

#[cfg(feature = "testing")]
pub mod conformance;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_common;

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_outbox;
#[cfg(feature = "sqlite")]
mod sqlite_ports;
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_outbox;
#[cfg(feature = "postgres")]
mod postgres_ports;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};

/// One conditional write.
///
/// Revisions (see [`Revision`]) never repeat for a number, across its whole
/// history:
/// - a successful insert of a number never stored before stores revision `1`
///   (`Revision::NEW.next()`), whatever the inserted record's own `revision`
///   field says;
/// - a successful insert of a number that was stored and then deleted stores
///   a revision greater than every revision the number ever had (the built-in
///   stores remember the last revision of every deleted number, a
///   *tombstone*, and store it + 1), as long as its tombstone is kept (see
///   [`Store::purge_tombstones`]: after that, it may start again at `1`);
/// - a successful update stores `expected.next()`.
///
/// So an [`Update`](Write::Update) or [`Delete`](Write::Delete) carrying a
/// revision read before the number was deleted fails with
/// [`Error::Conflict`], even after the number was inserted again and updated
/// as many times as before (the ABA case). The same holds inside a batch:
/// `[Delete { a, expected: r }, Insert(a)]` stores `a` at a revision greater
/// than `r`.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Store a new record. Fails with [`Error::NumberExists`] if the number is stored.
    Insert(NumberRecord),
    /// Replace a record if its stored revision is still `expected`; otherwise
    /// [`Error::Conflict`] (also when the number is not stored at all). The
    /// stored revision becomes `expected.next()`.
    Update {
        /// The new content (its own `revision` field is ignored).
        record: NumberRecord,
        /// The revision the caller read.
        expected: Revision,
    },
    /// Remove a record if its stored revision is still `expected`; otherwise
    /// [`Error::Conflict`] (also when it does not exist).
    Delete {
        /// The number.
        number: PhoneNumber,
        /// The revision the caller read.
        expected: Revision,
    },
}

impl Write {
    /// The number this write is about.
    pub fn number(&self) -> PhoneNumber {
        match self {
            Write::Insert(r) | Write::Update { record: r, .. } => r.number,
            Write::Delete { number, .. } => *number,
        }
    }
}

/// The outcome of one write in a batch: the new revision (`Revision::NEW` for a
/// delete), or why it was refused: [`Error::NumberExists`] for an insert of a
/// stored number, [`Error::Conflict`] for an update or delete whose expected
/// revision is not the stored one ([`ConflictKind::StaleRevision`]) or whose
/// number is not stored ([`ConflictKind::RecordGone`]), and, in an
/// [`BatchMode::Atomic`] batch that was refused, [`Error::Conflict`] of kind
/// [`ConflictKind::BatchAborted`] for the writes that would have succeeded. The error's
/// `number` is the write's number in E.164.
pub type WriteResult = Result<Revision>;

/// How a batch of writes is applied.
///
/// In both modes the writes are evaluated in the order given, and each one
/// sees the effect of the earlier writes of the same batch: `[Insert(a),
/// Update { a, expected: 1 }]` succeeds twice and leaves `a` at revision 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchMode {
    /// Each write succeeds or fails on its own (each write is itself atomic).
    #[default]
    PerItem,
    /// All writes succeed, or none is applied: if any write would fail, every
    /// write reports an error (the failing ones their own, the others
    /// [`Error::Conflict`] of kind [`ConflictKind::BatchAborted`]). Every write is
    /// evaluated, so each failing write reports its own error, not only the
    /// first one.
    Atomic,
}

/// Which records a listing returns, in number order.
///
/// Number order is the byte order of the E.164 strings (the [`Ord`] of
/// [`PhoneNumber`]). Time filters compare instants exactly, to the nanosecond
/// (the SQL stores keep nanoseconds since the Unix epoch, which covers the years
/// 1677 to 2262; they document what they do outside that range).
/// [`matches_query`] is the reference for every filter.
///
/// Build one with `ListQuery::default()` and the `with_*` setters.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only numbers assigned to one of these accounts (empty: any owner, or none).
    pub accounts: Vec<AccountId>,
    /// Only numbers whose E.164 string starts with this (e.g. `+1415`).
    pub prefix: Option<String>,
    /// Only these states. Empty: every state except `discovery`.
    pub states: Vec<NumberState>,
    /// Only numbers created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Only numbers created at or before this instant.
    pub created_to: Option<DateTime<Utc>>,
    /// Only numbers modified before this instant (maintenance sweeps).
    pub modified_before: Option<DateTime<Utc>>,
    /// Only records whose `expires_at` is at or before this instant.
    pub expires_before: Option<DateTime<Utc>>,
    /// Start at this number (inclusive).
    pub start_key: Option<PhoneNumber>,
    /// At most this many records (0 is treated as 1).
    pub limit: usize,
    /// At most this many stored records are examined for this page (0 is
    /// treated as 1; `None`: no bound). A listing whose filters match few
    /// records would otherwise read every record of the accounts on one call.
    ///
    /// The records a listing examines are those of `accounts` (every record
    /// when `accounts` is empty) from `start_key` on, within `prefix`, in
    /// number order; a store may examine fewer (through an index of another
    /// filter). When the bound stops a page before it is full, the page holds
    /// what matched so far (possibly nothing) and `next_start_key` is the first
    /// number not examined: the walk continues from there, and no matching
    /// number is skipped.
    pub scan_limit: Option<usize>,
}

crate::util::with_setters!(ListQuery {
    /// Sets [`ListQuery::accounts`].
    with_accounts => accounts: Vec<AccountId>;
    /// Sets [`ListQuery::prefix`].
    with_prefix => prefix: impl Into<String> as some_into;
    /// Sets [`ListQuery::states`].
    with_states => states: Vec<NumberState>;
    /// Sets [`ListQuery::created_from`].
    with_created_from => created_from: DateTime<Utc> as some;
    /// Sets [`ListQuery::created_to`].
    with_created_to => created_to: DateTime<Utc> as some;
    /// Sets [`ListQuery::modified_before`].
    with_modified_before => modified_before: DateTime<Utc> as some;
    /// Sets [`ListQuery::expires_before`].
    with_expires_before => expires_before: DateTime<Utc> as some;
    /// Sets [`ListQuery::start_key`].
    with_start_key => start_key: PhoneNumber as some;
    /// Sets [`ListQuery::limit`].
    with_limit => limit: usize;
    /// Sets [`ListQuery::scan_limit`].
    with_scan_limit => scan_limit: usize as some;
});

/// A page of records and the key to continue from.
///
/// To read every matching record, call [`Store::list`] again with `start_key`
/// set to `next_start_key` until it is `None`. While others write, every
/// number that is stored and matches the query for the whole walk is returned
/// exactly once, numbers never repeat and always increase from page to page;
/// numbers inserted or deleted during the walk may or may not appear.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The records, sorted by number.
    pub records: Vec<NumberRecord>,
    /// The first number of the next page: the smallest matching number after
    /// the last record of this page, or `None` when there is none (so a
    /// `Some` promises, at the time of the listing, a non-empty next page).
    /// When [`ListQuery::scan_limit`] stopped the page early, it is instead the
    /// first number not examined, which may not match: the next page may then
    /// be empty too, and the walk goes on until `None`.
    pub next_start_key: Option<PhoneNumber>,
    /// How many stored records the store examined for this page, the number
    /// after the page (when found) included. With a
    /// [`ListQuery::scan_limit`] it is exact and at most that bound; without
    /// one, at least the number of records returned.
    pub scanned: usize,
}

/// A remembered result of an operation called with an idempotency key.
///
/// While the first call runs, the entry is *pending* (`response` is `None`)
/// and held by one attempt: `owner`, a token unique to that attempt, until
/// `lease_until`. The holder renews the lease while it works
/// ([`Store::renew_idempotency`]); if it dies, the lease lapses and a retry
/// with the same request takes the key over ([`Store::begin_idempotency`]),
/// finding in `progress` every number the dead attempt committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyEntry {
    /// The caller's key (scoped by the manager to the acting account).
    pub key: String,
    /// A fingerprint of the request; the same key with another fingerprint is a conflict.
    pub fingerprint: String,
    /// The stored result, `None` while the first call is still running.
    pub response: Option<Value>,
    /// When the entry was made.
    pub created: DateTime<Utc>,
    /// When the key may be forgotten.
    pub expires_at: DateTime<Utc>,
    /// The attempt holding the pending key (empty in entries stored before
    /// keys had owners).
    #[serde(default)]
    pub owner: String,
    /// Until when `owner` holds the pending key; `None` in entries stored
    /// before keys had leases, which count as lapsed.
    #[serde(default)]
    pub lease_until: Option<DateTime<Utc>>,
    /// What the request committed so far, by number (E.164), each written in
    /// the same transaction as the number's record (see
    /// [`Store::write_batch_journaled`]). Empty once the entry is finished:
    /// the response then says everything.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub progress: BTreeMap<String, Committed>,
}

impl IdempotencyEntry {
    /// Whether the pending entry's lease has lapsed at `now` (an entry
    /// without a lease counts as lapsed).
    pub fn lease_lapsed(&self, now: DateTime<Utc>) -> bool {
        self.lease_until.is_none_or(|l| l <= now)
    }
}

/// One number's outcome, recorded by a keyed request in the same transaction
/// as the number's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Committed {
    /// The revision the write stored (`Revision::NEW` for a delete).
    pub revision: Revision,
    /// What the request recorded for the number.
    pub outcome: Value,
}

/// What a keyed request records alongside a batch of writes (see
/// [`Store::write_batch_journaled`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// The idempotency key whose entry records the outcomes.
    pub key: String,
    /// One slot per write: what to record under the write's number if the
    /// write succeeds (`None`: nothing).
    pub outcomes: Vec<Option<Value>>,
}

/// Persistence for numbers. What a host implements to use its own database.
///
/// Contract (checked by `store::conformance` with the `testing` feature):
/// - a stored record reads back exactly as written (every field, the order of
///   its public fields, nanosecond timestamps), except `revision`, which is
///   always the stored revision;
/// - `get_many` returns one slot per requested number, in order, with the
///   stored revision in each record; a number asked for twice fills both
///   slots; an empty request gives an empty answer;
/// - writes are conditional as documented on [`Write`], and a batch follows its
///   [`BatchMode`]; results come back in the order of the writes, one per
///   write (an empty batch gives an empty answer);
/// - a number's revisions never repeat, even across its deletion and
///   re-insertion (see [`Write`]): a store remembers something of every number
///   it deleted for as long as a writer may still hold a revision of the
///   deleted record. The built-in stores keep a *tombstone* per deleted number
///   (the number, its last revision and when it was deleted: a map entry in
///   [`MemoryStore`], a row of `nm_tombstones` in the SQL stores), kept after
///   the number is inserted again, until [`Store::purge_tombstones`] drops it;
/// - an outer `Err` from `write_batch` means the backend itself failed
///   ([`Error::Database`]): the caller cannot tell which writes were applied
///   and must read again before retrying;
/// - `list` returns records sorted by number, starting at `start_key`
///   (inclusive), honouring every filter of [`ListQuery`] exactly as
///   [`matches_query`] does, and `next_start_key` is as documented on [`Page`];
///   it examines at most [`ListQuery::scan_limit`] records when one is set, so
///   that one call costs a bounded amount of work however few records match;
/// - idempotency entries are insert-if-absent, a pending entry is changed
///   only by its owner (or taken over once its lease lapsed), and a
///   journaled batch records its outcomes atomically with its writes (see
///   each method);
/// - concurrent callers (tasks, threads, processes sharing the backend) never
///   lose an update: each conditional write is atomic.
///
/// Implementations report backend failures as [`Error::Database`] and never
/// panic.
///
/// # Example
///
/// A host's store that wraps another and adds one behaviour (here a
/// maintenance switch that refuses record writes while reads go on),
/// passing every other call to the inner store unchanged:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// use chrono::{DateTime, Utc};
/// use serde_json::Value;
/// use number_manager::account::MemoryAccounts;
/// use number_manager::record::NumberRecord;
/// use number_manager::store::{
///     BatchMode, IdempotencyEntry, Journal, ListQuery, MemoryStore, Page, Store, StoreExt,
///     Write, WriteResult,
/// };
/// use number_manager::{async_trait, Error, NumberManager, Options, PhoneNumber, Result};
///
/// #[derive(Debug, Default)]
/// struct Maintenance {
///     inner: MemoryStore,
///     read_only: AtomicBool,
/// }
///
/// impl Maintenance {
///     /// A backend failure, as the contract asks: the caller retries later.
///     fn writable(&self) -> Result<()> {
///         if self.read_only.load(Ordering::Relaxed) {
///             return Err(Error::database("the store is read-only for maintenance"));
///         }
///         Ok(())
///     }
/// }
///
/// #[async_trait]
/// impl Store for Maintenance {
///     async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
///         self.writable()?;
///         self.inner.write_batch(writes, mode).await
///     }
///     async fn write_batch_journaled(
///         &self,
///         writes: Vec<Write>,
///         mode: BatchMode,
///         journal: &Journal,
///     ) -> Result<Vec<WriteResult>> {
///         self.writable()?;
///         self.inner.write_batch_journaled(writes, mode, journal).await
///     }
///
///     // The rest is the inner store's.
///     async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
///         self.inner.get_many(numbers).await
///     }
///     async fn list(&self, query: &ListQuery) -> Result<Page> {
///         self.inner.list(query).await
///     }
///     async fn count(&self, query: &ListQuery) -> Result<usize> {
///         self.inner.count(query).await
///     }
///     async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
///         self.inner.get_idempotency(key).await
///     }
///     async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
///         self.inner.begin_idempotency(entry).await
///     }
///     async fn renew_idempotency(&self, key: &str, owner: &str, until: DateTime<Utc>) -> Result<bool> {
///         self.inner.renew_idempotency(key, owner, until).await
///     }
///     async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
///         self.inner.finish_idempotency(key, owner, response).await
///     }
///     async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
///         self.inner.abandon_idempotency(key, owner).await
///     }
///     async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
///         self.inner.purge_idempotency(now).await
///     }
///     async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
///         self.inner.purge_tombstones(deleted_before).await
///     }
/// }
///
/// let accounts = Arc::new(MemoryAccounts::new());
/// let master = accounts.add("master", "Master", None)?;
/// accounts.set_master(&master, true);
/// let store = Arc::new(Maintenance::default());
/// let manager = NumberManager::builder()
///     .store(store.clone())
///     .accounts(accounts)
///     .build();
/// let opts = Options::as_account(&master);
/// manager.create(&master, "4155550100", Default::default(), &opts).await?;
///
/// store.read_only.store(true, Ordering::Relaxed);
/// let refused = manager.create(&master, "4155550101", Default::default(), &opts).await;
/// assert!(matches!(refused, Err(Error::Database { .. })));
/// // Reads still work, through the manager and on the store itself.
/// assert_eq!(manager.get("4155550100", &opts).await?.number.as_str(), "+14155550100");
/// let number = PhoneNumber::parse("+14155550101")?;
/// assert!(store.get(&number).await?.is_none());
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Reads several records at once.
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>>;

    /// Applies conditional writes; one result per write, in order.
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>>;

    /// Lists records in number order.
    async fn list(&self, query: &ListQuery) -> Result<Page>;

    /// Reads an idempotency entry with its progress (expired ones may still be
    /// returned; the caller checks).
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>>;

    /// Begins (or takes over) a key; returns whether `entry` now holds it.
    ///
    /// - No entry with that key, or one that expired at `entry.created` (its
    ///   `expires_at` is at or before `entry.created`): `entry` is stored as
    ///   given, with no progress (an expired entry's progress goes with it).
    /// - A pending entry (no response) with the same fingerprint whose lease
    ///   lapsed at `entry.created` ([`IdempotencyEntry::lease_lapsed`]): a
    ///   takeover. Only `owner` and `lease_until` are replaced; `created`,
    ///   `expires_at` and the progress stay.
    /// - Otherwise nothing changes and the answer is `false`.
    ///
    /// When several callers begin the same key at once, exactly one gets `true`.
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool>;

    /// Extends the lease of a pending entry held by `owner` to `lease_until`
    /// (an earlier instant shortens it: `now` lets it go at once); returns
    /// whether it did (`false`: the key is finished, gone, or held by another).
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool>;

    /// Stores the response of a pending entry held by `owner` and drops its
    /// progress. The entry is then finished: [`get_idempotency`](Store::get_idempotency)
    /// shows the response and no progress, and
    /// [`begin_idempotency`](Store::begin_idempotency) answers `false` for the
    /// key until it expires.
    ///
    /// # Errors
    ///
    /// A refused finish changes nothing:
    /// - [`Error::Conflict`] of kind [`ConflictKind::KeyNotBegun`] when no entry
    ///   with that key is stored (never begun, abandoned, purged);
    /// - [`Error::Conflict`] of kind [`ConflictKind::KeyNotPending`] when one is
    ///   stored but is not pending under `owner`: it is finished already (a
    ///   second finish is refused, even by the same owner with the same
    ///   response), or another attempt took it over after this one's lease
    ///   lapsed;
    /// - in both, the error's `number` is the key;
    /// - [`Error::Database`] when the backend fails: the response may or may
    ///   not be stored.
    ///
    /// The manager treats every error alike: the work the key guards is done,
    /// so it lets the lease go at once, and the next retry with the key takes
    /// it over and answers from the progress.
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()>;

    /// Removes a pending entry held by `owner` (used when the call failed
    /// before committing anything). Anything else (a key not stored, held by
    /// another, or finished) is left alone, and is not an error.
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()>;

    /// [`write_batch`](Store::write_batch), and in the same atomic step, for
    /// each write that succeeded and whose `journal.outcomes` slot is `Some`,
    /// records a [`Committed`] (the write's new revision and that value) under
    /// the write's number in the progress of the entry `journal.key`.
    ///
    /// A number already in the progress keeps its first record. Nothing is
    /// recorded when the entry is not stored or not pending (its writes still
    /// apply), nor for a refused [`BatchMode::Atomic`] batch. So after a
    /// crash, a number is in the progress exactly when its write committed.
    /// Missing slots (fewer outcomes than writes) count as `None`.
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>>;

    /// Deletes idempotency entries that expired at or before `now`; returns how many.
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize>;

    /// Drops the tombstones of numbers deleted strictly before `deleted_before`;
    /// returns how many were dropped.
    ///
    /// A tombstone (see [`Write`]) only has to outlive every writer that may
    /// still hold a revision of the deleted record: once none can, a store may
    /// drop it, and a later insert of the number may then start again at
    /// revision `1`. Operations are bounded in time (a purchase claim lives
    /// [`Config::claim_ttl`](crate::Config::claim_ttl)), so the manager's
    /// [`purge_expired`](crate::NumberManager::purge_expired) calls this with
    /// `now - `[`Config::tombstone_horizon`](crate::Config::tombstone_horizon)
    /// (default 24 hours). The cutoff is
    /// compared with the deletion stamps the store took itself, from the wall
    /// clock (`Utc::now()`), not from the manager's [`Clock`](crate::clock::Clock).
    ///
    /// A tombstone deleted at or after `deleted_before` is never dropped, and
    /// dropping tombstones never makes an insert, update or delete fail.
    ///
    /// Every store provides it (there is no default: a wrapper that forgot to
    /// pass it on would keep every tombstone for ever). A store that keeps no
    /// tombstones (it bounds them itself, or never reuses revisions by other
    /// means) returns `Ok(0)`; one that keeps them must drop them here, or they
    /// grow with every delete (each expired search result is one).
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize>;

    /// [`write_batch`](Store::write_batch) (or, with a `journal`,
    /// [`write_batch_journaled`](Store::write_batch_journaled)), and in the
    /// same atomic step, for each write that succeeded and whose `events`
    /// slot is `Some`, appends that event to the outbox with its
    /// [`after`](Event::after) set to the write's new revision.
    ///
    /// Entries are appended in write order and take increasing
    /// [`Message::seq`] numbers, in commit order across batches (an entry
    /// committed after another has a greater `seq`, never one a reader
    /// might already have gone past). Nothing is appended for a write that
    /// failed, for a refused [`BatchMode::Atomic`] batch, or when the call
    /// fails as a whole. Missing slots (fewer events than writes) count as
    /// `None`.
    ///
    /// The default refuses with [`Error::Database`] (and writes nothing): a
    /// store without an outbox must never drop the events of a manager
    /// built with [`outbox`](crate::NumberManagerBuilder::outbox) on.
    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        let _ = (writes, mode, journal, events);
        Err(no_outbox())
    }

    /// Appends events that go with no record write (a number given back to
    /// its carrier) to the outbox, in order, atomically.
    ///
    /// The default refuses with [`Error::Database`], as
    /// [`write_batch_outboxed`](Store::write_batch_outboxed) does.
    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        let _ = events;
        Err(no_outbox())
    }

    /// Up to `limit` outbox entries (0 is treated as 1) not yet acknowledged
    /// whose `seq` is greater than `after_seq`, in `seq` order.
    ///
    /// The default refuses with [`Error::Database`].
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        let _ = (after_seq, limit);
        Err(no_outbox())
    }

    /// Acknowledges (removes) every outbox entry whose `seq` is at most
    /// `up_to_seq`; returns how many were removed. Acknowledging again, or
    /// past the last entry, is not an error.
    ///
    /// The default refuses with [`Error::Database`].
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        let _ = up_to_seq;
        Err(no_outbox())
    }

    /// How many records match `query` (ignoring `start_key` and `limit`).
    ///
    /// Every store provides it (there is no default, so a wrapper cannot
    /// silently answer from something other than its inner store); one
    /// without a cheaper way (an index size, `COUNT(*)`) may answer with
    /// [`count_by_paging`].
    async fn count(&self, query: &ListQuery) -> Result<usize>;
}

/// Single-record conveniences over any [`Store`].
///
/// Each call is one [`Store::write_batch`] (or [`Store::get_many`]) of one
/// item, so it is as conditional as the write it makes: `insert` fails with
/// [`Error::NumberExists`] when the number is stored, `update` and `delete`
/// with [`Error::Conflict`] unless the stored revision is the one given.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use chrono::Utc;
/// use number_manager::record::{NumberRecord, Revision};
/// use number_manager::state::NumberState;
/// use number_manager::store::{MemoryStore, StoreExt};
/// use number_manager::{Error, PhoneNumber};
///
/// let store = MemoryStore::new();
/// let number = PhoneNumber::parse("+14155550100")?;
/// let record = NumberRecord::new(number, NumberState::Reserved, "local", Utc::now());
/// let first = store.insert(record.clone()).await?;
/// assert_eq!(first, Revision::NEW.next());
/// assert!(matches!(store.insert(record).await, Err(Error::NumberExists { .. })));
///
/// let mut read = store.get(&number).await?.expect("just inserted");
/// assert_eq!(read.revision, first);
/// read.state = NumberState::InService;
/// let second = store.update(read.clone(), first).await?;
/// // Compare-and-swap: a write expecting a revision no longer stored is refused.
/// assert!(matches!(store.update(read, first).await, Err(Error::Conflict { .. })));
/// assert!(matches!(store.delete(&number, first).await, Err(Error::Conflict { .. })));
///
/// store.delete(&number, second).await?;
/// assert!(store.get(&number).await?.is_none());
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait StoreExt: Store {
    /// Reads one record.
    async fn get(&self, number: &PhoneNumber) -> Result<Option<NumberRecord>> {
        Ok(self
            .get_many(std::slice::from_ref(number))
            .await?
            .into_iter()
            .next()
            .flatten())
    }

    /// Inserts a new record; returns its revision.
    async fn insert(&self, record: NumberRecord) -> Result<Revision> {
        one(self
            .write_batch(vec![Write::Insert(record)], BatchMode::PerItem)
            .await?)
    }

    /// Compare-and-swap update; returns the new revision.
    async fn update(&self, record: NumberRecord, expected: Revision) -> Result<Revision> {
        one(self
            .write_batch(vec![Write::Update { record, expected }], BatchMode::PerItem)
            .await?)
    }

    /// Compare-and-swap delete.
    async fn delete(&self, number: &PhoneNumber, expected: Revision) -> Result<()> {
        one(self
            .write_batch(
                vec![Write::Delete {
                    number: *number,
                    expected,
                }],
                BatchMode::PerItem,
            )
            .await?)
        .map(|_| ())
    }
}

impl<T: Store + ?Sized> StoreExt for T {}

/// Counts the records matching `query` by walking [`Store::list`] page by
/// page (ignoring `start_key` and `limit`): what a store without
/// a cheaper way can answer [`Store::count`] with.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::store::{count_by_paging, ListQuery, MemoryStore};
/// let store = MemoryStore::new();
/// assert_eq!(count_by_paging(&store, &ListQuery::default()).await.unwrap(), 0);
/// # });
/// ```
pub async fn count_by_paging<S: Store + ?Sized>(store: &S, query: &ListQuery) -> Result<usize> {
    let mut q = query.clone();
    q.start_key = None;
    q.limit = 1000;
    q.scan_limit = None;
    let mut total = 0usize;
    loop {
        let page = store.list(&q).await?;
        total = total.saturating_add(page.records.len());
        match page.next_start_key {
            Some(k) => q.start_key = Some(k),
            None => return Ok(total),
        }
    }
}

/// Walks a listing page by page, following `next_start_key`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use number_manager::store::{ListQuery, MemoryStore, Pages};
/// let store = MemoryStore::new();
/// let mut pages = Pages::new(&store, ListQuery::default().with_limit(100));
/// while let Some(records) = pages.next().await.unwrap() {
///     assert!(records.is_empty());
/// }
/// # });
/// ```
#[derive(Debug)]
pub struct Pages<'a, S: ?Sized> {
    store: &'a S,
    query: ListQuery,
    done: bool,
}

impl<'a, S: Store + ?Sized> Pages<'a, S> {
    /// Starts at `query.start_key`, `query.limit` records a page.
    pub fn new(store: &'a S, query: ListQuery) -> Self {
        Pages {
            store,
            query,
            done: false,
        }
    }

    /// The next page, or `None` once the listing is exhausted.
    pub async fn next(&mut self) -> Result<Option<Vec<NumberRecord>>> {
        if self.done {
            return Ok(None);
        }
        let page = self.store.list(&self.query).await?;
        match page.next_start_key {
            Some(k) => self.query.start_key = Some(k),
            None => self.done = true,
        }
        Ok(Some(page.records))
    }
}

/// Why a `finish_idempotency` was refused (`stored`: the key exists).
pub(crate) fn finish_refused(stored: bool) -> ConflictKind {
    if stored {
        ConflictKind::KeyNotPending
    } else {
        ConflictKind::KeyNotBegun
    }
}

/// What a store without an outbox answers when asked to use one.
pub(crate) fn no_outbox() -> Error {
    Error::database("this store has no outbox: the manager's outbox needs one")
}

/// The outbox entries a batch commits: for each write that succeeded and has
/// an event, the event at the write's new revision, as a [`Message`] whose
/// `seq` (0 here) the store assigns. In write order.
pub(crate) fn outbox_entries(
    results: &[WriteResult],
    events: &[Option<Event>],
) -> Result<Vec<Message>> {
    let mut entries = Vec::new();
    for (result, event) in results.iter().zip(events) {
        if let (Ok(revision), Some(event)) = (result, event) {
            let mut event = event.clone();
            event.after = *revision;
            entries.push(Message::from_event(0, &event)?);
        }
    }
    Ok(entries)
}

/// The outbox entries of events that go with no write, in order.
pub(crate) fn standalone_entries(events: &[Event]) -> Result<Vec<Message>> {
    events.iter().map(|e| Message::from_event(0, e)).collect()
}

fn one(mut results: Vec<WriteResult>) -> Result<Revision> {
    results.pop().unwrap_or_else(|| {
        Err(Error::Internal {
            cause: "store returned no result for a write".into(),
        })
    })
}

#[async_trait]
impl<T: Store + ?Sized> Store for std::sync::Arc<T> {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        (**self).get_many(numbers).await
    }
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        (**self).write_batch(writes, mode).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        (**self).list(query).await
    }
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        (**self).get_idempotency(key).await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        (**self).begin_idempotency(entry).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        (**self).renew_idempotency(key, owner, lease_until).await
    }
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        (**self).finish_idempotency(key, owner, response).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        (**self).abandon_idempotency(key, owner).await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        (**self).write_batch_journaled(writes, mode, journal).await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        (**self).purge_idempotency(now).await
    }
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        (**self).purge_tombstones(deleted_before).await
    }
    async fn count(&self, query: &ListQuery) -> Result<usize> {
        (**self).count(query).await
    }
    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        (**self)
            .write_batch_outboxed(writes, mode, journal, events)
            .await
    }
    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        (**self).outbox_append(events).await
    }
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        (**self).outbox_pending(after_seq, limit).await
    }
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        (**self).outbox_ack(up_to_seq).await
    }
}

/// Whether `record` passes every filter of `query` except `start_key`/`limit`.
/// Backends may use it to post-filter; SQL backends express the same in SQL.
pub fn matches_query(record: &NumberRecord, query: &ListQuery) -> bool {
    if !query.accounts.is_empty()
        && !record
            .assigned_to
            .as_ref()
            .is_some_and(|a| query.accounts.contains(a))
    {
        return false;
    }
    if let Some(p) = &query.prefix {
        if !record.number.as_str().starts_with(p.as_str()) {
            return false;
        }
    }
    if query.states.is_empty() {
        if record.state == NumberState::Discovery {
            return false;
        }
    } else if !query.states.contains(&record.state) {
        return false;
    }
    if query.created_from.is_some_and(|t| record.created < t) {
        return false;
    }
    if query.created_to.is_some_and(|t| record.created > t) {
        return false;
    }
    if query.modified_before.is_some_and(|t| record.modified >= t) {
        return false;
    }
    if let Some(t) = query.expires_before {
        if record.expires_at.is_none_or(|e| e > t) {
            return false;
        }
    }
    true
}
