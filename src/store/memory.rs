//! [`MemoryStore`]: the embedded default store.
//!
//! Everything lives behind one `RwLock`. Records sit in an ordered map keyed by
//! number, with secondary ordered indexes per owner, per state and by expiry,
//! so a listing page costs O(log n + page) whatever the account's size. A page
//! whose filters match few records scans in chunks of 1,024 records, each under
//! its own read lock, yielding to the executor in between, so a long scan holds
//! neither the lock nor a runtime thread for long (and
//! [`ListQuery::scan_limit`] bounds it). A map of
//! tombstones keeps the last revision of every deleted number (and when it was
//! deleted), so a number inserted again never reuses a revision, until
//! [`Store::purge_tombstones`] drops the tombstone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::RwLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    matches_query, BatchMode, Committed, IdempotencyEntry, Journal, ListQuery, Page, Store, Write,
    WriteResult,
};
use crate::account::AccountId;
use crate::error::{ConflictKind, Error, Result};
use crate::events::Event;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::{NumberRecord, Revision};
use crate::state::NumberState;
use crate::util::yield_now;

/// An in-memory [`Store`]; forgets everything when dropped.
///
/// Revisions never repeat across a number's deletion and re-insertion: a
/// delete leaves a tombstone (the number and its last revision), and inserting
/// the number again stores that revision + 1. Each tombstone also records when
/// the number was deleted (`Utc::now()`, the wall clock), and stays, even after
/// the number is inserted again, until [`Store::purge_tombstones`] is called
/// with a later cutoff (the manager's `purge_expired` does, with
/// `now - Config::tombstone_horizon`). [`len`](Self::len) does not count them.
///
/// ```
/// # tokio_test_shim::block_on(async {
/// use number_manager::store::{MemoryStore, StoreExt};
/// use number_manager::{record::NumberRecord, state::NumberState, PhoneNumber};
/// let store = MemoryStore::new();
/// let n = PhoneNumber::parse("+14155550000").unwrap();
/// let rev = store.insert(NumberRecord::new(n, NumberState::Available, "local", chrono::Utc::now())).await.unwrap();
/// assert_eq!(store.get(&n).await.unwrap().unwrap().revision, rev);
/// # });
/// # mod tokio_test_shim { pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #   tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f) } }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    /// Port requests, apart from the records (`memory_ports.rs`).
    pub(super) ports: RwLock<super::memory_ports::PortTable>,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<PhoneNumber, NumberRecord>,
    by_account: HashMap<AccountId, BTreeSet<PhoneNumber>>,
    by_state: HashMap<NumberState, BTreeSet<PhoneNumber>>,
    by_expiry: BTreeSet<(DateTime<Utc>, PhoneNumber)>,
    idempotency: HashMap<String, IdempotencyEntry>,
    /// The last revision of every deleted number, and when it was deleted
    /// (the wall clock), until purged.
    tombstones: HashMap<PhoneNumber, (Revision, DateTime<Utc>)>,
    /// The outbox: entries not yet acknowledged, by `seq`.
    outbox: BTreeMap<u64, Message>,
    /// The last `seq` given out (never reused, even once acknowledged).
    outbox_seq: u64,
}

impl Inner {
    /// Records a journaled batch's outcomes in its pending key's progress.
    fn record_progress(
        &mut self,
        numbers: &[PhoneNumber],
        results: &[WriteResult],
        journal: &Journal,
    ) {
        let Some(entry) = self
            .idempotency
            .get_mut(&journal.key)
            .filter(|e| e.response.is_none())
        else {
            return;
        };
        for (i, (number, result)) in numbers.iter().zip(results).enumerate() {
            if let (Ok(revision), Some(Some(outcome))) = (result, journal.outcomes.get(i)) {
                entry
                    .progress
                    .entry(number.to_string())
                    .or_insert_with(|| Committed {
                        revision: *revision,
                        outcome: outcome.clone(),
                    });
            }
        }
    }

    /// Appends outbox entries, each at the next `seq`.
    fn append_outbox(&mut self, entries: Vec<Message>) {
        for mut entry in entries {
            self.outbox_seq += 1;
            entry.seq = self.outbox_seq;
            self.outbox.insert(entry.seq, entry);
        }
    }

