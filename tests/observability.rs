//! What a host sees when it installs a tracing subscriber and a metrics
//! recorder: the spans, events and metrics of real operations, captured by a
//! layer and a recorder written here. Also the bounded audit log and the
//! owners events carry.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::World;
use metrics::{Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Unit};
use number_manager::account::MemoryAccounts;
use number_manager::carrier::{CarrierRegistry, Fault, SimulatedCarrier};
use number_manager::events::AuditLog;
use number_manager::manager::SearchQuery;
use number_manager::state::{NumberState, Operation};
use number_manager::{NumberManager, Options, PhoneNumber, PublicChange};
use serde_json::Map;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

// ---- a capturing tracing layer ------------------------------------------

/// Field values as text, by name.
type Fields = BTreeMap<String, String>;

#[derive(Debug, Clone)]
struct SpanSeen {
    name: &'static str,
    fields: Fields,
    /// Names of the enclosing spans, innermost first.
    parents: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct EventSeen {
    level: tracing::Level,
    message: String,
    fields: Fields,
}

#[derive(Default)]
struct Seen {
    spans: Vec<SpanSeen>,
    by_id: BTreeMap<u64, usize>,
    events: Vec<EventSeen>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Seen>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let parents = ctx
            .span(id)
            .into_iter()
            .flat_map(|s| s.scope().skip(1))
            .map(|s| s.name())
            .collect();
        let mut seen = self.0.lock().unwrap();
        let at = seen.spans.len();
        seen.spans.push(SpanSeen {
            name: attrs.metadata().name(),
            fields,
            parents,
        });
        seen.by_id.insert(id.into_u64(), at);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(&at) = seen.by_id.get(&id.into_u64()) {
            values.record(&mut Collect(&mut seen.spans[at].fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        self.0.lock().unwrap().events.push(EventSeen {
            level: *event.metadata().level(),
            message,
            fields,
        });
    }
}

impl Capture {
    fn spans(&self, name: &str) -> Vec<SpanSeen> {
        let seen = self.0.lock().unwrap();
        seen.spans
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }

    fn events(&self, message: &str) -> Vec<EventSeen> {
        let seen = self.0.lock().unwrap();
        let matching = seen.events.iter().filter(|e| e.message == message);
        matching.cloned().collect()
    }
}

// ---- a capturing metrics recorder ---------------------------------------

/// A metric's name and labels, as `name{k=v,...}` with labels sorted.
fn key_text(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

#[derive(Default)]
struct Recorded {
    counters: BTreeMap<String, u64>,
    histograms: BTreeMap<String, Vec<f64>>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Recorded>>);

struct Handle {
    key: String,
    into: Arc<Mutex<Recorded>>,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        let mut r = self.into.lock().unwrap();
        *r.counters.entry(self.key.clone()).or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.into
            .lock()
            .unwrap()
            .counters
            .insert(self.key.clone(), value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        let mut r = self.into.lock().unwrap();
        r.histograms
            .entry(self.key.clone())
            .or_default()
            .push(value);
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: metrics::SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: metrics::SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: metrics::SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(self.handle(key)))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(self.handle(key)))
    }
}

impl Recorder {
    fn handle(&self, key: &Key) -> Handle {
        Handle {
            key: key_text(key),
            into: self.0.clone(),
        }
    }

    fn counter(&self, key: &str) -> u64 {
        let r = self.0.lock().unwrap();
        r.counters.get(key).copied().unwrap_or(0)
    }

    fn samples(&self, key: &str) -> Vec<f64> {
        let r = self.0.lock().unwrap();
        r.histograms.get(key).cloned().unwrap_or_default()
    }

