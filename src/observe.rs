//! Observability: [`tracing`] spans and events, and metrics through the
//! [`metrics`] facade.
//!
//! The library installs nothing: without a `tracing` subscriber there is no
//! output, and without a `metrics` recorder the metrics go nowhere. A host
//! installs both (the server example does, with `RUST_LOG` and a Prometheus
//! exporter).
//!
//! # Spans
//!
//! | span | level | fields |
//! |---|---|---|
//! | `operation` | INFO | `operation` (for the number operations the event name: `create`, `port`, `activate`, `reserve`, `release`, `delete`, `update` (also `patch`, `set_cnam`, `set_e911`, ...), `read` (`get`); else the method: `search`, `check`, `list_numbers`, `search_owned`, `identify`, `locality`, `city_prefixes`, `carriers_info`, `fix`, `fix_number`, `purge_expired`), `numbers` (how many inputs), `actor` (a search: its account), `request_id`, `dry_run`; on completion `outcome` (`ok` / `error`, or `cancelled` when the caller dropped it), `elapsed_us`, `succeeded` and `failed` (per-number counts of a pipeline operation), `error` |
//! | `carrier` | INFO | `carrier` (module name), `call` (`find_numbers`, `acquire`, `disconnect`, `check_numbers`, `owned_numbers`); on completion `outcome` (`ok` / `error` / `cancelled`), `elapsed_us`, `error` |
//! | `e911` | INFO | `provider`, `call` (`validate`, `provision`, `remove`); then as `carrier` |
//! | `store` | DEBUG | `call` (the [`Store`] method: `get_many`, `write_batch`, ...); then as `carrier` |
//!
//! A call is `cancelled` when its caller stopped waiting for it (a carrier
//! search or purchase that ran past its timeout).
//!
//! # Events
//!
//! | message | level | fields |
//! |---|---|---|
//! | `carrier search failed; its numbers are left out` | WARN | `carrier`, `error` (or `timeout_ms` when it answered too late) |
//! | `every carrier failed the search` | WARN | `carriers` (how many) |
//! | `stale claim settled` | INFO | `number`, `carrier`, `settled` (`free` / `ours`) |
//! | `stale claim not settled` | WARN | `number`, `carrier`, `error` |
//! | `reservation lease lapsed` | INFO | `number` |
//! | `purchase given back` | INFO | `number`, `carrier` |
//! | `purchase could not be given back` | WARN | `number`, `carrier`, `error` |
//! | `outbox batch published` | DEBUG | `messages`, `last_seq` |
//! | `outbox publish failed; retrying` | WARN | `after_seq` (the last entry delivered), `attempt`, `retry_in_ms`, `error` |
//! | `event not written to the outbox` | ERROR | `number`, `operation`, `error` |
//!
//! # Metrics
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `number_manager_operations_total` | counter | `operation`, `outcome` (`ok` / `error` / `cancelled`) | public operations called |
//! | `number_manager_operation_duration_seconds` | histogram | `operation` | how long each took |
//! | `number_manager_operation_numbers_total` | counter | `operation`, `outcome` (`ok` / `error`) | numbers a pipeline operation answered, by their own outcome |
//! | `number_manager_carrier_calls_total` | counter | `carrier`, `call`, `outcome` (`ok` / `error` / `cancelled`) | carrier calls |
//! | `number_manager_carrier_call_duration_seconds` | histogram | `carrier`, `call` | carrier latency |
//! | `number_manager_e911_calls_total` | counter | `provider`, `call`, `outcome` | E911 provider calls |
//! | `number_manager_e911_call_duration_seconds` | histogram | `provider`, `call` | E911 latency |
//! | `number_manager_store_calls_total` | counter | `call`, `outcome` | store calls |
//! | `number_manager_store_call_duration_seconds` | histogram | `call` | store latency |
//! | `number_manager_search_carrier_failures_total` | counter | `carrier`, `reason` (`error` / `timeout`) | carriers left out of a search |
//! | `number_manager_claims_settled_total` | counter | `settled` (`free` / `ours` / `unsettled`) | stale purchase claims the carrier was asked about |
//! | `number_manager_leases_lapsed_total` | counter | none | reservations released because their lease ran out |
//! | `number_manager_give_backs_total` | counter | `outcome` (`ok` / `error`) | purchases given back to their carrier |
//! | `number_manager_audit_events_dropped_total` | counter | none | events the default in-memory audit log dropped to stay within its capacity |
//! | `number_manager_outbox_pending` | gauge | none | outbox entries the relay found waiting on its last read (at most one batch) |
//! | `number_manager_outbox_published_total` | counter | none | outbox messages a publisher confirmed (and the relay acknowledged) |
//! | `number_manager_outbox_publish_failures_total` | counter | none | failed publish attempts of the relay (each retried) |
//! | `number_manager_outbox_append_failures_total` | counter | none | events of changes with no record write (a give-back) the outbox refused |
//!
//! Durations are in seconds (`f64`). There is no cache in the library, so no
//! cache metric. [`describe_metrics`] gives an exporter each metric's help
//! text and unit.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use metrics::Label;
use serde_json::{Map, Value};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::carrier::{
    Availability, Capabilities, Carrier, NumberOrder, Ownership, SearchRequest, SearchResult,
};
use crate::e911::{E911Address, E911Provider, Validation};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::manager::Options;
use crate::number::PhoneNumber;
use crate::outbox::Message;
use crate::record::NumberRecord;
use crate::store::{
    BatchMode, IdempotencyEntry, Journal, ListQuery, Page, Store, Write, WriteResult,
};

