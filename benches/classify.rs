//! Classification throughput: the library's one-pass classifier against a
//! `RegexSet` over the same patterns and the naive loop that tries every regex
//! in order, plus normalization and parsing.
//!
//! Every benchmark runs over the same realistic mix of dialled strings; the
//! throughput line is numbers per second, so ns per number = 1e9 / throughput.
//! `cargo bench --bench classify -- --test` runs each once as a smoke test.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use number_manager::classify::{Classifier, Classifiers};
use number_manager::number::{compile_rule, Normalizer};
use number_manager::{normalize, PhoneNumber};
use regex::{Regex, RegexSet};

#[path = "support/corpus.rs"]
mod corpus;

/// What a PBX or an API sees: mostly NANP in assorted formats, some toll-free,
/// Caribbean and international, short codes, extensions and junk.
const MIX: &[&str] = &[
    "4158867900",
    "(415) 555-1234",
    "+14155551234",
    "1-212-555-0199",
    "12125551234",
    "415.555.9876",
    "6175550100",
    "+13125550147",
    "3035550123",
    "+17185550111",
    "8005551212",
    "+18885551212",
    "1 (877) 555-0000",
    "+18445550199",
    "9005551234",
    "8765551234",
    "+17875550123",
    "911",
    "999",
    "1000",
    "2001",
    "*97",
    "12345",
    "+442071234567",
    "011 44 20 7123 4567",
    "0041446681800",
    "+33142685300",
    "+4930123456",
    "+8613800138000",
    "41234567",
    "2120551234",
    "+141510010+15",
    "john.doe",
    "+61291234567",
    "+5511912345678",
    "٤١٥٥٥٥١٢٣٤",
];

/// The straightforward implementation the set replaces: each regex compiled on
/// its own, tried in order until one matches.
struct Naive {
    rules: Vec<(Regex, Classifier)>,
}

impl Naive {
    fn new(list: &Classifiers) -> Self {
        let rules = list
            .iter()
            .map(|c| (compile_rule(&c.regex).expect("classifier regex"), c.clone()))
            .collect();
        Naive { rules }
    }

    fn first_match(&self, normalized: &str) -> Option<&Classifier> {
        self.rules
            .iter()
            .find(|(re, _)| re.is_match(normalized))
            .map(|(_, c)| c)
    }
}

/// One pass of a `RegexSet` (every pattern that matches anywhere), lowest
/// index first: what the library falls back to for lists that are not all
/// start-anchored.
struct Set {
    set: RegexSet,
    list: Vec<Classifier>,
}

impl Set {
    fn new(list: &Classifiers) -> Self {
        let patterns: Vec<String> = list
            .iter()
            .map(|c| {
                compile_rule(&c.regex)
                    .expect("classifier regex")
                    .as_str()
                    .to_string()
            })
            .collect();
        Set {
            set: RegexSet::new(patterns).expect("set"),
            list: list.iter().cloned().collect(),
        }
    }

    fn first_match(&self, normalized: &str) -> Option<&Classifier> {
        let i = self.set.matches(normalized).iter().next()?;
        self.list.get(i)
    }
}

/// The defaults behind forty per-area-code classifiers, as a host that
/// classifies by region might configure: the loop's cost grows with the list.
fn many_classifiers() -> Classifiers {
    const NPAS: &[&str] = &[
        "201", "202", "203", "205", "206", "207", "208", "209", "210", "212", "213", "214", "215",
        "216", "217", "218", "219", "224", "225", "228", "229", "231", "234", "239", "240", "248",
        "251", "252", "253", "254", "256", "260", "262", "267", "269", "270", "276", "281", "301",
        "302",
    ];
    let mut list: Vec<Classifier> = NPAS
        .iter()
        .map(|npa| Classifier::new(format!("npa_{npa}"), format!(r"^\+1{npa}\d{{7}}$"), *npa))
        .collect();
    list.extend(Classifiers::kazoo_default().iter().cloned());
    Classifiers::new(list).expect("classifiers compile")
}