    fn counter_names(&self) -> Vec<String> {
        self.0.lock().unwrap().counters.keys().cloned().collect()
    }
}

/// Runs `fut` to completion on this thread with `capture` as the tracing
/// subscriber and `recorder` as the metrics recorder (both thread-local, so
/// tests running at once do not see each other's).
fn observed<T>(
    rt: &tokio::runtime::Runtime,
    capture: &Capture,
    recorder: &Recorder,
    fut: impl std::future::Future<Output = T>,
) -> T {
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    metrics::with_local_recorder(recorder, || {
        tracing::subscriber::with_default(subscriber, || rt.block_on(fut))
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or("<absent>")
}

// ---- the done-when test: one collection purchase ------------------------

#[test]
fn a_collection_purchase_is_traced_and_counted() {
    let rt = runtime();
    let w = World::new();
    let numbers: Vec<PhoneNumber> = rt.block_on(async {
        let hits = w
            .manager
            .search(&SearchQuery::new("415", 3), &Options::system())
            .await
            .unwrap();
        hits.iter().map(|h| h.number).collect()
    });
    assert_eq!(numbers.len(), 3);
    let inputs: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();

    let capture = Capture::default();
    let recorder = Recorder::default();
    let opts = w.as_customer().with_request_id("req-obs-1");
    let bought = observed(&rt, &capture, &recorder, async {
        w.manager
            .activate_many(&w.customer, &inputs, Map::new(), &opts)
            .await
            .unwrap()
    });
    assert_eq!(bought.success.len(), 3, "{:?}", bought.errors);

    // One operation span, with who asked, for how many, and how it went.
    let ops = capture.spans("operation");
    assert_eq!(ops.len(), 1, "{ops:?}");
    let op = &ops[0].fields;
    assert_eq!(field(op, "operation"), "activate");
    assert_eq!(field(op, "numbers"), "3");
    assert_eq!(field(op, "actor"), w.customer.as_str());
    assert_eq!(field(op, "request_id"), "req-obs-1");
    assert_eq!(field(op, "dry_run"), "false");
    assert_eq!(field(op, "outcome"), "ok");
    assert_eq!(field(op, "succeeded"), "3");
    assert_eq!(field(op, "failed"), "0");
    assert!(op["elapsed_us"].parse::<u64>().is_ok(), "{op:?}");

    // One carrier purchase per number, inside the operation, timed.
    let carrier = capture.spans("carrier");
    let acquires: Vec<&SpanSeen> = carrier
        .iter()
        .filter(|s| field(&s.fields, "call") == "acquire")
        .collect();
    assert_eq!(acquires.len(), 3, "{carrier:?}");
    for s in &carrier {
        assert_eq!(field(&s.fields, "carrier"), "simulated");
        assert_eq!(field(&s.fields, "outcome"), "ok");
        assert!(s.fields["elapsed_us"].parse::<u64>().is_ok(), "{s:?}");
        assert_eq!(s.parents, vec!["operation"], "{s:?}");
    }

    // Store calls are spans too: the read, the claims and the commit.
    let store = capture.spans("store");
    let calls: Vec<&str> = store.iter().map(|s| field(&s.fields, "call")).collect();
    assert!(calls.contains(&"get_many"), "{calls:?}");
    assert!(
        calls.iter().filter(|c| **c == "write_batch").count() >= 2,
        "a claim write and a commit: {calls:?}"
    );
    for s in &store {
        assert_eq!(field(&s.fields, "outcome"), "ok", "{s:?}");
        assert!(s.parents.ends_with(&["operation"]), "{s:?}");
    }

    // The same, as metrics.
    let ops_ok = "number_manager_operations_total{operation=activate,outcome=ok}";
    assert_eq!(
        recorder.counter(ops_ok),
        1,
        "{:?}",
        recorder.counter_names()
    );
    assert_eq!(
        recorder.counter("number_manager_operation_numbers_total{operation=activate,outcome=ok}"),
        3
    );
    assert_eq!(
        recorder
            .counter("number_manager_operation_numbers_total{operation=activate,outcome=error}"),
        0
    );
    let duration =
        recorder.samples("number_manager_operation_duration_seconds{operation=activate}");
    assert_eq!(duration.len(), 1);
    assert!(duration[0] >= 0.0);
    assert_eq!(
        recorder.counter(
            "number_manager_carrier_calls_total{call=acquire,carrier=simulated,outcome=ok}"
        ),
        3
    );
    let latency = "number_manager_carrier_call_duration_seconds{call=acquire,carrier=simulated}";
    assert_eq!(recorder.samples(latency).len(), 3);
    assert!(
        recorder.counter("number_manager_store_calls_total{call=write_batch,outcome=ok}") >= 2,
        "{:?}",
        recorder.counter_names()
    );
    let store_latency = "number_manager_store_call_duration_seconds{call=get_many}";
    assert!(!recorder.samples(store_latency).is_empty());
    // Nothing was counted as failed.
    for name in recorder.counter_names() {
        if name.contains("outcome=error") || name.contains("outcome=cancelled") {
            assert_eq!(recorder.counter(&name), 0, "{name}");
        }
    }
}

#[test]
fn a_failed_call_is_counted_as_an_error_with_its_error_on_the_span() {
    let rt = runtime();
    let w = World::new();
    let number = rt.block_on(async {
        let hits = w
            .manager
            .search(&SearchQuery::new("415", 1), &Options::system())
            .await
            .unwrap();
        hits[0].number
    });
    w.carrier.fail_next_acquire(Fault::Error, 1);
    let capture = Capture::default();
    let recorder = Recorder::default();
    let e = observed(&rt, &capture, &recorder, async {
        w.manager
            .activate(&w.customer, number.as_str(), Map::new(), &w.as_customer())
            .await
            .unwrap_err()
    });

    let op = &capture.spans("operation")[0].fields;
    assert_eq!(field(op, "outcome"), "error");
    assert_eq!(field(op, "error"), e.to_string());
    let acquire = capture
        .spans("carrier")
        .into_iter()
        .find(|s| field(&s.fields, "call") == "acquire")
        .unwrap();
    assert_eq!(field(&acquire.fields, "outcome"), "error");
    assert!(acquire.fields.contains_key("error"), "{acquire:?}");
    assert_eq!(
        recorder.counter("number_manager_operations_total{operation=activate,outcome=error}"),
        1
    );
    assert_eq!(
        recorder.counter(
            "number_manager_carrier_calls_total{call=acquire,carrier=simulated,outcome=error}"
        ),
        1
    );
}

// ---- a search where every carrier fails ----------------------------------

#[test]
fn a_search_where_every_carrier_fails_warns_with_the_carrier_and_its_error() {
    let rt = runtime();
    let carrier = Arc::new(SimulatedCarrier::new(7));
    let accounts = Arc::new(MemoryAccounts::new());
    let manager = NumberManager::builder()
        .accounts(accounts)
        .carriers(CarrierRegistry::new().with(carrier.clone()))
        .build();
    carrier.fail_next_find(Fault::Error, 1);

    let capture = Capture::default();
    let recorder = Recorder::default();
    let query = SearchQuery::new("415", 5);
    let searcher = number_manager::account::AccountId::new("searcher").unwrap();
    let hits = observed(&rt, &capture, &recorder, async {
        manager
            .search(&query, &Options::as_account(&searcher))
            .await
            .unwrap()
    });
    assert!(hits.is_empty());

    let failed = capture.events("carrier search failed; its numbers are left out");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].level, tracing::Level::WARN);
    assert_eq!(field(&failed[0].fields, "carrier"), "simulated");
    let error = field(&failed[0].fields, "error");
    assert!(!error.is_empty() && error != "<absent>", "{failed:?}");
    let all = capture.events("every carrier failed the search");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].level, tracing::Level::WARN);
    assert_eq!(field(&all[0].fields, "carriers"), "1");

