//! Shared pieces of the fuzz targets: the reference classifier (rules tried in
//! order, one plain `regex` each), the seeds' older classifier list, a tiny
//! executor, and the request-script harness behind the `api` target.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use number_manager::classify::{Classifier, Classifiers};
use number_manager::number::compile_rule;

pub mod api;

/// Whether some `{...}` in `pattern` holds a number above `max` (escaped braces
/// count too: skipping a few literal-brace inputs is harmless). Targets skip
/// such rules: `a{7486}` compiles to an automaton near the regex crate's size
/// limit, and the seconds that takes only measure the regex compiler.
pub fn big_repeat(pattern: &str, max: u32) -> bool {
    pattern.split('{').skip(1).any(|after| {
        let bound = after.split('}').next().unwrap_or("");
        bound
            .split(',')
            .any(|n| n.len() > 3 || n.trim().parse::<u32>().is_ok_and(|n| n > max))
    })
}

/// Seed 001's `GET …/classifiers` listing: the older list, keys sorted
/// alphabetically (so `did_us` comes before `tollfree_us`).
pub const SEED_001_CLASSIFIERS: &str = r#"{
    "caribbean": {"friendly_name": "Caribbean", "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+?1((?:684|264|268|242|246|441|284|345|767|809|829|849|473|671|876|664|670|787|939|869|758|784|721|868|649|340)\\d{7})$"},
    "did_us": {"friendly_name": "US DID", "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$"},
    "emergency": {"friendly_name": "Emergency Dispatcher", "regex": "^(911)$"},
    "international": {"friendly_name": "International", "regex": "^(011\\d*)$|^(00\\d*)$"},
    "toll_us": {"friendly_name": "US Toll", "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+1(900\\d{7})$"},
    "tollfree_us": {"friendly_name": "US TollFree", "pretty_print": "SS(###) ### - ####",
        "regex": "^\\+1((?:800|888|877|866|855)\\d{7})$"},
    "unknown": {"friendly_name": "Unknown", "regex": "^(.*)$"}
}"#;

/// The seeds' older classifier list, compiled once.
pub fn older_seed_list() -> &'static Classifiers {
    static LIST: OnceLock<Classifiers> = OnceLock::new();
    LIST.get_or_init(|| {
        let json = serde_json::from_str(SEED_001_CLASSIFIERS).expect("the seed listing is JSON");
        Classifiers::from_json(&json).expect("the seed listing compiles")
    })
}

/// One rule compiled twice: as the library documents rules (`compile_rule`,
/// ASCII-only classes) and as the raw pattern in plain `regex`.
struct Rule {
    name: String,
    ascii: Option<regex::Regex>,
    plain: Option<regex::Regex>,
}

fn compile(list: &[Classifier]) -> Vec<Rule> {
    list.iter()
        .map(|c| Rule {
            name: c.name.clone(),
            ascii: compile_rule(&c.regex).ok(),
            plain: regex::Regex::new(&c.regex).ok(),
        })
        .collect()
}

fn first(
    rules: &[Rule],
    haystack: &str,
    pick: impl Fn(&Rule) -> Option<&regex::Regex>,
) -> Option<String> {
    rules
        .iter()
        .find(|r| pick(r).is_some_and(|re| re.is_match(haystack)))
        .map(|r| r.name.clone())
}

/// The reference answer: the name of the first classifier in order whose rule
/// matches `haystack`, with ASCII classes and with plain `regex`. The two
/// fixed lists are compiled once; any other list each call.
pub fn rules_in_order(list: &[Classifier], haystack: &str) -> (Option<String>, Option<String>) {
    static DEFAULT: OnceLock<Vec<Rule>> = OnceLock::new();
    static OLDER: OnceLock<Vec<Rule>> = OnceLock::new();
    let fresh;
    let rules = if list == Classifiers::kazoo_default().list() {
        DEFAULT.get_or_init(|| compile(list))
    } else if list == older_seed_list().list() {
        OLDER.get_or_init(|| compile(list))
    } else {
        fresh = compile(list);
        &fresh
    };
    (
        first(rules, haystack, |r| r.ascii.as_ref()),
        first(rules, haystack, |r| r.plain.as_ref()),
    )
}

/// A list's rules compiled one by one for the in-order reference: each with
/// `compile_rule` (plain `regex` with the library's ASCII `\d`, `\w`, `\s`),
/// `None` for one that does not compile on its own.
#[derive(Clone)]
pub struct InOrder(Vec<(String, Option<regex::Regex>)>);

impl InOrder {
    /// Compiles the rules of `list`. Each pattern's regex is compiled once and
    /// kept (fuzzed lists share most of their patterns, and compiling is
    /// deterministic); the memo starts over past [`RULE_MEMO_LIMIT`] patterns.
    pub fn new(list: &[Classifier]) -> InOrder {
        static MEMO: Mutex<Option<HashMap<String, Option<regex::Regex>>>> = Mutex::new(None);
        let mut memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
        let memo = memo.get_or_insert_with(HashMap::new);
        if memo.len() + list.len() > RULE_MEMO_LIMIT {
            memo.clear();
        }
        let rules = list.iter().map(|c| {
            let compiled = memo
                .entry(c.regex.clone())
                .or_insert_with(|| compile_rule(&c.regex).ok());
            (c.name.clone(), compiled.clone())
        });
        InOrder(rules.collect())
    }

    /// The reference answer: the name of the first classifier in order whose
    /// rule matches `haystack`.
    pub fn first(&self, haystack: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, re)| re.as_ref().is_some_and(|re| re.is_match(haystack)))
            .map(|(name, _)| name.as_str())
    }
}

/// How many compiled patterns [`InOrder::new`] keeps.
pub const RULE_MEMO_LIMIT: usize = 8192;

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (the library needs no runtime).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