    fn index(&mut self, r: &NumberRecord) {
        if let Some(a) = &r.assigned_to {
            self.by_account
                .entry(a.clone())
                .or_default()
                .insert(r.number);
        }
        self.by_state.entry(r.state).or_default().insert(r.number);
        if let Some(t) = r.expires_at {
            self.by_expiry.insert((t, r.number));
        }
    }

    fn unindex(&mut self, r: &NumberRecord) {
        if let Some(a) = &r.assigned_to {
            if let Some(set) = self.by_account.get_mut(a) {
                set.remove(&r.number);
                if set.is_empty() {
                    self.by_account.remove(a);
                }
            }
        }
        if let Some(set) = self.by_state.get_mut(&r.state) {
            set.remove(&r.number);
        }
        if let Some(t) = r.expires_at {
            self.by_expiry.remove(&(t, r.number));
        }
    }

    /// Why `w` cannot be applied now, if it cannot.
    fn check(&self, w: &Write) -> Option<Error> {
        match w {
            Write::Insert(r) => self
                .records
                .contains_key(&r.number)
                .then(|| Error::NumberExists {
                    number: r.number.to_string(),
                }),
            Write::Update { record, expected } => self.check_rev(&record.number, *expected),
            Write::Delete { number, expected } => self.check_rev(number, *expected),
        }
    }

    fn check_rev(&self, number: &PhoneNumber, expected: Revision) -> Option<Error> {
        match self.records.get(number) {
            Some(r) if r.revision == expected => None,
            Some(r) => Some(Error::Conflict {
                number: number.to_string(),
                kind: ConflictKind::StaleRevision,
                detail: Some(format!(
                    "revision {} expected, {} stored",
                    expected.0, r.revision.0
                )),
            }),
            None => Some(Error::conflict(
                number.to_string(),
                ConflictKind::RecordGone,
            )),
        }
    }

    /// The last revision `number` had before it was deleted ([`Revision::NEW`]
    /// if it was never deleted).
    fn tombstone(&self, number: &PhoneNumber) -> Revision {
        self.tombstones
            .get(number)
            .map_or(Revision::NEW, |(rev, _)| *rev)
    }

    /// Applies a batch as [`Store::write_batch`] documents.
    fn batch(&mut self, writes: Vec<Write>, mode: BatchMode) -> Vec<WriteResult> {
        let inner = self;
        match mode {
            BatchMode::PerItem => writes
                .into_iter()
                .map(|w| match inner.check(&w) {
                    Some(e) => Err(e),
                    None => Ok(inner.apply(w)),
                })
                .collect(),
            BatchMode::Atomic => {
                // Check against the state the batch itself produces, so two writes
                // to one number in one batch behave as they would in sequence: per
                // number, its stored revision (if stored) and its tombstone.
                let mut shadow: HashMap<PhoneNumber, (Option<Revision>, Revision)> = HashMap::new();
                let mut errors: Vec<Option<Error>> = Vec::with_capacity(writes.len());
                for w in &writes {
                    let n = w.number();
                    let (current, tombstone) = match shadow.get(&n) {
                        Some(s) => *s,
                        None => (
                            inner.records.get(&n).map(|r| r.revision),
                            inner.tombstone(&n),
                        ),
                    };
                    let (err, after) = match (w, current) {
                        (Write::Insert(_), Some(_)) => (
                            Some(Error::NumberExists {
                                number: n.to_string(),
                            }),
                            (current, tombstone),
                        ),
                        (Write::Insert(_), None) => (None, (Some(tombstone.next()), tombstone)),
                        (Write::Update { expected, .. }, Some(r)) if r == *expected => {
                            (None, (Some(r.next()), tombstone))
                        }
                        (Write::Delete { expected, .. }, Some(r)) if r == *expected => {
                            (None, (None, tombstone.max(r)))
                        }
                        _ => (
                            Some(Error::conflict(n.to_string(), ConflictKind::StaleRevision)),
                            (current, tombstone),
                        ),
                    };
                    shadow.insert(n, after);
                    errors.push(err);
                }
                if errors.iter().any(Option::is_some) {
                    return errors
                        .into_iter()
                        .zip(writes.iter())
                        .map(|(e, w)| {
                            Err(e.unwrap_or_else(|| {
                                Error::conflict(w.number().to_string(), ConflictKind::BatchAborted)
                            }))
                        })
                        .collect();
                }
                writes.into_iter().map(|w| Ok(inner.apply(w))).collect()
            }
        }
    }