/// What kind of dependency a call goes to: it picks the span and the metrics.
#[derive(Clone, Copy)]
enum Kind {
    Store,
    Carrier,
    E911,
}

impl Kind {
    fn span(self, call: &'static str, target: &str) -> Span {
        match self {
            Kind::Store => tracing::debug_span!(
                "store",
                call,
                outcome = Empty,
                elapsed_us = Empty,
                error = Empty
            ),
            Kind::Carrier => tracing::info_span!(
                "carrier",
                carrier = target,
                call,
                outcome = Empty,
                elapsed_us = Empty,
                error = Empty
            ),
            Kind::E911 => tracing::info_span!(
                "e911",
                provider = target,
                call,
                outcome = Empty,
                elapsed_us = Empty,
                error = Empty
            ),
        }
    }

    /// Counts one call and records its latency.
    fn record(self, call: &'static str, target: &str, outcome: &'static str, seconds: f64) {
        let (calls, latency, named) = match self {
            Kind::Store => (
                "number_manager_store_calls_total",
                "number_manager_store_call_duration_seconds",
                None,
            ),
            Kind::Carrier => (
                "number_manager_carrier_calls_total",
                "number_manager_carrier_call_duration_seconds",
                Some("carrier"),
            ),
            Kind::E911 => (
                "number_manager_e911_calls_total",
                "number_manager_e911_call_duration_seconds",
                Some("provider"),
            ),
        };
        let mut labels = vec![Label::new("call", call)];
        if let Some(name) = named {
            labels.push(Label::new(name, target.to_string()));
        }
        metrics::histogram!(latency, labels.iter()).record(seconds);
        labels.push(Label::new("outcome", outcome));
        metrics::counter!(calls, labels).increment(1);
    }
}

/// One call in flight. Finished by [`Timer::finish`]; dropped unfinished
/// (its caller stopped waiting), it counts as `cancelled`.
struct Timer<'a> {
    kind: Kind,
    call: &'static str,
    target: &'a str,
    span: Span,
    start: Instant,
    finished: bool,
}