    let search = &capture.spans("operation")[0].fields;
    assert_eq!(field(search, "operation"), "search");
    assert_eq!(field(search, "actor"), "searcher");
    assert_eq!(field(search, "outcome"), "ok");
    assert_eq!(
        recorder.counter(
            "number_manager_search_carrier_failures_total{carrier=simulated,reason=error}"
        ),
        1
    );
    assert_eq!(
        recorder.counter(
            "number_manager_carrier_calls_total{call=find_numbers,carrier=simulated,outcome=error}"
        ),
        1
    );

    // The next search, which the carrier answers, warns of nothing.
    let capture = Capture::default();
    let hits = observed(&rt, &capture, &recorder, async {
        manager
            .search(&SearchQuery::new("415", 5), &Options::system())
            .await
            .unwrap()
    });
    assert_eq!(hits.len(), 5);
    assert!(capture
        .events("carrier search failed; its numbers are left out")
        .is_empty());
    assert!(capture.events("every carrier failed the search").is_empty());
}

/// A create that makes the number `available` (owned by nobody).
fn available() -> PublicChange {
    let body = common::body(serde_json::json!({"create_with_state": "available"}));
    PublicChange::from_body(&body).unwrap()
}

// ---- lapsed leases are events ---------------------------------------------

#[test]
fn a_lapsed_lease_is_an_event() {
    let rt = runtime();
    let w = World::new();
    let n = "4155550191";
    rt.block_on(async {
        w.manager
            .create(&w.master, n, available(), &w.as_master())
            .await
            .unwrap();
        let lease = chrono::Duration::minutes(5);
        let r = w
            .manager
            .reserve_with_lease(&w.customer, &[n], lease, &w.as_customer())
            .await
            .unwrap();
        assert_eq!(r.success.len(), 1, "{:?}", r.errors);
    });
    w.clock.advance(chrono::Duration::minutes(10));
    let capture = Capture::default();
    let recorder = Recorder::default();
    observed(&rt, &capture, &recorder, async {
        w.manager.purge_expired().await.unwrap()
    });
    let lapsed = capture.events("reservation lease lapsed");
    assert_eq!(lapsed.len(), 1, "{:?}", capture.0.lock().unwrap().events);
    assert_eq!(field(&lapsed[0].fields, "number"), "+14155550191");
    assert_eq!(recorder.counter("number_manager_leases_lapsed_total{}"), 1);
}