    /// Applies a write that `check` accepted.
    fn apply(&mut self, w: Write) -> Revision {
        match w {
            Write::Insert(mut r) => {
                r.revision = self.tombstone(&r.number).next();
                let rev = r.revision;
                self.index(&r);
                self.records.insert(r.number, r);
                rev
            }
            Write::Update {
                mut record,
                expected,
            } => {
                if let Some(old) = self.records.remove(&record.number) {
                    self.unindex(&old);
                }
                record.revision = expected.next();
                let rev = record.revision;
                self.index(&record);
                self.records.insert(record.number, record);
                rev
            }
            Write::Delete { number, .. } => {
                if let Some(old) = self.records.remove(&number) {
                    self.unindex(&old);
                    let last = self.tombstone(&number).max(old.revision);
                    self.tombstones.insert(number, (last, Utc::now()));
                }
                Revision::NEW
            }
        }
    }
}

/// Numbers from `set` at or after `start`, starting with `prefix`, in order.
fn range_from<'a>(
    set: &'a BTreeSet<PhoneNumber>,
    lower: &'a str,
    prefix: Option<&'a str>,
) -> impl Iterator<Item = &'a PhoneNumber> + 'a {
    set.range::<str, _>((Bound::Included(lower), Bound::Unbounded))
        .take_while(move |n| prefix.is_none_or(|p| n.as_str().starts_with(p)))
}

/// Records one listing chunk examines at most before it lets go of the lock
/// and yields (a few milliseconds of work).
const SCAN_CHUNK: usize = 1024;

/// Where one chunk of a listing scan stopped.
enum Stop {
    /// The page is complete; the next page starts at this number (`None`:
    /// nothing more matches).
    Done(Option<PhoneNumber>),
    /// The chunk's budget ran out; this number is the first not examined.
    Paused(PhoneNumber),
}

/// The numbers a listing examines, in order, from `lower` (inclusive): through
/// the expiry index for expiry sweeps, the owner (or state) indexes when the
/// query names owners (or states), every record otherwise.
fn candidates<'a>(
    inner: &'a Inner,
    query: &'a ListQuery,
    lower: &'a str,
) -> Box<dyn Iterator<Item = PhoneNumber> + 'a> {
    let prefix = query.prefix.as_deref();
    if let Some(t) = query.expires_before {
        let mut numbers: Vec<PhoneNumber> = inner
            .by_expiry
            .iter()
            .take_while(|(e, _)| *e <= t)
            .map(|(_, n)| *n)
            .filter(|n| n.as_str() >= lower)
            .collect();
        numbers.sort();
        return Box::new(numbers.into_iter());
    }
    if query.accounts.is_empty() && query.states.is_empty() {
        return Box::new(
            inner
                .records
                .range::<str, _>((Bound::Included(lower), Bound::Unbounded))
                .map(|(n, _)| *n)
                .take_while(move |n| prefix.is_none_or(|p| n.as_str().starts_with(p))),
        );
    }
    let sets: Vec<&BTreeSet<PhoneNumber>> = if !query.accounts.is_empty() {
        query
            .accounts
            .iter()
            .filter_map(|a| inner.by_account.get(a))
            .collect()
    } else {
        query
            .states
            .iter()
            .filter_map(|s| inner.by_state.get(s))
            .collect()
    };
    let mut iters: Vec<_> = sets
        .into_iter()
        .map(|s| range_from(s, lower, prefix).peekable())
        .collect();
    // Merge the ordered sets lazily: repeatedly take the smallest head.
    Box::new(std::iter::from_fn(move || {
        let n = iters.iter_mut().filter_map(|it| it.peek().copied()).min()?;
        let n = *n;
        // A number sits in one owner set and one state set, but a query may
        // name the same account or state twice: advance every source past it.
        for it in iters.iter_mut() {
            while it.peek().is_some_and(|m| **m == n) {
                it.next();
            }
        }
        Some(n)
    }))
}

