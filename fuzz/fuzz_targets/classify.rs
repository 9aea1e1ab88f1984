//! Classification, differentially: the library's one-pass matcher must pick
//! the same classifier as trying each rule in order with a plain `regex`.
//!
//! The first byte picks the list: Kazoo's default classifiers or the seeds'
//! older list (seed 001, alphabetical); the rest is the dialled string.
//! `classify_rules` fuzzes the rules themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use number_manager::classify::{pretty_print, Classifiers};
use number_manager_fuzz::{older_seed_list, rules_in_order};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if mode % 2 == 0 {
        differential(Classifiers::kazoo_default(), text);
    } else {
        differential(older_seed_list(), text);
    }
});

/// The library's answer vs every rule in order: once with the library's own
/// per-rule compilation (`compile_rule`: ASCII `\d`), once with the raw
/// pattern in plain `regex` (which differs only on non-ASCII input).
fn differential(list: &Classifiers, raw: &str) {
    let normalized = list.normalizer().normalize(raw);
    let got = list.first_match(&normalized).map(|c| c.name.clone());
    let (ascii, plain) = rules_in_order(list.list(), &normalized);
    assert_eq!(got, ascii, "matcher vs in-order rules on {normalized:?}");
    if normalized.is_ascii() {
        assert_eq!(got, plain, "matcher vs plain regex on {normalized:?}");
    }
    let classified = list.classify(raw).map(|c| c.name.into_owned());
    assert_eq!(classified, got);
    // Normalize and classify in one pass (hand-written for these lists).
    assert_eq!(list.first_for(raw).map(|c| c.name.clone()), got);
    if let Some(template) = list.template_for(&normalized) {
        let _ = pretty_print(&normalized, template);
    }
    let _ = list.pretty_print_number(raw);
}