// ---- events carry the owner before and after ------------------------------

#[test]
fn events_carry_the_owner_before_and_after() {
    let rt = runtime();
    let w = World::new();
    let n = PhoneNumber::parse("+14155550192").unwrap();
    rt.block_on(async {
        let m = &w.manager;
        m.create(&w.master, n.as_str(), available(), &w.as_master())
            .await
            .unwrap();
        m.reserve(&w.customer, n.as_str(), Map::new(), &w.as_customer())
            .await
            .unwrap();
        m.activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
            .await
            .unwrap();
        m.delete(n.as_str(), &w.as_master()).await.unwrap();
    });
    let history = w.manager.audit_log().unwrap().history(&n);
    let seen: Vec<(Operation, Option<String>, Option<String>)> = history
        .iter()
        .map(|e| {
            let owner = |o: &Option<number_manager::account::AccountId>| {
                o.as_ref().map(|a| a.as_str().to_string())
            };
            (e.operation, owner(&e.owner_before), owner(&e.owner_after))
        })
        .collect();
    let customer = Some(w.customer.as_str().to_string());
    assert_eq!(
        seen,
        vec![
            (Operation::Create, None, None),
            (Operation::Reserve, None, customer.clone()),
            (Operation::Activate, customer.clone(), customer.clone()),
            (Operation::Delete, customer, None),
        ]
    );
    assert_eq!(history[3].to, NumberState::Deleted);
    let json = serde_json::to_value(&history[0]).unwrap();
    assert_eq!(json["owner_before"], serde_json::Value::Null);
    let json = serde_json::to_value(&history[1]).unwrap();
    assert_eq!(json["owner_after"], w.customer.as_str());
}

#[test]
fn a_purchase_records_the_buyer_as_the_new_owner() {
    let rt = runtime();
    let w = World::new();
    let n = rt.block_on(async {
        let hits = w
            .manager
            .search(&SearchQuery::new("415", 1), &Options::system())
            .await
            .unwrap();
        let n = hits[0].number;
        w.manager
            .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
            .await
            .unwrap();
        n
    });
    let history = w.manager.audit_log().unwrap().history(&n);
    let last = history.last().unwrap();
    assert_eq!(last.operation, Operation::Activate);
    assert_eq!(last.owner_before, None, "a search result belongs to nobody");
    assert_eq!(last.owner_after.as_ref(), Some(&w.customer));
}

// ---- the bounded audit log ------------------------------------------------

#[test]
fn the_audit_log_keeps_the_most_recent_events_and_counts_the_rest() {
    let rt = runtime();
    let log = Arc::new(AuditLog::with_capacity(100));
    let accounts = Arc::new(MemoryAccounts::new());
    let master = accounts.add("master", "Master", None).unwrap();
    accounts.set_master(&master, true);
    let manager = NumberManager::builder()
        .accounts(accounts)
        .audit_log(log.clone())
        .build();
    assert!(Arc::ptr_eq(manager.audit_log().unwrap(), &log));
    let opts = Options::as_account(&master);
    let numbers: Vec<String> = (0..200).map(|i| format!("+1415555{i:04}")).collect();
    rt.block_on(async {
        for n in &numbers {
            manager
                .create(&master, n, PublicChange::default(), &opts)
                .await
                .unwrap();
            manager.release(n, &opts).await.unwrap();
        }
    });
    // 400 events: the last 100 are kept (the last 50 numbers, two each).
    assert_eq!(log.capacity(), 100);
    assert_eq!(log.len(), 100);
    assert_eq!(log.dropped(), 300);
    let first = PhoneNumber::parse(&numbers[0]).unwrap();
    assert!(log.history(&first).is_empty());
    let kept = PhoneNumber::parse(&numbers[150]).unwrap();
    let ops: Vec<Operation> = log.history(&kept).iter().map(|e| e.operation).collect();
    assert_eq!(ops, vec![Operation::Create, Operation::Release]);
    let dropped = PhoneNumber::parse(&numbers[149]).unwrap();
    assert!(log.history(&dropped).is_empty());
}