/// Examines at most `budget` candidates from `lower`, adding matches to `out`
/// until it holds `limit` records and the number after them is known.
fn scan(
    inner: &Inner,
    query: &ListQuery,
    lower: &str,
    budget: usize,
    limit: usize,
    out: &mut Vec<NumberRecord>,
    scanned: &mut usize,
) -> Stop {
    for (used, n) in candidates(inner, query, lower).enumerate() {
        if used == budget {
            return Stop::Paused(n);
        }
        *scanned += 1;
        let Some(r) = inner.records.get(&n) else {
            continue;
        };
        if !matches_query(r, query) {
            continue;
        }
        if out.len() == limit {
            return Stop::Done(Some(n));
        }
        out.push(r.clone());
    }
    Stop::Done(None)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records (of every state, discovery included) are stored.
    pub fn len(&self) -> usize {
        self.read().records.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        let inner = self.read();
        Ok(numbers
            .iter()
            .map(|n| inner.records.get(n).cloned())
            .collect())
    }

    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        Ok(self.write().batch(writes, mode))
    }

    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        let mut inner = self.write();
        let numbers: Vec<PhoneNumber> = writes.iter().map(Write::number).collect();
        let results = inner.batch(writes, mode);
        inner.record_progress(&numbers, &results, journal);
        Ok(results)
    }

    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        let mut inner = self.write();
        let numbers: Vec<PhoneNumber> = writes.iter().map(Write::number).collect();
        let results = inner.batch(writes, mode);
        if let Some(journal) = journal {
            inner.record_progress(&numbers, &results, journal);
        }
        // Under the same lock as the writes: no reader sees one without the other.
        let entries = super::outbox_entries(&results, events)?;
        inner.append_outbox(entries);
        Ok(results)
    }

    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        let entries = super::standalone_entries(events)?;
        self.write().append_outbox(entries);
        Ok(())
    }

    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        let inner = self.read();
        Ok(inner
            .outbox
            .range((Bound::Excluded(after_seq), Bound::Unbounded))
            .take(limit.max(1))
            .map(|(_, m)| m.clone())
            .collect())
    }

    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        let mut inner = self.write();
        let kept = match up_to_seq.checked_add(1) {
            Some(next) => inner.outbox.split_off(&next),
            None => BTreeMap::new(),
        };
        let acked = std::mem::replace(&mut inner.outbox, kept);
        Ok(acked.len())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let limit = query.limit.max(1);
        let scan_limit = query.scan_limit.map(|s| s.max(1));
        let mut lower: String = match (&query.start_key, query.prefix.as_deref()) {
            (Some(s), Some(p)) => std::cmp::max(s.as_str(), p).to_string(),
            (Some(s), None) => s.as_str().to_string(),
            (None, Some(p)) => p.to_string(),
            (None, None) => String::new(),
        };
        let mut out: Vec<NumberRecord> = Vec::with_capacity(limit.saturating_add(1).min(1024));
        let mut scanned = 0usize;
        // The scan runs in chunks, each under its own read lock, yielding in
        // between: a long scan never holds the lock (writers) or the thread
        // (other tasks) for more than one chunk.
        let next_start_key = loop {
            let budget = scan_limit.map_or(SCAN_CHUNK, |s| (s - scanned).min(SCAN_CHUNK));
            let stop = {
                let inner = self.read();
                scan(&inner, query, &lower, budget, limit, &mut out, &mut scanned)
            };
            match stop {
                Stop::Done(next) => break next,
                Stop::Paused(at) if scan_limit.is_some_and(|s| scanned >= s) => break Some(at),
                Stop::Paused(at) => {
                    lower = at.as_str().to_string();
                    yield_now().await;
                }
            }
        };
        Ok(Page {
            records: out,
            next_start_key,
            scanned,
        })
    }

    async fn count(&self, query: &ListQuery) -> Result<usize> {
        let plain = query.prefix.is_none()
            && query.states.is_empty()
            && query.created_from.is_none()
            && query.created_to.is_none()
            && query.modified_before.is_none()
            && query.expires_before.is_none();
        let inner = self.read();
        if plain && !query.accounts.is_empty() {
            // Owner sets hold no discovery entries, so their sizes are the answer.
            let mut seen = std::collections::HashSet::new();
            return Ok(query
                .accounts
                .iter()
                .filter(|a| seen.insert(*a))
                .filter_map(|a| inner.by_account.get(a))
                .map(BTreeSet::len)
                .sum());
        }
        Ok(inner
            .records
            .values()
            .filter(|r| matches_query(r, query))
            .count())
    }

    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        Ok(self.read().idempotency.get(key).cloned())
    }

    async fn begin_idempotency(&self, mut entry: IdempotencyEntry) -> Result<bool> {
        let mut inner = self.write();
        match inner.idempotency.get_mut(&entry.key) {
            Some(existing) if existing.expires_at > entry.created => {
                let takeover = existing.response.is_none()
                    && existing.fingerprint == entry.fingerprint
                    && existing.lease_lapsed(entry.created);
                if takeover {
                    existing.owner = entry.owner;
                    existing.lease_until = entry.lease_until;
                }
                Ok(takeover)
            }
            _ => {
                entry.progress.clear();
                inner.idempotency.insert(entry.key.clone(), entry);
                Ok(true)
            }
        }
    }

    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut inner = self.write();
        match inner.idempotency.get_mut(key) {
            Some(e) if e.response.is_none() && e.owner == owner => {
                e.lease_until = Some(lease_until);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        let mut inner = self.write();
        match inner.idempotency.get_mut(key) {
            Some(e) if e.response.is_none() && e.owner == owner => {
                e.response = Some(response);
                e.progress.clear();
                Ok(())
            }
            found => Err(Error::conflict(key, super::finish_refused(found.is_some()))),
        }
    }

    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        let mut inner = self.write();
        if inner
            .idempotency
            .get(key)
            .is_some_and(|e| e.response.is_none() && e.owner == owner)
        {
            inner.idempotency.remove(key);
        }
        Ok(())
    }

    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut inner = self.write();
        let before = inner.idempotency.len();
        inner.idempotency.retain(|_, e| e.expires_at > now);
        Ok(before - inner.idempotency.len())
    }

    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        let mut inner = self.write();
        let before = inner.tombstones.len();
        inner
            .tombstones
            .retain(|_, (_, deleted)| *deleted >= deleted_before);
        Ok(before - inner.tombstones.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreExt;

    fn number(i: u32) -> PhoneNumber {
        PhoneNumber::from_e164(&format!("+1415555{i:04}")).unwrap()
    }

    fn record(i: u32, tag: &str) -> NumberRecord {
        let mut r = NumberRecord::new(number(i), NumberState::Reserved, "local", Utc::now());
        r.public.insert("tag".into(), Value::from(tag));
        r
    }

    #[tokio::test]
    async fn a_reinserted_number_continues_after_its_tombstone() {
        let store = MemoryStore::new();
        assert_eq!(store.insert(record(1, "a")).await, Ok(Revision(1)));
        assert_eq!(
            store.update(record(1, "b"), Revision(1)).await,
            Ok(Revision(2))
        );
        assert_eq!(
            store.update(record(1, "c"), Revision(2)).await,
            Ok(Revision(3))
        );
        assert_eq!(store.delete(&number(1), Revision(3)).await, Ok(()));
        assert_eq!(store.len(), 0, "tombstones are not records");
        assert_eq!(store.insert(record(1, "d")).await, Ok(Revision(4)));
        for stale in 1..=3 {
            let r = store.update(record(1, "stale"), Revision(stale)).await;
            assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
        }
        assert_eq!(store.delete(&number(1), Revision(4)).await, Ok(()));
        assert_eq!(store.insert(record(1, "e")).await, Ok(Revision(5)));
        // A number never deleted still starts at 1.
        assert_eq!(store.insert(record(2, "a")).await, Ok(Revision(1)));
        let got = store.get(&number(1)).await.unwrap().unwrap();
        assert_eq!(
            (got.revision, &got.public["tag"]),
            (Revision(5), &Value::from("e"))
        );
    }

    /// Polls `fut` once with a waker that does nothing.
    fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        fut.poll(&mut std::task::Context::from_waker(&waker))
    }

    #[tokio::test]
    async fn a_long_scan_yields_between_chunks() {
        let store = MemoryStore::new();
        let records: Vec<Write> = (0..3 * SCAN_CHUNK as u32)
            .map(|i| Write::Insert(record(i, "a")))
            .collect();
        store
            .write_batch(records, BatchMode::PerItem)
            .await
            .unwrap();
        // Nothing was created tomorrow: without a bound the scan reads every
        // record, but never more than one chunk in one poll.
        let query = ListQuery {
            created_from: Some(Utc::now() + chrono::Duration::days(1)),
            prefix: Some("+1415555".into()),
            limit: 10,
            ..Default::default()
        };
        let mut polls = 1;
        let page = {
            let mut list = std::pin::pin!(store.list(&query));
            loop {
                match poll_once(list.as_mut()) {
                    std::task::Poll::Ready(page) => break page.unwrap(),
                    std::task::Poll::Pending => polls += 1,
                }
            }
        };
        assert_eq!(polls, 3, "one poll per chunk of {SCAN_CHUNK} records");
        assert!(page.records.is_empty());
        assert_eq!(page.next_start_key, None);
        assert_eq!(page.scanned, 3 * SCAN_CHUNK);
        // A scan limit stops the page at once, with where to continue.
        let bounded = ListQuery {
            scan_limit: Some(100),
            ..query
        };
        let page = store.list(&bounded).await.unwrap();
        assert!(page.records.is_empty());
        assert_eq!(page.next_start_key, Some(number(100)));
        assert_eq!(page.scanned, 100);
    }

    #[tokio::test]
    async fn tombstones_are_purged_by_deletion_time() {
        let store = MemoryStore::new();
        for i in 1..=3 {
            store.insert(record(i, "a")).await.unwrap();
            store.update(record(i, "b"), Revision(1)).await.unwrap();
            store.delete(&number(i), Revision(2)).await.unwrap();
        }
        let deleted = Utc::now();
        // Younger than the cutoff: kept, and re-inserts continue after them.
        let past = deleted - chrono::Duration::hours(1);
        assert_eq!(store.purge_tombstones(past).await, Ok(0));
        assert_eq!(store.insert(record(1, "c")).await, Ok(Revision(3)));
        // Older than the cutoff: dropped (the re-inserted number's too).
        let future = deleted + chrono::Duration::seconds(1);
        assert_eq!(store.purge_tombstones(future).await, Ok(3));
        assert_eq!(store.purge_tombstones(future).await, Ok(0));
        assert_eq!(store.insert(record(2, "c")).await, Ok(Revision(1)));
        // The stored number keeps its revision, and its next tombstone is its own.
        assert_eq!(
            store.update(record(1, "d"), Revision(3)).await,
            Ok(Revision(4))
        );
        assert_eq!(store.delete(&number(1), Revision(4)).await, Ok(()));
        assert_eq!(store.insert(record(1, "e")).await, Ok(Revision(5)));
    }

    #[tokio::test]
    async fn batches_follow_tombstones_and_a_refused_one_leaves_none() {
        let store = MemoryStore::new();
        let cycle = |n: u32| {
            vec![
                Write::Delete {
                    number: number(n),
                    expected: Revision(1),
                },
                Write::Insert(record(n, "b")),
                Write::Update {
                    record: record(n, "c"),
                    expected: Revision(2),
                },
                Write::Delete {
                    number: number(n),
                    expected: Revision(3),
                },
                Write::Insert(record(n, "d")),
            ]
        };
        let accepted = vec![
            Ok(Revision::NEW),
            Ok(Revision(2)),
            Ok(Revision(3)),
            Ok(Revision::NEW),
            Ok(Revision(4)),
        ];

        store.insert(record(1, "a")).await.unwrap();
        let mut refused = cycle(1);
        refused.push(Write::Delete {
            number: number(9),
            expected: Revision(1),
        });
        let results = store.write_batch(refused, BatchMode::Atomic).await.unwrap();
        assert!(results.iter().all(Result::is_err), "{results:?}");
        assert_eq!(
            store.get(&number(1)).await.unwrap().map(|r| r.revision),
            Some(Revision(1))
        );
        // Had the refused batch left its tombstone (3), this would differ.
        let results = store
            .write_batch(cycle(1), BatchMode::Atomic)
            .await
            .unwrap();
        assert_eq!(results, accepted);

        store.insert(record(2, "a")).await.unwrap();
        let results = store
            .write_batch(cycle(2), BatchMode::PerItem)
            .await
            .unwrap();
        assert_eq!(results, accepted);
        for n in [1, 2] {
            let got = store.get(&number(n)).await.unwrap().unwrap();
            assert_eq!(got.revision, Revision(4));
            assert_eq!(got.public["tag"], Value::from("d"));
        }
    }
}