fn bench_matchers(c: &mut Criterion, label: &str, list: &Classifiers) {
    let naive = Naive::new(list);
    let set = Set::new(list);
    let normalized: Vec<String> = MIX.iter().map(|raw| normalize(raw).into_owned()).collect();
    // All must agree before their speed means anything.
    for n in &normalized {
        let want = naive.first_match(n).map(|c| &c.name);
        assert_eq!(list.first_match(n).map(|c| &c.name), want, "{n}");
        assert_eq!(set.first_match(n).map(|c| &c.name), want, "{n}");
    }
    let mut group = c.benchmark_group(format!("first_match/{label}"));
    group.throughput(Throughput::Elements(normalized.len() as u64));
    group.bench_function("library", |b| {
        b.iter(|| {
            for n in &normalized {
                black_box(list.first_match(black_box(n)));
            }
        })
    });
    group.bench_function("regex_set", |b| {
        b.iter(|| {
            for n in &normalized {
                black_box(set.first_match(black_box(n)));
            }
        })
    });
    group.bench_function("naive_loop", |b| {
        b.iter(|| {
            for n in &normalized {
                black_box(naive.first_match(black_box(n)));
            }
        })
    });
    group.finish();

    let normalizer = Normalizer::kazoo_default();
    let mut group = c.benchmark_group(format!("classify/{label}"));
    group.throughput(Throughput::Elements(MIX.len() as u64));
    group.bench_function("library", |b| {
        b.iter(|| {
            for raw in MIX {
                black_box(list.classify(black_box(raw)));
            }
        })
    });
    group.bench_function("naive_loop", |b| {
        b.iter(|| {
            for raw in MIX {
                let e164 = normalizer.normalize(black_box(raw));
                let winner = naive.first_match(&e164).cloned();
                black_box((winner, e164));
            }
        })
    });
    group.finish();
}

/// The minimum work for the default rules: one scan of the bytes that skips
/// separators, then the class decided from the digit count and the first
/// digits. It ignores `tel:` URIs, trimming and the exact fallbacks, so it
/// is a lower bound, not a classifier.
fn floor(raw: &str) -> u8 {
    let mut head = [0u8; 4];
    let (mut n, mut plus, mut other) = (0usize, false, false);
    for &b in raw.as_bytes() {
        match b {
            b'0'..=b'9' => {
                if let Some(slot) = head.get_mut(n) {
                    *slot = b;
                }
                n += 1;
            }
            b'+' if n == 0 => plus = true,
            b' ' | b'\t' | b'-' | b'.' | b'(' | b')' | b'/' => {}
            _ => other = true,
        }
    }
    let nanp = n == 10 || (n == 11 && head[0] == b'1');
    match (other, plus, nanp, head) {
        (true, ..) => 6,
        (_, _, true, [b'1', b'8', b'0' | b'8', _] | [b'8', b'0' | b'8', ..]) => 0,
        (_, _, true, [b'1', b'9', b'0', b'0'] | [b'9', b'0', b'0', _]) => 1,
        (_, false, _, [b'9', b'1', b'1', 0]) => 2,
        (_, _, true, [b'1', b'8', b'7', b'6'] | [b'8', b'7', b'6', _]) => 3,
        (_, _, true, _) => 4,
        (_, true, _, _) if n >= 8 => 5,
        _ => 6,
    }
}

/// Normalize + first classifier on the seeded corpus: the library's one
/// pass, the floor, the regex normalizer followed by the naive loop or a
/// `RegexSet`, and `phonenumber` (parse + type) on a subset.
fn normalize_classify(c: &mut Criterion) {
    let corpus = corpus::dialled(corpus::SEED, 100_000);
    let list = Classifiers::kazoo_default();
    let naive = Naive::new(list);
    let set = Set::new(list);
    let by_regex = Normalizer::from_json(
        &Normalizer::kazoo_default().converters_to_json(),
        r"^\+\d{8,15}$",
    )
    .expect("the default converters load from their own JSON");
    for raw in &corpus {
        let want = naive.first_match(&by_regex.normalize(raw)).map(|c| &c.name);
        assert_eq!(list.first_for(raw).map(|c| &c.name), want, "{raw:?}");
    }
    let mut group = c.benchmark_group("normalize_classify/kazoo_default_7");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function("library", |b| {
        b.iter(|| {
            for raw in &corpus {
                black_box(list.first_for(black_box(raw)));
            }
        })
    });
    group.bench_function("floor", |b| {
        b.iter(|| {
            for raw in &corpus {
                black_box(floor(black_box(raw)));
            }
        })
    });
    group.bench_function("naive_regex", |b| {
        b.iter(|| {
            for raw in &corpus {
                black_box(naive.first_match(&by_regex.normalize(black_box(raw))));
            }
        })
    });
    group.bench_function("regex_set", |b| {
        b.iter(|| {
            for raw in &corpus {
                black_box(set.first_match(&by_regex.normalize(black_box(raw))));
            }
        })
    });
    group.finish();

    let subset = &corpus[..200];
    let mut group = c.benchmark_group("normalize_classify/phonenumber_subset_200");
    group.sample_size(10);
    group.throughput(Throughput::Elements(subset.len() as u64));
    group.bench_function("library", |b| {
        b.iter(|| {
            for raw in subset {
                black_box(list.first_for(black_box(raw)));
            }
        })
    });
    group.bench_function("phonenumber", |b| {
        b.iter(|| {
            for raw in subset {
                let parsed = phonenumber::parse(Some(phonenumber::country::Id::US), black_box(raw));
                black_box(
                    parsed
                        .ok()
                        .map(|n| n.number_type(&phonenumber::metadata::DATABASE)),
                );
            }
        })
    });
    group.finish();
}