#[test]
fn the_default_audit_log_is_bounded() {
    let w = World::new();
    let log = w.manager.audit_log().unwrap();
    assert_eq!(log.capacity(), AuditLog::DEFAULT_CAPACITY);
}

#[test]
fn a_carrier_that_answers_too_late_is_warned_of_and_its_call_cancelled() {
    let rt = runtime();
    let slow = Arc::new(SimulatedCarrier::new(7).with_latency(std::time::Duration::from_secs(5)));
    let config: number_manager::Config =
        serde_json::from_value(serde_json::json!({"search_timeout": "20ms"})).unwrap();
    let manager = NumberManager::builder()
        .accounts(Arc::new(MemoryAccounts::new()))
        .carriers(CarrierRegistry::new().with(slow))
        .config(config)
        .build();

    let capture = Capture::default();
    let recorder = Recorder::default();
    let hits = observed(&rt, &capture, &recorder, async {
        manager
            .search(&SearchQuery::new("415", 5), &Options::system())
            .await
            .unwrap()
    });
    assert!(hits.is_empty());
    let failed = capture.events("carrier search failed; its numbers are left out");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(field(&failed[0].fields, "carrier"), "simulated");
    assert_eq!(field(&failed[0].fields, "timeout_ms"), "20");
    let find = &capture.spans("carrier")[0].fields;
    assert_eq!(field(find, "call"), "find_numbers");
    assert_eq!(field(find, "outcome"), "cancelled");
    assert_eq!(
        recorder.counter(
            "number_manager_search_carrier_failures_total{carrier=simulated,reason=timeout}"
        ),
        1
    );
    assert_eq!(
        recorder.counter(
            "number_manager_carrier_calls_total{call=find_numbers,carrier=simulated,outcome=cancelled}"
        ),
        1
    );
}

// ---- claims settled and give-backs ------------------------------------------

/// Another instance claimed `n` for `w.other`, bought it, and died before
/// recording it: the store holds a lapsed claim, the carrier a sale.
async fn interrupted_purchase(w: &World, n: PhoneNumber) {
    use number_manager::carrier::{Carrier, NumberOrder};
    use number_manager::store::StoreExt;
    let mut r = w.store.get(&n).await.unwrap().unwrap();
    let rev = r.revision;
    r.pending = Some(number_manager::record::Pending {
        operation: Operation::Activate,
        by: number_manager::account::Actor::Account(w.other.clone()),
        until: chrono::Utc::now() - chrono::Duration::days(365 * 100),
    });
    w.store.update(r, rev).await.unwrap();
    let order = NumberOrder::new(n).with_account(w.other.clone());
    w.carrier.acquire(&order).await.unwrap();
}