impl Timer<'_> {
    fn finish(&mut self, outcome: &'static str, error: Option<&Error>) {
        self.finished = true;
        let elapsed = self.start.elapsed();
        self.span.record("outcome", outcome);
        self.span.record("elapsed_us", micros(elapsed));
        if let Some(e) = error {
            self.span.record("error", tracing::field::display(e));
        }
        self.kind
            .record(self.call, self.target, outcome, elapsed.as_secs_f64());
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.finish("cancelled", None);
        }
    }
}

/// Runs one call of a dependency inside its span, timing it and counting its outcome.
async fn timed<T>(
    kind: Kind,
    call: &'static str,
    target: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    let span = kind.span(call, target);
    let mut timer = Timer {
        kind,
        call,
        target,
        span: span.clone(),
        start: Instant::now(),
        finished: false,
    };
    let result = fut.instrument(span).await;
    match &result {
        Ok(_) => timer.finish("ok", None),
        Err(e) => timer.finish("error", Some(e)),
    }
    result
}

/// What a public operation answered, for its span and metrics.
pub(crate) trait Answer {
    /// How many numbers succeeded and failed, for an operation over numbers.
    fn tally(&self) -> Option<(usize, usize)> {
        None
    }
}

impl Answer for crate::manager::BatchResult {
    fn tally(&self) -> Option<(usize, usize)> {
        Some((self.success.len(), self.errors.len()))
    }
}

impl Answer for crate::manager::Outcome {
    fn tally(&self) -> Option<(usize, usize)> {
        Some((1, 0))
    }
}

/// The span of one public operation: who asked, for how many numbers.
pub(crate) struct Traced {
    operation: &'static str,
    span: Span,
}

impl Traced {
    /// An operation called with per-call options.
    pub(crate) fn new(operation: &'static str, numbers: usize, opts: &Options) -> Traced {
        let span = tracing::info_span!(
            "operation",
            operation,
            numbers,
            actor = %opts.auth_by,
            request_id = opts.request_id.as_deref(),
            dry_run = opts.dry_run,
            outcome = Empty,
            elapsed_us = Empty,
            succeeded = Empty,
            failed = Empty,
            error = Empty,
        );
        Traced { operation, span }
    }

    /// An operation over `numbers` inputs without per-call options.
    pub(crate) fn counted(operation: &'static str, numbers: usize) -> Traced {
        let span = tracing::info_span!(
            "operation",
            operation,
            numbers,
            outcome = Empty,
            elapsed_us = Empty,
            error = Empty,
        );
        Traced { operation, span }
    }

    /// An operation without per-call options (maintenance, search).
    pub(crate) fn bare(operation: &'static str) -> Traced {
        let span = tracing::info_span!(
            "operation",
            operation,
            actor = Empty,
            outcome = Empty,
            elapsed_us = Empty,
            error = Empty,
        );
        Traced { operation, span }
    }

    /// Names the account the operation is for, when there is one.
    pub(crate) fn for_account(self, account: Option<&crate::account::AccountId>) -> Traced {
        if let Some(a) = account {
            self.span.record("actor", a.as_str());
        }
        self
    }

    /// Runs the operation inside its span, then records its outcome
    /// (`cancelled` when the caller drops it before it is done).
    pub(crate) async fn run<T: Answer>(self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let mut pending = Pending {
            traced: &self,
            start: Instant::now(),
            done: false,
        };
        let result = fut.instrument(self.span.clone()).await;
        pending.done = true;
        let elapsed = pending.start.elapsed();
        match &result {
            Ok(answer) => self.record("ok", answer.tally(), None, elapsed),
            Err(e) => self.record("error", None, Some(e), elapsed),
        }
        result
    }

