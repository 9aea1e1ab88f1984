//! Classification with fuzzed rules: the input is a list of patterns, one a
//! line (at most 12), then `\0` and a dialled string. When the list
//! compiles, the library's one-pass matcher (whichever automaton it picks)
//! must choose the same classifier as trying each rule in order with a plain
//! `regex`, and the list must reload from its own listing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use number_manager::classify::{Classifier, Classifiers};
use number_manager_fuzz::rules_in_order;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        fuzzed_rules(text);
    }
});

fn fuzzed_rules(text: &str) {
    let (rules, haystack) = text.split_once('\0').unwrap_or((text, ""));
    let list: Vec<Classifier> = rules
        .lines()
        .take(12)
        .enumerate()
        .map(|(i, p)| Classifier::new(format!("c{i}"), p, "fuzzed").with_pretty_print(p))
        .collect();
    let Ok(set) = Classifiers::new(list) else {
        return;
    };
    for probe in [haystack, "", "911", "+14155551234", "+442071234567", "*97"] {
        let got = set.first_match(probe).map(|c| c.name.clone());
        let (ascii, _) = rules_in_order(set.list(), probe);
        assert_eq!(
            got, ascii,
            "matcher vs in-order rules on {probe:?} with {rules:?}"
        );
    }
    // The listing round-trips to the same classifiers.
    let again = Classifiers::from_json(&set.to_json()).expect("a compiled list reloads");
    assert_eq!(again.list(), set.list());
}
