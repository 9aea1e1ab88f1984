//! Idempotency keys: a keyed request runs at most once, and a retry learns
//! its true outcome even when the first attempt died half way.
//!
//! The key lives in the store. While a request runs, its entry is pending and
//! held by the attempt (an owner token) under a lease the attempt renews. Every
//! batch of record writes the request commits also records, in the same
//! transaction, each committed number's outcome in the entry's progress. So
//! when an attempt dies:
//! - its lease lapses (it is longer than a purchase claim, so the dead
//!   attempt's claims have lapsed too), and the next retry takes the key over;
//! - the retry answers the numbers in the progress from there (they were done:
//!   doing them again would misreport them, e.g. `number_exists` for a create,
//!   or release a number twice), and runs only the others, which the dead
//!   attempt never committed.
//!
//! The finished entry keeps the whole result, typed as the library returns it,
//! in a versioned document (`format`); entries written before it (no `format`)
//! still read back.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::pipeline::{Change, Input, Request};
use super::{BatchResult, NumberManager, Outcome};
use crate::duration::after;
use crate::error::{ConflictKind, Error, Result};
use crate::lifecycle::Op;
use crate::record::Revision;
use crate::store::{Committed, IdempotencyEntry};

/// The version of the stored result document.
const FORMAT: u64 = 2;

/// The stored result of a finished key: the typed result as returned to the
/// caller (records in the store's own document format).
#[derive(Serialize, Deserialize)]
struct StoredResult {
    format: u64,
    success: BTreeMap<String, Outcome>,
    errors: BTreeMap<String, Error>,
}

/// What holding a key allows.
enum Held {
    /// The key is finished: its result.
    Finished(BatchResult),
    /// This attempt holds the key; the numbers already committed under it.
    Run(BTreeMap<String, Committed>),
}

impl NumberManager {
    /// Runs a request at most once per idempotency key: a repeat with the same
    /// input gets the first result back without anything being done again; the
    /// same key with another input is a 409, and so is a repeat while the first
    /// call is still running. Keys live in the store, so they hold across
    /// instances, scoped by the acting account. A retry after the first call
    /// died takes the key over once its lease lapsed (see the module docs).
    pub(super) async fn run_idempotent(
        &self,
        key: &str,
        inputs: &[Input],
        req: &Request,
    ) -> Result<BatchResult> {
        let scoped = format!("{}/{}", req.opts.auth_by, key);
        let owner = new_owner();
        let committed = match self.hold(key, &scoped, &owner, inputs, req).await? {
            Held::Finished(result) => return Ok(result),
            Held::Run(committed) => committed,
        };
        // Numbers the request already committed are answered from the progress.
        let mut done = BTreeMap::new();
        let mut todo = Vec::with_capacity(inputs.len());
        for input in inputs {
            let n = input.key();
            match committed.get(&n) {
                Some(c) => {
                    done.insert(n, restore(c)?);
                }
                None => todo.push(input.clone()),
            }
        }
        let mut journaled = req.clone();
        journaled.journal = Some(scoped.clone());
        let run = self.run_inputs(&todo, &journaled);
        let outcome = self.renewing(&scoped, &owner, run).await;
        match outcome {
            Ok(mut result) => {
                for (n, o) in done {
                    result.errors.remove(&n);
                    result.success.insert(n, o);
                }
                self.finish(&scoped, &owner, &result).await;
                Ok(result)
            }
            Err(e) => {
                self.let_go(&scoped, &owner, !committed.is_empty()).await;
                Err(e)
            }
        }
    }