#[test]
fn maintenance_settling_a_dead_holders_purchase_is_traced() {
    let rt = runtime();
    let w = World::new();
    let n = rt.block_on(async {
        let n = w
            .manager
            .search(&SearchQuery::new("415", 1), &Options::system())
            .await
            .unwrap()[0]
            .number;
        interrupted_purchase(&w, n).await;
        n
    });
    w.clock.advance(chrono::Duration::days(2));
    let capture = Capture::default();
    let recorder = Recorder::default();
    let report = observed(&rt, &capture, &recorder, async {
        w.manager.purge_expired().await.unwrap()
    });
    assert_eq!(report.discovery_removed, 1, "{report:?}");

    let settled = capture.events("stale claim settled");
    assert_eq!(settled.len(), 1, "{:?}", capture.0.lock().unwrap().events);
    assert_eq!(field(&settled[0].fields, "number"), n.as_str());
    assert_eq!(field(&settled[0].fields, "carrier"), "simulated");
    assert_eq!(field(&settled[0].fields, "settled"), "ours");
    let given = capture.events("purchase given back");
    assert_eq!(given.len(), 1);
    assert_eq!(field(&given[0].fields, "number"), n.as_str());
    assert_eq!(
        recorder.counter("number_manager_claims_settled_total{settled=ours}"),
        1
    );
    assert_eq!(
        recorder.counter("number_manager_give_backs_total{outcome=ok}"),
        1
    );
    // The carrier was asked (owned_numbers) and took it back (disconnect).
    let calls: Vec<String> = capture
        .spans("carrier")
        .iter()
        .map(|s| field(&s.fields, "call").to_string())
        .collect();
    assert!(calls.contains(&"owned_numbers".to_string()), "{calls:?}");
    assert!(calls.contains(&"disconnect".to_string()), "{calls:?}");
    let op = &capture.spans("operation")[0].fields;
    assert_eq!(field(op, "operation"), "purge_expired");
}

#[test]
fn a_purchase_whose_record_cannot_be_written_is_given_back_and_says_so() {
    use number_manager::store::MemoryStore;
    use number_manager::testing::{FaultKind, FaultPlan, FaultyStore};
    // Write 1 is the search's discovery entries, 2 the claim, 3 the commit.
    let plan = FaultPlan::nth(3, FaultKind::Error).only(&["write_batch", "write_batch_journaled"]);
    let store = Arc::new(FaultyStore::new(MemoryStore::new(), plan));
    let w = World::with(store, number_manager::Config::default());
    let rt = runtime();
    let n = rt.block_on(async {
        w.manager
            .search(&SearchQuery::new("415", 1), &Options::system())
            .await
            .unwrap()[0]
            .number
    });
    let capture = Capture::default();
    let recorder = Recorder::default();
    observed(&rt, &capture, &recorder, async {
        w.manager
            .activate(&w.customer, n.as_str(), Map::new(), &w.as_customer())
            .await
            .unwrap_err()
    });
    let given = capture.events("purchase given back");
    assert_eq!(given.len(), 1, "{:?}", capture.0.lock().unwrap().events);
    assert_eq!(field(&given[0].fields, "carrier"), "simulated");
    assert_eq!(
        recorder.counter("number_manager_give_backs_total{outcome=ok}"),
        1
    );
    let failed_writes = "number_manager_store_calls_total{call=write_batch,outcome=error}";
    assert_eq!(recorder.counter(failed_writes), 1);
    let store = capture.spans("store");
    let failed = store
        .iter()
        .find(|s| field(&s.fields, "outcome") == "error")
        .unwrap();
    assert_eq!(field(&failed.fields, "call"), "write_batch");
    assert!(failed.fields.contains_key("error"));
}

#[test]
fn an_operation_its_caller_drops_is_counted_cancelled() {
    let rt = runtime();
    let slow = SimulatedCarrier::new(2600).with_latency(std::time::Duration::from_secs(5));
    let store = Arc::new(number_manager::store::MemoryStore::new());
    let w = World::with_carrier(store, number_manager::Config::default(), slow);
    let capture = Capture::default();
    let recorder = Recorder::default();
    let opts = w.as_customer();
    let answered = observed(&rt, &capture, &recorder, async {
        let create = w
            .manager
            .create(&w.customer, "4155550193", PublicChange::default(), &opts);
        let fast = tokio::time::timeout(std::time::Duration::from_secs(5), create).await;
        assert!(fast.is_ok(), "a local create does not wait for the carrier");
        let hits = SearchQuery::new("415", 1);
        let search = w.manager.search(&hits, &opts);
        tokio::time::timeout(std::time::Duration::from_millis(20), search).await
    });
    assert!(answered.is_err(), "the search was dropped");
    let ops = capture.spans("operation");
    let outcomes: Vec<(&str, &str)> = ops
        .iter()
        .map(|s| (field(&s.fields, "operation"), field(&s.fields, "outcome")))
        .collect();
    assert_eq!(outcomes, vec![("create", "ok"), ("search", "cancelled")]);
    assert_eq!(
        recorder.counter("number_manager_operations_total{operation=search,outcome=cancelled}"),
        1
    );
}
