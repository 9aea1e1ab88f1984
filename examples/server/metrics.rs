//! A small recorder for the `metrics` facade that renders Prometheus text
//! (exposition format 0.0.4) for the server's `/metrics`.
//!
//! Counters, gauges and histograms are kept per name and label set, in
//! memory, for the life of the process. Histograms use one fixed set of
//! bucket bounds ([`BUCKETS`], suited to latencies in seconds) whatever they
//! measure. Names and label keys are made Prometheus-safe (a character
//! outside `[a-zA-Z0-9_:]` becomes `_`), label values are escaped.
//!
//! This is deliberately not `metrics-exporter-prometheus`: that crate brings
//! a dozen more crates to build for what a demo server needs in one screen.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use ::metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// The content type of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds of every histogram's buckets (`+Inf` is added).
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A metric's name and its labels, sorted by key.
type Series = (String, Vec<(String, String)>);

/// Every series recorded so far, and the descriptions given.
#[derive(Debug, Default)]
pub struct Registry {
    counters: Mutex<BTreeMap<Series, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<Series, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<Series, Arc<Buckets>>>,
    help: Mutex<BTreeMap<String, String>>,
}

/// One histogram: a count per bucket (not cumulative), the sum and the count.
#[derive(Debug)]
struct Buckets(Mutex<(Vec<u64>, f64, u64)>);

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        let mut at = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = BUCKETS
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(BUCKETS.len());
        at.0[slot] += 1;
        at.1 += value;
        at.2 += 1;
    }
}

/// The series `key` names, made Prometheus-safe.
fn series(key: &Key) -> Series {
    let mut labels: Vec<(String, String)> = key
        .labels()
        .map(|l| (sanitize(l.key()), l.value().to_string()))
        .collect();
    labels.sort();
    (sanitize(key.name()), labels)
}

/// `name` with every character Prometheus does not allow replaced by `_`.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | ':' => c,
            _ => '_',
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The entry for `series` in `map`, made on first use.
fn entry<T: Default>(map: &Mutex<BTreeMap<Series, Arc<T>>>, series: Series) -> Arc<T> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.entry(series).or_default().clone()
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets(Mutex::new((vec![0; BUCKETS.len() + 1], 0.0, 0)))
    }
}

impl Registry {
    fn describe(&self, key: KeyName, description: SharedString) {
        let mut help = self.help.lock().unwrap_or_else(PoisonError::into_inner);
        help.insert(sanitize(key.as_str()), description.to_string());
    }

    /// Everything recorded, as Prometheus text: one `# TYPE` line per name
    /// (and `# HELP` where a description was given), then its series.
    pub fn render(&self) -> String {
        let help = self.help.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        let header = |out: &mut String, name: &str, kind: &str| {
            if let Some(text) = help.get(name) {
                let text = text.replace('\\', "\\\\").replace('\n', "\\n");
                let _ = writeln!(out, "# HELP {name} {text}");
            }
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let mut last = None;
        for ((name, labels), value) in counters.iter() {
            if last != Some(name) {
                header(&mut out, name, "counter");
                last = Some(name);
            }
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{} {value}", braces(labels, None));
        }
        let gauges = self.gauges.lock().unwrap_or_else(PoisonError::into_inner);
        let mut last = None;
        for ((name, labels), value) in gauges.iter() {
            if last != Some(name) {
                header(&mut out, name, "gauge");
                last = Some(name);
            }
            let value = f64::from_bits(value.load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}{} {}", braces(labels, None), number(value));
        }
        let histograms = self
            .histograms
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut last = None;
        for ((name, labels), buckets) in histograms.iter() {
            if last != Some(name) {
                header(&mut out, name, "histogram");
                last = Some(name);
            }
            histogram(&mut out, name, labels, buckets);
        }
        out
    }
}

/// One histogram's `_bucket` (cumulative), `_sum` and `_count` lines.
fn histogram(out: &mut String, name: &str, labels: &[(String, String)], buckets: &Buckets) {
    let (counts, sum, count) = buckets
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut below = 0;
    for (i, n) in counts.iter().enumerate() {
        below += n;
        let le = BUCKETS.get(i).map_or("+Inf".to_string(), |b| number(*b));
        let _ = writeln!(out, "{name}_bucket{} {below}", braces(labels, Some(&le)));
    }
    let _ = writeln!(out, "{name}_sum{} {}", braces(labels, None), number(sum));
    let _ = writeln!(out, "{name}_count{} {count}", braces(labels, None));
}

/// `{k="v",...}` (with `le` last when given), or nothing without labels.
fn braces(labels: &[(String, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value as Prometheus writes it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// The recorder handed to the facade: the shared [`Registry`].
#[derive(Debug, Clone)]
struct Prometheus(&'static Registry);

impl Recorder for Prometheus {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.0.describe(key, description);
    }

    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.0.describe(key, description);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.0.describe(key, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(entry(&self.0.counters, series(key)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(entry(&self.0.gauges, series(key)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(entry(&self.0.histograms, series(key)))
    }
}

static INSTALLED: OnceLock<Option<&'static Registry>> = OnceLock::new();

/// Installs the recorder as the process's global one, once; later calls
/// answer the same registry. `None` when another recorder was installed
/// first (`/metrics` then has nothing to render).
pub fn install() -> Option<&'static Registry> {
    *INSTALLED.get_or_init(|| {
        let registry: &'static Registry = Box::leak(Box::default());
        ::metrics::set_global_recorder(Prometheus(registry))
            .ok()
            .map(|()| registry)
    })
}

/// The registry [`install`] installed, if it did.
pub fn installed() -> Option<&'static Registry> {
    INSTALLED.get().copied().flatten()
}