    /// Begins the key, takes it over, or finds it finished.
    async fn hold(
        &self,
        key: &str,
        scoped: &str,
        owner: &str,
        inputs: &[Input],
        req: &Request,
    ) -> Result<Held> {
        let conflict = |kind: ConflictKind| Error::conflict(key, kind);
        let store = &self.inner.store;
        let mut fingerprint = fingerprint(req, inputs);
        // Twice at most: a second try takes over a key found lapsed (under the
        // fingerprint it was begun with, which may be an older version's).
        for _ in 0..2 {
            let now = self.inner.clock.now();
            let entry = IdempotencyEntry {
                key: scoped.to_string(),
                fingerprint: fingerprint.clone(),
                response: None,
                created: now,
                expires_at: after(now, self.inner.config.idempotency_ttl),
                owner: owner.to_string(),
                lease_until: Some(after(now, self.key_lease())),
                progress: BTreeMap::new(),
            };
            if store.begin_idempotency(entry).await? {
                let progress = store
                    .get_idempotency(scoped)
                    .await?
                    .filter(|e| e.owner == owner)
                    .map(|e| e.progress)
                    .unwrap_or_default();
                return Ok(Held::Run(progress));
            }
            let Some(found) = store.get_idempotency(scoped).await? else {
                // Abandoned or purged in between: begin afresh.
                continue;
            };
            if found.fingerprint != fingerprint
                && found.fingerprint != legacy_fingerprint(req, inputs)
            {
                return Err(conflict(ConflictKind::KeyReused));
            }
            if let Some(stored) = found.response {
                return decode(stored).map(Held::Finished);
            }
            if !found.lease_lapsed(now) {
                break;
            }
            fingerprint = found.fingerprint;
        }
        Err(conflict(ConflictKind::KeyRunning))
    }

    /// Stores the result. Best effort: the work is done and `result` is true
    /// whatever happens here. If the key was lost (taken over after a lapse),
    /// the new holder stores its answer; if the store fails, the lease is let
    /// go so that a retry can take over and rebuild the answer from the progress.
    async fn finish(&self, scoped: &str, owner: &str, result: &BatchResult) {
        let stored = StoredResult {
            format: FORMAT,
            success: result.success.clone(),
            errors: result.errors.clone(),
        };
        let finished = match serde_json::to_value(&stored) {
            Ok(v) => self.inner.store.finish_idempotency(scoped, owner, v).await,
            Err(e) => Err(Error::Internal {
                cause: e.to_string(),
            }),
        };
        if finished.is_err() {
            self.let_go(scoped, owner, true).await;
        }
    }

    /// After a failure: a key under which nothing was committed is forgotten,
    /// so a retry starts afresh; otherwise its lease ends now, so a retry takes
    /// it over at once and keeps what was committed.
    async fn let_go(&self, scoped: &str, owner: &str, committed_before: bool) {
        let store = &self.inner.store;
        let committed = committed_before
            || store
                .get_idempotency(scoped)
                .await
                .map_or(true, |e| e.is_some_and(|e| !e.progress.is_empty()));
        let _ = if committed {
            let now = self.inner.clock.now();
            store
                .renew_idempotency(scoped, owner, now)
                .await
                .map(|_| ())
        } else {
            store.abandon_idempotency(scoped, owner).await
        };
    }

    /// Runs `work` while renewing the key's lease every third of it.
    async fn renewing<T>(&self, scoped: &str, owner: &str, work: impl Future<Output = T>) -> T {
        let every = (self.key_lease() / 3).max(Duration::from_millis(10));
        let renew = async {
            loop {
                crate::util::sleep(every).await;
                let until = after(self.inner.clock.now(), self.key_lease());
                // A failed renewal is retried at the next tick; losing the key
                // only means another attempt stores the answer.
                let _ = self
                    .inner
                    .store
                    .renew_idempotency(scoped, owner, until)
                    .await;
            }
        };
        let mut work = std::pin::pin!(work);
        let mut renew = std::pin::pin!(renew);
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(v) = work.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
            let _ = renew.as_mut().poll(cx);
            Poll::Pending
        })
        .await
    }

    /// How long a pending key is held without a renewal: a purchase claim's
    /// life and half of it again, so that by the time a dead attempt's key can
    /// be taken over, every claim it wrote has lapsed too.
    fn key_lease(&self) -> Duration {
        let claim = self.inner.config.claim_ttl.max(Duration::from_secs(1));
        claim.saturating_add(claim / 2)
    }
}