    fn record(
        &self,
        outcome: &'static str,
        tally: Option<(usize, usize)>,
        error: Option<&Error>,
        elapsed: Duration,
    ) {
        let (span, operation) = (&self.span, self.operation);
        span.record("outcome", outcome);
        span.record("elapsed_us", micros(elapsed));
        if let Some(e) = error {
            span.record("error", tracing::field::display(e));
        }
        if let Some((ok, failed)) = tally {
            span.record("succeeded", ok);
            span.record("failed", failed);
            let numbers = "number_manager_operation_numbers_total";
            metrics::counter!(numbers, "operation" => operation, "outcome" => "ok")
                .increment(ok as u64);
            metrics::counter!(numbers, "operation" => operation, "outcome" => "error")
                .increment(failed as u64);
        }
        let calls = "number_manager_operations_total";
        metrics::counter!(calls, "operation" => operation, "outcome" => outcome).increment(1);
        let latency = "number_manager_operation_duration_seconds";
        metrics::histogram!(latency, "operation" => operation).record(elapsed.as_secs_f64());
    }
}

/// An operation under way; dropped before it is done, it counts as `cancelled`.
struct Pending<'a> {
    traced: &'a Traced,
    start: Instant,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            let elapsed = self.start.elapsed();
            self.traced.record("cancelled", None, None, elapsed);
        }
    }
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

impl<T> Answer for Vec<T> {}

macro_rules! answers {
    ($($t:ty),* $(,)?) => { $(impl Answer for $t {})* };
}

answers!(
    (),
    crate::manager::Listing,
    crate::manager::CarriersInfo,
    crate::manager::FixReport,
    crate::manager::PurgeReport,
    crate::manager::Identify,
    crate::record::NumberRecord,
    Map<String, Value>,
    Value,
    BTreeMap<String, Availability>,
);

/// A carrier left out of a search: it failed, or answered too late.
pub(crate) fn search_carrier_failed(carrier: &str, error: Option<&Error>, timeout: Duration) {
    let reason = match error {
        Some(e) => {
            tracing::warn!(carrier, error = %e, "carrier search failed; its numbers are left out");
            "error"
        }
        None => {
            let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(
                carrier,
                timeout_ms,
                "carrier search failed; its numbers are left out"
            );
            "timeout"
        }
    };
    let failures = "number_manager_search_carrier_failures_total";
    metrics::counter!(failures, "carrier" => carrier.to_string(), "reason" => reason).increment(1);
}

/// Every carrier of a search failed: the answer is empty for that reason.
pub(crate) fn search_all_failed(carriers: usize) {
    tracing::warn!(carriers, "every carrier failed the search");
}

/// The carrier was asked about a stale purchase claim; `settled` says what it answered.
pub(crate) fn claim_settled(
    number: PhoneNumber,
    carrier: &str,
    settled: std::result::Result<bool, &Error>,
) {
    let label = match settled {
        Ok(ours) => {
            let settled = if ours { "ours" } else { "free" };
            tracing::info!(number = %number, carrier, settled, "stale claim settled");
            settled
        }
        Err(e) => {
            tracing::warn!(number = %number, carrier, error = %e, "stale claim not settled");
            "unsettled"
        }
    };
    metrics::counter!("number_manager_claims_settled_total", "settled" => label).increment(1);
}

/// A reservation went back because its lease ran out.
pub(crate) fn lease_lapsed(number: PhoneNumber) {
    tracing::info!(number = %number, "reservation lease lapsed");
    metrics::counter!("number_manager_leases_lapsed_total").increment(1);
}

/// A purchase was given back to its carrier (or could not be).
pub(crate) fn gave_back(number: PhoneNumber, carrier: &str, error: Option<&Error>) {
    let outcome = match error {
        None => {
            tracing::info!(number = %number, carrier, "purchase given back");
            "ok"
        }
        Some(e) => {
            tracing::warn!(
                number = %number,
                carrier,
                error = %e,
                "purchase could not be given back"
            );
            "error"
        }
    };
    metrics::counter!("number_manager_give_backs_total", "outcome" => outcome).increment(1);
}

/// An event of a change with no record write that the outbox refused.
pub(crate) fn outbox_append_failed(event: &Event, error: &Error) {
    tracing::error!(
        number = %event.number,
        operation = event.operation.as_str(),
        error = %error,
        "event not written to the outbox"
    );
    metrics::counter!("number_manager_outbox_append_failures_total").increment(1);
}