fn classification(c: &mut Criterion) {
    bench_matchers(c, "kazoo_default_7", Classifiers::kazoo_default());
    bench_matchers(c, "many_47", &many_classifiers());
}

fn normalization(c: &mut Criterion) {
    let mut group = c.benchmark_group("numbers");
    group.throughput(Throughput::Elements(MIX.len() as u64));
    group.bench_function("normalize", |b| {
        b.iter(|| {
            for raw in MIX {
                black_box(normalize(black_box(raw)));
            }
        })
    });
    // The same default converters, forced onto the regex engine by a reconcile
    // rule that is not the default one (normalize never consults it): the
    // baseline for the hand-written default path, measured in the same run.
    let by_regex = Normalizer::from_json(
        &Normalizer::kazoo_default().converters_to_json(),
        r"^\+\d{8,15}$",
    )
    .expect("the default converters load from their own JSON");
    group.bench_function("normalize_by_regex", |b| {
        b.iter(|| {
            for raw in MIX {
                black_box(by_regex.normalize(black_box(raw)));
            }
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            for raw in MIX {
                let _ = black_box(PhoneNumber::parse(black_box(raw)));
            }
        })
    });
    group.bench_function("pretty_print_number", |b| {
        let list = Classifiers::kazoo_default();
        b.iter(|| {
            for raw in MIX {
                black_box(list.pretty_print_number(black_box(raw)));
            }
        })
    });
    let parsed: Vec<PhoneNumber> = MIX
        .iter()
        .filter_map(|raw| PhoneNumber::parse(raw).ok())
        .collect();
    for n in &parsed {
        let _ = n.country(); // warm the cache: the first answer costs a metadata parse
    }
    group.throughput(Throughput::Elements(parsed.len() as u64));
    group.bench_function("country_cached", |b| {
        b.iter(|| {
            for n in &parsed {
                black_box(black_box(n).country());
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the machine's two cores are shared with builds.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = normalize_classify, classification, normalization
}
/// Instruction-count mode, for callgrind (whose counts repeat exactly):
/// `CLASSIFY_PASSES=N CLASSIFY_VARIANT=library|floor|naive_regex|regex_set`
/// runs N passes of that variant over the corpus and nothing else, e.g.
/// `CLASSIFY_PASSES=1 CLASSIFY_VARIANT=library valgrind --tool=callgrind
/// target/release/deps/classify-* --bench`; subtract a `CLASSIFY_PASSES=0`
/// run (corpus generation and setup) and divide by N x 100,000.
fn instruction_count_mode() -> bool {
    let Ok(passes) = std::env::var("CLASSIFY_PASSES") else {
        return false;
    };
    let passes: usize = passes.parse().expect("CLASSIFY_PASSES is a count");
    let variant = std::env::var("CLASSIFY_VARIANT").unwrap_or_else(|_| "library".into());
    let corpus = corpus::dialled(corpus::SEED, 100_000);
    let list = Classifiers::kazoo_default();
    let naive = Naive::new(list);
    let set = Set::new(list);
    let by_regex = Normalizer::from_json(
        &Normalizer::kazoo_default().converters_to_json(),
        r"^\+\d{8,15}$",
    )
    .expect("the default converters load from their own JSON");
    for _ in 0..passes {
        for raw in &corpus {
            match variant.as_str() {
                "floor" => drop(black_box(floor(black_box(raw)))),
                "naive_regex" => drop(black_box(naive.first_match(&by_regex.normalize(raw)))),
                "regex_set" => drop(black_box(set.first_match(&by_regex.normalize(raw)))),
                _ => drop(black_box(list.first_for(black_box(raw)))),
            }
        }
    }
    true
}

fn main() {
    if instruction_count_mode() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