/// A fingerprint of the request: a 128-bit FNV-1a hash of its canonical
/// JSON (operation, its parameters, the change with object keys sorted,
/// the numbers normalized and sorted), so a retry is recognised across
/// processes and versions of this crate, however its body is laid out.
fn fingerprint(req: &Request, inputs: &[Input]) -> String {
    let mut numbers: Vec<String> = inputs.iter().map(Input::key).collect();
    numbers.sort();
    let mut request = json!({
        "operation": op_json(&req.op),
        "change": change_json(&req.change),
        "numbers": numbers,
    });
    // `mdn_run` decides which numbers may be written: a retry must ask the
    // same. Named only when set, so the fingerprints of earlier versions stay.
    if req.opts.mdn_run {
        request["mdn_run"] = json!(true);
    }
    let mut text = String::new();
    canonical(&request, &mut text);
    format!("v2:{:032x}", fnv1a_128(text.as_bytes()))
}

/// A committed number's outcome, with the revision its write stored.
fn restore(c: &Committed) -> Result<Outcome> {
    let mut outcome: Outcome = serde_json::from_value(c.outcome.clone()).map_err(|e| {
        Error::database_with(format!("stored idempotent progress unreadable: {e}"), e)
    })?;
    if c.revision != Revision::NEW {
        outcome.record.revision = c.revision;
    }
    Ok(outcome)
}

/// A stored result: this version's document, or an older version's bare result.
fn decode(stored: Value) -> Result<BatchResult> {
    let unreadable = |e: serde_json::Error| {
        Error::database_with(format!("stored idempotent result unreadable: {e}"), e)
    };
    if stored.get("format").is_some() {
        let s: StoredResult = serde_json::from_value(stored).map_err(unreadable)?;
        return Ok(BatchResult {
            success: s.success,
            errors: s.errors,
        });
    }
    serde_json::from_value(stored).map_err(unreadable)
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::Create {
            state,
            assign_to,
            ported_in,
        } => {
            let mut v =
                json!({"name": op.name(), "state": state.as_str(), "account": assign_to.as_str()});
            // Named only when set, so the fingerprints of earlier versions stay.
            if *ported_in {
                v["ported_in"] = json!(true);
            }
            v
        }
        Op::Activate { assign_to } => json!({"name": op.name(), "account": assign_to.as_str()}),
        // The lease's end is computed from the time of the call, so a retry
        // would never match it: only whether there is one counts.
        Op::Reserve {
            assign_to,
            lease_until,
        } => json!({
            "name": op.name(),
            "account": assign_to.as_str(),
            "leased": lease_until.is_some(),
        }),
        _ => json!({"name": op.name()}),
    }
}

fn change_json(change: &Change) -> Value {
    let fields = |m: &Map<String, Value>| Value::Object(m.clone());
    match change {
        Change::Keep => json!({"keep": null}),
        Change::Replace(m) => json!({"replace": fields(m)}),
        Change::ReplaceIfAny(m) => json!({"replace_if_any": fields(m)}),
        Change::Merge(m) => json!({"merge": fields(m)}),
        Change::Set(m) => json!({"set": fields(m)}),
        Change::UsedBy(app) => json!({"used_by": app}),
    }
}

/// JSON with every object's keys sorted, no spaces.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn fnv1a_128(bytes: &[u8]) -> u128 {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in bytes {
        hash ^= u128::from(*b);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    hash
}

/// The fingerprint versions before this one stored (64-bit FNV-1a over the
/// request's debug text), so their keys still replay after an upgrade.
fn legacy_fingerprint(req: &Request, inputs: &[Input]) -> String {
    let raws: Vec<&str> = inputs.iter().map(|i| i.raw.as_str()).collect();
    let target = req.op_target().map(|a| a.as_str()).unwrap_or("");
    let text = format!("{}|{}|{:?}|{:?}", req.op.name(), target, req.change, raws);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// A token unique to one attempt at a keyed request, across processes: the
/// time, a counter and the process id, hashed with a per-process random key.
fn new_owner() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let key = KEY.get_or_init(Default::default);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t: DateTime<Utc> = Utc::now();
    let seed = (n, t.timestamp_nanos_opt(), std::process::id());
    let (hi, lo) = (key.hash_one((seed, 0u8)), key.hash_one((seed, 1u8)));
    format!("{hi:016x}{lo:016x}")
}
