//! Classification with fuzzed rules: the input is a list of patterns, one a
//! line, then `\0` and a dialled string. When the list compiles, the
//! library's one-pass matcher (whichever automaton it picks) must choose the
//! same classifier as trying each rule in order with a plain `regex`, and the
//! list must reload from its own listing.
//!
//! A custom mutator spends half the mutations on the dialled string alone
//! (see below), and each distinct list is compiled once.
//!
//! Sizes are bounded so that an execution stays cheap: the first
//! [`MAX_RULES`] lines are the list, an input with a pattern longer than
//! [`MAX_PATTERN_BYTES`] or a counted repetition above [`MAX_REPEAT`] is
//! skipped (the matcher's choice does not depend on how big a rule is, and
//! `a{999}{999}` only measures the regex compiler).
#![no_main]

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use number_manager::classify::{Classifier, Classifiers};
use number_manager_fuzz::{big_repeat, InOrder};

/// Most rules in one list.
const MAX_RULES: usize = 8;
/// Longest pattern (Kazoo's longest default, `caribbean`, is 147 bytes).
const MAX_PATTERN_BYTES: usize = 160;
/// Largest count in a `{n}`, `{n,}` or `{n,m}` repetition.
const MAX_REPEAT: u32 = 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        fuzzed_rules(text);
    }
});

// Half the mutations change only the dialled string (what follows the first
// `\0`, which is added when missing): the list is then one met before and
// comes compiled from the memo, so strings are tried against a list at the
// cost of a search instead of a compile. The other half mutate the whole input
// as libFuzzer would.
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let size = size.min(data.len());
    let max_size = max_size.min(data.len());
    let start = match data[..size].iter().position(|&b| b == 0) {
        Some(nul) => nul + 1,
        None if size < max_size => {
            data[size] = 0;
            size + 1
        }
        None => max_size,
    };
    if seed % 2 == 0 || start >= max_size {
        return fuzzer_mutate(data, size, max_size);
    }
    let tail = size.max(start) - start;
    start + fuzzer_mutate(&mut data[start..], tail, max_size - start)
});

fn fuzzed_rules(text: &str) {
    let (rules, haystack) = text.split_once('\0').unwrap_or((text, ""));
    let patterns: Vec<&str> = rules.lines().take(MAX_RULES).collect();
    if patterns
        .iter()
        .any(|p| p.len() > MAX_PATTERN_BYTES || big_repeat(p, MAX_REPEAT))
    {
        return;
    }
    let Some((set, reference)) = compiled(&patterns) else {
        return;
    };
    for probe in [haystack, "", "911", "+14155551234", "+442071234567", "*97"] {
        let got = set.first_match(probe).map(|c| c.name.as_str());
        assert_eq!(
            got,
            reference.first(probe),
            "matcher vs in-order rules on {probe:?} with {rules:?}"
        );
    }
}

/// The library's compiled list of `patterns` (classifier `c{i}` for line
/// `i`) and the same rules compiled one by one for the in-order reference, or
/// `None` when the library refuses the list; a list that compiles is checked
/// to reload from its listing.
///
/// Compiling is deterministic, so each list is compiled once and kept (up to
/// [`LIST_MEMO_LIMIT`] lists, then the memo starts over): an input whose list
/// was met before (the mutator below often changes only the dialled string)
/// is checked on its new strings without a second compile.
fn compiled(patterns: &[&str]) -> Option<(Classifiers, InOrder)> {
    type Memo = HashMap<Vec<String>, Option<(Classifiers, InOrder)>>;
    static LISTS: Mutex<Option<Memo>> = Mutex::new(None);
    let mut lists = LISTS.lock().unwrap_or_else(PoisonError::into_inner);
    let lists = lists.get_or_insert_with(HashMap::new);
    let key: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    if let Some(known) = lists.get(&key) {
        return known.clone();
    }
    let list: Vec<Classifier> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| Classifier::new(format!("c{i}"), *p, "fuzzed").with_pretty_print(*p))
        .collect();
    let compiled = Classifiers::new(list).ok().map(|set| {
        reloads(&set);
        let reference = InOrder::new(set.list());
        (set, reference)
    });
    if lists.len() >= LIST_MEMO_LIMIT {
        lists.clear();
    }
    lists.insert(key, compiled.clone());
    compiled
}

/// How many compiled lists [`compiled`] keeps.
const LIST_MEMO_LIMIT: usize = 8192;

/// The listing reloads to the same classifiers. `Classifiers::from_json` reads
/// each entry with `Classifier::from_json` and compiles the list read with
/// `Classifiers::new`; the read is checked here, and the compile of this very
/// list has just succeeded (compiling is deterministic), so the list is not
/// compiled a second time.
fn reloads(set: &Classifiers) {
    let listing = set.to_json();
    let entries = listing.as_object().expect("the listing is an object");
    let again: Vec<Classifier> = entries
        .iter()
        .map(|(name, spec)| Classifier::from_json(name, spec))
        .collect::<Result<_, _>>()
        .expect("a compiled list's listing reads back");
    assert_eq!(again, set.list(), "listing {listing}");
}