/// The relay read `pending` outbox entries (at most one batch).
pub(crate) fn outbox_pending(pending: usize) {
    metrics::gauge!("number_manager_outbox_pending").set(pending as f64);
}

/// A publisher confirmed `messages` messages, up to `last_seq`.
pub(crate) fn outbox_published(messages: usize, last_seq: u64) {
    tracing::debug!(messages, last_seq, "outbox batch published");
    metrics::counter!("number_manager_outbox_published_total").increment(messages as u64);
}

/// A relay round after `after_seq` failed, `attempt` times in a row.
pub(crate) fn outbox_publish_failed(
    after_seq: u64,
    attempt: u32,
    retry_in: Duration,
    error: &Error,
) {
    tracing::warn!(
        after_seq,
        attempt,
        retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        error = %error,
        "outbox publish failed; retrying"
    );
    metrics::counter!("number_manager_outbox_publish_failures_total").increment(1);
}

/// A [`Store`] whose every call is traced and timed.
pub(crate) struct ObservedStore {
    inner: Arc<dyn Store>,
}

impl ObservedStore {
    pub(crate) fn wrap(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        Arc::new(ObservedStore { inner })
    }
}

impl std::fmt::Debug for ObservedStore {
    // Shows as the store it wraps: observing is not part of what it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

fn store<T>(
    call: &'static str,
    fut: impl Future<Output = Result<T>>,
) -> impl Future<Output = Result<T>> {
    timed(Kind::Store, call, "", fut)
}

#[async_trait]
impl Store for ObservedStore {
    async fn get_many(&self, numbers: &[PhoneNumber]) -> Result<Vec<Option<NumberRecord>>> {
        store("get_many", self.inner.get_many(numbers)).await
    }
    async fn write_batch(&self, writes: Vec<Write>, mode: BatchMode) -> Result<Vec<WriteResult>> {
        store("write_batch", self.inner.write_batch(writes, mode)).await
    }
    async fn list(&self, query: &ListQuery) -> Result<Page> {
        store("list", self.inner.list(query)).await
    }
    async fn get_idempotency(&self, key: &str) -> Result<Option<IdempotencyEntry>> {
        store("get_idempotency", self.inner.get_idempotency(key)).await
    }
    async fn begin_idempotency(&self, entry: IdempotencyEntry) -> Result<bool> {
        store("begin_idempotency", self.inner.begin_idempotency(entry)).await
    }
    async fn renew_idempotency(
        &self,
        key: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let fut = self.inner.renew_idempotency(key, owner, lease_until);
        store("renew_idempotency", fut).await
    }
    async fn finish_idempotency(&self, key: &str, owner: &str, response: Value) -> Result<()> {
        let fut = self.inner.finish_idempotency(key, owner, response);
        store("finish_idempotency", fut).await
    }
    async fn abandon_idempotency(&self, key: &str, owner: &str) -> Result<()> {
        store(
            "abandon_idempotency",
            self.inner.abandon_idempotency(key, owner),
        )
        .await
    }
    async fn write_batch_journaled(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: &Journal,
    ) -> Result<Vec<WriteResult>> {
        let fut = self.inner.write_batch_journaled(writes, mode, journal);
        store("write_batch_journaled", fut).await
    }
    async fn purge_idempotency(&self, now: DateTime<Utc>) -> Result<usize> {
        store("purge_idempotency", self.inner.purge_idempotency(now)).await
    }
    async fn purge_tombstones(&self, deleted_before: DateTime<Utc>) -> Result<usize> {
        store(
            "purge_tombstones",
            self.inner.purge_tombstones(deleted_before),
        )
        .await
    }
    async fn count(&self, query: &ListQuery) -> Result<usize> {
        store("count", self.inner.count(query)).await
    }
    async fn write_batch_outboxed(
        &self,
        writes: Vec<Write>,
        mode: BatchMode,
        journal: Option<&Journal>,
        events: &[Option<Event>],
    ) -> Result<Vec<WriteResult>> {
        let call = self
            .inner
            .write_batch_outboxed(writes, mode, journal, events);
        store("write_batch_outboxed", call).await
    }
    async fn outbox_append(&self, events: &[Event]) -> Result<()> {
        store("outbox_append", self.inner.outbox_append(events)).await
    }
    async fn outbox_pending(&self, after_seq: u64, limit: usize) -> Result<Vec<Message>> {
        store(
            "outbox_pending",
            self.inner.outbox_pending(after_seq, limit),
        )
        .await
    }
    async fn outbox_ack(&self, up_to_seq: u64) -> Result<usize> {
        store("outbox_ack", self.inner.outbox_ack(up_to_seq)).await
    }
}

/// A [`Carrier`] whose every call is traced and timed.
pub(crate) struct ObservedCarrier {
    inner: Arc<dyn Carrier>,
}

impl ObservedCarrier {
    pub(crate) fn wrap(inner: Arc<dyn Carrier>) -> Arc<dyn Carrier> {
        Arc::new(ObservedCarrier { inner })
    }
}

impl std::fmt::Debug for ObservedCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl Carrier for ObservedCarrier {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn find_numbers(&self, request: &SearchRequest) -> Result<Vec<SearchResult>> {
        let fut = self.inner.find_numbers(request);
        timed(Kind::Carrier, "find_numbers", self.name(), fut).await
    }
    async fn acquire(&self, order: &NumberOrder) -> Result<Map<String, Value>> {
        timed(
            Kind::Carrier,
            "acquire",
            self.name(),
            self.inner.acquire(order),
        )
        .await
    }
    async fn disconnect(&self, order: &NumberOrder) -> Result<()> {
        timed(
            Kind::Carrier,
            "disconnect",
            self.name(),
            self.inner.disconnect(order),
        )
        .await
    }
    async fn check_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Availability>> {
        let fut = self.inner.check_numbers(numbers);
        timed(Kind::Carrier, "check_numbers", self.name(), fut).await
    }
    async fn owned_numbers(
        &self,
        numbers: &[PhoneNumber],
    ) -> Result<BTreeMap<PhoneNumber, Ownership>> {
        let fut = self.inner.owned_numbers(numbers);
        timed(Kind::Carrier, "owned_numbers", self.name(), fut).await
    }
}

/// An [`E911Provider`] whose every call is traced and timed.
pub(crate) struct ObservedE911 {
    inner: Arc<dyn E911Provider>,
}

impl ObservedE911 {
    pub(crate) fn wrap(inner: Arc<dyn E911Provider>) -> Arc<dyn E911Provider> {
        Arc::new(ObservedE911 { inner })
    }
}

impl std::fmt::Debug for ObservedE911 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[async_trait]
impl E911Provider for ObservedE911 {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn validate(&self, address: &E911Address) -> Result<Validation> {
        timed(
            Kind::E911,
            "validate",
            self.name(),
            self.inner.validate(address),
        )
        .await
    }
    async fn provision(
        &self,
        number: &PhoneNumber,
        address: &E911Address,
        caller_name: &str,
    ) -> Result<E911Address> {
        let fut = self.inner.provision(number, address, caller_name);
        timed(Kind::E911, "provision", self.name(), fut).await
    }
    async fn remove(&self, number: &PhoneNumber) -> Result<()> {
        timed(Kind::E911, "remove", self.name(), self.inner.remove(number)).await
    }
}

/// Whether a metric counts or measures.
#[derive(Clone, Copy)]
enum Metric {
    Counter,
    Gauge,
    Seconds,
}

/// Every metric the library records, with its help text.
const METRICS: [(&str, Metric, &str); 18] = [
    (
        "number_manager_operations_total",
        Metric::Counter,
        "Public operations called, by operation and outcome.",
    ),
    (
        "number_manager_operation_duration_seconds",
        Metric::Seconds,
        "How long public operations took, by operation.",
    ),
    (
        "number_manager_operation_numbers_total",
        Metric::Counter,
        "Numbers answered by pipeline operations, by operation and per-number outcome.",
    ),
    (
        "number_manager_carrier_calls_total",
        Metric::Counter,
        "Carrier calls, by carrier, call and outcome.",
    ),
    (
        "number_manager_carrier_call_duration_seconds",
        Metric::Seconds,
        "Carrier call latency, by carrier and call.",
    ),
    (
        "number_manager_e911_calls_total",
        Metric::Counter,
        "E911 provider calls, by provider, call and outcome.",
    ),
    (
        "number_manager_e911_call_duration_seconds",
        Metric::Seconds,
        "E911 provider latency, by provider and call.",
    ),
    (
        "number_manager_store_calls_total",
        Metric::Counter,
        "Store calls, by call and outcome.",
    ),
    (
        "number_manager_store_call_duration_seconds",
        Metric::Seconds,
        "Store latency, by call.",
    ),
    (
        "number_manager_search_carrier_failures_total",
        Metric::Counter,
        "Carriers left out of a search, by carrier and reason.",
    ),
    (
        "number_manager_claims_settled_total",
        Metric::Counter,
        "Stale purchase claims the carrier was asked about, by answer.",
    ),
    (
        "number_manager_leases_lapsed_total",
        Metric::Counter,
        "Reservations released because their lease ran out.",
    ),
    (
        "number_manager_give_backs_total",
        Metric::Counter,
        "Purchases given back to their carrier, by outcome.",
    ),
    (
        "number_manager_audit_events_dropped_total",
        Metric::Counter,
        "Events the in-memory audit log dropped to stay within its capacity.",
    ),
    (
        "number_manager_outbox_pending",
        Metric::Gauge,
        "Outbox entries the relay found waiting on its last read (at most one batch).",
    ),
    (
        "number_manager_outbox_published_total",
        Metric::Counter,
        "Outbox messages a publisher confirmed and the relay acknowledged.",
    ),
    (
        "number_manager_outbox_publish_failures_total",
        Metric::Counter,
        "Failed publish attempts of the outbox relay (each retried).",
    ),
    (
        "number_manager_outbox_append_failures_total",
        Metric::Counter,
        "Events of changes without a record write that the outbox refused.",
    ),
];

/// Describes every metric of the table above to the installed `metrics`
/// recorder: its help text and unit, for exporters that show them (the
/// `# HELP` lines of Prometheus text). Call it once, after installing the
/// recorder; without one it does nothing. Recording works without it.
pub fn describe_metrics() {
    for (name, kind, help) in METRICS {
        match kind {
            Metric::Counter => metrics::describe_counter!(name, help),
            Metric::Gauge => metrics::describe_gauge!(name, help),
            Metric::Seconds => {
                metrics::describe_histogram!(name, metrics::Unit::Seconds, help)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::METRICS;

    /// The rows of the table under `heading` in `text` whose first cell names a metric.
    fn documented(text: &str, heading: &str) -> Vec<String> {
        let Some(at) = text.find(heading) else {
            return Vec::new();
        };
        text[at..]
            .lines()
            .map(|l| l.trim_start_matches("//!").trim())
            .filter_map(|l| l.strip_prefix("| `number_manager_"))
            .filter_map(|l| l.split('`').next())
            .map(|rest| format!("number_manager_{rest}"))
            .collect()
    }

    #[test]
    fn every_metric_is_documented_in_the_module_and_the_readme() {
        let names: Vec<String> = METRICS.iter().map(|(n, _, _)| n.to_string()).collect();
        let module = documented(include_str!("observe.rs"), "# Metrics");
        let readme = documented(include_str!("../README.md"), "## Observability");
        assert_eq!(module, names, "the module doc's metric table");
        assert_eq!(readme, names, "the README's metric table");
    }
}
